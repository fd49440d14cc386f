// The quantizing store shared by the AVX-512 loops (*_avx512.cpp only: it needs their flags).
// `static`, so each of those files keeps a private copy: no weak symbol the linker could pick for
// the baseline code (see simd.h).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace kiln::simd {

// Sixteen lanes of s = y * rscale written as int8/uint8 under mask m: NaN to the zero point,
// round half to even, + zero point, saturate to [lo, hi].
static inline void store_q8_avx512(__m512 s, __m512 vz, __m512 lo, __m512 hi, __mmask16 m, int8_t* dst) {
  s = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(s, s, _CMP_ORD_Q), s);
  s = _mm512_roundscale_ps(s, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  s = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(s, vz), lo), hi);
  // An integer in the type's range: the truncating narrow keeps its two's-complement byte. Narrowed
  // in a register, then stored: vpmovdb straight to memory is several times slower on Zen 4/5.
  const __m128i b8 = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(s));
  if (m == 0xffff) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), b8);
  else _mm_mask_storeu_epi8(dst, m, b8);
}

}  // namespace kiln::simd
