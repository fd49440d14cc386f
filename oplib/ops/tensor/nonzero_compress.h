// Ops whose output size depends on input values: NonZero and Compress. Their output shapes are
// unknown at compile time unless the inputs are constants, so the runtime infers and allocates
// them per run (see ExecutionContext's dynamic layers).
#pragma once

#include "ops/op.h"

namespace kiln::ops {

// int64 [rank, count]: the coordinates of the non-zero elements, in row-major order.
struct NonZero : OpBase<NonZero> {
  static constexpr const char* kType = "NonZero";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Keeps the slices along `axis` whose condition is true (condition may be shorter than the
// axis; missing entries count as false). has_axis = 0 flattens the input first.
struct Compress : OpBase<Compress> {
  static constexpr const char* kType = "Compress";
  int64_t axis = 0;
  int64_t has_axis = 0;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
