// What the AVX-512 row loops share (*_avx512.cpp only: it needs their flags): the tail's lane
// mask and the quantizing store. `static`, so each of those files keeps a private copy: no weak
// symbol the linker could pick for the baseline code (see simd.h).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace kiln::simd {

// The lanes of a 16-float step with `left` values still to go: all of them, or the tail's.
static inline __mmask16 lanes_avx512(int64_t left) {
  return left >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
}

// An 8-bit type's bounds relative to its zero point, and the zero point.
struct Q8Avx512 {
  __m512 lo, hi;  // the type's range minus zp: clamping before the conversion equals saturating after it
  __m512i zp;
};

static inline Q8Avx512 q8_params_avx512(int32_t zp, int is_signed) {
  const float z = static_cast<float>(zp);
  return {_mm512_set1_ps((is_signed ? -128.f : 0.f) - z), _mm512_set1_ps((is_signed ? 127.f : 255.f) - z),
          _mm512_set1_epi32(zp)};
}

// Sixteen lanes of s = y * rscale written as int8/uint8 under mask m: NaN to the zero point,
// round half to even, + zero point, saturate. Clamped in float to integer bounds first, so the
// conversion's own rounding (half to even under the default MXCSR) gives the same integers as
// rounding, adding and saturating in that order, with no overflow for any input.
static inline void store_q8_avx512(__m512 s, const Q8Avx512& q, __mmask16 m, int8_t* dst) {
  s = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(s, s, _CMP_ORD_Q), s);
  s = _mm512_min_ps(_mm512_max_ps(s, q.lo), q.hi);
  // In the type's range: the truncating narrow keeps its two's-complement byte. Narrowed in a
  // register, then stored: vpmovdb straight to memory is several times slower on Zen 4/5.
  const __m128i b8 = _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(s), q.zp));
  if (m == 0xffff) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), b8);
  else _mm_mask_storeu_epi8(dst, m, b8);
}

}  // namespace kiln::simd
