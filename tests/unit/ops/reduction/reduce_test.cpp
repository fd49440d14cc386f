// Reduce: the reference against hand-computed values for every kind (keepdims, negative axes,
// rank-0 outputs, empty sets, integers, NaN), infer() errors, the oneDNN kernel against the
// reference, and the importers' opset forms (axes attribute vs ReduceSum-13's axes input).
#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

#include "graph_eval_util.h"
#include "import/importer.h"
#include "kernel_test_util.h"
#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"
#include "onnx_builder_util.h"
#include "ops/tensor/identity.h"
#include "ops/reduction/reduce.h"

namespace kiln::test {
namespace {

using namespace ops;
using K = ReduceKind;

template <class T>
HostTensor tensor(DType t, Dims s, const std::vector<T>& v) {
  HostTensor h(t, std::move(s));
  EXPECT_EQ(static_cast<size_t>(h.elements()), v.size());
  std::memcpy(h.bytes.data(), v.data(), v.size() * sizeof(T));
  return h;
}
HostTensor flt(Dims s, const std::vector<float>& v) { return tensor(DType::Float32, std::move(s), v); }

template <class T = float>
std::vector<T> values(const HostTensor& h) {
  std::vector<T> v(static_cast<size_t>(h.elements()));
  std::memcpy(v.data(), h.bytes.data(), h.bytes.size());
  return v;
}

Reduce make(K kind, std::vector<int64_t> axes, bool keepdims = true) {
  Reduce r;
  r.kind = kind;
  r.axes = std::move(axes);
  r.keepdims = keepdims;
  return r;
}

HostTensor run(const Op& op, HostTensor x) {
  std::vector<HostTensor> in{std::move(x)};
  return run_reference(op, in)[0];
}

void expect_floats(const HostTensor& h, Dims shape, const std::vector<float>& want, float tol = 1e-5f) {
  EXPECT_EQ(h.shape, shape);
  auto got = values(h);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol * std::max(1.f, std::fabs(want[i]))) << i;
}

// ONNX's example data: [3,2,2] holding 1..12.
HostTensor onnx_data() { return flt({3, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}); }

TEST(ReduceReference, EveryKindHandComputed) {
  expect_floats(run(make(K::Sum, {1}), onnx_data()), {3, 1, 2}, {4, 6, 12, 14, 20, 22});
  expect_floats(run(make(K::Sum, {1}, false), onnx_data()), {3, 2}, {4, 6, 12, 14, 20, 22});
  expect_floats(run(make(K::Mean, {}), onnx_data()), {1, 1, 1}, {6.5f});
  expect_floats(run(make(K::Max, {-2}), onnx_data()), {3, 1, 2}, {3, 4, 7, 8, 11, 12});
  expect_floats(run(make(K::Min, {0, 2}, false), onnx_data()), {2}, {1, 3});
  expect_floats(run(make(K::Prod, {0}), onnx_data()), {1, 2, 2}, {45, 120, 231, 384});
  auto signed_x = flt({2, 3}, {-1, 2, -3, 4, -5, 6});
  expect_floats(run(make(K::L1, {1}), signed_x), {2, 1}, {6, 15});
  expect_floats(run(make(K::L2, {0}, false), signed_x), {3}, {std::sqrt(17.f), std::sqrt(29.f), std::sqrt(45.f)});
  expect_floats(run(make(K::SumSquare, {-1}, false), signed_x), {2}, {14, 77});
  expect_floats(run(make(K::LogSum, {1}, false), flt({2, 2}, {1, 2, 0.5f, 0.5f})), {2}, {std::log(3.f), 0});
  expect_floats(run(make(K::LogSumExp, {1}, false), flt({2, 3}, {0, 0, 0, 1, 2, 3})), {2},
                {std::log(3.f), 3 + std::log(1 + std::exp(-1.f) + std::exp(-2.f))});
}

TEST(ReduceReference, LogSumExpIsStable) {
  // exp(1000) overflows float and double: the max must be subtracted first.
  expect_floats(run(make(K::LogSumExp, {}, false), flt({2}, {1000, 1000})), {}, {1000 + std::log(2.f)});
  expect_floats(run(make(K::LogSumExp, {}, false), flt({2}, {-1000, -1000})), {}, {-1000 + std::log(2.f)});
  const float inf = std::numeric_limits<float>::infinity();
  auto all_neg_inf = run(make(K::LogSumExp, {}, false), flt({2}, {-inf, -inf}));
  EXPECT_EQ(values(all_neg_inf)[0], -inf);
}

TEST(ReduceReference, Rank0AndUnitDims) {
  // Reducing every axis without keepdims leaves a scalar; with keepdims, all ones.
  expect_floats(run(make(K::Sum, {}, false), onnx_data()), {}, {78});
  expect_floats(run(make(K::Sum, {0, 1, 2}, true), onnx_data()), {1, 1, 1}, {78});
  expect_floats(run(make(K::Max, {-1, -3}, false), onnx_data()), {2}, {10, 12});
  // A scalar input reduces to itself.
  expect_floats(run(make(K::LogSum, {}, false), flt({}, {std::exp(2.f)})), {}, {2});
}

TEST(ReduceReference, EmptySets) {
  const float inf = std::numeric_limits<float>::infinity();
  HostTensor empty(DType::Float32, {2, 0});
  auto one = [&](K k) { return values(run(make(k, {1}, false), empty)); };
  EXPECT_EQ(one(K::Sum), (std::vector<float>{0, 0}));
  EXPECT_EQ(one(K::Prod), (std::vector<float>{1, 1}));
  EXPECT_EQ(one(K::L2), (std::vector<float>{0, 0}));
  EXPECT_EQ(one(K::Max), (std::vector<float>{-inf, -inf}));
  EXPECT_EQ(one(K::Min), (std::vector<float>{inf, inf}));
  EXPECT_EQ(one(K::LogSum), (std::vector<float>{-inf, -inf}));
  EXPECT_EQ(one(K::LogSumExp), (std::vector<float>{-inf, -inf}));
  EXPECT_TRUE(std::isnan(one(K::Mean)[0]));
  // A zero-sized kept dim: nothing to compute, but the shape still follows keepdims.
  EXPECT_EQ(run(make(K::Sum, {1}), HostTensor(DType::Float32, {0, 3})).shape, (Dims{0, 1}));
  // Integers have no infinity: Max of nothing is the lowest value.
  auto m = run(make(K::Max, {0}, false), HostTensor(DType::Int32, {0, 2}));
  EXPECT_EQ(values<int32_t>(m), (std::vector<int32_t>{INT32_MIN, INT32_MIN}));
}

TEST(ReduceReference, IntegersAndDoubles) {
  auto i32 = tensor<int32_t>(DType::Int32, {2, 2}, {-3, 0, 7, 2});
  EXPECT_EQ(values<int32_t>(run(make(K::Sum, {1}, false), i32)), (std::vector<int32_t>{-3, 9}));
  // Integer mean truncates toward zero: -3/2 = -1, 9/2 = 4.
  EXPECT_EQ(values<int32_t>(run(make(K::Mean, {1}, false), i32)), (std::vector<int32_t>{-1, 4}));
  EXPECT_EQ(values<int32_t>(run(make(K::L1, {0}, false), i32)), (std::vector<int32_t>{10, 2}));
  EXPECT_EQ(values<int32_t>(run(make(K::L2, {1}, false), i32)), (std::vector<int32_t>{3, 7}));
  auto i64 = tensor<int64_t>(DType::Int64, {3}, {1000000, 1000000, -3});
  EXPECT_EQ(values<int64_t>(run(make(K::Prod, {}, false), i64)), (std::vector<int64_t>{-3000000000000}));
  auto u8 = tensor<uint8_t>(DType::UInt8, {4}, {7, 200, 3, 9});
  EXPECT_EQ(values<uint8_t>(run(make(K::Min, {}, false), u8)), (std::vector<uint8_t>{3}));
  EXPECT_EQ(values<uint8_t>(run(make(K::Max, {}, false), u8)), (std::vector<uint8_t>{200}));
  auto f64 = tensor<double>(DType::Float64, {2}, {0.1, 0.2});
  EXPECT_NEAR(values<double>(run(make(K::Sum, {}, false), f64))[0], 0.3, 1e-15);
  EXPECT_NEAR(values<double>(run(make(K::LogSumExp, {}, false), f64))[0],
              std::log(std::exp(0.1) + std::exp(0.2)), 1e-14);
}

TEST(ReduceReference, NaNWinsMaxAndMin) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(values(run(make(K::Max, {}, false), flt({3}, {1, nan, 5})))[0]));
  EXPECT_TRUE(std::isnan(values(run(make(K::Min, {}, false), flt({3}, {1, 5, nan})))[0]));
}

