// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: reference kernels against hand-computed
// losses (reductions, ignore_index, weights, rank > 2, float64), infer() errors, and the
// importers' attribute handling end to end.
#include <cmath>
#include <optional>

#include <gtest/gtest.h>

#include "ops/nn/loss.h"
#include "ops/multi_output_test_util.h"

namespace kiln::test {
namespace {

using namespace ops;
using namespace multi_output;

template <class T>
T loss_op(LossReduction r, std::optional<int64_t> ignore = std::nullopt) {
  T op;
  op.reduction = r;
  op.has_ignore_index = ignore.has_value();
  op.ignore_index = ignore.value_or(0);
  return op;
}

// log-probabilities [2, 3] and targets [2, 0]: the picked values are -3 and -0.5.
HostTensor lp() { return f32({2, 3}, {-1, -2, -3, -0.5f, -1.5f, -2.5f}); }
HostTensor tgt() { return i64({2}, {2, 0}); }
HostTensor weights() { return f32({3}, {1, 2, 3}); }

std::vector<float> nll(LossReduction r, std::vector<HostTensor> in, std::optional<int64_t> ii = std::nullopt) {
  return vals<float>(run_ref(loss_op<NegativeLogLikelihoodLoss>(r, ii), std::move(in), 1)[0]);
}

TEST(LossReference, NllReductions) {
  expect_near(nll(LossReduction::None, {lp(), tgt()}), {3, 0.5});
  expect_near(nll(LossReduction::Sum, {lp(), tgt()}), {3.5});
  expect_near(nll(LossReduction::Mean, {lp(), tgt()}), {1.75});
  // Weighted: w[2] = 3, w[0] = 1; mean divides by the sum of the picked weights (4), not by N.
  expect_near(nll(LossReduction::None, {lp(), tgt(), weights()}), {9, 0.5});
  expect_near(nll(LossReduction::Sum, {lp(), tgt(), weights()}), {9.5});
  expect_near(nll(LossReduction::Mean, {lp(), tgt(), weights()}), {2.375});
}

TEST(LossReference, NllIgnoreIndex) {
  // Target 0 is ignored: its loss is 0 and it leaves the mean's denominator.
  expect_near(nll(LossReduction::None, {lp(), tgt()}, 0), {3, 0});
  expect_near(nll(LossReduction::Mean, {lp(), tgt()}, 0), {3});
  expect_near(nll(LossReduction::Mean, {lp(), tgt(), weights()}, 0), {3});  // 9 / 3
  // A negative or out-of-range ignore_index is just a value to compare with.
  expect_near(nll(LossReduction::Sum, {lp(), i64({2}, {-1, 1})}, -1), {1.5});
  expect_near(nll(LossReduction::Sum, {lp(), i64({2}, {10, 1}), weights()}, 10), {3});
  // Everything ignored: mean is 0 / 0.
  EXPECT_TRUE(std::isnan(nll(LossReduction::Mean, {lp(), i64({2}, {1, 1})}, 1)[0]));
}

TEST(LossReference, NllHigherRank) {
  // input [1, 2, 3] (N=1, C=2, d1=3), target [1, 3]: loss[d] = -input[0, t[d], d].
  HostTensor x = f32({1, 2, 3}, {1, 2, 3, 10, 20, 30});
  HostTensor t = i64({1, 3}, {1, 0, 1});
  auto out = run_ref(loss_op<NegativeLogLikelihoodLoss>(LossReduction::None), {x, t}, 1)[0];
  EXPECT_EQ(out.shape, (Dims{1, 3}));
  expect_near(vals<float>(out), {-10, -2, -30});
  // int32 targets work the same.
  expect_near(nll(LossReduction::Sum, {x, make<int32_t>(DType::Int32, {1, 3}, {1, 0, 1})}), {-42});
}

TEST(LossReference, NllTargetOutOfRangeFails) {
  EXPECT_NE(
      run_err(loss_op<NegativeLogLikelihoodLoss>(LossReduction::Sum), {lp(), i64({2}, {3, 0})}).find("out of range"),
      std::string::npos);
  EXPECT_NE(
      run_err(loss_op<NegativeLogLikelihoodLoss>(LossReduction::Sum), {lp(), i64({2}, {-1, 0})}).find("out of range"),
      std::string::npos);
}

TEST(LossReference, NllFloat64) {
  HostTensor x = make<double>(DType::Float64, {2, 3}, {-1, -2, -3, -0.5, -1.5, -2.5});
  HostTensor w = make<double>(DType::Float64, {3}, {1, 2, 3});
  auto out = run_ref(loss_op<NegativeLogLikelihoodLoss>(LossReduction::Mean), {x, tgt(), w}, 1)[0];
  EXPECT_EQ(out.dtype, DType::Float64);
  EXPECT_DOUBLE_EQ(vals<double>(out)[0], 2.375);
}

TEST(LossReference, SoftmaxCrossEntropy) {
  // scores [1, 2] = [0, ln 3]: softmax = [1/4, 3/4].
  HostTensor x = f32({1, 2}, {0, std::log(3.f)});
  auto out = run_ref(loss_op<SoftmaxCrossEntropyLoss>(LossReduction::Mean), {x, i64({1}, {1})}, 2);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].shape, Dims{});
  expect_near(vals<float>(out[0]), {-std::log(0.75)});
  EXPECT_EQ(out[1].shape, (Dims{1, 2}));
  expect_near(vals<float>(out[1]), {std::log(0.25), std::log(0.75)});
  // Without the log_prob output the loss is the same.
  auto one = run_ref(loss_op<SoftmaxCrossEntropyLoss>(LossReduction::Mean), {x, i64({1}, {0})}, 1);
  ASSERT_EQ(one.size(), 1u);
  expect_near(vals<float>(one[0]), {-std::log(0.25)});
}

