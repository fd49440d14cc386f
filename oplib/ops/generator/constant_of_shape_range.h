// Generators: ConstantOfShape and Range.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

// Inputs: [shape (int64, 1-D) when not a compile-time constant]. A tensor of `shape` filled with
// one element of `dtype` (value_bits as in pack_element).
struct ConstantOfShape : OpBase<ConstantOfShape> {
  static constexpr const char* kType = "ConstantOfShape";
  std::vector<int64_t> shape;
  int64_t dtype = static_cast<int64_t>(DType::Float32);
  int64_t value_bits = 0;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs: start, limit, delta (scalars of one numeric dtype). Output 1-D of
// max(ceil((limit - start) / delta), 0) elements; dims unknown unless the inputs are constants.
struct Range : OpBase<Range> {
  static constexpr const char* kType = "Range";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
