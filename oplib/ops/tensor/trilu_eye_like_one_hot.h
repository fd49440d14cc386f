// Matrix masks, generators and index ops beyond the shape family: Trilu, EyeLike, OneHot
// (tensor2_ops.cpp) and GatherND, ScatterElements, ScatterND (scatter_ops.cpp). Einsum lives in
// einsum.h. Every reference kernel works for every dtype where ONNX allows it, moving elements
// as bytes where no arithmetic is needed.
#pragma once

#include <cstdint>
#include <string>

#include "ops/op.h"

namespace kiln::ops {

// Inputs: x (rank >= 2, any dtype), [k (int64 scalar) when not a compile-time constant].
// Keeps the elements of each trailing matrix with j - i >= k (upper) or j - i <= k (lower);
// the rest become 0.
struct Trilu : OpBase<Trilu> {
  static constexpr const char* kType = "Trilu";
  bool upper = true;
  int64_t k = 0;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Input: x (rank 2; only its shape is read). Output: `dtype` zeros with ones on the diagonal
// j - i = k.
struct EyeLike : OpBase<EyeLike> {
  static constexpr const char* kType = "EyeLike";
  int64_t k = 0;
  int64_t dtype = static_cast<int64_t>(DType::Float32);
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs: indices (any real type), [depth (scalar) when not a compile-time constant], values
// ([off, on], any dtype). Output: values' dtype, indices' shape with depth inserted at axis.
// Negative indices count from depth; indices outside [-depth, depth) give an all-off row.
struct OneHot : OpBase<OneHot> {
  static constexpr const char* kType = "OneHot";
  int64_t axis = -1;
  int64_t depth = 0;  // used when the depth input is absent
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs: data (rank r >= 1), indices (int64, rank q >= 1, last dim m <= r - batch_dims).
// Output: indices.shape[:-1] + data.shape[batch_dims + m:], each row the data slice that
// indices[..., :] addresses (negative indices count from the end) within its batch.
struct GatherND : OpBase<GatherND> {
  static constexpr const char* kType = "GatherND";
  int64_t batch_dims = 0;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// How a scatter combines an update with the element already there.
enum class ScatterReduce : int64_t { None = 0, Add = 1, Mul = 2, Max = 3, Min = 4 };  // max/min: opset 18

// Inputs: data, indices (int32/int64, data's rank), updates (indices' shape, data's dtype).
// out = data, then out[i with i[axis] = indices[i]] (reduce)= updates[i] for every i of indices.
// With reduction none and duplicate indices, the last update wins.
struct ScatterElements : OpBase<ScatterElements> {
  static constexpr const char* kType = "ScatterElements";
  int64_t axis = 0;
  ScatterReduce reduction = ScatterReduce::None;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs: data (rank r), indices (int64, rank q, last dim m <= r), updates
// (indices.shape[:-1] + data.shape[m:]). out = data, then each slice out[indices[j]] (reduce)=
// updates[j], in index order.
struct ScatterND : OpBase<ScatterND> {
  static constexpr const char* kType = "ScatterND";
  ScatterReduce reduction = ScatterReduce::None;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Shared by the scatter ops: checks `reduction` works on dtype t.
void check_scatter_reduction(ScatterReduce r, DType t, const char* op);

}  // namespace kiln::ops
