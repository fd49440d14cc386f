// Reference kernels and inference of the reshaping views, Shape/Size, Transpose and
// DepthToSpace/SpaceToDepth, plus the shared helpers (strided copy, half conversion).
#include <cmath>

#include "ops/shape_test_util.h"

namespace kiln::test {
namespace {

using namespace kiln::ops;

TEST(ShapeReshape, ResolvesMinusOneAndZero) {
  Reshape op;
  op.shape = {0, -1};
  auto y = run1(op, {iota({2, 3, 4})});
  EXPECT_EQ(y.shape, (Dims{2, 12}));
  EXPECT_EQ(values<float>(y)[13], 13.f);  // data is a plain copy
  op.shape = {-1, 4, 1};
  EXPECT_EQ(run1(op, {iota({2, 3, 4})}).shape, (Dims{6, 4, 1}));
}

TEST(ShapeReshape, AllowZeroKeepsLiteralZero) {
  Reshape op;
  op.shape = {0, 3};
  op.allowzero = 1;
  EXPECT_EQ(infer_types(op, {{DType::Float32, {0, 3}}})[0].shape, (Dims{0, 3}));
  op.allowzero = 0;  // 0 copies the input dim instead
  EXPECT_EQ(infer_types(op, {{DType::Float32, {2, 3}}})[0].shape, (Dims{2, 3}));
}

TEST(ShapeReshape, DynamicBatchStillResolves) {
  // Reshape(x, [0, -1]) after global pooling: the unknown batch is copied, so -1 is 512.
  EXPECT_EQ(resolve_reshape({-1, 512, 1, 1}, {0, -1}, false), (Dims{-1, 512}));
  EXPECT_EQ(resolve_reshape({-1, 512, 1, 1}, {-1, 512}, false), (Dims{-1, 512}));
  EXPECT_EQ(resolve_reshape({4, -1}, {2, -1}, false), (Dims{2, -1}));
}

TEST(ShapeReshape, ShapeAsInput) {
  Reshape op;
  // Not constant: the rank is known, the dims are not.
  EXPECT_EQ(infer_types(op, {{DType::Float32, {2, 3, 4}}, {DType::Int64, {3}}})[0].shape, (Dims{-1, -1, -1}));
  // Constant: resolved like the attribute.
  std::vector<HostTensor> in{iota({2, 3, 4}), ints({4, -1})};
  EXPECT_EQ(infer_outputs(op, in)[0].shape, (Dims{4, 6}));
  EXPECT_EQ(run1(op, in).shape, (Dims{4, 6}));
}

TEST(ShapeReshape, InferErrors) {
  Reshape op;
  op.shape = {-1, -1};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3})}, "more than one -1");
  op.shape = {4, 2};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3})}, "cannot reshape 2x3");
  op.shape = {4, -1};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3})}, "do not divide");
  op.shape = {0, 0, 0};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({6, 1})}, "copies an input dim");
  op.shape = {-2, 3};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3})}, "invalid dimension");
  op.shape = {0, -1};
  op.allowzero = 1;
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3})}, "both 0 and -1");
  op.allowzero = 0;
  op.shape = {int64_t(1) << 32, int64_t(1) << 32, int64_t(1) << 32};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3})}, "too many elements");
  // A shape input of absurd length must not allocate an absurd shape.
  EXPECT_THROW(infer_types(op, {{DType::Float32, {2}}, {DType::Int64, {int64_t(1) << 40}}}), Error);
  EXPECT_THROW(infer_types(op, {{DType::Float32, {2}}, {DType::Float32, {2}}}), Error);
}

TEST(ShapeFlatten, Axes) {
  Flatten op;
  op.axis = 0;
  EXPECT_EQ(run1(op, {iota({2, 3, 4})}).shape, (Dims{1, 24}));
  op.axis = 2;
  EXPECT_EQ(run1(op, {iota({2, 3, 4})}).shape, (Dims{6, 4}));
  op.axis = -1;
  EXPECT_EQ(run1(op, {iota({2, 3, 4})}).shape, (Dims{6, 4}));
  op.axis = 3;
  auto y = run1(op, {iota({2, 3, 4})});
  EXPECT_EQ(y.shape, (Dims{24, 1}));
  EXPECT_EQ(values<float>(y)[23], 23.f);
  EXPECT_EQ(infer_types(op, {{DType::Float32, {-1, 3, 4, 5}}})[0].shape, (Dims{-1, 5}));
  op.axis = 4;
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3, 4})}, "out of range");
  op.axis = -4;
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3, 4})}, "out of range");
}

