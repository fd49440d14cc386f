// Softmax family: Softmax, LogSoftmax and Hardmax in both ONNX forms (opset < 13 flattens to
// 2-D at axis; opset 13 normalises along one axis).
#pragma once

#include "ops/op.h"

namespace kiln::ops {

// What the three ops share: the axis, and how the input splits into [outer, n, inner] rows
// that are normalised along n.
struct SoftmaxAxis {
  int64_t axis = -1;       // negative counts from the back
  bool coerce_2d = false;  // opset < 13: normalise over all of dims [axis, rank)

  struct Split { int64_t outer, n, inner; };
  Split split(const Dims& s) const;  // s must be static; axis already validated by infer
  void attrs(AttrVisitor& v);
  // Checks count, float type and axis range, and sets output 0 to the input's type.
  void infer(InferContext& ctx, const char* op) const;
};

// y = exp(x - max) / sum(exp(x - max)) along the axis (or the coerced 2-D row).
//
// Internal form (not ONNX's): an optional second input, an additive float32 mask broadcast onto x
// (its last dim equal to x's, each other dim 1 or x's), so y = softmax(x + mask) along the last
// axis. An int8 attention's scores MatMul hands its mask Add over to the Softmax (assign-int8),
// which adds it while the row sits in registers instead of as a oneDNN binary post-op.
struct Softmax : OpBase<Softmax>, SoftmaxAxis {
  static constexpr const char* kType = "Softmax";
  void attrs(AttrVisitor& v) override { SoftmaxAxis::attrs(v); }
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
  // For a mask of shape `mask` broadcast onto x of shape `x` (as infer checks): the offset of
  // the mask row added to each of x's rows (all dims but the last), in row order.
  static std::vector<int64_t> mask_rows(const Dims& x, const Dims& mask);
};

// y = x - max - log(sum(exp(x - max))).
struct LogSoftmax : OpBase<LogSoftmax>, SoftmaxAxis {
  static constexpr const char* kType = "LogSoftmax";
  void attrs(AttrVisitor& v) override { SoftmaxAxis::attrs(v); }
  void infer(InferContext& ctx) const override { SoftmaxAxis::infer(ctx, kType); }
  void reference(const KernelArgs& args) const override;
};

// 1 at the first maximum of each row, 0 elsewhere.
struct Hardmax : OpBase<Hardmax>, SoftmaxAxis {
  static constexpr const char* kType = "Hardmax";
  void attrs(AttrVisitor& v) override { SoftmaxAxis::attrs(v); }
  void infer(InferContext& ctx) const override { SoftmaxAxis::infer(ctx, kType); }
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
