// Normalisation ops in inference form: BatchNormalization, InstanceNormalization and LRN.
#pragma once

#include "ops/op.h"

namespace kiln::ops {

// Inputs: X [N, C, ...], scale [C], B [C], mean [C], var [C]. Inference mode only.
struct BatchNormalization : OpBase<BatchNormalization> {
  static constexpr const char* kType = "BatchNormalization";
  float epsilon = 1e-5f;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// BatchNormalization with training_mode=1 (opset 14+): inputs as BatchNormalization, but Y is
// normalised with the batch's own per-channel mean and biased variance (over N and the spatial
// positions). Optional outputs 1 and 2 are the updated running statistics,
// input_mean * momentum + batch_mean * (1 - momentum), and the same for the variance.
struct BatchNormalizationTraining : OpBase<BatchNormalizationTraining> {
  static constexpr const char* kType = "BatchNormalizationTraining";
  float epsilon = 1e-5f;
  float momentum = 0.9f;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs: X [N, C, ...], scale [C], B [C]. Y = scale * (X - mean) / sqrt(var + epsilon) + B,
// with mean and (biased) variance over the spatial positions of each [n, c] plane.
struct InstanceNormalization : OpBase<InstanceNormalization> {
  static constexpr const char* kType = "InstanceNormalization";
  float epsilon = 1e-5f;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Across-channel local response normalisation, as ONNX defines it.
struct LRN : OpBase<LRN> {
  static constexpr const char* kType = "LRN";
  float alpha = 1e-4f;
  float beta = 0.75f;
  float bias = 1.f;
  int64_t size = 1;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
