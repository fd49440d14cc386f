// Cast between float16 and float32: the conversions at the inputs and outputs of float16 models,
// which kiln computes in float32. On x86 CPUs with F16C (chosen at run time, so the runtime stays
// portable) eight elements per instruction, else the op library's scalar conversions; both round
// to nearest even and keep Inf and NaN, so the result equals the reference kernel's bit for bit
// (except that F16C quiets signalling NaNs).
#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KILN_CAST_F16C 1
#endif

#include "kernels/kernel.h"
#include "ops/tensor/shape.h"

namespace kiln {
namespace {

void half_to_float_scalar(const uint16_t* s, float* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i] = ops::half_to_float(s[i]);
}

void float_to_half_scalar(const float* s, uint16_t* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i] = ops::float_to_half(s[i]);
}

#ifdef KILN_CAST_F16C
__attribute__((target("avx,f16c"))) void half_to_float_f16c(const uint16_t* s, float* d, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
  half_to_float_scalar(s + i, d + i, n - i);
}

__attribute__((target("avx,f16c"))) void float_to_half_f16c(const float* s, uint16_t* d, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(s + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  float_to_half_scalar(s + i, d + i, n - i);
}

bool have_f16c() {
  static const bool yes = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  return yes;
}
#endif

void convert(bool to_half, const void* src, void* dst, int64_t n) {
  // Large tensors in chunks across threads; small ones (most inputs) on the calling thread.
  constexpr int64_t kChunk = int64_t(1) << 16;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t off = c * kChunk, len = std::min(kChunk, n - off);
    if (to_half) {
      const float* s = static_cast<const float*>(src) + off;
      uint16_t* d = static_cast<uint16_t*>(dst) + off;
#ifdef KILN_CAST_F16C
      if (have_f16c()) {
        float_to_half_f16c(s, d, len);
        continue;
      }
#endif
      float_to_half_scalar(s, d, len);
    } else {
      const uint16_t* s = static_cast<const uint16_t*>(src) + off;
      float* d = static_cast<float*>(dst) + off;
#ifdef KILN_CAST_F16C
      if (have_f16c()) {
        half_to_float_f16c(s, d, len);
        continue;
      }
#endif
      half_to_float_scalar(s, d, len);
    }
  }
}

class CastHalfKernel final : public Kernel {
 public:
  CastHalfKernel(bool to_half, const void* const_in, int64_t n) : to_half_(to_half), const_in_(const_in), n_(n) {}

  BoundKernel bind(const KernelBinding& b) const override {
    const void* src = const_in_ ? const_in_ : b.in.at(0);
    void* dst = b.out.at(0);
    bool to_half = to_half_;
    int64_t n = n_;
    return [to_half, src, dst, n](dnnl::stream&) { convert(to_half, src, dst, n); };
  }

 private:
  bool to_half_;
  const void* const_in_;
  int64_t n_;
};

std::unique_ptr<Kernel> make_cast(const KernelSpec& s) {
  if (s.in.size() != 1 || s.out.size() != 1) return nullptr;
  const KernelTensor &x = s.in[0], &y = s.out[0];
  if (!x.layout.empty() || !y.layout.empty() || !shape_static(y.shape) || x.shape != y.shape) return nullptr;
  const bool to_half = x.dtype == DType::Float32 && y.dtype == DType::Float16;
  const bool from_half = x.dtype == DType::Float16 && y.dtype == DType::Float32;
  if (!to_half && !from_half) return nullptr;
  return std::make_unique<CastHalfKernel>(to_half, x.const_data, shape_elements(y.shape));
}

KILN_REGISTER_KERNEL("Cast", "inhouse", make_cast);

}  // namespace
}  // namespace kiln
