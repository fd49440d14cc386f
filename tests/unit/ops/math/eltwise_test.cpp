// Elementwise ops: Unary reference vs hand values and direct formulas for every Act, the oneDNN
// eltwise kernel vs the reference, PRelu/Where/Not, and the ONNX importers of the family.
// (Binary is in eltwise_binary_test.cpp.)
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "graph_eval_util.h"
#include "import/importer.h"
#include "kernel_test_util.h"
#include "onnx_builder_util.h"
#include "ops/math/eltwise.h"
#include "ops/tensor/identity.h"

namespace kiln::test {
namespace {

using namespace ops;

HostTensor f32(Dims s, const std::vector<float>& v) { return host_tensor(DType::Float32, std::move(s), v); }

template <class T>
std::vector<T> values(const HostTensor& h) {
  std::vector<T> v(static_cast<size_t>(h.elements()));
  std::memcpy(v.data(), h.bytes.data(), h.bytes.size());
  return v;
}

Unary unary(Act a, float alpha = 0.f, float beta = 0.f) {
  Unary u;
  u.act = a;
  u.alpha = alpha;
  u.beta = beta;
  return u;
}

std::vector<float> run_unary(const Unary& u, const std::vector<float>& x) {
  std::vector<HostTensor> in{f32({static_cast<int64_t>(x.size())}, x)};
  return values<float>(run_reference(u, in)[0]);
}

void expect_floats(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-6f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

TEST(EltwiseUnary, HandComputedValues) {
  expect_floats(run_unary(unary(Act::Relu), {-2.f, -0.5f, 0.f, 3.f}), {0, 0, 0, 3});
  expect_floats(run_unary(unary(Act::LeakyRelu, 0.1f), {-2.f, 3.f}), {-0.2f, 3});
  expect_floats(run_unary(unary(Act::Clip, -1.f, 2.f), {-5.f, 0.5f, 7.f}), {-1, 0.5f, 2});
  expect_floats(run_unary(unary(Act::HardSigmoid, 0.2f, 0.5f), {-5.f, 0.f, 1.f, 5.f}), {0, 0.5f, 0.7f, 1});
  expect_floats(run_unary(unary(Act::HardSwish), {-4.f, -1.f, 0.f, 1.f, 4.f}), {0, -1.f / 3, 0, 2.f / 3, 4});
  expect_floats(run_unary(unary(Act::Round), {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f}), {0, 2, 2, 0, -2, 2});
  expect_floats(run_unary(unary(Act::Sigmoid), {0.f}), {0.5f});
  expect_floats(run_unary(unary(Act::Elu, 2.f), {1.f, std::log(0.5f)}), {1, -1});
  expect_floats(run_unary(unary(Act::Selu, 2.f, 3.f), {1.f, std::log(0.5f)}), {3, -3});
  expect_floats(run_unary(unary(Act::Softsign), {3.f, -1.f}), {0.75f, -0.5f});
  expect_floats(run_unary(unary(Act::Reciprocal), {4.f, -0.5f}), {0.25f, -2});
  expect_floats(run_unary(unary(Act::Floor), {-1.5f, 1.5f}), {-2, 1});
  expect_floats(run_unary(unary(Act::Ceil), {-1.5f, 1.5f}), {-1, 2});
  expect_floats(run_unary(unary(Act::Sqrt), {9.f}), {3});
  expect_floats(run_unary(unary(Act::Neg), {2.f, -3.f}), {-2, 3});
  expect_floats(run_unary(unary(Act::Swish, 1.f), {0.f}), {0});
  expect_floats(run_unary(unary(Act::Gelu), {0.f}), {0});
}

// Independent double-precision formulas, as the ONNX spec writes them.
double formula(Act a, double alpha, double beta, double x) {
  switch (a) {
    case Act::Relu: return std::max(x, 0.0);
    case Act::LeakyRelu: return x < 0 ? alpha * x : x;
    case Act::Clip: return std::min(std::max(x, alpha), beta);
    case Act::Sigmoid: return std::exp(x) / (1 + std::exp(x));
    case Act::Tanh: return (std::exp(x) - std::exp(-x)) / (std::exp(x) + std::exp(-x));
    case Act::Elu: return x < 0 ? alpha * (std::exp(x) - 1) : x;
    case Act::HardSigmoid: return std::max(0.0, std::min(1.0, alpha * x + beta));
    case Act::HardSwish: return x * std::max(0.0, std::min(1.0, x / 6 + 0.5));
    case Act::Swish: return x * std::exp(alpha * x) / (1 + std::exp(alpha * x));
    case Act::Softplus: return std::log(1 + std::exp(x));
    case Act::Gelu: return x * 0.5 * std::erfc(-x / std::sqrt(2.0));
    case Act::Selu: return x <= 0 ? beta * (alpha * std::exp(x) - alpha) : beta * x;
    case Act::Abs: return x < 0 ? -x : x;
    case Act::Exp: return std::exp(x);
    case Act::Log: return std::log(x);
    case Act::Sqrt: return std::sqrt(x);
    case Act::Neg: return -x;
    case Act::Reciprocal: return 1 / x;
    case Act::Floor: return std::floor(x);
    case Act::Ceil: return std::ceil(x);
    case Act::Round: return x - std::remainder(x, 1.0);  // remainder rounds half to even
    case Act::Erf: return std::erf(x);
    case Act::Sin: return std::sin(x);
    case Act::Cos: return std::cos(x);
    case Act::Softsign: return x / (1 + std::fabs(x));
    case Act::Identity: return x;
    default: break;  // the appended acts have their formulas in eltwise_activation_test.cpp
  }
  return NAN;
}

struct ActCase {
  Act act;
  float alpha, beta;
  double lo, hi;  // input domain
};

std::vector<ActCase> all_acts() {
  std::vector<ActCase> r;
  for (int64_t i = 1; i <= static_cast<int64_t>(Act::Identity); ++i) {
    Act a = static_cast<Act>(i);
    ActCase c{a, 0.f, 0.f, -4.0, 4.0};
    if (a == Act::LeakyRelu) c.alpha = 0.03f;
    if (a == Act::Clip) c.alpha = -0.7f, c.beta = 1.3f;
    if (a == Act::Elu) c.alpha = 1.5f;
    if (a == Act::HardSigmoid) c.alpha = 0.2f, c.beta = 0.5f;
    if (a == Act::Swish) c.alpha = 1.7f;
    if (a == Act::Selu) c.alpha = 1.6732632f, c.beta = 1.0507009f;
    if (a == Act::Log || a == Act::Sqrt) c.lo = 0.01;
    if (a == Act::Reciprocal) c.lo = 0.25;
    r.push_back(c);
  }
  return r;
}

TEST(EltwiseUnary, EveryActMatchesFormula) {
  for (const auto& c : all_acts()) {
    for (DType t : {DType::Float32, DType::Float64}) {
      auto x = random_tensor(t, {101}, 3, c.lo, c.hi);
      Unary u = unary(c.act, c.alpha, c.beta);
      std::vector<HostTensor> in{x};
      auto y = run_reference(u, in)[0];
      TensorView xv = x.view(), yv = y.view();
      double tol = t == DType::Float32 ? 2e-6 : 1e-12;
      for (int64_t i = 0; i < 101; ++i) {
        double xi = element_as_double(xv, i);
        double want = formula(c.act, c.alpha, c.beta, xi);
        EXPECT_NEAR(element_as_double(yv, i), want, tol * (1 + std::fabs(want)))
            << act_name(c.act) << " " << dtype_name(t) << " at x=" << xi;
      }
    }
  }
}

TEST(EltwiseUnary, IntegerTypes) {
  auto run = [](const Unary& u, HostTensor x) { std::vector<HostTensor> in{x}; return run_reference(u, in)[0]; };
  EXPECT_EQ(values<int8_t>(run(unary(Act::Relu), host_tensor<int8_t>(DType::Int8, {4}, {-128, -1, 0, 5}))),
            (std::vector<int8_t>{0, 0, 0, 5}));
  // abs(-128) wraps in int8, as in two's-complement hardware, rather than being undefined.
  EXPECT_EQ(values<int8_t>(run(unary(Act::Abs), host_tensor<int8_t>(DType::Int8, {3}, {-128, -3, 4}))),
            (std::vector<int8_t>{-128, 3, 4}));
  EXPECT_EQ(values<int32_t>(run(unary(Act::Neg), host_tensor<int32_t>(DType::Int32, {2}, {5, -7}))),
            (std::vector<int32_t>{-5, 7}));
  EXPECT_EQ(values<int64_t>(run(unary(Act::Clip, -2.f, 3.f), host_tensor<int64_t>(DType::Int64, {3}, {-10, 0, 10}))),
            (std::vector<int64_t>{-2, 0, 3}));
  float lo = std::numeric_limits<float>::lowest(), hi = std::numeric_limits<float>::max();
  EXPECT_EQ(values<int8_t>(run(unary(Act::Clip, lo, hi), host_tensor<int8_t>(DType::Int8, {2}, {-128, 127}))),
            (std::vector<int8_t>{-128, 127}));
}

TEST(EltwiseUnary, InferRejectsUnsupportedTypes) {
  std::vector<HostTensor> i32{HostTensor(DType::Int32, {3})};
  std::vector<HostTensor> u8{HostTensor(DType::UInt8, {3})};
  std::vector<HostTensor> b{HostTensor(DType::Bool, {3})};
  EXPECT_THROW(infer_outputs(unary(Act::Sigmoid), i32), Error);
  EXPECT_THROW(infer_outputs(unary(Act::Relu), u8), Error);
  EXPECT_THROW(infer_outputs(unary(Act::Relu), b), Error);
  EXPECT_NO_THROW(infer_outputs(unary(Act::Relu), i32));
  std::vector<HostTensor> two{HostTensor(DType::Float32, {3}), HostTensor(DType::Float32, {3})};
  EXPECT_THROW(infer_outputs(unary(Act::Relu), two), Error);
}

TEST(EltwiseUnary, OnednnMatchesReference) {
  // Log is declined on purpose: oneDNN 2.6 computes log(1) as 3e-6, which fails ONNX's atol.
  const std::vector<Act> unsupported{Act::Log, Act::Floor, Act::Ceil, Act::Erf, Act::Sin, Act::Cos, Act::Softsign};
  const std::vector<Dims> shapes{{7}, {3, 5, 17}, {2, 3, 4, 5}};
  for (const auto& c : all_acts()) {
    Unary u = unary(c.act, c.alpha, c.beta);
    bool expect = std::find(unsupported.begin(), unsupported.end(), c.act) == unsupported.end();
    for (size_t i = 0; i < shapes.size(); ++i) {
      SCOPED_TRACE(std::string(act_name(c.act)) + " " + shape_str(shapes[i]));
      auto x = random_tensor(DType::Float32, shapes[i], 10 + static_cast<uint32_t>(i), c.lo, c.hi);
      if (expect) {
        expect_kernel_matches_reference(u, "onednn", {x}, 1e-4, 1e-5);
      } else {
        std::vector<HostTensor> in{x}, out;
        EXPECT_FALSE(run_kernel(u, "onednn", in, out));
      }
    }
  }
  // Ties are where round-half-to-even differs from round-half-away.
  expect_kernel_matches_reference(unary(Act::Round), "onednn", {f32({6}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f})});
  std::vector<HostTensor> in{random_tensor(DType::Float64, {5}, 1)}, out;
  EXPECT_FALSE(run_kernel(unary(Act::Relu), "onednn", in, out)) << "float64 has no oneDNN path";
}

TEST(EltwisePRelu, ReferenceBroadcastsSlope) {
  PRelu p;
  std::vector<HostTensor> in{f32({2, 3}, {-1, 2, -3, 4, -5, 6}), f32({3}, {0.5f, 0.25f, 2.f})};
  EXPECT_EQ(values<float>(run_reference(p, in)[0]), (std::vector<float>{-0.5f, 2, -6, 4, -1.25f, 6}));
  // Per-channel slope of an NCHW tensor.
  std::vector<HostTensor> in4{f32({1, 2, 1, 2}, {-1, -2, -3, 4}), f32({2, 1, 1}, {0.1f, 10.f})};
  expect_floats(values<float>(run_reference(p, in4)[0]), {-0.1f, -0.2f, -30, 4});
}

TEST(EltwisePRelu, InferErrors) {
  PRelu p;
  std::vector<HostTensor> bad{HostTensor(DType::Float32, {2, 3}), HostTensor(DType::Float32, {4})};
  EXPECT_THROW(infer_outputs(p, bad), Error);
  std::vector<HostTensor> grows{HostTensor(DType::Float32, {1, 3}), HostTensor(DType::Float32, {2, 3})};
  EXPECT_THROW(infer_outputs(p, grows), Error) << "slope may not broadcast X";
  std::vector<HostTensor> types{HostTensor(DType::Float32, {3}), HostTensor(DType::Float64, {3})};
  EXPECT_THROW(infer_outputs(p, types), Error);
}

TEST(EltwiseWhere, ReferenceBroadcastsAllThree) {
  Where w;
  std::vector<HostTensor> in{host_tensor<uint8_t>(DType::Bool, {2, 1}, {1, 0}),
                             host_tensor<int64_t>(DType::Int64, {2, 3}, {1, 2, 3, 4, 5, 6}),
                             host_tensor<int64_t>(DType::Int64, {}, {-9})};
  auto out = run_reference(w, in)[0];
  EXPECT_EQ(out.shape, (Dims{2, 3}));
  EXPECT_EQ(values<int64_t>(out), (std::vector<int64_t>{1, 2, 3, -9, -9, -9}));
  std::vector<HostTensor> not_bool{HostTensor(DType::Float32, {2}), HostTensor(DType::Float32, {2}),
                                   HostTensor(DType::Float32, {2})};
  EXPECT_THROW(infer_outputs(w, not_bool), Error);
  std::vector<HostTensor> mixed{HostTensor(DType::Bool, {2}), HostTensor(DType::Float32, {2}),
                                HostTensor(DType::Int32, {2})};
  EXPECT_THROW(infer_outputs(w, mixed), Error);
}

TEST(EltwiseNot, Reference) {
  Not n;
  std::vector<HostTensor> in{host_tensor<uint8_t>(DType::Bool, {3}, {1, 0, 1})};
  EXPECT_EQ(values<uint8_t>(run_reference(n, in)[0]), (std::vector<uint8_t>{0, 1, 0}));
  std::vector<HostTensor> f{HostTensor(DType::Float32, {3})};
  EXPECT_THROW(infer_outputs(n, f), Error);
}

// ---- importers ----

std::unique_ptr<ir::Graph> import(const OnnxBuilder& b) {
  return onnx_import::import_onnx_bytes(b.bytes(), "test.onnx", {});
}

std::string import_error(const OnnxBuilder& b) {
  try {
    import(b);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void add_scalar_init(OnnxBuilder& b, const std::string& name, float v) { b.init(name, {}, {v}); }

TEST(EltwiseImport, ClipOpset11ConstantBounds) {
  OnnxBuilder b(11);
  b.input("x", {4});
  add_scalar_init(b, "lo", -0.5f);
  add_scalar_init(b, "hi", 0.25f);
  b.node("Clip", {"x", "lo", "hi"}, {"y"});
  b.output("y", {4});
  auto g = import(b);
  ASSERT_EQ(g->nodes().size(), 1u);
  auto* u = g->nodes()[0]->as<Unary>();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->act, Act::Clip);
  auto out = evaluate(*g, {{"x", f32({4}, {-1, 0, 0.2f, 1})}});
  expect_floats(values<float>(out.at("y")), {-0.5f, 0, 0.2f, 0.25f});
}

TEST(EltwiseImport, ClipOpset11OnlyMaxAndRuntimeBound) {
  OnnxBuilder b(13);
  b.input("x", {2});
  add_scalar_init(b, "hi", 1.f);
  b.node("Clip", {"x", "", "hi"}, {"y"});
  b.output("y", {2});
  auto out = evaluate(*import(b), {{"x", f32({2}, {-1e30f, 5})}});
  expect_floats(values<float>(out.at("y")), {-1e30f, 1}, 1e24f);

  OnnxBuilder r(13);
  r.input("x", {2});
  r.input("lo", {});
  r.node("Clip", {"x", "lo"}, {"y"});
  r.output("y", {2});
  // A bound known only at run time clips through Max (and Min for the upper bound).
  auto rout = evaluate(*import(r), {{"x", f32({2}, {-3, 5})}, {"lo", f32({}, {-1})}});
  expect_floats(values<float>(rout.at("y")), {-1, 5});
}

TEST(EltwiseImport, ClipOpset7Attributes) {
  OnnxBuilder b(7);
  b.input("x", {3});
  auto& n = b.node("Clip", {"x"}, {"y"});
  OnnxBuilder::attr(n, "min", 0.f);
  OnnxBuilder::attr(n, "max", 6.f);
  b.output("y", {3});
  auto out = evaluate(*import(b), {{"x", f32({3}, {-1, 3, 9})}});
  expect_floats(values<float>(out.at("y")), {0, 3, 6});
}

TEST(EltwiseImport, LeakyReluDefaultAlphaAndHardSwishOpset) {
  OnnxBuilder b(9);
  b.input("x", {2});
  b.node("LeakyRelu", {"x"}, {"y"});
  b.output("y", {2});
  auto out = evaluate(*import(b), {{"x", f32({2}, {-1, 1})}});
  expect_floats(values<float>(out.at("y")), {-0.01f, 1});

  OnnxBuilder h(13);
  h.input("x", {2});
  h.node("HardSwish", {"x"}, {"y"});
  h.output("y", {2});
  // Either onnx's checker or kiln's registry (HardSwish starts at opset 14) rejects it.
  EXPECT_NE(import_error(h).find("HardSwish"), std::string::npos) << import_error(h);
}

TEST(EltwiseImport, VariadicMeanMaxSum) {
  OnnxBuilder b(13);
  for (auto n : {"a", "b", "c"}) b.input(n, {2, 2});
  b.input("d", {2});
  b.node("Mean", {"a", "b", "c"}, {"mean"});
  b.node("Max", {"a", "b", "d"}, {"max"});
  b.node("Sum", {"c"}, {"sum"});
  b.output("mean", {2, 2});
  b.output("max", {2, 2});
  b.output("sum", {2, 2});
  auto g = import(b);
  auto out = evaluate(*g, {{"a", f32({2, 2}, {1, 2, 3, 4})},
                           {"b", f32({2, 2}, {5, 0, 0, 8})},
                           {"c", f32({2, 2}, {0, 1, 0, -3})},
                           {"d", f32({2}, {4, -1})}});
  expect_floats(values<float>(out.at("mean")), {2, 1, 1, 3});
  expect_floats(values<float>(out.at("max")), {5, 2, 4, 8});
  expect_floats(values<float>(out.at("sum")), {0, 1, 0, -3});
}

TEST(EltwiseImport, DropoutPassesThroughWithMask) {
  OnnxBuilder b(13);
  b.input("x", {2, 3});
  b.node("Dropout", {"x"}, {"y", "mask"});
  b.output("y", {2, 3});
  b.output("mask", {2, 3}, onnx::TensorProto::BOOL);
  auto g = import(b);
  auto x = random_tensor(DType::Float32, {2, 3}, 5);
  auto out = evaluate(*g, {{"x", x}});
  EXPECT_TRUE(all_close(out.at("y"), x, 0, 0));
  EXPECT_EQ(out.at("mask").dtype, DType::Bool);
  EXPECT_EQ(values<uint8_t>(out.at("mask")), std::vector<uint8_t>(6, 1));
}

TEST(EltwiseImport, DropoutTrainingModeFails) {
  OnnxBuilder b(13);
  b.input("x", {2});
  auto* t = b.model().mutable_graph()->add_initializer();
  t->set_name("train");
  t->set_data_type(onnx::TensorProto::BOOL);
  t->add_int32_data(1);
  b.node("Dropout", {"x", "", "train"}, {"y"});
  b.output("y", {2});
  EXPECT_NE(import_error(b).find("training_mode"), std::string::npos) << import_error(b);
}

TEST(EltwiseImport, IdentityAndComparisons) {
  OnnxBuilder b(13);
  b.input("x", {3});
  b.input("z", {3});
  b.node("Identity", {"x"}, {"i"});
  b.node("Less", {"i", "z"}, {"lt"});
  b.node("Not", {"lt"}, {"ge"});
  b.output("ge", {3}, onnx::TensorProto::BOOL);
  auto g = import(b);
  EXPECT_TRUE(g->nodes()[0]->as<Identity>());
  auto out = evaluate(*g, {{"x", f32({3}, {1, 2, 3})}, {"z", f32({3}, {2, 2, 2})}});
  EXPECT_EQ(values<uint8_t>(out.at("ge")), (std::vector<uint8_t>{0, 1, 1}));
}

}  // namespace
}  // namespace kiln::test
