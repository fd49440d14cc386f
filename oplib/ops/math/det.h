// Det: the determinant of square matrices.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

// Determinant of each trailing [M, M] matrix of X [*, M, M] (float32 / float64); Y is [*].
struct Det : OpBase<Det> {
  static constexpr const char* kType = "Det";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
