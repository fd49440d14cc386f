// MaxPool, AveragePool and the global pools: reference kernels against hand-computed values
// (including ceil_mode and count_include_pad), oneDNN against the reference on random shapes,
// infer() error cases, and the ONNX importers.
#include <gmock/gmock.h>

#include "kernel_test_util.h"
#include "ops/onnx_node_model.h"
#include "ops/nn/pool.h"

namespace kiln::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ops::PoolAttrs window(std::vector<int64_t> k, std::vector<int64_t> s = {}, std::vector<int64_t> pads = {},
                      bool ceil = false, std::vector<int64_t> d = {}) {
  ops::PoolAttrs p;
  p.kernel_shape = std::move(k);
  p.strides = std::move(s);
  p.pads = std::move(pads);
  p.ceil_mode = ceil;
  p.dilations = std::move(d);
  return p;
}

ops::MaxPool max_pool(ops::PoolAttrs p) {
  ops::MaxPool m;
  m.p = std::move(p);
  return m;
}

ops::AveragePool avg_pool(ops::PoolAttrs p, bool include_pad = false) {
  ops::AveragePool a;
  a.p = std::move(p);
  a.count_include_pad = include_pad;
  return a;
}

std::vector<float> iota(int64_t n, float start = 0.f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = start++;
  return v;
}

HostTensor ref1(const ops::Op& op, HostTensor x) {
  std::vector<HostTensor> in{std::move(x)};
  return run_reference(op, in).at(0);
}

// ---------------------------------------------------------------------------------------------
// Reference against hand-computed values

TEST(PoolRef, MaxPlain) {
  auto y = ref1(max_pool(window({2, 2}, {2, 2})), tensor({1, 1, 4, 4}, iota(16)));
  EXPECT_EQ(y.shape, (Dims{1, 1, 2, 2}));
  EXPECT_THAT(values(y), ElementsAre(5, 7, 13, 15));
}

// onnx/backend/test/case/node: test_maxpool_2d_ceil, test_averagepool_2d_ceil,
// test_maxpool_2d_dilations.
TEST(PoolRef, OnnxBackendCases) {
  auto x = tensor({1, 1, 4, 4}, iota(16, 1));
  EXPECT_THAT(values(ref1(max_pool(window({3, 3}, {2, 2}, {}, true)), x)), ElementsAre(11, 12, 15, 16));
  EXPECT_THAT(values(ref1(avg_pool(window({3, 3}, {2, 2}, {}, true)), x)), ElementsAre(6, 7.5, 12, 13.5));
  EXPECT_THAT(values(ref1(max_pool(window({2, 2}, {1, 1}, {}, false, {2, 2})), x)), ElementsAre(11, 12, 15, 16));
}

TEST(PoolRef, CeilModeAndCountIncludePad) {
  // 1-D X = [1, 2, 3, 4], kernel 2, stride 2, pads [1, 0], ceil_mode: windows start at -1, 1, 3;
  // the last one reaches index 4, beyond the end padding, which is never counted.
  auto x = tensor({1, 1, 4}, {1, 2, 3, 4});
  auto p = window({2}, {2}, {1, 0}, true);
  EXPECT_THAT(values(ref1(max_pool(p), x)), ElementsAre(1, 3, 4));
  EXPECT_THAT(values(ref1(avg_pool(p, false), x)), ElementsAre(1, 2.5, 4));
  EXPECT_THAT(values(ref1(avg_pool(p, true), x)), ElementsAre(0.5, 2.5, 4));
  // Floor mode drops the partial window.
  EXPECT_THAT(values(ref1(avg_pool(window({2}, {2}, {1, 0}), true), x)), ElementsAre(0.5, 2.5));
}

TEST(PoolRef, CeilModeDropsWindowStartingInPadding) {
  // pads [0, 1]: ceil((4 + 1 - 2) / 2) + 1 = 3 windows, but the third would start at 4, inside
  // the end padding, so ONNX Runtime / PyTorch produce 2.
  auto y = ref1(max_pool(window({2}, {2}, {0, 1}, true)), tensor({1, 1, 4}, {1, 2, 3, 4}));
  EXPECT_EQ(y.shape, (Dims{1, 1, 2}));
  EXPECT_THAT(values(y), ElementsAre(2, 4));
}