TEST(ShapeSqueeze, AxesAndAll) {
  Squeeze op;
  EXPECT_EQ(run1(op, {iota({1, 3, 1, 2})}).shape, (Dims{3, 2}));
  op.axes = {-2};
  EXPECT_EQ(run1(op, {iota({1, 3, 1, 2})}).shape, (Dims{1, 3, 2}));
  op.axes = {1};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({1, 3, 1, 2})}, "not 1");
  op.axes = {0, -4};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({1, 3, 1, 2})}, "twice");
  op.axes = {4};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({1, 3, 1, 2})}, "out of range");
  op.axes = {};
  EXPECT_THROW(infer_types(op, {{DType::Float32, {-1, 3}}}), Error);  // which dims are 1?
}

TEST(ShapeUnsqueeze, Axes) {
  Unsqueeze op;
  op.axes = {0, 3};
  EXPECT_EQ(run1(op, {iota({2, 3})}).shape, (Dims{1, 2, 3, 1}));
  op.axes = {-1, 1};
  EXPECT_EQ(run1(op, {iota({2, 3})}).shape, (Dims{2, 1, 3, 1}));
  op.axes = {0};
  EXPECT_EQ(run1(op, {i64({}, {7})}).shape, (Dims{1}));
  op.axes = {4};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3})}, "out of range");
  op.axes = {1, -3};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3})}, "twice");
  op.axes = {};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3})}, "at least one axis");
}

TEST(ShapeShape, StartEnd) {
  Shape op;
  auto y = run1(op, {iota({2, 3, 4})});
  EXPECT_EQ(y.dtype, DType::Int64);
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{2, 3, 4}));
  op.start = 1;
  EXPECT_EQ(values<int64_t>(run1(op, {iota({2, 3, 4})})), (std::vector<int64_t>{3, 4}));
  op.start = -1;
  EXPECT_EQ(values<int64_t>(run1(op, {iota({2, 3, 4})})), (std::vector<int64_t>{4}));
  op.start = -10, op.end = -1;  // clamped like Python slicing
  EXPECT_EQ(values<int64_t>(run1(op, {iota({2, 3, 4})})), (std::vector<int64_t>{2, 3}));
  op.start = 2, op.end = 1;
  EXPECT_EQ(run1(op, {iota({2, 3, 4})}).shape, (Dims{0}));
  // Dynamic dims still give a known output length.
  op.start = 0, op.end = INT64_MAX;
  EXPECT_EQ(infer_types(op, {{DType::Float32, {-1, 3}}})[0].shape, (Dims{2}));
}

TEST(ShapeSize, CountsElements) {
  Size op;
  auto y = run1(op, {iota({2, 3, 4})});
  EXPECT_EQ(y.shape, Dims{});
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{24}));
  EXPECT_EQ(values<int64_t>(run1(op, {iota({0, 3})})), (std::vector<int64_t>{0}));
}

TEST(ShapeTranspose, Small2D) {
  Transpose op;  // default: reverse
  auto y = run1(op, {iota({2, 3})});
  EXPECT_EQ(y.shape, (Dims{3, 2}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(ShapeTranspose, Iota2x3x4) {
  Transpose op;
  op.perm = {2, 0, 1};
  auto y = run1(op, {iota({2, 3, 4})});
  ASSERT_EQ(y.shape, (Dims{4, 2, 3}));
  // out[k][i][j] = in[i][j][k] = 12i + 4j + k
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21,
                                                  2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23}));
  op.perm = {1, 0, 2};
  auto z = run1(op, {iota({2, 3, 4}, DType::Int64)});
  EXPECT_EQ(values<int64_t>(z)[4], 12);  // out[0][1][0] = in[1][0][0]
  EXPECT_EQ(values<int64_t>(z)[5], 13);
}

TEST(ShapeTranspose, InferErrors) {
  Transpose op;
  op.perm = {0, 3, 1};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3, 4})}, "not a permutation");
  op.perm = {0, 0, 1};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3, 4})}, "not a permutation");
  op.perm = {0, -1, 1};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3, 4})}, "not a permutation");
  op.perm = {1, 0};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3, 4})}, "rank 3");
}

