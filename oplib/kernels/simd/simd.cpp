#include "kernels/simd/simd.h"

#include <oneapi/dnnl/dnnl.hpp>

namespace kiln::simd {

void axpy_avx512(float* dst, const float* row, float a, int64_t n);  // simd_avx512.cpp
void layernorm_q8_row_avx512(const float* x, int64_t n, const float* gamma, const float* beta, float eps,
                             float rscale, int32_t zp, int is_signed, float* y, void* q);  // layernorm_avx512.cpp

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
  static const Kernels k = avx512_allowed() ? Kernels{"avx512", axpy_avx512, layernorm_q8_row_avx512}
                                            : Kernels{"baseline", axpy_baseline, nullptr};
  return k;
}

}  // namespace kiln::simd
