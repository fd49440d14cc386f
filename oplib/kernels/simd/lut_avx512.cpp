// AVX-512 LutU8Fn (simd.h): out[i] = lut[in[i]] over bytes, 64 at a time through two VBMI
// two-table byte permutes (entries 0-127 and 128-255) and a blend on each index's top bit.
// Built for VBMI by a target attribute (the file's other flags are AVX-512 F/BW/VL/DQ);
// simd::kernels() offers it only where the CPU has VBMI. Intrinsics over raw pointers only
// (see simd.h).
#include <immintrin.h>

#include <cstdint>

namespace kiln::simd {

__attribute__((target("avx512vbmi"))) void lut_u8_avx512(const uint8_t* in, int64_t n, const uint8_t* lut,
                                                          uint8_t* out) {
  const __m512i t0 = _mm512_loadu_si512(lut), t1 = _mm512_loadu_si512(lut + 64);
  const __m512i t2 = _mm512_loadu_si512(lut + 128), t3 = _mm512_loadu_si512(lut + 192);
  for (int64_t c = 0; c < n; c += 64) {
    const __mmask64 m = n - c >= 64 ? ~__mmask64(0) : (__mmask64(1) << (n - c)) - 1;
    const __m512i i = _mm512_maskz_loadu_epi8(m, in + c);
    const __m512i lo = _mm512_permutex2var_epi8(t0, i, t1), hi = _mm512_permutex2var_epi8(t2, i, t3);
    _mm512_mask_storeu_epi8(out + c, m, _mm512_mask_blend_epi8(_mm512_movepi8_mask(i), lo, hi));
  }
}

}  // namespace kiln::simd
