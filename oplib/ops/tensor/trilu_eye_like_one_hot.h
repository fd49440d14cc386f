// Matrix masks, the identity and one-hot encodings: Trilu, EyeLike, OneHot. Every reference
// kernel works for every dtype where ONNX allows it, moving elements as bytes where no arithmetic
// is needed.
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

}  // namespace kiln::ops
