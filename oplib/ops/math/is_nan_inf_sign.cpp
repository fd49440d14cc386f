// IsNaN, IsInf and Sign: shape inference and reference kernels.
#include "ops/math/is_nan_inf_sign.h"

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace kiln::ops {

namespace {

void infer_float_class(InferContext& ctx, const char* op) {
  check(ctx.num_inputs() == 1 && ctx.num_outputs() == 1, std::string(op) + " takes one input and one output");
  const TensorType& x = ctx.input(0);
  check(x.dtype == DType::Float32 || x.dtype == DType::Float64,
        std::string(op) + " takes float32 or float64, got " + dtype_name(x.dtype));
  ctx.set_output(0, DType::Bool, x.shape);
}

template <class T, class F>
void classify(const KernelArgs& a, F f) {
  const T* x = a.in[0].as<const T>();
  uint8_t* y = a.out[0].as<uint8_t>();
  for (int64_t i = 0, n = a.in[0].elements(); i < n; ++i) y[i] = f(x[i]) ? 1 : 0;
}

template <class F>
void classify_any(const KernelArgs& a, F f) {
  if (a.in[0].dtype == DType::Float64)
    classify<double>(a, f);
  else
    classify<float>(a, f);
}

template <class T>
void sign(const KernelArgs& a) {
  const T* x = a.in[0].as<const T>();
  T* y = a.out[0].as<T>();
  for (int64_t i = 0, n = a.in[0].elements(); i < n; ++i) {
    const T v = x[i];
    if constexpr (std::is_floating_point_v<T>)
      y[i] = v > 0 ? T(1) : v < 0 ? T(-1) : (v == 0 ? T(0) : v);
    else
      y[i] = v > 0 ? T(1) : (std::is_signed_v<T> && v < 0) ? static_cast<T>(-1) : T(0);
  }
}

}  // namespace

void IsNaN::infer(InferContext& ctx) const { infer_float_class(ctx, "IsNaN"); }

void IsNaN::reference(const KernelArgs& a) const {
  classify_any(a, [](auto v) { return std::isnan(v); });
}

void IsInf::attrs(AttrVisitor& v) {
  visit_bool(v, "detect_positive", detect_positive);
  visit_bool(v, "detect_negative", detect_negative);
}

void IsInf::infer(InferContext& ctx) const { infer_float_class(ctx, "IsInf"); }

void IsInf::reference(const KernelArgs& a) const {
  const bool pos = detect_positive, neg = detect_negative;
  classify_any(a, [pos, neg](auto v) { return std::isinf(v) && (v > 0 ? pos : neg); });
}

void Sign::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 1 && ctx.num_outputs() == 1, "Sign takes one input and one output");
  const TensorType& x = ctx.input(0);
  check(dtype_numeric(x.dtype), std::string("Sign does not support ") + dtype_name(x.dtype));
  ctx.set_output(0, x.dtype, x.shape);
}

void Sign::reference(const KernelArgs& a) const {
  switch (a.in[0].dtype) {
    case DType::Float32: return sign<float>(a);
    case DType::Float64: return sign<double>(a);
    case DType::Int8: return sign<int8_t>(a);
    case DType::Int16: return sign<int16_t>(a);
    case DType::Int32: return sign<int32_t>(a);
    case DType::Int64: return sign<int64_t>(a);
    case DType::UInt8: return sign<uint8_t>(a);
    case DType::UInt16: return sign<uint16_t>(a);
    case DType::UInt32: return sign<uint32_t>(a);
    case DType::UInt64: return sign<uint64_t>(a);
    default: fail(std::string("Sign does not support ") + dtype_name(a.in[0].dtype));
  }
}

KILN_REGISTER_OP(IsNaN);
KILN_REGISTER_OP(IsInf);
KILN_REGISTER_OP(Sign);

}  // namespace kiln::ops
