// Reference kernels and inference of Gather, GatherElements, Cast, ConstantOfShape and Range.
#include <cmath>

#include "ops/shape_test_util.h"

namespace kiln::test {
namespace {

using namespace kiln::ops;
using F = std::vector<float>;
using I = std::vector<int64_t>;

TEST(ShapeGather, NegativeIndicesAxis0) {
  Gather op;
  auto y = run1(op, {iota({3, 2}), i64({2}, {-1, 0})});
  EXPECT_EQ(y.shape, (Shape{2, 2}));
  EXPECT_EQ(values<float>(y), (F{4, 5, 0, 1}));
}

TEST(ShapeGather, Axis1With2DIndicesAndInt32) {
  Gather op;
  op.axis = 1;
  auto idx = make_tensor<int32_t>(DType::Int32, {2, 2}, {2, 0, 1, -3});
  auto y = run1(op, {iota({2, 3}), idx});
  ASSERT_EQ(y.shape, (Shape{2, 2, 2}));
  // y[i][j][k] = x[i][idx[j][k]]
  EXPECT_EQ(values<float>(y), (F{2, 0, 1, 0, 5, 3, 4, 3}));
}

TEST(ShapeGather, ScalarIndexDropsAxis) {
  // Gather(Shape(x), 0): the batch size as a scalar, as exported shape code does.
  Gather op;
  auto y = run1(op, {ints({8, 3, 224}), i64({}, {1}, true)});
  EXPECT_EQ(y.shape, Shape{});
  EXPECT_EQ(values<int64_t>(y), (I{3}));
}

TEST(ShapeGather, OutOfRangeIndices) {
  Gather op;
  // Constant indices are checked at compile time...
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({3, 2}), i64({1}, {3}, true)}), "out of range");
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({3, 2}), i64({1}, {-4}, true)}), "out of range");
  // ...and run-time ones when the kernel runs, without touching memory out of bounds.
  std::vector<HostTensor> in{iota({3, 2}), i64({1}, {7})};
  EXPECT_THROW(run_reference(op, in), Error);
  op.axis = 2;
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({3, 2}), i64({1}, {0})}), "out of range");
  op.axis = 0;
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({3, 2}), f32({1}, {0})}), "indices must be");
}

TEST(ShapeGatherElements, OnnxExamples) {
  GatherElements op;
  op.axis = 1;
  auto y = run1(op, {f32({2, 2}, {1, 2, 3, 4}), i64({2, 2}, {0, 0, 1, 0})});
  EXPECT_EQ(values<float>(y), (F{1, 1, 4, 3}));
  op.axis = 0;
  y = run1(op, {f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), i64({2, 3}, {1, 2, 0, 2, 0, 0})});
  EXPECT_EQ(y.shape, (Shape{2, 3}));
  EXPECT_EQ(values<float>(y), (F{4, 8, 3, 7, 2, 3}));
  op.axis = -1;  // negative indices too
  y = run1(op, {f32({2, 2}, {1, 2, 3, 4}), i64({2, 1}, {-1, -2})});
  EXPECT_EQ(values<float>(y), (F{2, 3}));
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({2, 2}), i64({2}, {0, 0})}), "same rank");
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({2, 2}), i64({3, 1}, {0, 0, 0})}), "larger");
}

TEST(ShapeCast, FloatToIntTruncates) {
  Cast op;
  op.to = static_cast<int64_t>(DType::Int32);
  auto y = run1(op, {f32({5}, {1.7f, -1.7f, 2.5f, -0.5f, 100.f})});
  EXPECT_EQ(y.dtype, DType::Int32);
  EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{1, -1, 2, 0, 100}));
  op.to = static_cast<int64_t>(DType::Int64);
  auto z = run1(op, {f32({3}, {NAN, 1e30f, -1e30f})});  // no UB: NaN -> 0, saturate
  EXPECT_EQ(values<int64_t>(z), (I{0, INT64_MAX, INT64_MIN}));
}

TEST(ShapeCast, BoolAndIntegers) {
  Cast op;
  op.to = static_cast<int64_t>(DType::Bool);
  auto b = run1(op, {f32({4}, {0.f, -0.f, 0.5f, NAN})});
  EXPECT_EQ(values<uint8_t>(b), (std::vector<uint8_t>{0, 0, 1, 1}));
  op.to = static_cast<int64_t>(DType::Float32);
  EXPECT_EQ(values<float>(run1(op, {b})), (F{0, 0, 1, 1}));
  op.to = static_cast<int64_t>(DType::Int8);
  auto c = run1(op, {i64({3}, {127, 128, -129})});  // integers wrap
  EXPECT_EQ(values<int8_t>(c), (std::vector<int8_t>{127, -128, 127}));
  op.to = static_cast<int64_t>(DType::UInt64);
  auto u = run1(op, {make_tensor<double>(DType::Float64, {2}, {1.8446744073709552e19 / 2 + 4096, 3.9})});
  EXPECT_EQ(values<uint64_t>(u), (std::vector<uint64_t>{(uint64_t(1) << 63) + 4096, 3}));
  op.to = static_cast<int64_t>(DType::Float64);
  auto d = run1(op, {i64({2}, {INT64_C(9007199254740993), -5})});
  EXPECT_EQ(values<double>(d), (std::vector<double>{9007199254740992.0, -5.0}));
}

