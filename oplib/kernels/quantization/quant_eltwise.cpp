// In-house kernels for ONNX's elementwise quantization ops: QuantizeLinear, DequantizeLinear
// (per tensor and per axis) and DynamicQuantizeLinear, on plain row-major tensors. The reference
// loops are scalar, single-threaded and call nearbyint per element; here large tensors are split
// in chunks across the runtime's OpenMP threads, and the rounding runs eight floats at a time on
// CPUs with AVX2 (chosen at run time; the build targets baseline x86-64). The arithmetic is the
// reference's, operation for operation (x / scale is a division, the range of
// DynamicQuantizeLinear ignores NaN as std::min/max do), so the results are bit-exact.
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#define KILN_QUANT_AVX2 1
#endif

#include "kernels/quant_util.h"
#include "ops/quantization/quant.h"

namespace kiln {

namespace qk {

namespace {

template <class T>
void quantize_div_scalar(const float* x, int64_t n, float s, int32_t zp, T* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = quantize_one<T>(x[i] / s, zp);
}

#ifdef KILN_QUANT_AVX2
bool have_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}

// Eight lanes of quantize_one(x / s, zp), as int32.
__attribute__((target("avx2"))) inline __m256i quantize8(__m256 x, __m256 s, __m256 zp, __m256 lo, __m256 hi) {
  __m256 v = _mm256_div_ps(x, s);
  v = _mm256_andnot_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), v);  // NaN -> 0
  v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, zp), lo), hi);
  return _mm256_cvtps_epi32(v);  // exact: v is an integer in [-128, 255]
}

template <class T>
__attribute__((target("avx2"))) void quantize_div_avx2(const float* x, int64_t n, float s, int32_t zp, T* y) {
  constexpr bool sgn = std::is_signed_v<T>;
  const __m256 vs = _mm256_set1_ps(s), vz = _mm256_set1_ps(static_cast<float>(zp));
  const __m256 lo = _mm256_set1_ps(sgn ? -128.f : 0.f), hi = _mm256_set1_ps(sgn ? 127.f : 255.f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i a = quantize8(_mm256_loadu_ps(x + i), vs, vz, lo, hi);
    const __m256i b = quantize8(_mm256_loadu_ps(x + i + 8), vs, vz, lo, hi);
    // The values already lie in T's range, so the saturating packs only narrow; packs work per
    // 128-bit lane, hence the final permute back into element order.
    __m256i w = _mm256_packs_epi32(a, b);
    __m128i lo16 = _mm256_castsi256_si128(w), hi16 = _mm256_extracti128_si256(w, 1);
    __m128i bytes = sgn ? _mm_packs_epi16(lo16, hi16) : _mm_packus_epi16(lo16, hi16);
    bytes = _mm_shuffle_epi32(bytes, _MM_SHUFFLE(3, 1, 2, 0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), bytes);
  }
  quantize_div_scalar(x + i, n - i, s, zp, y + i);
}
#endif

}  // namespace

void quantize_div(const float* x, int64_t n, float s, int32_t zp, DType out, void* y) {
  const bool sgn = out == DType::Int8;
#ifdef KILN_QUANT_AVX2
  if (have_avx2()) {
    if (sgn) quantize_div_avx2(x, n, s, zp, static_cast<int8_t*>(y));
    else quantize_div_avx2(x, n, s, zp, static_cast<uint8_t*>(y));
    return;
  }
#endif
  if (sgn) quantize_div_scalar(x, n, s, zp, static_cast<int8_t*>(y));
  else quantize_div_scalar(x, n, s, zp, static_cast<uint8_t*>(y));
}

}  // namespace qk

