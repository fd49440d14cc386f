// Elementwise ops: one Unary op for every activation/math function (see activation.h), and one
// Binary op for broadcasting arithmetic, comparison and logic.
#pragma once

#include "ops/activation.h"
#include "ops/op.h"

namespace kiln::ops {

// y = act(x; alpha, beta). Input and output have the same shape; float32/float64/float16 for
// transcendental acts, any signed numeric type for Relu/Abs/Neg.
struct Unary : OpBase<Unary> {
  static constexpr const char* kType = "Unary";
  Act act = Act::Relu;
  float alpha = 0.f;
  float beta = 0.f;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

enum class BinaryKind : int64_t {
  Add = 1, Sub = 2, Mul = 3, Div = 4, Pow = 5, Max = 6, Min = 7, Mod = 8, FMod = 9,
  Equal = 10, Less = 11, Greater = 12, LessOrEqual = 13, GreaterOrEqual = 14,
  And = 15, Or = 16, Xor = 17, BitShiftLeft = 18, BitShiftRight = 19,
};
const char* binary_name(BinaryKind k);

// c = a (kind) b with numpy broadcasting. Comparisons produce bool. Optional post-ops (float).
struct Binary : OpBase<Binary> {
  static constexpr const char* kType = "Binary";
  BinaryKind kind = BinaryKind::Add;
  PostOps post;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