TEST(ShapeCast, Float16RoundTrip) {
  Cast to16, to32;
  to16.to = static_cast<int64_t>(DType::Float16);
  to32.to = static_cast<int64_t>(DType::Float32);
  auto h = run1(to16, {f32({5}, {1.f, 0.1f, -65504.f, 1e6f, 3.14159f})});
  EXPECT_EQ(values<uint16_t>(h), (std::vector<uint16_t>{0x3c00, 0x2e66, 0xfbff, 0x7c00, 0x4248}));
  auto back = values<float>(run1(to32, {h}));
  EXPECT_EQ(back[0], 1.f);
  EXPECT_NEAR(back[1], 0.1f, 1e-4f);
  EXPECT_EQ(back[2], -65504.f);
  EXPECT_TRUE(std::isinf(back[3]));
  EXPECT_NEAR(back[4], 3.14159f, 2e-3f);
  // int64 -> float16 -> int32
  Cast to_i32;
  to_i32.to = static_cast<int64_t>(DType::Int32);
  EXPECT_EQ(values<int32_t>(run1(to_i32, {run1(to16, {i64({3}, {-3, 2049, 7})})})),
            (std::vector<int32_t>{-3, 2048, 7}));  // 2049 is not a half: ties to even
}

TEST(ShapeCast, InferErrors) {
  Cast op;
  op.to = 8;  // ONNX string
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2})}, "not supported");
  op.to = -3;
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2})}, "not supported");
}

TEST(ShapeConstantOfShape, FillsValue) {
  ConstantOfShape op;
  op.dtype = static_cast<int64_t>(DType::Int64);
  op.value_bits = pack_element(DType::Int64, 7);
  auto y = run1(op, {ints({2, 3})});
  EXPECT_EQ(y.shape, (Shape{2, 3}));
  EXPECT_EQ(values<int64_t>(y), (I{7, 7, 7, 7, 7, 7}));
  ConstantOfShape f;  // default: float32 zeros; shape as attribute
  f.shape = {2};
  EXPECT_EQ(values<float>(run1(f, {})), (F{0, 0}));
  f.shape = {};
  f.value_bits = pack_element(DType::Float32, 1.5);
  auto s = run1(f, {});
  EXPECT_EQ(s.shape, Shape{});
  EXPECT_EQ(values<float>(s), (F{1.5f}));
  f.dtype = static_cast<int64_t>(DType::Float16);
  f.value_bits = pack_element(DType::Float16, -2.0);
  EXPECT_EQ(values<uint16_t>(run1(f, {})), (std::vector<uint16_t>{0xc000}));
}

TEST(ShapeConstantOfShape, InferErrors) {
  ConstantOfShape op;
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{ints({2, -3})}, "negative");
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{ints({int64_t(1) << 31, int64_t(1) << 31, 1 << 20})},
                     "too many elements");
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{f32({2}, {2, 3}, true)}, "int64 or int32");
  op.dtype = 99;
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{ints({2})}, "not supported");
  // Run-time shape: the rank comes from the input's length.
  EXPECT_EQ(infer_types(ConstantOfShape{}, {{DType::Int64, {3}}})[0].shape, (Shape{-1, -1, -1}));
}

TEST(ShapeRange, IntsAndFloats) {
  Range op;
  auto y = run1(op, {i64({}, {0}, true), i64({}, {10}, true), i64({}, {3}, true)});
  EXPECT_EQ(values<int64_t>(y), (I{0, 3, 6, 9}));
  y = run1(op, {i64({}, {10}, true), i64({}, {4}, true), i64({}, {-2}, true)});
  EXPECT_EQ(values<int64_t>(y), (I{10, 8, 6}));
  y = run1(op, {i64({}, {5}, true), i64({}, {1}, true), i64({}, {1}, true)});
  EXPECT_EQ(y.shape, (Shape{0}));
  auto z = run1(op, {f32({}, {1.f}, true), f32({}, {2.f}, true), f32({}, {0.3f}, true)});
  EXPECT_EQ(z.shape, (Shape{4}));  // 1, 1.3, 1.6, 1.9
  EXPECT_NEAR(values<float>(z)[3], 1.9f, 1e-6f);
  auto w = run1(op, {make_tensor<int32_t>(DType::Int32, {}, {-3}, true),
                     make_tensor<int32_t>(DType::Int32, {}, {3}, true),
                     make_tensor<int32_t>(DType::Int32, {}, {4}, true)});
  EXPECT_EQ(values<int32_t>(w), (std::vector<int32_t>{-3, 1}));
}

TEST(ShapeRange, InferErrors) {
  Range op;
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{i64({}, {0}, true), i64({}, {10}, true), i64({}, {0}, true)}),
                     "non-zero delta");
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{i64({}, {INT64_MIN}, true), i64({}, {INT64_MAX}, true),
                                                  i64({}, {1}, true)}),
                     "2^40");
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{f32({}, {0}, true), f32({}, {INFINITY}, true),
                                                  f32({}, {1}, true)}),
                     "finite");
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{i64({}, {0}), f32({}, {1}), i64({}, {1})}), "share one dtype");
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{i64({2}, {0, 1}), i64({}, {1}), i64({}, {1})}), "scalar");
  // Not constant: the length is unknown.
  EXPECT_EQ(infer_types(op, {{DType::Int64, {}}, {DType::Int64, {}}, {DType::Int64, {}}})[0].shape, (Shape{-1}));
}

}  // namespace
}  // namespace kiln::test
