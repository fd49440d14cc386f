// Elementwise ops: one Unary op for every activation/math function (see activation.h), one
// Binary op for broadcasting arithmetic, comparison and logic, and the few elementwise ops that
// fit neither (PRelu's broadcast slope, Where's three inputs, Not).
#pragma once

#include "ops/math/activation.h"
#include "ops/op.h"

namespace kiln::ops {

// y = act(x; alpha, beta). Input and output have the same shape; float32/float64 for every act,
// and any signed integer type for Relu/Abs/Neg/Clip/Identity.
struct Unary : OpBase<Unary> {
  static constexpr const char* kType = "Unary";
  Act act = Act::Relu;
  float alpha = 0.f;
  float beta = 0.f;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
  int inplace_input() const override { return 0; }  // elementwise: y[i] depends on x[i] only
};

enum class BinaryKind : int64_t {
  Add = 1, Sub = 2, Mul = 3, Div = 4, Pow = 5, Max = 6, Min = 7, Mod = 8, FMod = 9,
  Equal = 10, Less = 11, Greater = 12, LessOrEqual = 13, GreaterOrEqual = 14,
  And = 15, Or = 16, Xor = 17, BitShiftLeft = 18, BitShiftRight = 19,
  BitwiseAnd = 20, BitwiseOr = 21, BitwiseXor = 22,  // opset 18; serialized, so appended only
};
const char* binary_name(BinaryKind k);

// c = a (kind) b with numpy broadcasting. Comparisons produce bool. Optional post-ops (float32
// only); inputs 2.. are the Sum post-ops' operands, each of the output's shape.
// Types: arithmetic on any numeric type but bool (Pow: the exponent may have another numeric
// type), comparisons on any type, And/Or/Xor on bool, bit shifts on unsigned integers.
// Mod is the integer/numpy modulo (sign of the divisor), FMod the C one (sign of the dividend);
// integer division or modulo by zero yields 0 rather than trapping.
struct Binary : OpBase<Binary> {
  static constexpr const char* kType = "Binary";
  BinaryKind kind = BinaryKind::Add;
  PostOps post;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// y = x >= 0 ? x : slope * x, where slope broadcasts to x's shape (unidirectional).
struct PRelu : OpBase<PRelu> {
  static constexpr const char* kType = "PRelu";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// y = cond ? x : y, all three broadcast together; cond is bool.
struct Where : OpBase<Where> {
  static constexpr const char* kType = "Where";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Logical not of a bool tensor.
struct Not : OpBase<Not> {
  static constexpr const char* kType = "Not";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Strides in elements of a dense tensor of shape `in` laid over the numpy-broadcast shape `out`
// (rank of out, 0 along broadcast and missing leading dims); shared by broadcasting ops.
std::vector<int64_t> broadcast_strides(const Dims& in, const Dims& out);

}  // namespace kiln::ops