TEST(PoolRef, AveragePadding2D) {
  // 3x3 window, pads 1 all round, on 3x3 ones*value: corners see 4 inputs of 9 taps.
  auto x = tensor({1, 1, 3, 3}, iota(9, 1));
  auto p = window({3, 3}, {1, 1}, {1, 1, 1, 1});
  auto excl = values(ref1(avg_pool(p, false), x));
  auto incl = values(ref1(avg_pool(p, true), x));
  EXPECT_FLOAT_EQ(excl[0], (1 + 2 + 4 + 5) / 4.f);
  EXPECT_FLOAT_EQ(incl[0], (1 + 2 + 4 + 5) / 9.f);
  EXPECT_FLOAT_EQ(excl[1], (1 + 2 + 3 + 4 + 5 + 6) / 6.f);
  EXPECT_FLOAT_EQ(incl[1], (1 + 2 + 3 + 4 + 5 + 6) / 9.f);
  EXPECT_FLOAT_EQ(excl[4], 5.f);
  EXPECT_FLOAT_EQ(incl[4], 5.f);
}

TEST(PoolRef, MaxInt8AndNegatives) {
  HostTensor x(DType::Int8, {1, 1, 4});
  int8_t v[] = {-100, -5, 7, -128};
  std::copy(v, v + 4, x.as<int8_t>());
  auto y = ref1(max_pool(window({2}, {1}, {1, 1})), x);
  ASSERT_EQ(y.dtype, DType::Int8);
  EXPECT_THAT(std::vector<int8_t>(y.as<int8_t>(), y.as<int8_t>() + 5), ElementsAre(-100, -5, 7, 7, -128));
}

TEST(PoolRef, HugeWindowCostsNothing) {
  // A window of 2^30 taps, almost all in padding: the reference must not walk every tap.
  const int64_t k = int64_t(1) << 30;
  auto y = ref1(max_pool(window({k}, {1}, {k - 1, 0})), tensor({1, 1, 1}, {3}));
  EXPECT_THAT(values(y), ElementsAre(3));
  EXPECT_THAT(values(ref1(avg_pool(window({k}, {1}, {k - 1, 0}), true), tensor({1, 1, 1}, {3}))),
              ElementsAre(3.f / static_cast<float>(k)));
}

TEST(PoolRef, ThreeD) {
  auto y = ref1(avg_pool(window({2, 2, 2})), tensor({1, 1, 2, 2, 2}, iota(8)));
  EXPECT_THAT(values(y), ElementsAre(3.5));
}

TEST(PoolRef, Global) {
  auto x = tensor({1, 2, 2, 2}, {1, 2, 3, 4, -1, -2, -3, -8});
  auto a = ref1(ops::GlobalAveragePool(), x);
  EXPECT_EQ(a.shape, (Dims{1, 2, 1, 1}));
  EXPECT_THAT(values(a), ElementsAre(2.5, -3.5));
  EXPECT_THAT(values(ref1(ops::GlobalMaxPool(), x)), ElementsAre(4, -1));
  EXPECT_EQ(ref1(ops::GlobalMaxPool(), tensor({2, 1, 3}, {1, 5, 2, 0, 0, 1})).shape, (Dims{2, 1, 1}));
}

// ---------------------------------------------------------------------------------------------
// infer() errors

std::string infer_error(const ops::Op& op, ops::TensorType x) { return test::infer_error(op, {std::move(x)}); }

