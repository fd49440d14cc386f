// Resize (ONNX Resize 10-13 and Upsample 7-9, which the importer lowers to it): nearest, linear
// and cubic interpolation over any axes, with every ONNX coordinate transformation mode.
//
// The semantics follow the interpolation reference of onnx's backend tests
// (onnx/backend/test/case/node/resize.py): the result is a nested 1-D interpolation, innermost
// axis first. Each axis therefore reduces to a table that gives, per output index, the source
// indices and weights of its taps (1 for nearest, 2 for linear, 4 for cubic); the reference
// kernel and the fast kernel both apply those tables one axis at a time.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

enum class ResizeMode : int64_t { Nearest = 0, Linear = 1, Cubic = 2 };

enum class ResizeCoord : int64_t {
  HalfPixel = 0,         // (x + 0.5) / scale - 0.5
  Asymmetric = 1,        // x / scale
  PytorchHalfPixel = 2,  // half_pixel, but -0.5 when the output length is 1
  AlignCorners = 3,      // x * (in - 1) / (out - 1)
  TfCropAndResize = 4,   // align_corners within roi; outside the input -> extrapolation_value
  TfHalfPixelForNn = 5,  // (x + 0.5) / scale (opsets 11-12)
  // half_pixel about the centre when the output length is not in * scale (opset 19):
  // in / 2 * (1 - out / (in * scale)) + (x + 0.5) / scale - 0.5
  HalfPixelSymmetric = 6,
};

enum class ResizeNearest : int64_t {
  RoundPreferFloor = 0,
  RoundPreferCeil = 1,
  Floor = 2,
  Ceil = 3,
  // Upsample and Resize-10 (ONNX Runtime's reading of the older specs): floor when the axis is
  // upsampled, ceil when it is downsampled.
  Simple = 4,
};

// One axis of a resize: for output index o, taps source indices index[o * taps + t] (already
// clamped into [0, in), i.e. edge padding) with weights weight[o * taps + t]; outside[o] marks
// tf_crop_and_resize coordinates outside the input, whose value is extrapolation_value.
struct ResizeAxis {
  int64_t in = 0, out = 0, taps = 1;
  std::vector<int64_t> index;
  std::vector<double> weight;
  std::vector<uint8_t> outside;
  // True when the axis maps every output index onto the same input index with weight 1 (and
  // weight 0 elsewhere), so applying it changes nothing.
  bool identity() const;
};

// Inputs: X, [roi], [scales], [sizes] (ONNX Resize-11+ positions). A parameter that is a
// compile-time constant becomes the attribute of the same name and its input is left out; one
// known only at run time stays an input (then the output dims are unknown until it is read).
// One of scales (one per axis, > 0) and sizes (the output shape) is given, or both as attributes
// (keep_aspect_ratio_policy, opset 18: sizes give the shape, scales the coordinates); roi
// ([starts..., ends...], normalised) is used by tf_crop_and_resize only.
// Nearest works on any dtype; linear and cubic on float32/float64.
struct Resize : OpBase<Resize> {
  static constexpr const char* kType = "Resize";
  ResizeMode mode = ResizeMode::Nearest;
  ResizeCoord coord = ResizeCoord::HalfPixel;
  ResizeNearest nearest = ResizeNearest::RoundPreferFloor;
  float cubic_coeff_a = -0.75f;
  bool exclude_outside = false;
  float extrapolation_value = 0.f;
  bool antialias = false;  // opset 18: linear/cubic downscaling widens the filter by 1 / scale
  std::vector<float> scales;
  std::vector<int64_t> sizes;
  std::vector<float> roi;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;

  // A copy whose roi/scales/sizes attributes hold the values of inputs 1-3 (each a view whose
  // data is set, or absent); false when an input is present but its value is not available.
  bool resolved(const std::vector<const TensorView*>& params, Resize& out) const;
  // Output shape for an input shape of the right rank, on a resolved op (validated by infer()).
  Dims output_shape(const Dims& in) const;
  // The per-axis tap tables for a static input and its output shape, on a resolved op.
  std::vector<ResizeAxis> axis_tables(const Dims& in, const Dims& out) const;
};

}  // namespace kiln::ops
