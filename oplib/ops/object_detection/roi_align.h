// Detection and sequence helpers: RoiAlign (opset 10 and 16 coordinate modes), MaxUnpool,
// ReverseSequence and Det. (NonMaxSuppression, whose output length depends on the data, lives
// in nms_ops.h.)
#pragma once

#include "ops/op.h"

namespace kiln::ops {

// Inputs X [N, C, H, W], rois [R, 4] as (x1, y1, x2, y2), batch_indices [R] (int64 / int32).
// Output [R, C, output_height, output_width]: each bin averages (or maxes) a grid of bilinear
// samples, exactly as ONNX Runtime does (which the ONNX suite records).
struct RoiAlign : OpBase<RoiAlign> {
  static constexpr const char* kType = "RoiAlign";
  enum class Mode : int64_t { Avg = 0, Max = 1 };
  Mode mode = Mode::Avg;
  int64_t output_height = 1, output_width = 1;
  int64_t sampling_ratio = 0;  // 0: ceil(roi size / output size) samples per bin side
  float spatial_scale = 1.f;
  // Opset 16's "half_pixel" shifts coordinates by -0.5 and allows ROIs under one pixel;
  // "output_half_pixel" (the only behaviour of opset 10) does neither.
  bool half_pixel = false;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

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

// Inputs x (rank >= 2, any dtype) and sequence_lens int64 [batch]: reverses the first
// sequence_lens[b] steps along time_axis of every batch row b; the rest is copied.
struct ReverseSequence : OpBase<ReverseSequence> {
  static constexpr const char* kType = "ReverseSequence";
  int64_t time_axis = 0, batch_axis = 1;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Determinant of each trailing [M, M] matrix of X [*, M, M] (float32 / float64); Y is [*].
struct Det : OpBase<Det> {
  static constexpr const char* kType = "Det";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
