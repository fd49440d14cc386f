// AVX-512 row of kernels/nn/layernorm_quant.cpp: built with the AVX-512 flags and called only when
// simd::kernels() found AVX-512. Intrinsics over raw pointers only (see simd.h); tails run under
// masks, so no scalar loop and no read past a row. Same arithmetic as the AVX2 row: float sums (here
// sixteen lanes, four accumulators), y = fma((x - mean) * inv, gamma, beta), q = saturate(
// round_half_even(y * rscale) + zp) with NaN to the zero point.
#include <immintrin.h>

#include <cstdint>

#include "kernels/simd/q8_avx512.h"

namespace kiln::simd {

void layernorm_q8_row_avx512(const float* x, int64_t n, const float* gamma, const float* beta, float eps,
                             float rscale, int32_t zp, int is_signed, float* y, void* q) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 a0 = zero, a1 = zero, a2 = zero, a3 = zero;
  int64_t c = 0;
  for (; c + 64 <= n; c += 64) {
    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + c));
    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + c + 16));
    a2 = _mm512_add_ps(a2, _mm512_loadu_ps(x + c + 32));
    a3 = _mm512_add_ps(a3, _mm512_loadu_ps(x + c + 48));
  }
  for (; c < n; c += 16) {
    const __mmask16 m = lanes_avx512(n - c);
    a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(m, x + c));
  }
  const float mean = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))) /
                     static_cast<float>(n);
  const __m512 vm = _mm512_set1_ps(mean);
  a0 = a1 = a2 = a3 = zero;
  c = 0;
  for (; c + 64 <= n; c += 64) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + c), vm), d1 = _mm512_sub_ps(_mm512_loadu_ps(x + c + 16), vm);
    const __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(x + c + 32), vm), d3 = _mm512_sub_ps(_mm512_loadu_ps(x + c + 48), vm);
    a0 = _mm512_fmadd_ps(d0, d0, a0);
    a1 = _mm512_fmadd_ps(d1, d1, a1);
    a2 = _mm512_fmadd_ps(d2, d2, a2);
    a3 = _mm512_fmadd_ps(d3, d3, a3);
  }
  for (; c < n; c += 16) {
    const __mmask16 m = lanes_avx512(n - c);
    const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + c), vm);
    a0 = _mm512_fmadd_ps(d, d, a0);
  }
  const float var = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))) /
                    static_cast<float>(n);
  const float inv = 1.f / _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(var + eps)));
  const __m512 vi = _mm512_set1_ps(inv), rs = _mm512_set1_ps(rscale);
  const Q8Avx512 q8 = q8_params_avx512(zp, is_signed);
  auto* qb = static_cast<int8_t*>(q);
  for (c = 0; c < n; c += 16) {
    const __mmask16 m = lanes_avx512(n - c);
    const __m512 t = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + c), vm), vi);
    const __m512 v = _mm512_fmadd_ps(t, _mm512_maskz_loadu_ps(m, gamma + c), _mm512_maskz_loadu_ps(m, beta + c));
    if (y) _mm512_mask_storeu_ps(y + c, m, v);
    store_q8_avx512(_mm512_mul_ps(v, rs), q8, m, qb + c);
  }
}

}  // namespace kiln::simd
