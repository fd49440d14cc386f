// AVX-512 builds of simd.h's loops: compiled with -mavx512{f,bw,vl,dq} (runtime/CMakeLists.txt) and
// called only when simd::kernels() found AVX-512. Intrinsics over raw pointers only (see simd.h):
// they stay AVX-512 code at every optimisation level and under the sanitizers, so
// runtime.baseline_isa_only always finds this kernel.
#include <immintrin.h>

#include <cstdint>

namespace kiln::simd {

void axpy_avx512(float* dst, const float* row, float a, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t k = 0;
  for (; k + 16 <= n; k += 16)
    _mm512_storeu_ps(dst + k, _mm512_add_ps(_mm512_loadu_ps(dst + k), _mm512_mul_ps(va, _mm512_loadu_ps(row + k))));
  if (k < n) {  // the tail under a mask: no scalar loop, no reads past either array
    const __mmask16 m = static_cast<__mmask16>((1u << (n - k)) - 1u);
    const __m512 d = _mm512_maskz_loadu_ps(m, dst + k), r = _mm512_maskz_loadu_ps(m, row + k);
    _mm512_mask_storeu_ps(dst + k, m, _mm512_add_ps(d, _mm512_mul_ps(va, r)));
  }
}

}  // namespace kiln::simd