TEST(ReduceReference, InferErrors) {
  EXPECT_NE(infer_error(make(K::Sum, {3}), {f32({2, 3, 4})}).find("out of range"), std::string::npos);
  EXPECT_NE(infer_error(make(K::Sum, {-4}), {f32({2, 3, 4})}).find("out of range"), std::string::npos);
  EXPECT_NE(infer_error(make(K::Sum, {1, -2}), {f32({2, 3, 4})}).find("twice"), std::string::npos);
  EXPECT_NE(infer_error(make(K::Sum, {0}), {f32({})}).find("out of range"), std::string::npos);
  EXPECT_NE(infer_error(make(K::Sum, {0}), {{DType::Int8, {2}}}).find("int8"), std::string::npos);
  EXPECT_NE(infer_error(make(K::Sum, {0}), {{DType::Bool, {2}}}).find("bool"), std::string::npos);
  EXPECT_EQ(infer_error(make(K::Max, {0}), {{DType::Bool, {2}}}), "");  // any(), from opset 20
  EXPECT_EQ(infer_error(make(K::Max, {0}), {{DType::Int8, {2}}}), "");
  EXPECT_NE(infer_error(make(static_cast<K>(42), {0}), {f32({2})}).find("kind"), std::string::npos);
  // Unknown dims pass through.
  ops::InferContext ctx({f32({-1, 3, 5})}, {nullptr}, 1);
  make(K::Mean, {1}, false).infer(ctx);
  EXPECT_EQ(ctx.outputs()[0].shape, (Dims{-1, 5}));
}

