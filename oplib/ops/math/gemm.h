// Matrix products: ONNX Gemm (2-D, transposes, alpha/beta, broadcast C) and numpy-style MatMul
// (1-D operands, batch broadcasting), both with fused post-ops for the fusion passes.
#pragma once

#include "ops/math/activation.h"
#include "ops/op.h"

namespace kiln::ops {

// Y = post(alpha * A' * B' + beta * C), A' = transA ? A^T : A (A' is [M, K]), B' likewise
// ([K, N]). Inputs: A, B, optional C (unidirectionally broadcastable to [M, N]), then one
// operand of Y's shape per Sum post-op. Types: float32, float64, int32, int64 (post-ops: float32).
struct Gemm : OpBase<Gemm> {
  static constexpr const char* kType = "Gemm";
  float alpha = 1.f;
  float beta = 1.f;
  bool transA = false;
  bool transB = false;
  PostOps post;
  // For the dynamic int8 kernel (--int8Dynamic): quantize A per row instead of per tensor.
  bool dynamic_rows = false;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Y = post(alpha * (A @ B) + bias) with numpy matmul semantics: a 1-D A is [1, K] and a 1-D B
// is [K, 1] with that dim dropped from Y; leading (batch) dims broadcast. Inputs: A, B, optional
// bias [N] (added along Y's last dim; for fusing a following Add), then one operand per Sum
// post-op, of Y's shape or unidirectionally broadcastable to it (an attention mask). Types as
// Gemm (an int8 B that is not a constant has one scale).
// perm_a / perm_b fold a Transpose into the product (attention's K^T): the logical A is
// transpose(input 0, perm_a), read in place with strides by the fast kernel; empty = as stored.
// perm_y folds a Transpose of the result (attention's head merge): Y = transpose(product, perm_y),
// written in place with strides; not with Sum post-ops.
struct MatMul : OpBase<MatMul> {
  static constexpr const char* kType = "MatMul";
  PostOps post;
  float alpha = 1.f;
  std::vector<int64_t> perm_a, perm_b, perm_y;
  bool dynamic_rows = false;  // as Gemm's

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
