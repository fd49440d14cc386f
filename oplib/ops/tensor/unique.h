// Unique, whose output length depends on the data. Like NonZero (nonzero_compress.h), its infer()
// gives the value-dependent dims as -1 unless every input that decides them is known; the runtime
// then infers them per run from the actual values.
#pragma once

#include <cstdint>

#include "ops/op.h"

namespace kiln::ops {


// Unique slices of X along `axis` (has_axis = 0: unique elements of the flattened X).
// Outputs, any trailing ones optional: Y (X's dtype; the axis, or the flat length, becomes the
// unique count U), indices int64 [U] (first occurrence of each unique slice), inverse_indices
// int64 [len] (for every slice, the position of its value in Y) and counts int64 [U]. sorted = 1
// orders Y ascending (lexicographically for slices, NaN last), sorted = 0 by first occurrence.
struct Unique : OpBase<Unique> {
  static constexpr const char* kType = "Unique";
  int64_t axis = 0;
  int64_t has_axis = 0;
  int64_t sorted = 1;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