// ---- the oneDNN kernel ----

TEST(ReduceKernel, OnednnMatchesReferenceOnTrailingAxes) {
  struct Case { Dims s; std::vector<int64_t> axes; bool keep; };
  const std::vector<Case> cases{{{3, 2, 2}, {2}, true},        {{3, 2, 2}, {}, false},
                                {{7, 1000}, {-1}, false},       {{2, 64, 7, 7}, {2, 3}, true},
                                {{5, 3, 11}, {1, 2}, false},    {{2, 1, 3, 5}, {1, 3}, true},
                                {{17}, {0}, false},             {{4, 3, 1}, {1, 2}, true}};
  uint32_t seed = 1;
  for (auto& c : cases)
    for (K k : {K::Sum, K::Mean, K::Max, K::Min, K::Prod, K::LogSum}) {
      SCOPED_TRACE(shape_str(c.s) + " " + reduce_name(k));
      // Positive data keeps LogSum defined; values near 1 keep long products finite.
      const bool positive = k == K::LogSum || k == K::Prod;
      auto x = random_tensor(DType::Float32, c.s, seed++, positive ? 0.9 : -3, positive ? 1.1 : 3);
      expect_kernel_matches_reference(make(k, c.axes, c.keep), "onednn", {x}, 1e-4, 1e-4);
      x.constant = true;  // a folded-away producer: the kernel reads const_data
      expect_kernel_matches_reference(make(k, c.axes, c.keep), "onednn", {x}, 1e-4, 1e-4);
    }
}

