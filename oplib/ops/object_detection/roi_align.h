// RoiAlign (opset 10 and 16 coordinate modes). (NonMaxSuppression, the other detection op,
// lives in non_max_suppression.h.)
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

}  // namespace kiln::ops
