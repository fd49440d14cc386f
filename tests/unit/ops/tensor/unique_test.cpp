// Unique: the reference kernel against hand-computed values, infer() with known and unknown
// values, infer() errors, and the compile -> plan -> run path where output sizes come from the
// input values.
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include <gtest/gtest.h>

#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"
#include "ops/multi_output_test_util.h"
#include "ops/tensor/unique.h"

namespace kiln::test {
namespace {

using namespace ops;
using namespace multi_output;

Unique unique(int64_t sorted, std::optional<int64_t> axis = std::nullopt) {
  Unique u;
  u.sorted = sorted;
  u.has_axis = axis.has_value();
  u.axis = axis.value_or(0);
  return u;
}

std::vector<HostTensor> run_unique(const Unique& op, HostTensor x, size_t n_out = 4) {
  x.constant = true;
  return run_ref(op, {std::move(x)}, n_out);
}

TEST(Unique, FlatSortedAndNot) {
  const HostTensor x = f32({6}, {2, 1, 1, 3, 4, 3});
  auto r = run_unique(unique(1), x);
  EXPECT_EQ(vals<float>(r[0]), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{1, 0, 3, 4}));
  EXPECT_EQ(vals<int64_t>(r[2]), (std::vector<int64_t>{1, 0, 0, 2, 3, 2}));
  EXPECT_EQ(vals<int64_t>(r[3]), (std::vector<int64_t>{2, 1, 2, 1}));
  r = run_unique(unique(0), x);
  EXPECT_EQ(vals<float>(r[0]), (std::vector<float>{2, 1, 3, 4}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{0, 1, 3, 4}));
  EXPECT_EQ(vals<int64_t>(r[2]), (std::vector<int64_t>{0, 1, 1, 2, 3, 2}));
  EXPECT_EQ(vals<int64_t>(r[3]), (std::vector<int64_t>{1, 2, 2, 1}));
  // Without an axis any rank is flattened; int64 compares exactly beyond double precision.
  const int64_t big = (int64_t{1} << 60) + 1;
  r = run_unique(unique(1), i64({2, 2}, {big, big - 1, big, -5}), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(vals<int64_t>(r[0]), (std::vector<int64_t>{-5, big - 1, big}));
}

TEST(Unique, AlongAnAxis) {
  // sorted_with_axis.
  auto r = run_unique(unique(1, 0), f32({3, 3}, {1, 0, 0, 1, 0, 0, 2, 3, 4}));
  EXPECT_EQ(r[0].shape, (Dims{2, 3}));
  EXPECT_EQ(vals<float>(r[0]), (std::vector<float>{1, 0, 0, 2, 3, 4}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(vals<int64_t>(r[2]), (std::vector<int64_t>{0, 0, 1}));
  EXPECT_EQ(vals<int64_t>(r[3]), (std::vector<int64_t>{2, 1}));
  // sorted_with_axis_3d: slices along axis 1 compare over both batch rows.
  r = run_unique(unique(1, 1), f32({2, 4, 2}, {1, 1, 0, 1, 2, 1, 0, 1, 1, 1, 0, 1, 2, 1, 0, 1}));
  EXPECT_EQ(r[0].shape, (Dims{2, 3, 2}));
  EXPECT_EQ(vals<float>(r[0]), (std::vector<float>{0, 1, 1, 1, 2, 1, 0, 1, 1, 1, 2, 1}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{1, 0, 2}));
  EXPECT_EQ(vals<int64_t>(r[2]), (std::vector<int64_t>{1, 0, 2, 0}));
  EXPECT_EQ(vals<int64_t>(r[3]), (std::vector<int64_t>{2, 1, 1}));
  // sorted_with_negative_axis: columns [1,1,2], [0,0,3], [0,0,3].
  r = run_unique(unique(1, -1), f32({3, 3}, {1, 0, 0, 1, 0, 0, 2, 3, 3}));
  EXPECT_EQ(r[0].shape, (Dims{3, 2}));
  EXPECT_EQ(vals<float>(r[0]), (std::vector<float>{0, 1, 0, 1, 3, 2}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(vals<int64_t>(r[2]), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(vals<int64_t>(r[3]), (std::vector<int64_t>{2, 1}));
  // Unsorted along an axis: first-occurrence order.
  r = run_unique(unique(0, 0), f32({3, 2}, {5, 5, 1, 1, 5, 5}));
  EXPECT_EQ(vals<float>(r[0]), (std::vector<float>{5, 5, 1, 1}));
  EXPECT_EQ(vals<int64_t>(r[2]), (std::vector<int64_t>{0, 1, 0}));
}

TEST(Unique, NanCollapsesAndSortsLast) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto r = run_unique(unique(1), f32({5}, {nan, 2, nan, -1, 2}));
  const auto y = vals<float>(r[0]);
  ASSERT_EQ(y.size(), 3u);
  EXPECT_EQ(y[0], -1.f);
  EXPECT_EQ(y[1], 2.f);
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_EQ(vals<int64_t>(r[3]), (std::vector<int64_t>{1, 2, 2}));
}

TEST(Unique, InferAndErrors) {
  std::vector<HostTensor> in{f32({2, 5, 3}, std::vector<float>(30, 1.f))};
  auto t = infer_outputs(unique(1, 1), in);  // one output unless asked for more
  EXPECT_EQ(t[0].shape, (Dims{2, -1, 3}));
  std::vector<const TensorView*> none{nullptr};
  InferContext ctx({{DType::Float32, {2, 5, 3}}}, none, 4);
  unique(1, 1).infer(ctx);
  EXPECT_EQ(ctx.outputs()[1].shape, (Dims{-1}));
  EXPECT_EQ(ctx.outputs()[2].shape, (Dims{5}));  // inverse_indices: one per slice, always known
  EXPECT_EQ(ctx.outputs()[3].dtype, DType::Int64);
  in[0].constant = true;
  EXPECT_EQ(infer_outputs(unique(1, 1), in)[0].shape, (Dims{2, 1, 3}));
  EXPECT_EQ(infer_outputs(unique(1), in)[0].shape, (Dims{1}));
  EXPECT_NE(infer_err(unique(1, 3), {f32({2, 5, 3})}).find("axis 3 is out of range"), std::string::npos);
  EXPECT_NE(infer_err(unique(1, -4), {f32({2, 5, 3})}).find("out of range"), std::string::npos);
  EXPECT_NE(infer_err(unique(2), {f32({4})}).find("sorted"), std::string::npos);
  EXPECT_NE(infer_err(unique(1), {{DType::Float16, {4}}}).find("float16"), std::string::npos);
  EXPECT_NE(infer_err(unique(1), {f32({4})}, 5).find("one to four"), std::string::npos);
}

TEST(UniqueEndToEnd, CountsFollowTheInput) {
  OnnxBuilder b(11);
  b.input("x", {6});
  b.node("Unique", {"x"}, {"y", "", "inv", "counts"});
  b.output("y", {-1});
  b.output("counts", {-1}, onnx::TensorProto::INT64);
  b.output("inv", {6}, onnx::TensorProto::INT64);
  auto e = Engine::load_memory(compile_onnx_file(b.save("unique_e2e.onnx"), {}).plan);
  auto ctx = e->create_context();
  const float x[6] = {2, 1, 1, 3, 4, 3};
  std::memcpy(ctx->input("x"), x, sizeof x);
  ctx->run();
  EXPECT_EQ(ctx->output_shape(0), (std::vector<int64_t>{4}));
  const auto* y = static_cast<const float*>(ctx->output("y"));
  EXPECT_EQ(std::vector<float>(y, y + 4), (std::vector<float>{1, 2, 3, 4}));
  const auto* c = static_cast<const int64_t*>(ctx->output("counts"));
  EXPECT_EQ(std::vector<int64_t>(c, c + 4), (std::vector<int64_t>{2, 1, 2, 1}));
  const auto* inv = static_cast<const int64_t*>(ctx->output("inv"));
  EXPECT_EQ(std::vector<int64_t>(inv, inv + 6), (std::vector<int64_t>{1, 0, 0, 2, 3, 2}));
  const float same[6] = {7, 7, 7, 7, 7, 7};
  std::memcpy(ctx->input("x"), same, sizeof same);
  ctx->run();
  EXPECT_EQ(ctx->output_shape(0), (std::vector<int64_t>{1}));
}

}  // namespace
}  // namespace kiln::test
