// AVX-512 SoftmaxRowFn (simd.h): one row of softmax(x + mask), written as floats or quantized,
// sixteen values at a time with the tail under a mask. Three passes over the row (the maximum,
// the exponentials and their sum, the scaling), all in L1 for attention's rows. Intrinsics over
// raw pointers only (see simd.h).
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/simd/q8_avx512.h"
#include "kernels/simd/simd.h"

namespace kiln::simd {
namespace {

// exp(x) for x <= 0 as 2^n * 2^f, n = round(x log2 e), f in [-1/2, 1/2]: 2^f by its Taylor
// polynomial of degree 6 (relative error below 2e-7), 2^n by scalef. Below -64 (e^-64 = 1.6e-28)
// the result is exactly 0: no denormal is ever made, which Intel cores handle in microcode
// assists (a softmax over HF BERT's masked keys, x + finfo.min, took 16x as long on the AMX
// machine before this). max(c, x) keeps a NaN x (its second operand), so NaN stays NaN.
static inline __m512 exp_le0_avx512(__m512 x) {
  const __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kSoftmaxExpFloor), _CMP_LT_OQ);
  x = _mm512_max_ps(_mm512_set1_ps(kSoftmaxExpFloor), x);
  const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504089f));
  const __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(t, n);
  __m512 p = _mm512_set1_ps(1.5403530e-4f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504109e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022651e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f));
  return _mm512_mask_mov_ps(_mm512_scalef_ps(p, n), tiny, _mm512_setzero_ps());
}

static inline __m512 load_sum_avx512(const float* x, const float* mask, int64_t c, __mmask16 m) {
  const __m512 v = _mm512_maskz_loadu_ps(m, x + c);
  return mask ? _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, mask + c)) : v;
}

}  // namespace

void softmax_row_avx512(const float* x, const float* mask, int64_t n, float* y, float rscale, int32_t zp,
                        int is_signed, void* q) {
  // The maximum; masked-off lanes keep -inf. A NaN anywhere turns the sum below into NaN.
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int64_t c = 0; c < n; c += 16) {
    const __mmask16 m = lanes_avx512(n - c);
    mx = _mm512_mask_max_ps(mx, m, mx, load_sum_avx512(x, mask, c, m));
  }
  const __m512 vmx = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t c = 0; c < n; c += 16) {
    const __mmask16 m = lanes_avx512(n - c);
    const __m512 e = _mm512_maskz_mov_ps(m, exp_le0_avx512(_mm512_sub_ps(load_sum_avx512(x, mask, c, m), vmx)));
    sum = _mm512_add_ps(sum, e);
    _mm512_mask_storeu_ps(y + c, m, e);
  }
  const float total = _mm512_reduce_add_ps(sum);
  if (!q) {
    const __m512 s = _mm512_set1_ps(1.f / total);
    for (int64_t c = 0; c < n; c += 16) {
      const __mmask16 m = lanes_avx512(n - c);
      _mm512_mask_storeu_ps(y + c, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + c), s));
    }
    return;
  }
  const __m512 s = _mm512_set1_ps(rscale / total);
  const Q8Avx512 q8 = q8_params_avx512(zp, is_signed);
  auto* qb = static_cast<int8_t*>(q);
  for (int64_t c = 0; c < n; c += 16) {
    const __mmask16 m = lanes_avx512(n - c);
    store_q8_avx512(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + c), s), q8, m, qb + c);
  }
}

}  // namespace kiln::simd
