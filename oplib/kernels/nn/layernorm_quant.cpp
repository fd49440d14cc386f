// LayerNormalization that writes Y quantized (QUInt8/QInt8, one scale), for int8 plans: alone
// (every reader is an int8 layer) or, with quantized_copy, beside float Y (BERT's LayerNorm feeds
// both the next int8 MatMul and a float residual Add). oneDNN's layer normalization cannot write
// 8-bit, so without this an int8 plan runs it in float and then a quantizing Reorder reads all of
// Y back; here each row is normalised and quantized while it sits in L1.
//
// Rows run in simd/layernorm_avx512.cpp on CPUs with AVX-512, else in the AVX2 loop here (the
// build's baseline; scalar where a native build lacks AVX2). Numerics follow oneDNN's float
// kernel: mean, then variance around it (two passes over the row), 1/sqrt(var + eps),
// y = (x - mean) * inv * gamma + beta with one fused multiply-add. The
// quantized value is what kiln's quantizing Reorder makes of that y: y * (1 / scale) (the
// Reorder's output scale), rounded half to even, plus the zero point, saturated; NaN becomes the
// zero point as in qk::quantize_one.
//
// Only rows over the trailing axes with full-size Scale/B (no broadcasting) and dense static
// shapes are taken; the rest stays with oneDNN (float) or the reference kernel.
#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define KILN_LN_AVX2 1
#endif

#include "kernels/quant_util.h"
#include "kernels/simd/simd.h"
#include "ops/nn/layernorm.h"

namespace kiln {
namespace {

// Rows of at least this many elements in all are split across the runtime's OpenMP threads.
constexpr int64_t kParallelElements = int64_t(1) << 14;

struct RowArgs {
  int64_t n;
  const float* gamma;
  const float* beta;
  float eps;
  float rscale;  // 1 / the quantized output's scale
  int32_t zp;
};

template <class T>
void tail(const float* x, int64_t from, const RowArgs& a, float mean, float inv, float* y, T* q) {
  for (int64_t c = from; c < a.n; ++c) {
    const float v = std::fma((x[c] - mean) * inv, a.gamma[c], a.beta[c]);
    if (y) y[c] = v;
    q[c] = qk::quantize_one<T>(v * a.rscale, a.zp);
  }
}

#ifdef KILN_LN_AVX2
float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Sum of x[c] - m (m = 0: the plain sum), or of its square.
template <bool Square>
float row_sum(const float* x, int64_t n, float m) {
  const __m256 vm = _mm256_set1_ps(m);
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  auto add = [&](__m256 acc, const float* p) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(p), vm);
    return Square ? _mm256_fmadd_ps(d, d, acc) : _mm256_add_ps(acc, d);
  };
  int64_t c = 0;
  for (; c + 32 <= n; c += 32) {
    a0 = add(a0, x + c);
    a1 = add(a1, x + c + 8);
    a2 = add(a2, x + c + 16);
    a3 = add(a3, x + c + 24);
  }
  for (; c + 8 <= n; c += 8) a0 = add(a0, x + c);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; c < n; ++c) s += Square ? (x[c] - m) * (x[c] - m) : x[c] - m;
  return s;
}

// Eight lanes of y = (x - mean) * inv * gamma + beta, stored to y when y is wanted, and their
// quantized values as int32 (exact: integers in [-128, 255]).
inline __m256i norm8(const float* x, const float* g, const float* b, __m256 vm, __m256 vi, __m256 rs, __m256 zp,
                     __m256 lo, __m256 hi, float* y) {
  const __m256 t = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x), vm), vi);
  const __m256 v = _mm256_fmadd_ps(t, _mm256_loadu_ps(g), _mm256_loadu_ps(b));
  if (y) _mm256_storeu_ps(y, v);
  __m256 s = _mm256_mul_ps(v, rs);
  s = _mm256_andnot_ps(_mm256_cmp_ps(s, s, _CMP_UNORD_Q), s);  // NaN -> 0
  s = _mm256_round_ps(s, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_add_ps(s, zp), lo), hi));
}

