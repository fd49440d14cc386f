// AVX-512 builds of simd.h's loops: compiled with -mavx512{f,bw,vl,dq} (runtime/CMakeLists.txt) and
// called only when simd::kernels() found AVX-512. Plain loops only (see simd.h).
#include <cstdint>

namespace kiln::simd {

void axpy_avx512(float* dst, const float* row, float a, int64_t n) {
  for (int64_t k = 0; k < n; ++k) dst[k] += a * row[k];
}

}  // namespace kiln::simd