TEST(PoolInfer, Rejects) {
  EXPECT_THAT(infer_error(max_pool(window({2, 2})), f32({1, 1, 4})), HasSubstr("kernel_shape has 2 values"));
  EXPECT_THAT(infer_error(max_pool(window({2})), f32({1, 4})), HasSubstr("rank >= 3"));
  EXPECT_THAT(infer_error(max_pool(window({0})), f32({1, 1, 4})), HasSubstr(">= 1"));
  EXPECT_THAT(infer_error(max_pool(window({2}, {0})), f32({1, 1, 4})), HasSubstr("strides value 0"));
  EXPECT_THAT(infer_error(max_pool(window({2}, {}, {2, 0})), f32({1, 1, 4})), HasSubstr("smaller than the window"));
  EXPECT_THAT(infer_error(max_pool(window({5})), f32({1, 1, 4})), HasSubstr("window spans 5"));
  EXPECT_THAT(infer_error(max_pool(window({2}, {}, {}, false, {3})), f32({1, 1, 3})), HasSubstr("window spans 4"));
  EXPECT_THAT(infer_error(avg_pool(window({2})), {DType::Int8, {1, 1, 4}}), HasSubstr("float32 only"));
  EXPECT_THAT(infer_error(ops::GlobalAveragePool(), f32({1, 4})), HasSubstr("rank >= 3"));
  EXPECT_EQ(infer_error(max_pool(window({2})), {DType::UInt8, {1, 1, 4}}), "");
}

TEST(PoolInfer, UnknownDimsStayUnknown) {
  ops::InferContext ctx({f32({-1, 3, -1, 9})}, {nullptr}, 1);
  max_pool(window({3, 3}, {2, 2}, {1, 1, 1, 1}, true)).infer(ctx);
  EXPECT_EQ(ctx.outputs()[0].shape, (Dims{-1, 3, -1, 5}));
}

// ---------------------------------------------------------------------------------------------
// oneDNN against the reference

void check(const ops::Op& op, Dims x, DType t = DType::Float32) {
  std::vector<HostTensor> in{random_tensor(t, std::move(x), 7, t == DType::Float32 ? -1.0 : -100.0,
                                           t == DType::Float32 ? 1.0 : 100.0)};
  expect_kernel_matches_reference(op, "onednn", in, 1e-5, 1e-6);
}

TEST(PoolOnednn, MaxMatchesReference) {
  check(max_pool(window({3, 3}, {2, 2}, {1, 1, 1, 1})), {2, 5, 13, 11});
  check(max_pool(window({3, 3}, {2, 2}, {0, 0, 0, 0}, true)), {1, 3, 10, 12});  // ceil adds a window
  check(max_pool(window({2, 3}, {2, 2}, {1, 0, 0, 1}, true)), {1, 3, 9, 8});
  check(max_pool(window({2, 2}, {1, 1}, {1, 1, 0, 0}, false, {2, 3})), {1, 4, 9, 10});  // dilated
  check(max_pool(window({3}, {2}, {1, 1})), {2, 3, 17});
  check(max_pool(window({2, 3, 2}, {2, 1, 2}, {0, 1, 0, 1, 1, 1}, true)), {1, 2, 7, 6, 9});
  check(max_pool(window({3, 3}, {2, 2}, {1, 1, 1, 1})), {1, 16, 12, 12}, DType::Int8);
  // uint8 NCHW (QOperator models): oneDNN's channels-last int8 pooling between reorders.
  check(max_pool(window({3, 3}, {2, 2}, {1, 1, 1, 1})), {1, 64, 28, 28}, DType::UInt8);
  check(max_pool(window({2}, {2}, {0, 1})), {2, 8, 15}, DType::UInt8);
}

TEST(PoolOnednn, AverageMatchesReference) {
  for (bool incl : {false, true}) {
    check(avg_pool(window({3, 3}, {2, 2}, {1, 1, 1, 1}), incl), {2, 5, 13, 11});
    check(avg_pool(window({2, 3}, {1, 2}, {0, 1, 1, 2}), incl), {1, 3, 7, 9});
    check(avg_pool(window({3}, {2}, {1, 1}), incl), {2, 3, 17});
    check(avg_pool(window({2, 2, 2}, {2, 2, 2}, {1, 1, 1, 1, 1, 1}), incl), {1, 2, 5, 6, 7});
  }
  check(avg_pool(window({3, 3}, {2, 2}, {1, 1, 1, 1}, true), false), {1, 4, 10, 12});  // ceil, exclude pad
  check(avg_pool(window({2, 2}, {1, 2}, {1, 1, 1, 0}, false, {2, 3}), false), {1, 3, 9, 10});  // dilated
  check(avg_pool(window({2, 2}, {1, 2}, {1, 1, 1, 0}, false, {2, 3}), true), {1, 3, 9, 10});
}

