// GridSample (ONNX opset 16, PyTorch's grid_sample): samples a 4-D image at the normalised
// (x, y) locations of a flow-field grid with bilinear, nearest or bicubic interpolation and
// zeros, border or reflection padding.
#pragma once

#include "ops/op.h"

namespace kiln::ops {

enum class GridSampleMode : int64_t { Bilinear = 0, Nearest = 1, Bicubic = 2 };
enum class GridSamplePadding : int64_t { Zeros = 0, Border = 1, Reflection = 2 };

// Inputs: X [N, C, H, W], grid [N, H_out, W_out, 2] with grid[..., 0] = x (along W) and
// grid[..., 1] = y (along H), both in [-1, 1] for the image's extent. Output: [N, C, H_out, W_out]
// of X's dtype. align_corners: -1 and 1 name the centres of the corner pixels rather than their
// outer edges. Nearest rounds half to even; bicubic uses A = -0.75 and pads each of its 16 taps.
struct GridSample : OpBase<GridSample> {
  static constexpr const char* kType = "GridSample";
  GridSampleMode mode = GridSampleMode::Bilinear;
  GridSamplePadding padding = GridSamplePadding::Zeros;
  bool align_corners = false;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