TEST(LossReference, SoftmaxCrossEntropyAlongDim1) {
  // [N=1, C=2, d=2]: softmax runs over C for each d separately; large values must not overflow
  // (float32 keeps ~4 decimals of ln 3 next to 1000).
  HostTensor x = f32({1, 2, 2}, {1000, 0, 1000 + std::log(3.f), std::log(3.f)});
  HostTensor w = f32({2}, {2, 1});
  auto out = run_ref(loss_op<SoftmaxCrossEntropyLoss>(LossReduction::None, 7), {x, i64({1, 2}, {0, 7}), w}, 2);
  expect_near(vals<float>(out[0]), {-2 * std::log(0.25), 0}, 1e-4);
  expect_near(vals<float>(out[1]), {std::log(0.25), std::log(0.25), std::log(0.75), std::log(0.75)}, 1e-4);
}

TEST(LossInfer, Errors) {
  auto nll_op = loss_op<NegativeLogLikelihoodLoss>(LossReduction::Mean);
  const ops::TensorType t64{DType::Int64, {2}};
  EXPECT_EQ(infer_err(nll_op, {f32({2, 3}), t64}), "");
  EXPECT_NE(infer_err(nll_op, {f32({3}), {DType::Int64, {}}}).find("rank >= 2"), std::string::npos);
  EXPECT_NE(infer_err(nll_op, {f32({2, 3}), {DType::Float32, {2}}}).find("int32 or int64"), std::string::npos);
  EXPECT_NE(infer_err(nll_op, {f32({2, 3}), {DType::Int64, {3}}}).find("does not match"), std::string::npos);
  EXPECT_NE(infer_err(nll_op, {f32({2, 3, 4}), {DType::Int64, {2}}}).find("without dim 1"), std::string::npos);
  EXPECT_NE(infer_err(nll_op, {f32({2, 3}), t64, f32({4})}).find("classes"), std::string::npos);
  EXPECT_NE(infer_err(nll_op, {{DType::Int32, {2, 3}}, t64}).find("float32 or float64"), std::string::npos);
  EXPECT_NE(infer_err(nll_op, {f32({2, 3}), t64}, 2).find("one output"), std::string::npos);
  auto sce = loss_op<SoftmaxCrossEntropyLoss>(LossReduction::None);
  EXPECT_EQ(infer_err(sce, {f32({2, 3}), t64}, 2), "");
  EXPECT_NE(infer_err(sce, {f32({2, 3}), t64}, 3).find("one or two outputs"), std::string::npos);
  // Unknown dims are accepted.
  EXPECT_EQ(infer_err(sce, {f32({-1, 3, -1}), {DType::Int64, {-1, 5}}}), "");
}

TEST(LossImport, AttributesAndEvaluation) {
  OnnxBuilder b(13);
  b.input("x", {2, 3});
  b.input("t", {2}, onnx::TensorProto::INT64);
  b.init("w", {3}, {1, 2, 3});
  auto& n = b.node("SoftmaxCrossEntropyLoss", {"x", "t", "w"}, {"loss", "lp"});
  attr_s(n, "reduction", "sum");
  OnnxBuilder::attr(n, "ignore_index", int64_t{-100});
  b.output("loss", {});
  b.output("lp", {2, 3});
  auto g = import(b);
  const auto* op = only_op<SoftmaxCrossEntropyLoss>(*g);
  ASSERT_TRUE(op);
  EXPECT_EQ(op->reduction, LossReduction::Sum);
  EXPECT_TRUE(op->has_ignore_index);
  EXPECT_EQ(op->ignore_index, -100);
  // Uniform scores: every log-probability is -ln 3; loss = ln 3 * (w[2] + w[0]).
  auto out = evaluate(*g, {{"x", f32({2, 3}, {0, 0, 0, 5, 5, 5})}, {"t", i64({2}, {2, 0})}});
  expect_near(vals<float>(out.at("loss")), {4 * std::log(3.0)});
  expect_near(vals<float>(out.at("lp")), std::vector<double>(6, -std::log(3.0)));

  OnnxBuilder b2(12);
  b2.input("x", {2, 3});
  b2.input("t", {2}, onnx::TensorProto::INT64);
  b2.node("NegativeLogLikelihoodLoss", {"x", "t"}, {"loss"});
  b2.output("loss", {});
  auto g2 = import(b2);
  const auto* nll_op = only_op<NegativeLogLikelihoodLoss>(*g2);
  ASSERT_TRUE(nll_op);
  EXPECT_EQ(nll_op->reduction, LossReduction::Mean);  // the default
  EXPECT_FALSE(nll_op->has_ignore_index);

  OnnxBuilder bad(13);
  bad.input("x", {2, 3});
  bad.input("t", {2}, onnx::TensorProto::INT64);
  attr_s(bad.node("NegativeLogLikelihoodLoss", {"x", "t"}, {"loss"}), "reduction", "average");
  bad.output("loss", {});
  try {
    import(bad);
    FAIL() << "an unknown reduction must be rejected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown reduction 'average'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::test
