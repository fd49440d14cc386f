#include "kernels/simd/simd.h"

#include <array>
#include <cmath>

#include <oneapi/dnnl/dnnl.hpp>

namespace kiln::simd {

void axpy_avx512(float* dst, const float* row, float a, int64_t n);  // simd_avx512.cpp
void layernorm_q8_row_avx512(const float* x, int64_t n, const float* gamma, const float* beta, float eps,
                             float rscale, int32_t zp, int is_signed, float* y, void* q);  // layernorm_avx512.cpp
void gelu_q8_avx512(const float* x, int64_t n, const float* table, float rscale, int32_t zp, int is_signed,
                    void* q);  // gelu_avx512.cpp
void softmax_row_avx512(const float* x, const float* mask, int64_t n, float* y, float rscale, int32_t zp,
                        int is_signed, void* q);  // softmax_avx512.cpp
void lut_u8_avx512(const uint8_t* in, int64_t n, const uint8_t* lut, uint8_t* out);  // lut_avx512.cpp

namespace {

void axpy_baseline(float* dst, const float* row, float a, int64_t n) {
  for (int64_t k = 0; k < n; ++k) dst[k] += a * row[k];
}

bool avx512_allowed() {
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512dq"))
    return false;
  using I = dnnl::cpu_isa;
  switch (dnnl::get_effective_cpu_isa()) {  // every oneDNN level from avx512_core up
    case I::avx512_core: case I::avx512_core_vnni: case I::avx512_core_bf16: case I::avx512_core_amx:
      return true;
    default:
      return false;
  }
}

}  // namespace

const Kernels& kernels() {
  static const Kernels k =
      avx512_allowed() ? Kernels{"avx512", axpy_avx512, layernorm_q8_row_avx512, gelu_q8_avx512, softmax_row_avx512,
                                 __builtin_cpu_supports("avx512vbmi") ? lut_u8_avx512 : nullptr}
                       : Kernels{"baseline", axpy_baseline, nullptr, nullptr, nullptr, nullptr};
  return k;
}

const float* gelu_table() {
  // Hermite interpolation of gelu(x) = x * Phi(x) from its values and slopes (Phi + x * phi) at the
  // segment ends; its error is below h^4 / 384 * max|gelu''''| = 1.6e-5 for h = 1/4.
  static const auto table = [] {
    std::array<float, 128> t{};
    constexpr double h = 0.25;
    auto phi = [](double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI); };
    auto cdf = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
    for (int i = 0; i < 32; ++i) {
      const double a = -4 + h * i, b = a + h;
      const double y0 = a * cdf(a), y1 = b * cdf(b), d0 = h * (cdf(a) + a * phi(a)), d1 = h * (cdf(b) + b * phi(b));
      t[i] = static_cast<float>(y0);
      t[32 + i] = static_cast<float>(d0);
      t[64 + i] = static_cast<float>(-3 * y0 - 2 * d0 + 3 * y1 - d1);
      t[96 + i] = static_cast<float>(2 * y0 + d0 - 2 * y1 + d1);
    }
    return t;
  }();
  return table.data();
}

}  // namespace kiln::simd