TEST(ShapeDepthToSpace, DcrAndCrd) {
  DepthToSpace op;
  op.blocksize = 2;
  auto y = run1(op, {iota({1, 8, 1, 1})});
  ASSERT_EQ(y.shape, (Dims{1, 2, 2, 2}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 2, 4, 6, 1, 3, 5, 7}));
  op.mode = "CRD";
  EXPECT_EQ(values<float>(run1(op, {iota({1, 8, 1, 1})})), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}));
  // With spatial extent: [1, 4, 1, 2], one output channel of 2x4.
  op.mode = "DCR";
  auto z = run1(op, {iota({1, 4, 1, 2})});
  ASSERT_EQ(z.shape, (Dims{1, 1, 2, 4}));
  // out[h*2+b1][w*2+b2] = x[b1*2+b2][h][w]
  EXPECT_EQ(values<float>(z), (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
  op.mode = "XYZ";
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({1, 4, 1, 2})}, "mode");
  op.mode = "DCR", op.blocksize = 3;
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({1, 4, 1, 2})}, "divisible");
  op.blocksize = 0;
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({1, 4, 1, 2})}, "blocksize");
}

TEST(ShapeSpaceToDepth, InvertsDepthToSpace) {
  SpaceToDepth s2d;
  s2d.blocksize = 2;
  auto y = run1(s2d, {iota({1, 1, 2, 2})});
  ASSERT_EQ(y.shape, (Dims{1, 4, 1, 1}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 1, 2, 3}));
  DepthToSpace d2s;
  d2s.blocksize = 2;
  auto x = random_tensor(DType::Float32, {2, 3, 6, 4}, 7);
  auto back = run1(d2s, {run1(s2d, {x})});
  EXPECT_TRUE(all_close(back, x, 0, 0));
  EXPECT_INFER_FAILS(s2d, std::vector<HostTensor>{iota({1, 1, 3, 2})}, "divisible");
}

TEST(ShapeHelpers, StridedCopyNegativeAndZeroStrides) {
  std::vector<int32_t> src{0, 1, 2, 3, 4, 5}, dst(6, -1);
  // Reverse each row of a 2x3 and broadcast nothing: strides {3, -1} from element (0, 2).
  strided_copy(dst.data(), {3, 1}, src.data() + 2, {3, -1}, {2, 3}, 4);
  EXPECT_EQ(dst, (std::vector<int32_t>{2, 1, 0, 5, 4, 3}));
  strided_copy(dst.data(), {3, 1}, src.data(), {0, 1}, {2, 3}, 4);  // broadcast row 0
  EXPECT_EQ(dst, (std::vector<int32_t>{0, 1, 2, 0, 1, 2}));
  int32_t one = 42, out = 0;
  strided_copy(&out, {}, &one, {}, {}, 4);  // rank 0: one element
  EXPECT_EQ(out, 42);
}

TEST(ShapeHelpers, HalfKnownValues) {
  EXPECT_EQ(float_to_half(1.f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.f), 0xc000);
  EXPECT_EQ(float_to_half(65504.f), 0x7bff);
  EXPECT_EQ(float_to_half(65519.f), 0x7bff);  // rounds down to the largest half
  EXPECT_EQ(float_to_half(65520.f), 0x7c00);  // rounds up to Inf
  EXPECT_EQ(float_to_half(0.1f), 0x2e66);
  EXPECT_EQ(float_to_half(-0.f), 0x8000);
  EXPECT_EQ(float_to_half(6e-8f), 0x0001);    // smallest subnormal
  EXPECT_EQ(float_to_half(1e-8f), 0x0000);
  EXPECT_EQ(float_to_half(1.f + std::ldexp(1.f, -11)), 0x3c00);      // tie: to even
  EXPECT_EQ(float_to_half(1.f + 3 * std::ldexp(1.f, -11)), 0x3c02);  // tie: to even
  EXPECT_EQ(float_to_half(INFINITY), 0x7c00);
  EXPECT_EQ(float_to_half(NAN) & 0x7c00, 0x7c00);
  EXPECT_NE(float_to_half(NAN) & 0x3ff, 0);
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.f, -24));
  EXPECT_EQ(half_to_float(0xfc00), -INFINITY);
  EXPECT_EQ(float_to_bf16(1.f), 0x3f80);
  EXPECT_EQ(bf16_to_float(0xc040), -3.f);
}

TEST(ShapeHelpers, HalfRoundTripsEveryValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = half_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(half_to_float(float_to_half(f)))) << h;
      continue;
    }
    ASSERT_EQ(float_to_half(f), h) << "half bits " << h;
  }
}

}  // namespace
}  // namespace kiln::test