TEST(PoolOnednn, IncludePadWithCeilTailFallsBack) {
  // oneDNN would count the extra ceil_mode padding; ONNX does not, so the kernel declines.
  auto op = avg_pool(window({3, 3}, {2, 2}, {0, 0, 0, 0}, true), true);
  std::vector<HostTensor> in{random_tensor(DType::Float32, {1, 2, 10, 10}, 3)};
  std::vector<HostTensor> out;
  EXPECT_FALSE(run_kernel(op, "onednn", in, out));
  // Without a tail (the windows tile exactly) it runs.
  check(avg_pool(window({3, 3}, {2, 2}, {0, 0, 0, 0}, true), true), {1, 2, 11, 11});
}

TEST(PoolOnednn, GlobalMatchesReference) {
  check(ops::GlobalAveragePool(), {2, 7, 5, 6});
  check(ops::GlobalMaxPool(), {2, 7, 5, 6});
  check(ops::GlobalAveragePool(), {1, 3, 19});
  check(ops::GlobalMaxPool(), {1, 3, 3, 4, 5});
}

// ---------------------------------------------------------------------------------------------
// ONNX importers

TEST(PoolImport, AutoPadCeilAndAttributes) {
  auto g = OnnxNodeModel("MaxPool", {"x"}, {"y"}, 12)
               .input("x", {1, 3, 5, 8})
               .ints("kernel_shape", {3, 2})
               .ints("strides", {2, 3})
               .s("auto_pad", "SAME_LOWER")
               .import();
  auto* n = only_node(*g, "MaxPool");
  ASSERT_TRUE(n);
  // H: out 3, total (3-1)*2 + 3 - 5 = 2; W: out 3, total (3-1)*3 + 2 - 8 = 0.
  EXPECT_THAT(n->as<ops::MaxPool>()->p.pads, ElementsAre(1, 0, 1, 0));
  EXPECT_EQ(n->outputs[0]->type.shape, (Dims{1, 3, 3, 3}));

  g = OnnxNodeModel("AveragePool", {"x"}, {"y"}, 11)
          .input("x", {1, 3, 4, 4})
          .ints("kernel_shape", {3, 3})
          .ints("strides", {2, 2})
          .ints("pads", {1, 1, 1, 1})
          .i("ceil_mode", 1)
          .i("count_include_pad", 1)
          .import();
  auto* a = only_node(*g, "AveragePool")->as<ops::AveragePool>();
  EXPECT_TRUE(a->count_include_pad);
  EXPECT_TRUE(a->p.ceil_mode);
  EXPECT_EQ(only_node(*g, "AveragePool")->outputs[0]->type.shape, (Dims{1, 3, 3, 3}));

  g = OnnxNodeModel("GlobalAveragePool", {"x"}, {"y"}, 7).input("x", {2, 3, 4, 4}).import();
  EXPECT_EQ(only_node(*g, "GlobalAveragePool")->outputs[0]->type.shape, (Dims{2, 3, 1, 1}));
}

TEST(PoolImport, MaxPoolIndicesUnusedKeepsOneOutput) {
  // A used Indices output is covered by tests/unit/ops/nn/max_pool_indices_test.cpp (MaxPoolIndices).
  auto g = OnnxNodeModel("MaxPool", {"x"}, {"y", ""}, 12).input("x", {1, 1, 4, 4}).ints("kernel_shape", {2, 2}).import();
  ASSERT_EQ(g->outputs.size(), 1u);
  EXPECT_EQ(g->outputs[0].value->type.shape, (Dims{1, 1, 3, 3}));
}

TEST(PoolImport, SameNeedsStaticDims) {
  auto m = OnnxNodeModel("AveragePool", {"x"}, {"y"}).input("x", {1, 1, -1, 4}).ints("kernel_shape", {2, 2}).s("auto_pad",
                                                                                                            "SAME_UPPER");
  try {
    m.import();
    FAIL() << "SAME padding with an unknown dim accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("node 'n' (AveragePool)"));
    EXPECT_THAT(e.what(), HasSubstr("--shapes"));
  }
}

}  // namespace
}  // namespace kiln::test
