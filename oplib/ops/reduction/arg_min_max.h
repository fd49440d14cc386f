// ArgMax/ArgMin: one op, a flag picks which.
#pragma once

#include <cstdint>

#include "ops/op.h"

namespace kiln::ops {

// The int64 index of the largest (max) or smallest element along `axis`; ties go to the first
// occurrence, or the last with select_last_index; a NaN counts as the extreme (numpy's rule).
// keepdims keeps the axis as a 1, else it is dropped. Any numeric input type; the axis must not
// be empty.
struct ArgMinMax : OpBase<ArgMinMax> {
  static constexpr const char* kType = "ArgMinMax";
  bool max = true;
  int64_t axis = 0;
  bool keepdims = true;
  bool select_last_index = false;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
