// Ops that scan along one axis: CumSum and TopK. (ArgMax/ArgMin: reduction/arg_min_max.h.)
#pragma once

#include "ops/op.h"

namespace kiln::ops {

// Running sums along an axis: y[i] = x[0] + ... + x[i] (exclusive: up to x[i-1]; reverse: from
// the end). The axis is the attribute, unless input 1 is present: then it is read from that
// scalar or 1-element int32/int64 tensor at run time (the output shape does not depend on it).
// Types: float32/float64, int32/int64, uint32/uint64.
struct CumSum : OpBase<CumSum> {
  static constexpr const char* kType = "CumSum";
  int64_t axis = 0;
  bool exclusive = false;
  bool reverse = false;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// The k largest (or smallest) elements along `axis` and their int64 indices, sorted with the
// extreme first; equal values keep index order (lower index first), NaN counts as larger than
// every number. `sorted` = false allows any order; this op still sorts. k is the attribute,
// unless input 1 (int64, one element) is present: then k is known at run time only, and so is
// the output's size along the axis. 0 <= k <= the axis's size. Any numeric type.
struct TopK : OpBase<TopK> {
  static constexpr const char* kType = "TopK";
  int64_t k = 1;
  int64_t axis = -1;
  bool largest = true;
  bool sorted = true;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
