// The optimizer ops of ONNX's ai.onnx.preview.training domain (opset 1): Adagrad, Adam and
// Momentum. Each updates N tensors at once: inputs R (learning rate, scalar), T (update count,
// int64 scalar), then X1..XN, G1..GN and the per-tensor state (H or V, or V and H for Adam);
// outputs the new X1..XN and the new state, in the same order. Deterministic formulas from the
// ONNX operator spec.
#pragma once

#include <cstdint>
#include <string>

#include "ops/op.h"

namespace kiln::ops {

// r = R / (1 + T * decay_factor); g = norm_coefficient * X + G; H' = H + g * g;
// X' = X - r * g / (sqrt(H') + epsilon).
struct Adagrad : OpBase<Adagrad> {
  static constexpr const char* kType = "Adagrad";
  float decay_factor = 0.f;
  float epsilon = 1e-6f;
  float norm_coefficient = 0.f;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// g = norm_coefficient * X + G; V' = alpha * V + (1 - alpha) * g; H' = beta * H + (1 - beta) * g * g;
// r = T > 0 ? R * sqrt(1 - beta^T) / (1 - alpha^T) : R; X' = (1 - norm_coefficient_post) *
// (X - r * V' / (sqrt(H') + epsilon)).
struct Adam : OpBase<Adam> {
  static constexpr const char* kType = "Adam";
  float alpha = 0.9f;
  float beta = 0.999f;
  float epsilon = 1e-6f;
  float norm_coefficient = 0.f;
  float norm_coefficient_post = 0.f;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// g = norm_coefficient * X + G; V' = alpha * V + (T > 0 ? beta : 1) * g; X' = X - R * V'
// ("standard") or X - R * (g + alpha * V') ("nesterov").
struct Momentum : OpBase<Momentum> {
  static constexpr const char* kType = "Momentum";
  float alpha = 0.f;
  float beta = 0.f;
  float norm_coefficient = 0.f;
  std::string mode = "standard";

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
