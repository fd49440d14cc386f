// ReverseSequence: reverses the leading steps of each batch row.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

// Inputs x (rank >= 2, any dtype) and sequence_lens int64 [batch]: reverses the first
// sequence_lens[b] steps along time_axis of every batch row b; the rest is copied.
struct ReverseSequence : OpBase<ReverseSequence> {
  static constexpr const char* kType = "ReverseSequence";
  int64_t time_axis = 0, batch_axis = 1;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
