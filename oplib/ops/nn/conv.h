// Convolution family: Conv and ConvTranspose (1-D, 2-D, 3-D, grouped, dilated), with fused
// bias and post-ops, plus the sliding-window geometry they share with the pooling ops.
#pragma once

#include "ops/math/activation.h"
#include "ops/op.h"

namespace kiln::ops {

// Inputs: X [N, C, D...], W [M, C/group, K...], optional B [M], then one extra input per Sum
// post-op (same shape as Y). pads are explicit [begin..., end...]: the importer resolves
// auto_pad, so kernels never see it.
struct Conv : OpBase<Conv> {
  static constexpr const char* kType = "Conv";
  std::vector<int64_t> strides;    // empty = all 1
  std::vector<int64_t> dilations;  // empty = all 1
  std::vector<int64_t> pads;       // empty = all 0; else 2 * spatial rank
  int64_t group = 1;
  PostOps post;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
  bool foldable() const override { return false; }
  int inplace_input() const override { return post.sum_count() == 1 ? 3 : -1; }
  bool inplace_any_8bit() const override { return post.sum_count() == 1; }
};

// Inputs: X [N, C, D...], W [C, M/group, K...], optional B [M], then one extra input per Sum
// post-op (same shape as Y). output_padding and pads are explicit; output_shape from the model
// is resolved into pads and output_padding by the importer.
// Y spatial size = stride * (in - 1) + output_padding + (K - 1) * dilation + 1 - pad_begin - pad_end.
struct ConvTranspose : OpBase<ConvTranspose> {
  static constexpr const char* kType = "ConvTranspose";
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads;
  std::vector<int64_t> output_padding;
  int64_t group = 1;
  PostOps post;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
  bool foldable() const override { return false; }
};

// Sliding-window geometry with every attribute expanded to its full per-dimension form.
// Conv, ConvTranspose, the pools, their importers and kernels all read windows through this,
// so the "empty list means default" rule lives in one place.
struct Window {
  std::vector<int64_t> kernel, strides, dilations, pad_begin, pad_end;
  size_t rank() const { return kernel.size(); }
  // (K - 1) * dilation + 1: the input extent one output element reads.
  int64_t extent(size_t i) const { return (kernel[i] - 1) * dilations[i] + 1; }
};

// Validates and expands the attribute lists for `rank` spatial dims (sizes, ranges: strides and
// dilations >= 1, pads >= 0, all bounded so index arithmetic cannot overflow); kernel may hold
// -1 for dims unknown at compile time. `what` names the op in messages.
Window make_window(const std::string& what, std::vector<int64_t> kernel, const std::vector<int64_t>& strides,
                   const std::vector<int64_t>& dilations, const std::vector<int64_t>& pads);

// Output length of one spatial dim of a convolution or pool, or -1 if `in` is unknown. Fails
// when the (padded) input is smaller than the window. ceil_mode follows ONNX Runtime and
// PyTorch: round up, but drop a last window that would start inside the end padding.
int64_t window_output_dim(const Window& w, size_t i, int64_t in, bool ceil_mode, const std::string& what);

// The [begin..., end...] pads of ONNX auto_pad SAME_UPPER (upper = true) or SAME_LOWER for a
// static input: the output is ceil(in / stride), the odd pad element goes to the end (upper)
// or the beginning (lower).
std::vector<int64_t> same_pads(const Window& w, const Dims& in_spatial, bool upper);

// Explicit [begin..., end...] pads for ONNX's auto_pad: NOTSET (or "") keeps `pads`, VALID means
// none, SAME_UPPER / SAME_LOWER are computed from the input's spatial dims, which must be static.
// Throws kiln::Error for an unknown auto_pad value or unknown dims.
std::vector<int64_t> resolve_auto_pad(const std::string& auto_pad, const Window& w, const Dims& in_spatial,
                                      const std::vector<int64_t>& pads);

}  // namespace kiln::ops
