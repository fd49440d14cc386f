// NonMaxSuppression, whose output length depends on the data. Like NonZero and Unique
// (tensor/nonzero_compress.h, tensor/unique.h), its infer() gives the value-dependent dims as -1
// unless every input that decides them is known; the runtime then infers them per run from the
// actual values.
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

}  // namespace kiln::ops
