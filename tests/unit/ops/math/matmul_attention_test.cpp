// MatMul's attention extensions: operands read through a folded Transpose (perm_a / perm_b), the
// output scale alpha and Sum operands that broadcast (an attention mask). The reference against
// hand-computed products, infer() errors, and the oneDNN kernel against the reference on the
// shapes attention produces.
#include <cstring>

#include <gtest/gtest.h>

#include "kernel_test_util.h"
#include "ops/math/gemm.h"

namespace kiln::test {
namespace {

using namespace ops;

HostTensor f32t(Dims s, const std::vector<float>& v) { return host_tensor(DType::Float32, std::move(s), v); }
std::vector<float> floats(const HostTensor& h) {
  std::vector<float> v(static_cast<size_t>(h.elements()));
  std::memcpy(v.data(), h.bytes.data(), h.bytes.size());
  return v;
}

MatMul matmul(std::vector<int64_t> pa, std::vector<int64_t> pb, float alpha = 1.f, std::vector<PostOp> post = {}) {
  MatMul m;
  m.perm_a = std::move(pa);
  m.perm_b = std::move(pb);
  m.alpha = alpha;
  m.post.ops = std::move(post);
  return m;
}

HostTensor absent() {
  HostTensor h;
  h.dtype = DType::Undefined;  // an absent optional input (MatMul's bias slot before Sum operands)
  return h;
}

const PostOp kSum{PostOp::Kind::Sum, Act::Identity, 0, 0};

// A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]]: A*B = [[58,64],[139,154]].
TEST(MatMulAttention, ReferenceHandComputed) {
  const std::vector<float> a{1, 2, 3, 4, 5, 6}, at{1, 4, 2, 5, 3, 6}, bt{7, 9, 11, 8, 10, 12};
  std::vector<HostTensor> in{f32t({2, 3}, a), f32t({2, 3}, bt)};
  EXPECT_EQ(floats(run_reference(matmul({}, {1, 0}), in)[0]), (std::vector<float>{58, 64, 139, 154}));
  in = {f32t({3, 2}, at), f32t({2, 3}, bt)};
  EXPECT_EQ(floats(run_reference(matmul({1, 0}, {1, 0}, 0.5f), in)[0]), (std::vector<float>{29, 32, 69.5, 77}));
  MatMul yt = matmul({}, {1, 0});
  yt.perm_y = {1, 0};  // Y = (A B)^T
  in = {f32t({2, 3}, a), f32t({2, 3}, bt)};
  EXPECT_EQ(floats(run_reference(yt, in)[0]), (std::vector<float>{58, 139, 64, 154}));
  // alpha scales the product, then the broadcast mask [2] is added to each row.
  in = {f32t({2, 3}, a), f32t({2, 3}, bt), absent(), f32t({2}, {-100, 1})};
  EXPECT_EQ(floats(run_reference(matmul({}, {1, 0}, 2.f, {kSum}), in)[0]),
            (std::vector<float>{16, 129, 178, 309}));
}

TEST(MatMulAttention, InferErrors) {
  EXPECT_NE(infer_error(matmul({}, {0, 1, 2}), {f32({2, 3}), f32({3, 2})}).find("perm_b"), std::string::npos);
  EXPECT_NE(infer_error(matmul({0, 0}, {}), {f32({2, 3}), f32({3, 2})}).find("not a permutation"), std::string::npos);
  EXPECT_NE(infer_error(matmul({}, {}, 2.f), {{DType::Int32, {2, 3}}, {DType::Int32, {3, 2}}}).find("alpha"),
            std::string::npos);
  EXPECT_NE(infer_error(matmul({}, {}, 1.f, {kSum}), {f32({2, 3}), f32({3, 4}), {}, f32({3, 4})}).find("Sum"),
            std::string::npos);
  EXPECT_EQ(infer_error(matmul({}, {}, 1.f, {kSum}), {f32({2, 3}), f32({3, 4}), {}, f32({1, 4})}), "");
  MatMul ysum = matmul({}, {}, 1.f, {kSum});
  ysum.perm_y = {1, 0};
  EXPECT_NE(infer_error(ysum, {f32({2, 3}), f32({3, 4}), {}, f32({2, 4})}).find("perm_y"), std::string::npos);
}

// Attention as torch lays it out: q, k, v are [batch, seq, heads, dim] after the head-split
// Reshape; the products read them through the head-split Transposes and K^T.
TEST(MatMulAttention, OnednnMatchesReference) {
  const int64_t s = 24, h = 4, d = 16;
  auto q = random_tensor(DType::Float32, {1, s, h, d}, 1), k = random_tensor(DType::Float32, {1, s, h, d}, 2);
  auto v = random_tensor(DType::Float32, {1, s, h, d}, 3);
  auto mask = random_tensor(DType::Float32, {1, 1, 1, s}, 4, -3, 0);
  HostTensor none = absent();
  expect_kernel_matches_reference(matmul({0, 2, 1, 3}, {0, 2, 3, 1}, 0.25f), "onednn", {q, k});
  expect_kernel_matches_reference(matmul({0, 2, 1, 3}, {0, 2, 3, 1}, 0.25f, {kSum}), "onednn", {q, k, none, mask});
  auto full_mask = random_tensor(DType::Float32, {1, 1, s, s}, 5);
  expect_kernel_matches_reference(matmul({}, {0, 2, 3, 1}, 0.125f, {kSum}), "onednn",
                                  {random_tensor(DType::Float32, {1, h, s, d}, 6), k, none, full_mask});
  auto p = random_tensor(DType::Float32, {1, h, s, s}, 7, 0, 1);
  expect_kernel_matches_reference(matmul({}, {0, 2, 1, 3}), "onednn", {p, v});
  MatMul merged = matmul({}, {0, 2, 1, 3});
  merged.perm_y = {0, 2, 1, 3};  // the context written straight into [batch, seq, heads, dim]
  merged.post.ops = {{PostOp::Kind::Act, Act::Relu, 0, 0}};
  expect_kernel_matches_reference(merged, "onednn", {p, v});
  // A constant B read transposed (packed once at creation) with a bias under the output scale.
  auto x = random_tensor(DType::Float32, {2, 5, 32}, 8), w = random_tensor(DType::Float32, {16, 32}, 9, -1, 1, true);
  auto bias = random_tensor(DType::Float32, {16}, 10, -1, 1, true);
  expect_kernel_matches_reference(matmul({}, {1, 0}, 0.5f), "onednn", {x, w, bias});
}

}  // namespace
}  // namespace kiln::test