TEST(ReduceKernel, OnednnDeclinesOrMatches) {
  // Whatever oneDNN accepts must match; what it cannot do well it must decline, not get wrong.
  struct Case { Dims s; std::vector<int64_t> axes; };
  const std::vector<Case> cases{{{5, 7}, {0}}, {{3, 4, 5}, {1}}, {{6, 9}, {1}}, {{2, 3, 4}, {0, 2}}};
  uint32_t seed = 100;
  for (auto& c : cases)
    for (K k : {K::Sum, K::Mean, K::Max, K::L1, K::L2, K::SumSquare, K::LogSumExp}) {
      SCOPED_TRACE(shape_str(c.s) + " " + reduce_name(k));
      std::vector<HostTensor> in{random_tensor(DType::Float32, c.s, seed++, -2, 2)}, got;
      auto want = run_reference(make(k, c.axes), in);
      if (run_kernel(make(k, c.axes), "onednn", in, got)) {
        EXPECT_TRUE(all_close(got[0], want[0], 1e-4, 1e-4));
      }
    }
  std::vector<HostTensor> out;
  std::vector<HostTensor> lse{random_tensor(DType::Float32, {4, 8}, 1)};
  EXPECT_FALSE(run_kernel(make(K::LogSumExp, {1}), "onednn", lse, out)) << "no stable oneDNN LogSumExp";
  std::vector<HostTensor> dbl{random_tensor(DType::Float64, {4, 8}, 1)};
  EXPECT_FALSE(run_kernel(make(K::Sum, {1}), "onednn", dbl, out));
  std::vector<HostTensor> empty{HostTensor(DType::Float32, {4, 0})};
  EXPECT_FALSE(run_kernel(make(K::Max, {1}), "onednn", empty, out)) << "empty sets stay with the reference";
  std::vector<HostTensor> unit{random_tensor(DType::Float32, {4, 1}, 1)};
  EXPECT_FALSE(run_kernel(make(K::Sum, {1}), "onednn", unit, out)) << "reducing only unit dims is a copy";
}

TEST(ReduceKernel, InhouseMatchesReference) {
  struct Case { Dims s; std::vector<int64_t> axes; bool keep; };
  // Collapsed forms: [K,R,K], [R,K], [K,R], [R], with unit dims and merged runs mixed in, and
  // a long reduced row (partial accumulators plus a tail) and a wide inner (several blocks).
  const std::vector<Case> cases{{{3, 4, 5}, {1}, true},        {{5, 7}, {0}, false},      {{6, 9}, {1}, true},
                                {{2, 3, 4}, {}, false},         {{2, 1, 3, 4, 5}, {1, 2}, false},
                                {{4, 3, 2, 5}, {1, 2}, true},   {{1, 1003}, {1}, false},   {{3, 2, 600}, {1}, true},
                                {{7}, {0}, true}};
  const K kinds[] = {K::Sum, K::Mean, K::Max, K::Min, K::Prod, K::L1, K::L2, K::LogSum, K::LogSumExp, K::SumSquare};
  uint32_t seed = 200;
  for (auto& c : cases)
    for (K k : kinds) {
      SCOPED_TRACE(shape_str(c.s) + " " + reduce_name(k));
      const bool positive = k == K::LogSum || k == K::Prod;
      auto x = random_tensor(DType::Float32, c.s, seed++, positive ? 0.95 : -3, positive ? 1.05 : 3);
      expect_kernel_matches_reference(make(k, c.axes, c.keep), "inhouse", {x}, 1e-4, 1e-4);
    }
  // LogSumExp stays finite where exp overflows, and all -inf gives -inf.
  const float inf = std::numeric_limits<float>::infinity();
  expect_kernel_matches_reference(make(K::LogSumExp, {0}), "inhouse", {flt({2, 2}, {1000, -inf, 999, -inf})});
  std::vector<HostTensor> big{flt({2, 2}, {1000, -inf, 999, -inf})}, got;
  ASSERT_TRUE(run_kernel(make(K::LogSumExp, {0}), "inhouse", big, got));
  EXPECT_NEAR(values(got[0])[0], 1000 + std::log1p(std::exp(-1.f)), 1e-3);
  EXPECT_EQ(values(got[0])[1], -inf);
  // NaN propagates through Max like the reference.
  expect_kernel_matches_reference(make(K::Max, {1}), "inhouse",
                                  {flt({2, 9}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 1, std::nanf(""), 3, 4, 5, 6, 7, 8, 9})});
  // Two separate reduced runs, empty sets, float64: declined.
  std::vector<HostTensor> two{random_tensor(DType::Float32, {2, 3, 4}, 1)}, out;
  EXPECT_FALSE(run_kernel(make(K::Sum, {0, 2}), "inhouse", two, out));
  std::vector<HostTensor> empty{HostTensor(DType::Float32, {4, 0})};
  EXPECT_FALSE(run_kernel(make(K::Sum, {1}), "inhouse", empty, out));
  std::vector<HostTensor> dbl{random_tensor(DType::Float64, {4, 8}, 1)};
  EXPECT_FALSE(run_kernel(make(K::Sum, {1}), "inhouse", dbl, out));
}

