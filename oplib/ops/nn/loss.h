// Loss family: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (ONNX opset 12+), with
// reduction none/sum/mean, an optional ignore_index and optional per-class weights, over inputs
// of any rank [N, C, d1..dk].
#pragma once

#include "ops/op.h"

namespace kiln::ops {

enum class LossReduction : int64_t { None = 0, Sum = 1, Mean = 2 };

// What both losses share: the reduction, ignore_index and the checks of (scores, target,
// weight). Mean divides by the sum of the weights of the non-ignored elements (their count
// when there are no weights), as ONNX defines it.
struct LossAttrs {
  LossReduction reduction = LossReduction::Mean;
  // ignore_index is optional in ONNX and every int64 is a valid value, so presence is separate.
  bool has_ignore_index = false;
  int64_t ignore_index = 0;

  void attrs(AttrVisitor& v);
  // Checks inputs 0..2 and sets output 0 (the loss); `what` names the op in messages.
  void infer_loss(InferContext& ctx, const std::string& what) const;
};

// Inputs: input [N, C, d...] (log-probabilities), target [N, d...] int32/int64, optional
// weight [C]. Output: loss, [N, d...] for reduction none, else a scalar.
struct NegativeLogLikelihoodLoss : OpBase<NegativeLogLikelihoodLoss>, LossAttrs {
  static constexpr const char* kType = "NegativeLogLikelihoodLoss";
  void attrs(AttrVisitor& v) override { LossAttrs::attrs(v); }
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs: scores [N, C, d...], labels [N, d...] int32/int64, optional weights [C]. Outputs:
// the loss (as NegativeLogLikelihoodLoss of log_softmax(scores, axis 1)) and optionally
// log_prob, the log-softmax itself [N, C, d...].
struct SoftmaxCrossEntropyLoss : OpBase<SoftmaxCrossEntropyLoss>, LossAttrs {
  static constexpr const char* kType = "SoftmaxCrossEntropyLoss";
  void attrs(AttrVisitor& v) override { LossAttrs::attrs(v); }
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
