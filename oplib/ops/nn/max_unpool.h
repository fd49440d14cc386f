// MaxUnpool: scatters pooled values back to the positions MaxPool's indices name.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

// Inputs X [N, C, D...], I (int64, same shape: flat indices as MaxPool produces them) and an
// optional run-time output_shape (int64 [rank]). The default output [N, C, out...] has
// out = (in - 1) * stride + kernel - pads and is zero except Y.flat[I[i]] = X[i]. With an
// output shape (the `output_shape` attribute when it was a compile-time constant, else the
// third input) the pads are ignored in that formula and the result is placed at the origin of
// a zero Y of the requested shape, which may not be smaller: the ONNX reference semantics the
// backend suite records.
struct MaxUnpool : OpBase<MaxUnpool> {
  static constexpr const char* kType = "MaxUnpool";
  std::vector<int64_t> kernel_shape;
  std::vector<int64_t> strides;
  std::vector<int64_t> pads;
  std::vector<int64_t> output_shape;  // full [N, C, out...]; empty = the default size

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
