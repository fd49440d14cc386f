// Index ops beyond Gather/GatherElements: GatherND, ScatterElements, ScatterND. Every reference
// kernel works for every dtype, moving elements as bytes where no arithmetic is needed.
#pragma once

#include <cstdint>

#include "ops/op.h"

namespace kiln::ops {

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
