// Reference kernels and inference of ConstantOfShape and Range.
#include <cmath>

#include "ops/generator/constant_of_shape_range.h"
#include "ops/shape_test_util.h"

namespace kiln::test {
namespace {

using namespace kiln::ops;
using F = std::vector<float>;
using I = std::vector<int64_t>;

TEST(ConstantOfShape, FillsValue) {
  ConstantOfShape op;
  op.dtype = static_cast<int64_t>(DType::Int64);
  op.value_bits = pack_element(DType::Int64, 7);
  auto y = run1(op, {ints({2, 3})});
  EXPECT_EQ(y.shape, (Dims{2, 3}));
  EXPECT_EQ(values<int64_t>(y), (I{7, 7, 7, 7, 7, 7}));
  ConstantOfShape f;  // default: float32 zeros; shape as attribute
  f.shape = {2};
  EXPECT_EQ(values<float>(run1(f, {})), (F{0, 0}));
  f.shape = {};
  f.value_bits = pack_element(DType::Float32, 1.5);
  auto s = run1(f, {});
  EXPECT_EQ(s.shape, Dims{});
  EXPECT_EQ(values<float>(s), (F{1.5f}));
  f.dtype = static_cast<int64_t>(DType::Float16);
  f.value_bits = pack_element(DType::Float16, -2.0);
  EXPECT_EQ(values<uint16_t>(run1(f, {})), (std::vector<uint16_t>{0xc000}));
}

TEST(ConstantOfShape, InferErrors) {
  ConstantOfShape op;
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{ints({2, -3})}, "negative");
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{ints({int64_t(1) << 31, int64_t(1) << 31, 1 << 20})},
                     "too many elements");
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{f32({2}, {2, 3}, true)}, "int64 or int32");
  op.dtype = 99;
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{ints({2})}, "not supported");
  // Run-time shape: the rank comes from the input's length.
  EXPECT_EQ(infer_types(ConstantOfShape{}, {{DType::Int64, {3}}})[0].shape, (Dims{-1, -1, -1}));
}

TEST(Range, IntsAndFloats) {
  Range op;
  auto y = run1(op, {i64({}, {0}, true), i64({}, {10}, true), i64({}, {3}, true)});
  EXPECT_EQ(values<int64_t>(y), (I{0, 3, 6, 9}));
  y = run1(op, {i64({}, {10}, true), i64({}, {4}, true), i64({}, {-2}, true)});
  EXPECT_EQ(values<int64_t>(y), (I{10, 8, 6}));
  y = run1(op, {i64({}, {5}, true), i64({}, {1}, true), i64({}, {1}, true)});
  EXPECT_EQ(y.shape, (Dims{0}));
  auto z = run1(op, {f32({}, {1.f}, true), f32({}, {2.f}, true), f32({}, {0.3f}, true)});
  EXPECT_EQ(z.shape, (Dims{4}));  // 1, 1.3, 1.6, 1.9
  EXPECT_NEAR(values<float>(z)[3], 1.9f, 1e-6f);
  auto w = run1(op, {make_tensor<int32_t>(DType::Int32, {}, {-3}, true),
                     make_tensor<int32_t>(DType::Int32, {}, {3}, true),
                     make_tensor<int32_t>(DType::Int32, {}, {4}, true)});
  EXPECT_EQ(values<int32_t>(w), (std::vector<int32_t>{-3, 1}));
}

TEST(Range, InferErrors) {
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
  EXPECT_EQ(infer_types(op, {{DType::Int64, {}}, {DType::Int64, {}}, {DType::Int64, {}}})[0].shape, (Dims{-1}));
}

}  // namespace
}  // namespace kiln::test