namespace {

// Work is cut into chunks of this many elements; tensors of one chunk stay on the calling thread.
constexpr int64_t kChunk = int64_t(1) << 15;

// A tensor viewed as [outer, d, inner] around the quantization axis (d = 1 per tensor).
struct AxisSplit {
  int64_t outer = 1, d = 1, inner = 1;
};

// nullopt-like: false when the spec is not one this file handles.
bool axis_split(const Dims& x, const Dims& scale, int64_t axis, AxisSplit& a) {
  const int64_t n = shape_elements(x);
  if (shape_elements(scale) == 1 && scale.size() <= 1) {
    a.inner = n;
    return true;
  }
  const int64_t r = static_cast<int64_t>(x.size());
  const int64_t ax = axis < 0 ? axis + r : axis;
  if (ax < 0 || ax >= r) return false;
  for (int64_t i = 0; i < ax; ++i) a.outer *= x[i];
  a.d = x[ax];
  for (int64_t i = ax + 1; i < r; ++i) a.inner *= x[i];
  return true;
}

// Runs f(c, begin, len) over every [outer * d] row of `inner` elements, in chunks of at most
// kChunk elements, in parallel when there is more than one chunk. c is the row's channel.
template <class F>
void for_rows(const AxisSplit& a, F f) {
  const int64_t per_row = (a.inner + kChunk - 1) / kChunk;
  const int64_t rows = a.outer * a.d, total = rows * per_row;
#pragma omp parallel for schedule(static) if (total > 1 && rows * a.inner > kChunk)
  for (int64_t t = 0; t < total; ++t) {
    const int64_t row = t / per_row, part = t % per_row;
    const int64_t begin = part * kChunk, len = std::min(kChunk, a.inner - begin);
    f(row % a.d, row * a.inner + begin, len);
  }
}

bool plain_static(const KernelSpec& s) {
  for (auto& t : s.in)
    if (t.present() && (!t.layout.empty() || !shape_static(t.shape))) return false;
  for (auto& t : s.out)
    if (!t.layout.empty() || !shape_static(t.shape)) return false;
  return true;
}

class QuantizeKernel final : public Kernel {
 public:
  QuantizeKernel(const KernelSpec& s, AxisSplit a, bool dequantize) : in_(s.in), a_(a), deq_(dequantize) {
    out_ = s.out[0].dtype;
  }

  BoundKernel bind(const KernelBinding& b) const override {
    const void* x = qk::input_ptr(in_[0], b, 0);
    const auto* sc = static_cast<const float*>(qk::input_ptr(in_[1], b, 1));
    const void* zp = in_.size() > 2 && in_[2].present() ? qk::input_ptr(in_[2], b, 2) : nullptr;
    const DType xt = in_[0].dtype, zt = in_.size() > 2 ? in_[2].dtype : DType::Undefined;
    void* y = b.out.at(0);
    const AxisSplit a = a_;
    const DType yt = out_;
    if (deq_)
      return [=](dnnl::stream&) {
        float* yf = static_cast<float*>(y);
        for_rows(a, [&](int64_t c, int64_t at, int64_t n) {
          const float s = sc[c];
          const int32_t z = zp ? qk::int_at(zp, zt, c) : 0;
          if (xt == DType::UInt8) {
            const uint8_t* q = static_cast<const uint8_t*>(x) + at;
#pragma omp simd
            for (int64_t i = 0; i < n; ++i) yf[at + i] = static_cast<float>(int32_t(q[i]) - z) * s;
          } else if (xt == DType::Int8) {
            const int8_t* q = static_cast<const int8_t*>(x) + at;
#pragma omp simd
            for (int64_t i = 0; i < n; ++i) yf[at + i] = static_cast<float>(int32_t(q[i]) - z) * s;
          } else {  // int32: the difference may need 33 bits, as in the reference
            const int32_t* q = static_cast<const int32_t*>(x) + at;
            for (int64_t i = 0; i < n; ++i) yf[at + i] = static_cast<float>(int64_t(q[i]) - z) * s;
          }
        });
      };
    return [=](dnnl::stream&) {
      for_rows(a, [&](int64_t c, int64_t at, int64_t n) {
        const float s = sc[c];
        const int32_t z = zp ? qk::int_at(zp, zt, c) : 0;
        void* dst = static_cast<uint8_t*>(y) + at;
        if (xt == DType::Float32) {
          qk::quantize_div(static_cast<const float*>(x) + at, n, s, z, yt, dst);
          return;
        }
        const int32_t* q = static_cast<const int32_t*>(x) + at;  // int32 x: the reference's float(x) / s
        for (int64_t i = 0; i < n; ++i) {
          const float v = static_cast<float>(q[i]) / s;
          if (yt == DType::Int8) static_cast<int8_t*>(dst)[i] = qk::quantize_one<int8_t>(v, z);
          else static_cast<uint8_t*>(dst)[i] = qk::quantize_one<uint8_t>(v, z);
        }
      });
    };
  }

 private:
  std::vector<KernelTensor> in_;
  AxisSplit a_;
  bool deq_;
  DType out_ = DType::UInt8;
};

template <class Op>
std::unique_ptr<Kernel> make_qdq(const KernelSpec& s) {
  const auto* op = dynamic_cast<const Op*>(&s.op);
  constexpr bool deq = std::is_same_v<Op, ops::DequantizeLinear>;
  if (!op || s.in.size() < 2 || s.out.size() != 1 || !plain_static(s)) return nullptr;
  const DType xt = s.in[0].dtype;
  if (deq ? xt != DType::UInt8 && xt != DType::Int8 && xt != DType::Int32
          : xt != DType::Float32 && xt != DType::Int32)
    return nullptr;
  AxisSplit a;
  if (!axis_split(s.in[0].shape, s.in[1].shape, op->axis, a) || shape_elements(s.in[1].shape) != a.d) return nullptr;
  if (s.in.size() > 2 && s.in[2].present() && shape_elements(s.in[2].shape) != a.d) return nullptr;
  return std::make_unique<QuantizeKernel>(s, a, deq);
}

}  // namespace

