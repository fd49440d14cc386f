// Elementwise math whose output type differs from Unary's (same type in, same type out, floats
// only): the float classifiers IsNaN / IsInf (bool out) and Sign (every numeric type).
#pragma once

#include "ops/op.h"

namespace kiln::ops {

// x (float32/float64) -> bool: x is NaN.
struct IsNaN : OpBase<IsNaN> {
  static constexpr const char* kType = "IsNaN";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// x (float32/float64) -> bool: x is +inf (when detect_positive) or -inf (when detect_negative).
struct IsInf : OpBase<IsInf> {
  static constexpr const char* kType = "IsInf";
  bool detect_positive = true;
  bool detect_negative = true;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// y = -1, 0 or 1 by the sign of x, of x's type (any numeric type but bool; NaN stays NaN).
struct Sign : OpBase<Sign> {
  static constexpr const char* kType = "Sign";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
