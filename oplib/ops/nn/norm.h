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
