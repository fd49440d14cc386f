// AVX-512 GeluQ8Fn (simd.h): GELU by table interpolation, then quantized, sixteen floats at a time.
// Intrinsics over raw pointers only (see simd.h); the tail runs under a mask. The segment's four
// coefficients come from two-register permutes (32 entries each), so a value costs about twenty
// instructions against oneDNN's erf post-op, which evaluates exp and a polynomial per value.
#include <immintrin.h>

#include <cstdint>

#include "kernels/simd/q8_avx512.h"

namespace kiln::simd {

void gelu_q8_avx512(const float* x, int64_t n, const float* table, float rscale, int32_t zp, int is_signed,
                    void* q) {
  const __m512 c0a = _mm512_loadu_ps(table), c0b = _mm512_loadu_ps(table + 16);
  const __m512 c1a = _mm512_loadu_ps(table + 32), c1b = _mm512_loadu_ps(table + 48);
  const __m512 c2a = _mm512_loadu_ps(table + 64), c2b = _mm512_loadu_ps(table + 80);
  const __m512 c3a = _mm512_loadu_ps(table + 96), c3b = _mm512_loadu_ps(table + 112);
  const __m512 four = _mm512_set1_ps(4.f), top = _mm512_set1_ps(31.999998f);
  const __m512 zero = _mm512_setzero_ps(), sixteen = _mm512_set1_ps(16.f);
  const __m512 rs = _mm512_set1_ps(rscale);
  const Q8Avx512 q8 = q8_params_avx512(zp, is_signed);
  auto* qb = static_cast<int8_t*>(q);
  for (int64_t c = 0; c < n; c += 16) {
    const __mmask16 m = lanes_avx512(n - c);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + c);
    // Segment coordinate t = 4x + 16 clamped to [0, 32), its integer part by truncation (t >= 0).
    // Below -4, t = 0 gives the table's gelu(-4) = -1.3e-4 for gelu(x) in (-1.3e-4, 0). max
    // returns its second operand when the first is NaN, so a NaN reads segment 0 (and is put
    // back below).
    const __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_fmadd_ps(v, four, sixteen), zero), top);
    const __m512i i = _mm512_cvttps_epi32(t);
    const __m512 f = _mm512_sub_ps(t, _mm512_cvtepi32_ps(i));
    __m512 y = _mm512_permutex2var_ps(c3a, i, c3b);
    y = _mm512_fmadd_ps(y, f, _mm512_permutex2var_ps(c2a, i, c2b));
    y = _mm512_fmadd_ps(y, f, _mm512_permutex2var_ps(c1a, i, c1b));
    y = _mm512_fmadd_ps(y, f, _mm512_permutex2var_ps(c0a, i, c0b));
    // gelu(x) = x from 4 on; a NaN stays NaN (unordered), which the store makes the zero point.
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(v, four, _CMP_NLT_UQ), v);
    store_q8_avx512(_mm512_mul_ps(y, rs), q8, m, qb + c);
  }
}

}  // namespace kiln::simd