template <class T>
void norm_row(const float* x, const RowArgs& a, float* y, T* q) {
  constexpr bool sgn = std::is_signed_v<T>;
  const int64_t n = a.n;
  const float mean = row_sum<false>(x, n, 0.f) / static_cast<float>(n);
  const float var = row_sum<true>(x, n, mean) / static_cast<float>(n);
  const float inv = 1.f / std::sqrt(var + a.eps);
  const __m256 vm = _mm256_set1_ps(mean), vi = _mm256_set1_ps(inv), rs = _mm256_set1_ps(a.rscale);
  const __m256 zp = _mm256_set1_ps(static_cast<float>(a.zp));
  const __m256 lo = _mm256_set1_ps(sgn ? -128.f : 0.f), hi = _mm256_set1_ps(sgn ? 127.f : 255.f);
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    const __m256i i0 = norm8(x + c, a.gamma + c, a.beta + c, vm, vi, rs, zp, lo, hi, y ? y + c : nullptr);
    const __m256i i1 = norm8(x + c + 8, a.gamma + c + 8, a.beta + c + 8, vm, vi, rs, zp, lo, hi, y ? y + c + 8 : nullptr);
    // In range already, so the saturating packs only narrow; they work per 128-bit lane, hence
    // the permute back into element order.
    const __m256i w = _mm256_packs_epi32(i0, i1);
    const __m128i l16 = _mm256_castsi256_si128(w), h16 = _mm256_extracti128_si256(w, 1);
    const __m128i bytes = sgn ? _mm_packs_epi16(l16, h16) : _mm_packus_epi16(l16, h16);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + c), _mm_shuffle_epi32(bytes, _MM_SHUFFLE(3, 1, 2, 0)));
  }
  tail(x, c, a, mean, inv, y, q);
}
#else
template <class T>
void norm_row(const float* x, const RowArgs& a, float* y, T* q) {
  float s = 0.f;
  for (int64_t c = 0; c < a.n; ++c) s += x[c];
  const float mean = s / static_cast<float>(a.n);
  float v = 0.f;
  for (int64_t c = 0; c < a.n; ++c) v += (x[c] - mean) * (x[c] - mean);
  const float inv = 1.f / std::sqrt(v / static_cast<float>(a.n) + a.eps);
  tail(x, 0, a, mean, inv, y, q);
}
#endif

class QuantLayerNormKernel final : public Kernel {
 public:
  QuantLayerNormKernel(const KernelSpec& s, const ops::LayerNormalization& op, int64_t rows, int64_t cols)
      : in_(s.in), rows_(rows), cols_(cols), eps_(op.epsilon), both_(s.out.size() == 2) {
    const KernelTensor& yq = s.out.back();
    signed_ = yq.dtype == DType::QInt8;
    rscale_ = 1.f / yq.quant.scale[0];
    zp_ = yq.quant.zero_point;
    if (in_.size() < 3 || !in_[2].present()) zeros_.assign(static_cast<size_t>(cols), 0.f);
  }

  BoundKernel bind(const KernelBinding& b) const override {
    const auto* x = static_cast<const float*>(qk::input_ptr(in_[0], b, 0));
    const auto* g = static_cast<const float*>(qk::input_ptr(in_[1], b, 1));
    const auto* bias = zeros_.empty() ? static_cast<const float*>(qk::input_ptr(in_[2], b, 2)) : zeros_.data();
    float* y = both_ ? static_cast<float*>(b.out.at(0)) : nullptr;
    void* q = b.out.back();
    const RowArgs a{cols_, g, bias, eps_, rscale_, zp_};
    const int64_t rows = rows_, cols = cols_;
    const bool sgn = signed_;
    const simd::LayerNormQ8RowFn wide = simd::kernels().layernorm_q8_row;  // AVX-512, where allowed
    return [=](dnnl::stream&) {
#pragma omp parallel for schedule(static) if (rows > 1 && rows * cols >= kParallelElements)
      for (int64_t r = 0; r < rows; ++r) {
        float* yr = y ? y + r * cols : nullptr;
        void* qr = static_cast<uint8_t*>(q) + r * cols;
        if (wide) wide(x + r * cols, cols, a.gamma, a.beta, a.eps, a.rscale, a.zp, sgn, yr, qr);
        else if (sgn) norm_row(x + r * cols, a, yr, static_cast<int8_t*>(qr));
        else norm_row(x + r * cols, a, yr, static_cast<uint8_t*>(qr));
      }
    };
  }

 private:
  std::vector<KernelTensor> in_;
  int64_t rows_, cols_;
  float eps_;
  bool both_;
  bool signed_ = false;
  float rscale_ = 1.f;
  int32_t zp_ = 0;
  std::vector<float> zeros_;  // B when the node has none
};

std::unique_ptr<Kernel> make_quant_layer_norm(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::LayerNormalization*>(&s.op);
  if (!op || s.in.size() < 2 || s.in.size() > 3 || !qk::dense_static(s.in[0], DType::Float32) || !s.in[1].present())
    return nullptr;
  // Y quantized alone, or float Y and its quantized copy; never the training statistics.
  const bool copy = op->quantized_copy == 1;
  if (s.out.size() != (copy ? 2u : 1u) || !qk::quantized_out(s.out.back())) return nullptr;
  if (copy && !qk::dense_static(s.out[0], DType::Float32)) return nullptr;
  const Dims& x = s.in[0].shape;
  const int64_t k = op->axis_for(x.size());
  if (k < 0 || k >= static_cast<int64_t>(x.size())) return nullptr;
  const int64_t rows = shape_elements(Dims(x.begin(), x.begin() + k));
  const int64_t cols = shape_elements(Dims(x.begin() + k, x.end()));
  if (rows <= 0 || cols <= 0) return nullptr;
  for (size_t i = 1; i < s.in.size(); ++i)
    if (s.in[i].present() && (!qk::dense_static(s.in[i], DType::Float32) || shape_elements(s.in[i].shape) != cols))
      return nullptr;
  for (const KernelTensor& o : s.out)
    if (o.shape != x) return nullptr;
  return std::make_unique<QuantLayerNormKernel>(s, *op, rows, cols);
}

KILN_REGISTER_KERNEL("LayerNormalization", "inhouse", make_quant_layer_norm);

}  // namespace
}  // namespace kiln
