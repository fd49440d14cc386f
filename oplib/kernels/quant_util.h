// What the fast kernels of ONNX's quantization ops (quant.cpp, quant_eltwise.cpp) share: reading
// zero points and scales of any of their dtypes from constants or bound buffers, and ONNX's
// quantization rounding (half to even, saturate, NaN to the zero point) exactly as the reference
// kernels in ops/quantization/quant.cpp round, in a scalar and an AVX2 form (chosen at run time), so the
// fast kernels agree with the reference bit for bit. Also what the in-house kernels writing int8
// (LayerNorm, Softmax, the int8 MatMul's GELU) check their tensors with, and GELU's table maths.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/kernel.h"

namespace kiln::qk {

// Element i of a uint8 / int8 / int32 tensor.
inline int32_t int_at(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::UInt8: return static_cast<const uint8_t*>(p)[i];
    case DType::Int8: return static_cast<const int8_t*>(p)[i];
    default: return static_cast<const int32_t*>(p)[i];
  }
}

inline float f32_at(const void* p, int64_t i) { return static_cast<const float*>(p)[i]; }

// One input of a layer: its constant data, or else the buffer bound at run time.
inline const void* input_ptr(const KernelTensor& t, const KernelBinding& b, size_t i) {
  return t.const_data ? t.const_data : (i < b.in.size() ? b.in[i] : nullptr);
}

// A row-major tensor of type `want` with a static shape.
inline bool dense_static(const KernelTensor& t, DType want) {
  return t.dtype == want && t.layout.empty() && shape_static(t.shape);
}

// A dense, static 8-bit output with one usable scale (finite, positive, invertible) and a zero
// point in its type's range: what the in-house kernels that write int8 through 1 / scale take.
inline bool quantized_out(const KernelTensor& t) {
  if (!dtype_quantized(t.dtype) || !t.layout.empty() || !shape_static(t.shape) || t.quant.scale.size() != 1)
    return false;
  const float s = t.quant.scale[0];
  const int32_t z = t.quant.zero_point;
  const bool u = t.dtype == DType::QUInt8;
  return std::isfinite(s) && s > 0.f && std::isfinite(1.f / s) && z >= (u ? 0 : -128) && z <= (u ? 255 : 127);
}

// GELU, erf form, in double: what the int8 GELU forms' tables are built from.
inline double gelu_erf(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }

// The pre-activations GELU's table form (kernels/math/gemm.cpp) quantizes, for an output of step
// `scale` whose largest value is `top` (> 0): below `lo` the output is exactly the zero point
// (|gelu| < 0.45 step: left of -0.75 GELU rises monotonically to 0 as x falls; lo >= -4, where
// |gelu| = 1.3e-4, for steps too fine), and from `hi` on it saturates (gelu(hi) = top + 0.45 step,
// above `top` itself since gelu(x) < x). Found by bisection on GELU's monotonic branches.
struct GeluRange {
  double lo, hi;
};
inline GeluRange gelu_table_range(double scale, double top) {
  auto magnitude = [](double x) { return std::fabs(gelu_erf(x)); };
  // The x in [a, b] where f, rising there, reaches `target` (f(a) < target <= f(b)).
  auto reach = [](auto f, double a, double b, double target) {
    for (int i = 0; i < 60; ++i) {
      const double m = (a + b) / 2;
      (f(m) < target ? a : b) = m;
    }
    return a;
  };
  const double quiet = 0.45 * scale, full = top + 0.45 * scale;
  return {magnitude(-4.0) < quiet ? reach(magnitude, -4.0, -0.7518, quiet) : -4.0,
          reach(gelu_erf, 0.0, 2 * full + 1, full)};  // gelu(x) >= x / 2 for x >= 0
}

// saturate(round_half_even(v) + zp) for an 8-bit type. In float: |v| < 2^24 adds exactly, and
// anything larger saturates either way, so this equals the reference's double arithmetic.
template <class T>
inline T quantize_one(float v, int32_t zp) {
  constexpr float lo = std::is_signed_v<T> ? -128.f : 0.f, hi = std::is_signed_v<T> ? 127.f : 255.f;
  if (std::isnan(v)) v = 0.f;
  return static_cast<T>(std::clamp(std::nearbyint(v) + static_cast<float>(zp), lo, hi));
}

// y[i] = quantize(x[i] / s, zp) for n elements (a division, not a multiplication by 1/s: that
// is what the reference computes, and the two differ in the last bit).
void quantize_div(const float* x, int64_t n, float s, int32_t zp, DType out, void* y);

// DynamicQuantizeLinear of n floats, threaded: uint8 y over [min(0, min x), max(0, max x)], its
// scale and zero point (scale 0 and y all 0 when x is all 0), bit-exact with the reference.
void dynamic_quantize_u8(const float* x, int64_t n, uint8_t* y, float& scale, int32_t& zp);

// Per-row symmetric int8 of a [rows, cols] float matrix, threaded over rows: scales[r] =
// max |x| of row r / 127 (1 for an all-zero row) and y = saturate(round_half_even(x / scales[r])).
// For --int8DynamicScales=row, where each token gets its own range.
void dynamic_quantize_rows_s8(const float* x, int64_t rows, int64_t cols, int8_t* y, float* scales);

}  // namespace kiln::qk
