// Selection ops whose output length depends on the data: NonMaxSuppression and Unique. Like
// NonZero (select_ops.h), their infer() gives the value-dependent dims as -1 unless every input
// that decides them is known; the runtime then infers them per run from the actual values.
#pragma once

#include "ops/op.h"

namespace kiln::ops {

// Inputs boxes float32 [B, N, 4], scores float32 [B, C, N], and the optional one-element
// max_output_boxes_per_class (int64; absent or <= 0 selects nothing), iou_threshold (float32,
// default 0) and score_threshold (float32; absent keeps every score). Output int64 [K, 3] of
// (batch, class, box) triples, as ONNX Runtime orders them: by batch, then class, then greedy
// selection order (descending score, ties to the lower box index). A box is dropped when its
// score is not above score_threshold or its IoU with an already selected box of the same class
// exceeds iou_threshold. Boxes are [y1, x1, y2, x2] (any corner order) or, with
// center_point_box, [x_center, y_center, width, height].
struct NonMaxSuppression : OpBase<NonMaxSuppression> {
  static constexpr const char* kType = "NonMaxSuppression";
  int64_t center_point_box = 0;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Unique slices of X along `axis` (has_axis = 0: unique elements of the flattened X).
// Outputs, any trailing ones optional: Y (X's dtype; the axis, or the flat length, becomes the
// unique count U), indices int64 [U] (first occurrence of each unique slice), inverse_indices
// int64 [len] (for every slice, the position of its value in Y) and counts int64 [U]. sorted = 1
// orders Y ascending (lexicographically for slices, NaN last), sorted = 0 by first occurrence.
struct Unique : OpBase<Unique> {
  static constexpr const char* kType = "Unique";
  int64_t axis = 0;
  int64_t has_axis = 0;
  int64_t sorted = 1;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