// ---- importers ----

std::unique_ptr<ir::Graph> import(OnnxBuilder& b) { return onnx_import::import_onnx_bytes(b.bytes(), "r.onnx", {}); }

TEST(ReduceImport, AttributeFormBeforeOpset13) {
  OnnxBuilder b(11);
  b.input("x", {3, 2, 2});
  auto& n = b.node("ReduceMean", {"x"}, {"y"});
  OnnxBuilder::attr(n, "axes", std::vector<int64_t>{-2});
  OnnxBuilder::attr(n, "keepdims", int64_t{0});
  b.output("y", {3, 2});
  auto g = import(b);
  auto* r = g->nodes()[0]->as<Reduce>();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, K::Mean);
  EXPECT_EQ(r->axes, (std::vector<int64_t>{-2}));
  EXPECT_FALSE(r->keepdims);
  auto out = evaluate(*g, {{"x", onnx_data()}});
  expect_floats(out.at("y"), {3, 2}, {2, 3, 6, 7, 10, 11});
}

TEST(ReduceImport, EveryOpMapsToItsKind) {
  const std::pair<const char*, K> ops[] = {{"ReduceSum", K::Sum},       {"ReduceMean", K::Mean},
                                           {"ReduceMax", K::Max},       {"ReduceMin", K::Min},
                                           {"ReduceProd", K::Prod},     {"ReduceL1", K::L1},
                                           {"ReduceL2", K::L2},         {"ReduceLogSum", K::LogSum},
                                           {"ReduceLogSumExp", K::LogSumExp}, {"ReduceSumSquare", K::SumSquare}};
  for (auto [name, kind] : ops) {
    SCOPED_TRACE(name);
    OnnxBuilder b(12);
    b.input("x", {2, 3});
    b.node(name, {"x"}, {"y"});
    b.output("y", {1, 1});
    auto g = import(b);
    auto* r = g->nodes()[0]->as<Reduce>();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kind, kind);
    EXPECT_TRUE(r->axes.empty());
    EXPECT_TRUE(r->keepdims);
  }
}

TEST(ReduceImport, ReduceSum13AxesInput) {
  OnnxBuilder b(13);
  b.input("x", {3, 2, 2});
  b.init_i64("axes", {1}, {-1});
  b.node("ReduceSum", {"x", "axes"}, {"y"});
  b.output("y", {3, 2, 1});
  auto g = import(b);
  auto* r = g->nodes()[0]->as<Reduce>();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->axes, (std::vector<int64_t>{-1}));
  EXPECT_EQ(r->keepdims, true);
  expect_floats(evaluate(*g, {{"x", onnx_data()}}).at("y"), {3, 2, 1}, {3, 7, 11, 15, 19, 23});

  // No axes input: every axis.
  OnnxBuilder all(13);
  all.input("x", {3, 2, 2});
  OnnxBuilder::attr(all.node("ReduceSum", {"x"}, {"y"}), "keepdims", int64_t{0});
  all.output("y", {});
  expect_floats(evaluate(*import(all), {{"x", onnx_data()}}).at("y"), {}, {78});
}

