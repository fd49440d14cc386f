// LayerNormalization (ONNX opset 17): normalisation over the trailing axes [axis, rank) of X,
// with the optional Mean and InvStdDev outputs that training graphs export.
#pragma once

#include "ops/op.h"

namespace kiln::ops {

// Inputs: X (float32/float64), Scale, [B], both broadcastable to X.shape[axis:] and of X's dtype.
// Outputs: Y (X's type), [Mean], [InvStdDev] (float32, X.shape[:axis] followed by 1s), as many
// as the node declares. Statistics are computed in double whatever stash_type asks for (only
// stash_type = 1, float32 statistics, is accepted), so results are at least as precise as
// ONNX's float computation.
//
// quantized_copy = 1 (kiln's, set by assign-int8; no ONNX attribute): one more output after those,
// Y again, which the plan stores quantized (QUInt8/QInt8) for int8 readers while Y stays float for
// the others (BERT's residual Add). Writing both from one pass saves a quantizing Reorder that
// would read Y back from memory. An older runtime rejects such a plan at load: the extra output's
// stored shape is not that of InvStdDev/Mean it would infer.
struct LayerNormalization : OpBase<LayerNormalization> {
  static constexpr const char* kType = "LayerNormalization";
  int64_t axis = -1;
  float epsilon = 1e-5f;
  int64_t stash_type = 1;
  int64_t quantized_copy = 0;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;

  // The normalised axis in [0, rank) for an input of this rank (infer() has validated it).
  int64_t axis_for(size_t rank) const { return axis < 0 ? axis + static_cast<int64_t>(rank) : axis; }
};

}  // namespace kiln::ops
