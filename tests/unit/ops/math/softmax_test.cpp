// Softmax, LogSoftmax, Hardmax: reference vs hand-computed values in both ONNX forms (axis and
// coerce_2d), the internal additive mask, infer() errors, the oneDNN and in-house kernels vs the
// reference, and the importers' opset rules.
#include <algorithm>
#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "graph_eval_util.h"
#include "import/importer.h"
#include "kernel_test_util.h"
#include "onnx_builder_util.h"
#include "ops/math/softmax.h"

namespace kiln::test {
namespace {

using namespace ops;

HostTensor f32(Dims s, const std::vector<float>& v) {
  HostTensor h(DType::Float32, std::move(s));
  EXPECT_EQ(static_cast<size_t>(h.elements()), v.size());
  std::memcpy(h.bytes.data(), v.data(), v.size() * sizeof(float));
  return h;
}
std::vector<float> values(const HostTensor& h) {
  std::vector<float> v(static_cast<size_t>(h.elements()));
  std::memcpy(v.data(), h.bytes.data(), h.bytes.size());
  return v;
}
void expect_floats(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-6f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

template <class T>
T make_op(int64_t axis, bool coerce = false) {
  T op;
  op.axis = axis;
  op.coerce_2d = coerce;
  return op;
}

std::vector<float> run(const Op& op, HostTensor x) {
  std::vector<HostTensor> in{std::move(x)};
  return values(run_reference(op, in)[0]);
}

TEST(SoftmaxReference, HandComputed) {
  expect_floats(run(make_op<Softmax>(-1), f32({3}, {1, 2, 3})), {0.09003057f, 0.24472847f, 0.66524096f});
  expect_floats(run(make_op<LogSoftmax>(0), f32({3}, {1, 2, 3})), {-2.40760596f, -1.40760596f, -0.40760596f});
  // Large inputs must not overflow: the max is subtracted first.
  expect_floats(run(make_op<Softmax>(-1), f32({2}, {1000, 1001})), {0.26894142f, 0.73105858f});
  expect_floats(run(make_op<LogSoftmax>(-1), f32({2}, {-1000, -1000})), {-std::log(2.f), -std::log(2.f)});
  // Hardmax marks the first maximum only.
  expect_floats(run(make_op<Hardmax>(1), f32({2, 3}, {1, 3, 3, 2, 1, 0})), {0, 1, 0, 1, 0, 0});
}

TEST(SoftmaxReference, AxisAndCoerce2d) {
  // x [2,2,2] = 0..7 as log values, so each softmax is a ratio of the exponentials' sums.
  std::vector<float> x{0, std::log(3.f), std::log(2.f), std::log(2.f), 0, 0, std::log(4.f), std::log(4.f)};
  // axis 1 only: pairs (x[n,0,w], x[n,1,w])
  expect_floats(run(make_op<Softmax>(1), f32({2, 2, 2}, x)), {1.f / 3, 0.6f, 2.f / 3, 0.4f, 0.2f, 0.2f, 0.8f, 0.8f});
  // opset < 13 at axis 1: each batch's 4 values normalised together.
  expect_floats(run(make_op<Softmax>(1, true), f32({2, 2, 2}, x)),
                {1.f / 8, 3.f / 8, 2.f / 8, 2.f / 8, 0.1f, 0.1f, 0.4f, 0.4f});
  // coerce at axis 0: everything is one row.
  auto all = run(make_op<Softmax>(0, true), f32({2, 2, 2}, x));
  float sum = 0;
  for (float v : all) sum += v;
  EXPECT_NEAR(sum, 1.f, 1e-6);
  expect_floats({all[0], all[7]}, {1.f / 18, 4.f / 18});
  expect_floats(run(make_op<Hardmax>(1, true), f32({2, 2, 2}, x)), {0, 1, 0, 0, 0, 0, 1, 0});
  // axis 0 of a [2,3]
  expect_floats(run(make_op<Softmax>(-2), f32({2, 3}, {0, 0, 5, 0, std::log(3.f), 5})),
                {0.5f, 0.25f, 0.5f, 0.5f, 0.75f, 0.5f});
}

TEST(SoftmaxReference, Float64) {
  HostTensor x(DType::Float64, {3});
  double* p = x.as<double>();
  p[0] = 1, p[1] = 2, p[2] = 3;
  std::vector<HostTensor> in{x};
  auto y = run_reference(make_op<LogSoftmax>(0), in)[0];
  EXPECT_NEAR(y.as<double>()[0], -2.4076059644443806, 1e-14);
}

TEST(SoftmaxReference, InferErrors) {
  auto infer = [](const Op& op, HostTensor t) {
    std::vector<HostTensor> in{std::move(t)};
    return infer_outputs(op, in);
  };
  EXPECT_THROW(infer(make_op<Softmax>(3), HostTensor(DType::Float32, {2, 3, 4})), Error);
  EXPECT_THROW(infer(make_op<Softmax>(-4), HostTensor(DType::Float32, {2, 3, 4})), Error);
  EXPECT_THROW(infer(make_op<LogSoftmax>(0), HostTensor(DType::Int32, {2})), Error);
  EXPECT_THROW(infer(make_op<Hardmax>(0), HostTensor(DType::Float32, {})), Error);
  EXPECT_EQ(infer(make_op<Softmax>(-3), HostTensor(DType::Float32, {2, 3, 4}))[0].shape, (Dims{2, 3, 4}));
}

// The internal form with an additive mask (assign-int8 hands attention's mask Add to the Softmax).
std::vector<float> run_masked(HostTensor x, HostTensor mask) {
  std::vector<HostTensor> in{std::move(x), std::move(mask)};
  return values(run_reference(make_op<Softmax>(-1), in)[0]);
}

TEST(SoftmaxReference, AdditiveMask) {
  const float big = -3.4028235e38f;  // HF's finfo.min mask: those keys get no weight
  // One mask row for both rows of x: [0, log 2, big] turns equal scores into 1/3, 2/3, 0.
  expect_floats(run_masked(f32({2, 3}, {0, 0, 0, 1, 1, 1}), f32({1, 3}, {0, std::log(2.f), big})),
                {1.f / 3, 2.f / 3, 0, 1.f / 3, 2.f / 3, 0});
  // A mask per batch, broadcast over heads ([2,1,3] onto [2,2,3]), and one of rank 1.
  expect_floats(run_masked(f32({2, 2, 3}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), f32({2, 1, 3}, {0, 0, big, big, 0, 0})),
                {0.5f, 0.5f, 0, 0.5f, 0.5f, 0, 0, 0.5f, 0.5f, 0, 0.5f, 0.5f});
  expect_floats(run_masked(f32({1, 2}, {std::log(3.f), 0}), f32({2}, {0, 0})), {0.75f, 0.25f});
  // A row masked everywhere is uniform, as torch gives with finfo.min.
  expect_floats(run_masked(f32({1, 2}, {1, 5}), f32({2}, {big, big})), {0.5f, 0.5f});
}

TEST(SoftmaxReference, MaskInferErrors) {
  auto infer = [](int64_t axis, DType xt, Dims xs, DType mt, Dims ms) {
    std::vector<HostTensor> in{HostTensor(xt, std::move(xs)), HostTensor(mt, std::move(ms))};
    return infer_outputs(make_op<Softmax>(axis), in);
  };
  const auto F = DType::Float32;
  EXPECT_EQ(infer(-1, F, {2, 4, 8}, F, {2, 1, 8})[0].shape, (Dims{2, 4, 8}));
  EXPECT_EQ(infer(2, F, {2, 4, 8}, F, {8})[0].shape, (Dims{2, 4, 8}));
  EXPECT_THROW(infer(1, F, {2, 4, 8}, F, {8}), Error);             // not the last axis
  EXPECT_THROW(infer(-1, F, {2, 4, 8}, F, {2, 4, 4}), Error);       // last dims differ
  EXPECT_THROW(infer(-1, F, {2, 4, 8}, F, {3, 1, 8}), Error);       // 3 does not broadcast onto 2
  EXPECT_THROW(infer(-1, F, {4, 8}, F, {1, 1, 8}), Error);          // a higher rank than x
  EXPECT_THROW(infer(-1, F, {4, 8}, DType::Float64, {8}), Error);   // float32 only
}

TEST(SoftmaxKernel, OnednnMatchesReference) {
  struct Case { Dims s; int64_t axis; bool coerce; };
  const std::vector<Case> cases{{{1, 1000}, -1, false}, {{2, 3, 4, 5}, 1, false}, {{2, 3, 4, 5}, 0, false},
                                {{2, 3, 4, 5}, 2, true}, {{2, 3, 4, 5}, 1, true}, {{3, 7, 11}, -2, false},
                                {{17}, 0, false},         {{5, 1, 13}, 1, false}};
  uint32_t seed = 1;
  for (auto& c : cases) {
    SCOPED_TRACE(shape_str(c.s) + " axis " + std::to_string(c.axis) + (c.coerce ? " coerce_2d" : ""));
    auto x = random_tensor(DType::Float32, c.s, seed++, -5, 5);
    expect_kernel_matches_reference(make_op<Softmax>(c.axis, c.coerce), "onednn", {x}, 1e-4, 1e-6);
    expect_kernel_matches_reference(make_op<LogSoftmax>(c.axis, c.coerce), "onednn", {x}, 1e-4, 1e-5);
  }
  std::vector<HostTensor> in{random_tensor(DType::Float32, {2, 3}, 1)}, out;
  EXPECT_FALSE(run_kernel(make_op<Hardmax>(1), "onednn", in, out)) << "Hardmax has no oneDNN kernel";
  std::vector<HostTensor> dbl{random_tensor(DType::Float64, {2, 3}, 1)};
  EXPECT_FALSE(run_kernel(make_op<Softmax>(1), "onednn", dbl, out));
  std::vector<HostTensor> masked{random_tensor(DType::Float32, {2, 3}, 1), random_tensor(DType::Float32, {3}, 2)};
  EXPECT_FALSE(run_kernel(make_op<Softmax>(-1), "onednn", masked, out)) << "oneDNN's softmax has no mask";
}

// The in-house kernel on float rows with a mask (its int8 results: int8_kernels_test.cpp), in both
// its AVX-512 and baseline forms (unit.inhouse_rows_avx2 runs this under ONEDNN_MAX_CPU_ISA=AVX2):
// row lengths with and without a 16-wide tail, masks broadcast every way infer allows, keys masked
// with finfo.min, and a row masked everywhere.
TEST(InhouseSoftmax, FloatRowsWithAMaskMatchTheReference) {
  struct Case { Dims x, mask; };
  const std::vector<Case> cases{{{1, 12, 128, 128}, {1, 1, 1, 128}}, {{2, 3, 5, 17}, {2, 1, 5, 17}},
                                {{2, 3, 5, 17}, {17}}, {{3, 1000}, {3, 1000}}, {{4, 33}, {1, 33}}};
  uint32_t seed = 11;
  for (const Case& c : cases) {
    SCOPED_TRACE(shape_str(c.x) + " mask " + shape_str(c.mask));
    HostTensor x = random_tensor(DType::Float32, c.x, seed++, -8, 8);
    HostTensor m = random_tensor(DType::Float32, c.mask, seed++, -4, 4);
    auto* mv = m.as<float>();
    for (int64_t i = 0; i < m.elements(); i += 5) mv[i] = -3.4028235e38f;
    if (m.elements() >= c.x.back())
      for (int64_t i = 0; i < c.x.back(); ++i) mv[i] = -3.4028235e38f;  // the first mask row: all masked
    expect_kernel_matches_reference(make_op<Softmax>(-1), "inhouse", {x, m}, 1e-5, 1e-7);
    // Masked keys give exact zeros, never denormals (slow microcode assists on Intel cores).
    std::vector<HostTensor> in{x, m}, out;
    ASSERT_TRUE(run_kernel(make_op<Softmax>(-1), "inhouse", in, out));
    const std::vector<float> y = values(out[0]);
    const auto denormal = std::count_if(y.begin(), y.end(), [](float v) { return std::fpclassify(v) == FP_SUBNORMAL; });
    EXPECT_EQ(denormal, 0);
  }
  // Plain float rows stay with oneDNN.
  std::vector<HostTensor> out, plain{random_tensor(DType::Float32, {2, 16}, 1)};
  EXPECT_FALSE(run_kernel(make_op<Softmax>(-1), "inhouse", plain, out));
}

// ---- importers ----

std::unique_ptr<ir::Graph> import_softmax(const char* op, int opset, Dims s, int64_t axis = 99) {
  OnnxBuilder b(opset);
  b.input("x", s);
  auto& n = b.node(op, {"x"}, {"y"});
  if (axis != 99) OnnxBuilder::attr(n, "axis", axis);
  b.output("y", s);
  return onnx_import::import_onnx_bytes(b.bytes(), "softmax.onnx", {});
}

TEST(SoftmaxImport, OpsetDefaults) {
  auto g11 = import_softmax("Softmax", 11, {2, 3, 4});
  auto* s11 = g11->nodes()[0]->as<Softmax>();
  ASSERT_TRUE(s11);
  EXPECT_EQ(s11->axis, 1);
  EXPECT_TRUE(s11->coerce_2d);
  auto g13 = import_softmax("LogSoftmax", 13, {2, 3, 4});
  auto* s13 = g13->nodes()[0]->as<LogSoftmax>();
  ASSERT_TRUE(s13);
  EXPECT_EQ(s13->axis, -1);
  EXPECT_FALSE(s13->coerce_2d);
  // Legacy flattening at the last axis is the same as normalising along it.
  auto last = import_softmax("Hardmax", 9, {2, 3, 4}, 2);
  auto* h = last->nodes()[0]->as<Hardmax>();
  ASSERT_TRUE(h);
  EXPECT_FALSE(h->coerce_2d);
}

TEST(SoftmaxImport, LegacyFlattensNumerically) {
  auto g = import_softmax("Softmax", 12, {1, 2, 2});
  auto out = evaluate(*g, {{"x", f32({1, 2, 2}, {0, 0, 0, std::log(5.f)})}});
  expect_floats(values(out.at("y")), {0.125f, 0.125f, 0.125f, 0.625f});
  auto g13 = import_softmax("Softmax", 13, {1, 2, 2}, 1);
  out = evaluate(*g13, {{"x", f32({1, 2, 2}, {0, 0, 0, std::log(5.f)})}});
  expect_floats(values(out.at("y")), {0.5f, 1.f / 6, 0.5f, 5.f / 6});
}

}  // namespace
}  // namespace kiln::test
