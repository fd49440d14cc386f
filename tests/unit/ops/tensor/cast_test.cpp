// Reference kernel and inference of Cast, and CastLike importing as a Cast.
#include <cmath>

#include "ops/onnx_node_model.h"
#include "ops/shape_test_util.h"

namespace kiln::test {
namespace {

using namespace kiln::ops;
using F = std::vector<float>;
using I = std::vector<int64_t>;

TEST(Cast, FloatToIntTruncates) {
  Cast op;
  op.to = static_cast<int64_t>(DType::Int32);
  auto y = run1(op, {f32({5}, {1.7f, -1.7f, 2.5f, -0.5f, 100.f})});
  EXPECT_EQ(y.dtype, DType::Int32);
  EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{1, -1, 2, 0, 100}));
  op.to = static_cast<int64_t>(DType::Int64);
  auto z = run1(op, {f32({3}, {NAN, 1e30f, -1e30f})});  // no UB: NaN -> 0, saturate
  EXPECT_EQ(values<int64_t>(z), (I{0, INT64_MAX, INT64_MIN}));
}

TEST(Cast, BoolAndIntegers) {
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

TEST(Cast, Float16RoundTrip) {
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

TEST(Cast, InferErrors) {
  Cast op;
  op.to = 8;  // ONNX string
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2})}, "not supported");
  op.to = -3;
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2})}, "not supported");
}

TEST(CastImport, CastLikeIsACast) {
  auto g = OnnxNodeModel("CastLike", {"x", "like"}, {"y"}, 15).input("x", {2}).input("like", {1}).import();
  ir::Node* n = only_node(*g, "Cast");
  ASSERT_TRUE(n);
  auto* c = n->as<ops::Cast>();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to, static_cast<int64_t>(DType::Float32));
}

}  // namespace
}  // namespace kiln::test