namespace qk {

namespace {

// min(0, min x) and max(0, max x), NaN ignored (std::min(lo, v) keeps lo when v is NaN; so does
// the "v < lo ? v : lo" form below, which the compiler vectorises).
void range_serial(const float* x, int64_t n, float& lo, float& hi) {
  float l = 0.f, h = 0.f;
#pragma omp simd reduction(min : l) reduction(max : h)
  for (int64_t i = 0; i < n; ++i) {
    l = x[i] < l ? x[i] : l;
    h = x[i] > h ? x[i] : h;
  }
  lo = std::min(lo, l);
  hi = std::max(hi, h);
}

void range(const float* x, int64_t n, float& lo, float& hi) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1) reduction(min : lo) reduction(max : hi)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t at = c * kChunk;
    range_serial(x + at, std::min(kChunk, n - at), lo, hi);
  }
}

}  // namespace

// A parallel min/max pass, then the scale and zero point computed exactly as the reference
// DynamicQuantizeLinear does, then the quantizing pass.
void dynamic_quantize_u8(const float* x, int64_t n, uint8_t* y, float& scale, int32_t& zp) {
  float lo = 0.f, hi = 0.f;
  range(x, n, lo, hi);
  scale = (hi - lo) / 255.f;
  zp = 0;
  if (scale > 0.f) zp = static_cast<int32_t>(std::clamp(std::nearbyint((0.f - lo) / scale), 0.f, 255.f));
  if (!(scale > 0.f)) {  // every x / scale is taken as 0 by the reference
    std::memset(y, 0, static_cast<size_t>(n));
    return;
  }
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t at = c * kChunk;
    quantize_div(x + at, std::min(kChunk, n - at), scale, zp, DType::UInt8, y + at);
  }
}

void dynamic_quantize_rows_s8(const float* x, int64_t rows, int64_t cols, int8_t* y, float* scales) {
#pragma omp parallel for schedule(static) if (rows > 1 && rows * cols > kChunk)
  for (int64_t r = 0; r < rows; ++r) {
    float lo = 0.f, hi = 0.f;
    range_serial(x + r * cols, cols, lo, hi);
    const float amax = std::max(-lo, hi);
    scales[r] = amax > 0.f ? amax / 127.f : 1.f;  // an all-zero row quantizes to zeros at any scale
    quantize_div(x + r * cols, cols, scales[r], 0, DType::Int8, y + r * cols);
  }
}

}  // namespace qk

namespace {

// DynamicQuantizeLinear: qk::dynamic_quantize_u8 writing the op's three outputs.
class DynamicQuantizeKernel final : public Kernel {
 public:
  explicit DynamicQuantizeKernel(int64_t n) : n_(n) {}

  BoundKernel bind(const KernelBinding& b) const override {
    const float* x = static_cast<const float*>(b.in.at(0));
    auto* y = static_cast<uint8_t*>(b.out.at(0));
    auto* ys = static_cast<float*>(b.out.at(1));
    auto* yzp = static_cast<uint8_t*>(b.out.at(2));
    const int64_t n = n_;
    return [=](dnnl::stream&) {
      int32_t zp = 0;
      qk::dynamic_quantize_u8(x, n, y, *ys, zp);
      *yzp = static_cast<uint8_t>(zp);
    };
  }

 private:
  int64_t n_;
};

std::unique_ptr<Kernel> make_dynamic_quantize(const KernelSpec& s) {
  if (!dynamic_cast<const ops::DynamicQuantizeLinear*>(&s.op) || s.in.size() != 1 || s.out.size() != 3 ||
      !plain_static(s) || s.in[0].dtype != DType::Float32 || s.in[0].const_data)
    return nullptr;
  return std::make_unique<DynamicQuantizeKernel>(shape_elements(s.in[0].shape));
}

KILN_REGISTER_KERNEL("QuantizeLinear", "inhouse", make_qdq<ops::QuantizeLinear>);
KILN_REGISTER_KERNEL("DequantizeLinear", "inhouse", make_qdq<ops::DequantizeLinear>);
KILN_REGISTER_KERNEL("DynamicQuantizeLinear", "inhouse", make_dynamic_quantize);

}  // namespace
}  // namespace kiln
