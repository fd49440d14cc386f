// Convolution family: Conv and ConvTranspose (1-D, 2-D, 3-D, grouped, dilated), with fused
// bias and post-ops.
#pragma once

#include "ops/activation.h"
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
};

// Inputs: X [N, C, D...], W [C, M/group, K...], optional B [M]. output_padding and pads are
// explicit; output_shape from the model is resolved into pads by the importer.
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

}  // namespace kiln::ops
