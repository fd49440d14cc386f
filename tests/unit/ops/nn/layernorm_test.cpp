// LayerNormalization: the reference against hand-computed values (all three outputs), infer()
// errors, the oneDNN kernel against the reference for several axes/shapes/output counts, and
// the importer.
#include <cmath>

#include <gmock/gmock.h>

#include "ops/onnx_node_model.h"
#include "ops/nn/layernorm.h"
#include "ops/literal_test_util.h"

namespace kiln::test {
namespace {

using namespace literal;
using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

ops::LayerNormalization ln(int64_t axis, float eps = 0.f) {
  ops::LayerNormalization op;
  op.axis = axis;
  op.epsilon = eps;
  return op;
}

TEST(LayerNormRef, LastAxisWithStatistics) {
  // Rows [1, 2, 3]: mean 2, var 2/3; [0, 0, 6]: mean 2, var 8.
  auto out = ref_n(ln(-1), {F({2, 3}, {1, 2, 3, 0, 0, 6}), F({3}, {1, 2, 3}), F({3}, {0, 1, 0})}, 3);
  ASSERT_EQ(out.size(), 3u);
  const float a = 1 / std::sqrt(2.f / 3), b = 1 / std::sqrt(8.f);
  EXPECT_THAT(vals<float>(out[0]),
              Pointwise(FloatNear(1e-5f), std::vector<float>{-a, 1, 3 * a, -2 * b, 1 - 4 * b, 3 * 4 * b}));
  EXPECT_EQ(out[1].shape, (Dims{2, 1}));
  EXPECT_THAT(vals<float>(out[1]), ElementsAre(2, 2));
  EXPECT_THAT(vals<float>(out[2]), Pointwise(FloatNear(1e-6f), std::vector<float>{a, b}));
}

TEST(LayerNormRef, LeadingAxisAndEpsilon) {
  // axis 0 normalises the whole tensor: mean 2.5, var 1.25 + eps 0.75 = 2.
  auto out = ref_n(ln(0, 0.75f), {F({2, 2}, {1, 2, 3, 4}), F({2, 2}, {1, 1, 1, 2})}, 2);
  const float s = 1 / std::sqrt(2.f);
  EXPECT_THAT(vals<float>(out[0]),
              Pointwise(FloatNear(1e-6f), std::vector<float>{-1.5f * s, -0.5f * s, 0.5f * s, 3 * s}));
  EXPECT_EQ(out[1].shape, (Dims{1, 1}));
  EXPECT_THAT(vals<float>(out[1]), ElementsAre(2.5f));
}

TEST(LayerNormRef, BroadcastScaleAndDouble) {
  // Scale [1] broadcasts over the normalised [2, 2] block; float64 X.
  auto out = ref_n(ln(1), {D({1, 2, 2}, {1, 1, 3, 3}), D({1}, {2}), D({2}, {10, 20})});
  EXPECT_THAT(vals<double>(out[0]), ElementsAre(8, 18, 12, 22));
}

TEST(LayerNormInfer, Rejects) {
  EXPECT_THAT(infer_err(ln(2), {F({2, 3}, std::vector<float>(6)), F({3}, {1, 1, 1})}),
              HasSubstr("out of range"));
  EXPECT_THAT(infer_err(ln(-1), {F({2, 3}, std::vector<float>(6)), F({2}, {1, 1})}),
              HasSubstr("does not broadcast"));
  EXPECT_THAT(infer_err(ln(-1), {F({2, 3}, std::vector<float>(6)), D({3}, {1, 1, 1})}), HasSubstr("X's type"));
  EXPECT_THAT(infer_err(ln(-1), {I64({3}, {1, 2, 3}), I64({3}, {1, 1, 1})}), HasSubstr("float32 and float64"));
  EXPECT_THAT(infer_err(ln(-1), {F({3}, {1, 2, 3})}), HasSubstr("2 or 3 inputs"));
  EXPECT_THAT(infer_err(ln(-1), {F({3}, {1, 2, 3}), F({3}, {1, 1, 1})}, 4), HasSubstr("1 to 3 outputs"));
  auto bad = ln(-1);
  bad.stash_type = 0;
  EXPECT_THAT(infer_err(bad, {F({3}, {1, 2, 3}), F({3}, {1, 1, 1})}), HasSubstr("stash_type"));
  EXPECT_EQ(infer_err(ln(-2), {F({2, 3}, std::vector<float>(6)), F({2, 3}, std::vector<float>(6))}), "");
}

TEST(LayerNormOnednn, MatchesReference) {
  struct Case {
    Dims x;
    int64_t axis;
    bool bias, const_params;
    size_t outs;
  };
  const Case cases[] = {{{2, 3, 4, 5}, -1, true, true, 1}, {{2, 3, 4, 5}, 1, true, false, 3},
                        {{7, 33}, -1, false, true, 2},     {{1, 5, 17}, 0, true, true, 3},
                        {{3, 1, 129}, 2, true, false, 1},  {{4, 6}, -2, false, false, 3}};
  for (const Case& c : cases) {
    SCOPED_TRACE(shape_str(c.x) + " axis " + std::to_string(c.axis));
    ops::LayerNormalization op = ln(c.axis, 1e-5f);
    const int64_t k = op.axis_for(c.x.size());
    Dims norm(c.x.begin() + k, c.x.end());
    // An offset mean checks that the variance does not suffer from cancellation.
    std::vector<HostTensor> in{random_tensor(DType::Float32, c.x, 1, 3, 5),
                               random_tensor(DType::Float32, norm, 2, -2, 2, c.const_params)};
    if (c.bias) in.push_back(random_tensor(DType::Float32, norm, 3, -1, 1, c.const_params));
    expect_kernel_n(op, "onednn", in, c.outs, 1e-4, 1e-4);
  }
}

TEST(LayerNormOnednn, DeclinesBroadcastParamsAndDouble) {
  std::vector<HostTensor> out;
  EXPECT_FALSE(kernel_n(ln(-1), "onednn", {random_tensor(DType::Float32, {2, 4}, 1), F({1}, {2})}, 1, out));
  EXPECT_FALSE(kernel_n(ln(-1), "onednn",
                        {random_tensor(DType::Float64, {2, 4}, 1), random_tensor(DType::Float64, {4}, 2)}, 1,
                        out));
}

TEST(LayerNormImport, AttributesAndOutputs) {
  auto g = OnnxNodeModel("LayerNormalization", {"x", "s", "b"}, {"y", "mean", "inv"}, 17)
               .input("x", {2, 3, 4})
               .init("s", random_tensor(DType::Float32, {3, 4}, 1))
               .init("b", random_tensor(DType::Float32, {3, 4}, 2))
               .i("axis", 1)
               .f("epsilon", 1e-3f)
               .import();
  auto* n = only_node(*g, "LayerNormalization");
  ASSERT_TRUE(n);
  auto* op = n->as<ops::LayerNormalization>();
  EXPECT_EQ(op->axis, 1);
  EXPECT_FLOAT_EQ(op->epsilon, 1e-3f);
  ASSERT_EQ(n->outputs.size(), 3u);
  EXPECT_EQ(n->outputs[2]->type.shape, (Dims{2, 1, 1}));

  // Unnamed trailing statistics are not computed; B is optional.
  g = OnnxNodeModel("LayerNormalization", {"x", "s"}, {"y", "", ""}, 17)
          .input("x", {2, 4})
          .init("s", random_tensor(DType::Float32, {4}, 1))
          .import();
  n = only_node(*g, "LayerNormalization");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->outputs.size(), 1u);
  EXPECT_EQ(n->inputs.size(), 2u);

  try {
    OnnxNodeModel("LayerNormalization", {"x", "s"}, {"y"}, 17)
        .input("x", {2, 4})
        .init("s", random_tensor(DType::Float32, {4}, 1))
        .i("stash_type", 0)
        .import();
    ADD_FAILURE() << "stash_type=0 imported";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("stash_type"));
  }
}

}  // namespace
}  // namespace kiln::test
