// Binary: reference vs hand-computed values (broadcasting, every kind, integer edge cases,
// post-ops), infer() errors, and the oneDNN binary kernel vs the reference.
#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

#include "kernel_test_util.h"
#include "ops/math/eltwise.h"

namespace kiln::test {
namespace {

using namespace ops;

HostTensor f32(Dims s, const std::vector<float>& v) { return host_tensor(DType::Float32, std::move(s), v); }
HostTensor iota(Dims s, float start = 0) {
  HostTensor h(DType::Float32, std::move(s));
  for (int64_t i = 0; i < h.elements(); ++i) h.as<float>()[i] = start + static_cast<float>(i);
  return h;
}

template <class T>
std::vector<T> values(const HostTensor& h) {
  std::vector<T> v(static_cast<size_t>(h.elements()));
  std::memcpy(v.data(), h.bytes.data(), h.bytes.size());
  return v;
}

Binary binary(BinaryKind k, std::vector<PostOp> post = {}) {
  Binary b;
  b.kind = k;
  b.post.ops = std::move(post);
  return b;
}

HostTensor run1(const Binary& b, std::vector<HostTensor> in) { return run_reference(b, in)[0]; }

TEST(EltwiseBinary, BroadcastTrailingVector) {
  auto out = run1(binary(BinaryKind::Add), {iota({2, 3, 4}), f32({4}, {100, 200, 300, 400})});
  ASSERT_EQ(out.shape, (Dims{2, 3, 4}));
  auto v = values<float>(out);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(v[i], static_cast<float>(i) + 100.f * (i % 4 + 1)) << i;
}

TEST(EltwiseBinary, BroadcastBothSides) {
  // [2,1,4] * [3,1] -> [2,3,4]: out[i][j][k] = a[i][0][k] * b[j][0]
  auto out = run1(binary(BinaryKind::Mul), {iota({2, 1, 4}, 1), f32({3, 1}, {1, 10, 100})});
  ASSERT_EQ(out.shape, (Dims{2, 3, 4}));
  auto v = values<float>(out);
  const float b[3] = {1, 10, 100};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(v[(i * 3 + j) * 4 + k], (1.f + i * 4 + k) * b[j]);
}

TEST(EltwiseBinary, ScalarOperands) {
  auto sub = run1(binary(BinaryKind::Sub), {f32({}, {10}), f32({2, 2}, {1, 2, 3, 4})});
  EXPECT_EQ(sub.shape, (Dims{2, 2}));
  EXPECT_EQ(values<float>(sub), (std::vector<float>{9, 8, 7, 6}));
  auto div = run1(binary(BinaryKind::Div), {f32({3}, {1, 2, 3}), f32({}, {2})});
  EXPECT_EQ(values<float>(div), (std::vector<float>{0.5f, 1, 1.5f}));
  auto both = run1(binary(BinaryKind::Max), {f32({}, {1}), f32({}, {2})});
  EXPECT_TRUE(both.shape.empty());
  EXPECT_EQ(values<float>(both), (std::vector<float>{2}));
}

TEST(EltwiseBinary, IntegerEdgeCases) {
  auto i32 = [](std::vector<int32_t> v) { return host_tensor(DType::Int32, {static_cast<int64_t>(v.size())}, v); };
  const int32_t mn = std::numeric_limits<int32_t>::min();
  // Division by zero gives 0 and MIN / -1 wraps, instead of trapping.
  EXPECT_EQ(values<int32_t>(run1(binary(BinaryKind::Div), {i32({7, -7, 5, mn}), i32({2, 2, 0, -1})})),
            (std::vector<int32_t>{3, -3, 0, mn}));
  EXPECT_EQ(values<int32_t>(run1(binary(BinaryKind::Mod), {i32({-7, 7, 7, 5}), i32({3, -3, 3, 0})})),
            (std::vector<int32_t>{2, -2, 1, 0}));
  EXPECT_EQ(values<int32_t>(run1(binary(BinaryKind::FMod), {i32({-7, 7}), i32({3, -3})})),
            (std::vector<int32_t>{-1, 1}));
  EXPECT_EQ(values<int32_t>(run1(binary(BinaryKind::Pow), {i32({2, 2, -1, 3}), i32({10, -1, -3, 0})})),
            (std::vector<int32_t>{1024, 0, -1, 1}));
  auto i8 = host_tensor<int8_t>(DType::Int8, {2}, {127, -128});
  auto one = host_tensor<int8_t>(DType::Int8, {}, {1});
  EXPECT_EQ(values<int8_t>(run1(binary(BinaryKind::Add), {i8, one})), (std::vector<int8_t>{-128, -127}));
  auto u8 = host_tensor<uint8_t>(DType::UInt8, {2}, {200, 3});
  EXPECT_EQ(values<uint8_t>(run1(binary(BinaryKind::Mul), {u8, host_tensor<uint8_t>(DType::UInt8, {}, {2})})),
            (std::vector<uint8_t>{144, 6}));
  auto i64 = host_tensor<int64_t>(DType::Int64, {2}, {-5, 9});
  EXPECT_EQ(values<int64_t>(run1(binary(BinaryKind::Min), {i64, host_tensor<int64_t>(DType::Int64, {}, {0})})),
            (std::vector<int64_t>{-5, 0}));
}

TEST(EltwiseBinary, FloatModPowAndNaN) {
  EXPECT_EQ(values<float>(run1(binary(BinaryKind::Mod), {f32({2}, {-7.5f, 7.5f}), f32({2}, {2, -2})})),
            (std::vector<float>{0.5f, -0.5f}));
  EXPECT_EQ(values<float>(run1(binary(BinaryKind::FMod), {f32({2}, {-7.5f, 7.5f}), f32({2}, {2, -2})})),
            (std::vector<float>{-1.5f, 1.5f}));
  auto p = values<float>(run1(binary(BinaryKind::Pow), {f32({2}, {2, 3}), f32({2}, {3, 0.5f})}));
  EXPECT_EQ(p[0], 8.f);
  EXPECT_NEAR(p[1], std::sqrt(3.f), 1e-6);
  // Pow's exponent may have its own type (opset 12+).
  auto mixed = values<double>(run1(binary(BinaryKind::Pow),
                                   {host_tensor<double>(DType::Float64, {2}, {2, 4}), host_tensor<int64_t>(DType::Int64, {2}, {3, -1})}));
  EXPECT_EQ(mixed, (std::vector<double>{8, 0.25}));
  auto mx = values<float>(run1(binary(BinaryKind::Max), {f32({2}, {NAN, 1}), f32({2}, {1, NAN})}));
  EXPECT_TRUE(std::isnan(mx[0]) && std::isnan(mx[1])) << "Max propagates NaN like numpy";
}

TEST(EltwiseBinary, ComparisonsAndLogic) {
  auto lt = run1(binary(BinaryKind::Less), {f32({3}, {1, 2, 3}), f32({}, {2})});
  EXPECT_EQ(lt.dtype, DType::Bool);
  EXPECT_EQ(values<uint8_t>(lt), (std::vector<uint8_t>{1, 0, 0}));
  EXPECT_EQ(values<uint8_t>(run1(binary(BinaryKind::GreaterOrEqual), {f32({3}, {1, 2, 3}), f32({}, {2})})),
            (std::vector<uint8_t>{0, 1, 1}));
  auto i64 = host_tensor<int64_t>(DType::Int64, {3}, {4, 5, 6});
  EXPECT_EQ(values<uint8_t>(run1(binary(BinaryKind::Equal), {i64, host_tensor<int64_t>(DType::Int64, {1}, {5})})),
            (std::vector<uint8_t>{0, 1, 0}));
  auto a = host_tensor<uint8_t>(DType::Bool, {4}, {0, 0, 1, 1}), b = host_tensor<uint8_t>(DType::Bool, {4}, {0, 1, 0, 1});
  EXPECT_EQ(values<uint8_t>(run1(binary(BinaryKind::And), {a, b})), (std::vector<uint8_t>{0, 0, 0, 1}));
  EXPECT_EQ(values<uint8_t>(run1(binary(BinaryKind::Or), {a, b})), (std::vector<uint8_t>{0, 1, 1, 1}));
  EXPECT_EQ(values<uint8_t>(run1(binary(BinaryKind::Xor), {a, b})), (std::vector<uint8_t>{0, 1, 1, 0}));
  EXPECT_EQ(values<uint8_t>(run1(binary(BinaryKind::Equal), {a, b})), (std::vector<uint8_t>{1, 0, 0, 1}));
  auto x = host_tensor<uint8_t>(DType::UInt8, {3}, {1, 255, 1}), s = host_tensor<uint8_t>(DType::UInt8, {3}, {3, 4, 9});
  EXPECT_EQ(values<uint8_t>(run1(binary(BinaryKind::BitShiftLeft), {x, s})), (std::vector<uint8_t>{8, 240, 0}));
  EXPECT_EQ(values<uint8_t>(run1(binary(BinaryKind::BitShiftRight), {x, s})), (std::vector<uint8_t>{0, 15, 0}));
}

TEST(EltwiseBinary, PostOpsApplyInOrder) {
  // relu(a + b) + s, then * nothing: the Sum operand is input 2.
  PostOp relu{PostOp::Kind::Act, Act::Relu, 0, 0};
  PostOp sum{PostOp::Kind::Sum, Act::Relu, 0, 0};
  auto out = run1(binary(BinaryKind::Add, {relu, sum}),
                  {f32({3}, {-5, 1, 2}), f32({}, {1}), f32({3}, {10, 20, 30})});
  EXPECT_EQ(values<float>(out), (std::vector<float>{10, 22, 33}));
}

TEST(EltwiseBinary, InferErrors) {
  auto infer = [](const Binary& b, std::vector<HostTensor> in) { return infer_outputs(b, in); };
  try {
    infer(binary(BinaryKind::Add), {HostTensor(DType::Float32, {2, 3}), HostTensor(DType::Float32, {4})});
    ADD_FAILURE() << "non-broadcastable shapes accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("do not broadcast"), std::string::npos) << e.what();
  }
  EXPECT_THROW(infer(binary(BinaryKind::Add), {HostTensor(DType::Float32, {2}), HostTensor(DType::Int32, {2})}), Error);
  EXPECT_THROW(infer(binary(BinaryKind::Add), {HostTensor(DType::Bool, {2}), HostTensor(DType::Bool, {2})}), Error);
  EXPECT_THROW(infer(binary(BinaryKind::And), {HostTensor(DType::Float32, {2}), HostTensor(DType::Float32, {2})}),
               Error);
  EXPECT_THROW(infer(binary(BinaryKind::BitShiftLeft), {HostTensor(DType::Int32, {2}), HostTensor(DType::Int32, {2})}),
               Error);
  EXPECT_THROW(infer(binary(BinaryKind::Add), {HostTensor(DType::Float32, {2})}), Error);
  PostOp relu{PostOp::Kind::Act, Act::Relu, 0, 0};
  EXPECT_THROW(infer(binary(BinaryKind::Add, {relu}), {HostTensor(DType::Int32, {2}), HostTensor(DType::Int32, {2})}),
               Error);
  PostOp sum{PostOp::Kind::Sum, Act::Relu, 0, 0};
  EXPECT_THROW(infer(binary(BinaryKind::Add, {sum}), {HostTensor(DType::Float32, {2, 3}),
                                                      HostTensor(DType::Float32, {3}), HostTensor(DType::Float32, {3})}),
               Error)
      << "Sum operand must have the output's shape";
  auto ok = infer(binary(BinaryKind::Add), {HostTensor(DType::Float32, {2, 1, 4}), HostTensor(DType::Float32, {3, 1})});
  EXPECT_EQ(ok[0].shape, (Dims{2, 3, 4}));
  EXPECT_EQ(infer(binary(BinaryKind::Equal), {HostTensor(DType::Int32, {2}), HostTensor(DType::Int32, {2})})[0].dtype,
            DType::Bool);
}

TEST(EltwiseBinary, OnednnMatchesReference) {
  const std::vector<std::pair<Dims, Dims>> cases{
      {{5, 7}, {5, 7}}, {{2, 3, 4}, {4}}, {{2, 3, 4, 5}, {1, 3, 1, 1}}, {{17}, {}}, {{3, 1, 33}, {3, 1, 1}},
      {{1, 2, 3, 4, 5, 3}, {2, 1, 4, 1, 3}}};
  for (auto k : {BinaryKind::Add, BinaryKind::Sub, BinaryKind::Mul, BinaryKind::Div, BinaryKind::Max, BinaryKind::Min}) {
    for (size_t i = 0; i < cases.size(); ++i) {
      SCOPED_TRACE(std::string(binary_name(k)) + " " + shape_str(cases[i].first) + " , " + shape_str(cases[i].second));
      auto a = random_tensor(DType::Float32, cases[i].first, 20 + static_cast<uint32_t>(i));
      auto b = random_tensor(DType::Float32, cases[i].second, 40 + static_cast<uint32_t>(i), 0.5, 2.0);
      expect_kernel_matches_reference(binary(k), "onednn", {a, b});
    }
  }
  // src0 broadcast: commutative ops swap operands; Sub cannot.
  auto small = random_tensor(DType::Float32, {4}, 1), big = random_tensor(DType::Float32, {3, 4}, 2);
  expect_kernel_matches_reference(binary(BinaryKind::Mul), "onednn", {small, big});
  std::vector<HostTensor> in{small, big}, out;
  EXPECT_FALSE(run_kernel(binary(BinaryKind::Sub), "onednn", in, out));
  std::vector<HostTensor> both{random_tensor(DType::Float32, {2, 1, 4}, 3), random_tensor(DType::Float32, {3, 1}, 4)};
  EXPECT_FALSE(run_kernel(binary(BinaryKind::Add), "onednn", both, out)) << "both operands broadcast";
  std::vector<HostTensor> ints{random_tensor(DType::Int32, {4}, 1, -9, 9), random_tensor(DType::Int32, {4}, 2, -9, 9)};
  EXPECT_FALSE(run_kernel(binary(BinaryKind::Add), "onednn", ints, out));
  EXPECT_FALSE(run_kernel(binary(BinaryKind::Pow), "onednn", in, out));
}

TEST(EltwiseBinary, OnednnFusedPostOps) {
  PostOp relu{PostOp::Kind::Act, Act::Relu, 0, 0};
  PostOp sum{PostOp::Kind::Sum, Act::Relu, 0, 0};
  PostOp sig{PostOp::Kind::Act, Act::Sigmoid, 0, 0};
  PostOp hsig{PostOp::Kind::Act, Act::HardSigmoid, 0.2f, 0.5f};
  auto a = random_tensor(DType::Float32, {2, 8, 5, 5}, 7), b = random_tensor(DType::Float32, {1, 8, 1, 1}, 8);
  auto s = random_tensor(DType::Float32, {2, 8, 5, 5}, 9);
  expect_kernel_matches_reference(binary(BinaryKind::Add, {relu, sum, sig}), "onednn", {a, b, s});
  expect_kernel_matches_reference(binary(BinaryKind::Mul, {sum, hsig, sum}), "onednn", {a, b, s, s});
}

}  // namespace
}  // namespace kiln::test