TEST(ReduceImport, EmptyAxesNoopAndStaticallyEmptyInput) {
  // An axes graph input of static shape [0] is empty whatever it holds.
  for (int noop : {0, 1}) {
    SCOPED_TRACE(noop);
    OnnxBuilder b(13);
    b.input("x", {3, 2, 2});
    b.input("axes", {0}, onnx::TensorProto::INT64);
    OnnxBuilder::attr(b.node("ReduceSum", {"x", "axes"}, {"y"}), "noop_with_empty_axes", int64_t{noop});
    b.output("y", noop ? Dims{3, 2, 2} : Dims{1, 1, 1});
    auto g = import(b);
    if (noop) {
      EXPECT_TRUE(g->nodes()[0]->as<Identity>());
    } else {
      auto* r = g->nodes()[0]->as<Reduce>();
      ASSERT_TRUE(r);
      EXPECT_TRUE(r->axes.empty());
    }
  }
  OnnxBuilder init(13);
  init.input("x", {3, 2, 2});
  init.init_i64("axes", {0}, {});
  OnnxBuilder::attr(init.node("ReduceSum", {"x", "axes"}, {"y"}), "noop_with_empty_axes", int64_t{1});
  init.output("y", {3, 2, 2});
  expect_floats(evaluate(*import(init), {{"x", onnx_data()}}).at("y"), {3, 2, 2},
                {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
}

// Axes known only at run time: the output shape is inferred per run (compile -> plan -> run).
TEST(ReduceImport, RuntimeAxesThroughThePlan) {
  for (int keep : {0, 1}) {
    SCOPED_TRACE(keep);
    OnnxBuilder b(13);
    b.input("x", {3, 2, 2});
    b.input("axes", {1}, onnx::TensorProto::INT64);
    OnnxBuilder::attr(b.node("ReduceSum", {"x", "axes"}, {"y"}), "keepdims", int64_t{keep});
    b.output("y", keep ? Dims{-1, -1, -1} : Dims{-1, -1});
    auto e = Engine::load_memory(compile_onnx_file(b.save("reduce_rt_axes.onnx"), {}).plan);
    auto ctx = e->create_context();
    auto x = onnx_data();
    std::memcpy(ctx->input("x"), x.bytes.data(), x.bytes.size());
    auto run_axes = [&](int64_t axis) {
      std::memcpy(ctx->input("axes"), &axis, sizeof axis);
      ctx->run();
      HostTensor y(DType::Float32, ctx->output_shape(0));
      std::memcpy(y.bytes.data(), ctx->output(0), y.bytes.size());
      return y;
    };
    expect_floats(run_axes(1), keep ? Dims{3, 1, 2} : Dims{3, 2}, {4, 6, 12, 14, 20, 22});
    expect_floats(run_axes(-1), keep ? Dims{3, 2, 1} : Dims{3, 2}, {3, 7, 11, 15, 19, 23});
    EXPECT_THROW(run_axes(3), Error);
    expect_floats(run_axes(0), keep ? Dims{1, 2, 2} : Dims{2, 2}, {15, 18, 21, 24});
  }
}

TEST(ReduceImport, RuntimeAxesInfer) {
  Reduce r = make(K::Sum, {}, true);
  ops::InferContext keep({f32({3, 1, 4}), {DType::Int64, {2}}}, {nullptr, nullptr}, 1);
  r.infer(keep);
  EXPECT_EQ(keep.outputs()[0].shape, (Dims{-1, 1, -1}));
  r.keepdims = false;
  ops::InferContext drop({f32({3, 1, 4}), {DType::Int64, {2}}}, {nullptr, nullptr}, 1);
  r.infer(drop);
  EXPECT_EQ(drop.outputs()[0].shape, (Dims{-1}));
  EXPECT_NE(infer_error(r, {f32({3}), {DType::Int64, {2}}}).find("more axes"), std::string::npos);
  EXPECT_NE(infer_error(r, {f32({3}), {DType::Int64, {-1}}}).find("known"), std::string::npos);
  EXPECT_NE(infer_error(r, {f32({3}), {DType::Int32, {1}}}).find("int64"), std::string::npos);
  // With values (the runtime's per-run infer), axes are checked as usual.
  std::vector<HostTensor> in{onnx_data(), tensor<int64_t>(DType::Int64, {2}, {0, -3})};
  in[1].constant = true;
  EXPECT_THROW(infer_outputs(r, in), Error);
  // A static output (a scalar here) skips the per-run infer: the reference checks the values.
  std::vector<HostTensor> dup{flt({2, 2}, {1, 2, 3, 4}), tensor<int64_t>(DType::Int64, {2}, {0, 0})};
  ops::KernelArgs args;
  HostTensor y(DType::Float32, {});
  args.in = {dup[0].view(), dup[1].view()};
  args.out = {y.view()};
  EXPECT_THROW(r.reference(args), Error);
}

}  // namespace
}  // namespace kiln::test
