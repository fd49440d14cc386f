// Reorder: copies a tensor between physical layouts (e.g. row-major NCHW <-> oneDNN's blocked
// nChw16c). The assign-layouts pass inserts it at the boundaries of blocked regions; the logical
// type never changes.
#pragma once

#include "ops/op.h"

namespace kiln::ops {

struct Reorder : OpBase<Reorder> {
  static constexpr const char* kType = "Reorder";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  // Only meaningful between two row-major buffers (a copy); layouts need the oneDNN kernel.
  void reference(const KernelArgs& args) const override;
  bool foldable() const override { return false; }
};

}  // namespace kiln::ops
