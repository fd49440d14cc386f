// Reductions: one Reduce op for the ten ONNX Reduce* ops (the kind says which), reducing a set
// of axes to one value each. Also the numeric-dtype dispatch that the reduction, ArgMax/ArgMin
// (reduction/arg_min_max.h), CumSum and TopK (math/cumsum_top_k.h) share.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

enum class ReduceKind : int64_t {
  Sum = 1, Mean = 2, Max = 3, Min = 4, Prod = 5,
  L1 = 6, L2 = 7, LogSum = 8, LogSumExp = 9, SumSquare = 10,
};
const char* reduce_name(ReduceKind k);  // the ONNX op name: "ReduceSum", ...

// y = reduce(x) over `axes` (negative counts from the back; empty = every axis). keepdims keeps
// each reduced axis as a 1, else it is dropped (reducing every axis gives a rank-0 tensor).
// ONNX's noop_with_empty_axes is the importer's business: it turns that case into an Identity.
// ReduceSum-13 axes known only at run time come as input 1 (int64, 1-D of known non-zero
// length) and replace `axes`; the output dims are then known only at run time too.
// Types: float32/float64 and 32/64-bit integers for every kind; Max/Min take any numeric type.
// Floats accumulate in double. Integer Mean divides with truncation; integer L2/LogSum/
// LogSumExp compute in double and truncate. Over an empty set (a reduced dim of 0): Sum, L1,
// L2, SumSquare give 0, Prod 1, Mean NaN (0 for integers), LogSum and LogSumExp -inf, Max the
// type's lowest value (-inf for floats), Min its highest (+inf).
struct Reduce : OpBase<Reduce> {
  static constexpr const char* kType = "Reduce";
  ReduceKind kind = ReduceKind::Sum;
  std::vector<int64_t> axes;
  bool keepdims = true;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;

  // Which of the rank dims are reduced by `axes` (which infer has checked for this rank).
  std::vector<bool> reduced_mask(size_t rank) const { return reduced_mask(rank, axes); }
  static std::vector<bool> reduced_mask(size_t rank, const std::vector<int64_t>& axes);
};

// Calls f(T{}) with a value of the C++ type of a numeric dtype; false if the dtype has none
// here (bool, float16, bfloat16).
template <class F>
bool dispatch_numeric(DType t, F&& f) {
  switch (t) {
    case DType::Float32: f(float{}); return true;
    case DType::Float64: f(double{}); return true;
    case DType::Int8: f(int8_t{}); return true;
    case DType::Int16: f(int16_t{}); return true;
    case DType::Int32: f(int32_t{}); return true;
    case DType::Int64: f(int64_t{}); return true;
    case DType::UInt8: f(uint8_t{}); return true;
    case DType::UInt16: f(uint16_t{}); return true;
    case DType::UInt32: f(uint32_t{}); return true;
    case DType::UInt64: f(uint64_t{}); return true;
    default: return false;
  }
}

// `axis` in [-rank, rank) normalised to [0, rank); throws naming `op` and `what` otherwise.
int64_t normalize_axis(int64_t axis, int64_t rank, const char* op, const char* what = "axis");

}  // namespace kiln::ops
