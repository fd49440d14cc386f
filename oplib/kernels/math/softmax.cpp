// Kernels for Softmax and LogSoftmax.
// - In-house, first choice where it applies: last-axis Softmax of float32 rows with the
//   internal additive mask (ops::Softmax) and/or a quantized result, i.e. int8 attention's
//   probabilities. Each row is masked, normalised and quantized while it sits in L1, one pass of
//   memory where oneDNN needs a binary post-op on the scores MatMul and an output-scaled softmax.
//   AVX-512 rows in simd/softmax_avx512.cpp, a portable loop elsewhere.
// - oneDNN (softmax_v2 with softmax_accurate / softmax_log): any rank and either ONNX form maps
//   onto one dense view [outer, n, inner] normalised along n, so oneDNN sees at most 3 dims; the
//   common last-axis case is the 2-D [outer, n].
#include <cmath>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "kernels/kernel.h"
#include "kernels/quant_util.h"
#include "kernels/simd/simd.h"
#include "ops/math/softmax.h"

namespace kiln {
namespace {

using dnnl::memory;

// Rows of at least this many elements in all are split across the runtime's OpenMP threads.
constexpr int64_t kParallelElements = int64_t(1) << 14;

// The portable row (CPUs without AVX-512): the same three passes with std::exp, and the same
// floor (simd::kSoftmaxExpFloor: no denormals).
template <class T>
void softmax_row(const float* x, const float* mask, int64_t n, float* y, float rscale, int32_t zp, T* q) {
  float mx = -INFINITY;
  for (int64_t c = 0; c < n; ++c) mx = std::max(mx, x[c] + (mask ? mask[c] : 0.f));
  float sum = 0.f;
  for (int64_t c = 0; c < n; ++c) {
    const float v = x[c] + (mask ? mask[c] : 0.f) - mx;
    sum += y[c] = v < simd::kSoftmaxExpFloor ? 0.f : std::exp(v);
  }
  const float s = (q ? rscale : 1.f) / sum;
  for (int64_t c = 0; c < n; ++c) {
    if (q) q[c] = qk::quantize_one<T>(y[c] * s, zp);
    else y[c] *= s;
  }
}

class InhouseSoftmaxKernel final : public Kernel {
 public:
  InhouseSoftmaxKernel(const KernelSpec& s, int64_t rows, int64_t n) : in_(s.in), rows_(rows), n_(n) {
    if (in_.size() == 2) mask_rows_ = ops::Softmax::mask_rows(in_[0].shape, in_[1].shape);
    const KernelTensor& y = s.out[0];
    if (dtype_quantized(y.dtype)) {
      quantized_ = true;
      signed_ = y.dtype == DType::QInt8;
      rscale_ = 1.f / y.quant.scale[0];
      zp_ = y.quant.zero_point;
    }
  }

  BoundKernel bind(const KernelBinding& b) const override {
    const auto* x = static_cast<const float*>(qk::input_ptr(in_[0], b, 0));
    const auto* mask = in_.size() == 2 ? static_cast<const float*>(qk::input_ptr(in_[1], b, 1)) : nullptr;
    void* out = b.out.at(0);
    const simd::SoftmaxRowFn wide = simd::kernels().softmax_row;  // AVX-512, where allowed
    // By value: the bound run does not depend on this kernel object.
    return [=, rows = rows_, n = n_, at = mask_rows_, quantized = quantized_, sgn = signed_, rscale = rscale_,
            zp = zp_](dnnl::stream&) {
#pragma omp parallel if (rows > 1 && rows * n >= kParallelElements)
      {
        std::vector<float> tmp(quantized ? static_cast<size_t>(n) : 0);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; ++r) {
          const float* m = mask ? mask + at[static_cast<size_t>(r)] : nullptr;
          float* y = quantized ? tmp.data() : static_cast<float*>(out) + r * n;
          void* q = quantized ? static_cast<int8_t*>(out) + r * n : nullptr;
          if (wide) wide(x + r * n, m, n, y, rscale, zp, sgn, q);
          else if (!q) softmax_row<int8_t>(x + r * n, m, n, y, 1.f, 0, nullptr);
          else if (sgn) softmax_row(x + r * n, m, n, y, rscale, zp, static_cast<int8_t*>(q));
          else softmax_row(x + r * n, m, n, y, rscale, zp, static_cast<uint8_t*>(q));
        }
      }
    };
  }

 private:
  std::vector<KernelTensor> in_;
  std::vector<int64_t> mask_rows_;
  int64_t rows_, n_;
  bool quantized_ = false, signed_ = false;
  float rscale_ = 1.f;
  int32_t zp_ = 0;
};

std::unique_ptr<Kernel> make_inhouse_softmax(const KernelSpec& s) {
  auto* op = dynamic_cast<const ops::Softmax*>(&s.op);
  if (!op || s.in.empty() || s.in.size() > 2 || s.out.size() != 1) return nullptr;
  auto dense_f32 = [](const KernelTensor& t) { return qk::dense_static(t, DType::Float32) && !t.shape.empty(); };
  const KernelTensor &x = s.in[0], &y = s.out[0];
  const bool masked = s.in.size() == 2;
  // oneDNN's softmax is as fast on plain float rows: this kernel is for the mask and int8.
  if (!masked && !qk::quantized_out(y)) return nullptr;
  if (!dense_f32(x) || (!qk::quantized_out(y) && !dense_f32(y)) || y.shape != x.shape) return nullptr;
  const int64_t r = static_cast<int64_t>(x.shape.size());
  if (op->split(x.shape).inner != 1 || (op->coerce_2d && op->axis != -1 && op->axis != r - 1)) return nullptr;
  if (masked && (!dense_f32(s.in[1]) || s.in[1].shape.size() > x.shape.size() || s.in[1].shape.back() != x.shape.back()))
    return nullptr;
  const int64_t n = x.shape.back(), rows = shape_elements(x.shape) / std::max<int64_t>(n, 1);
  if (n <= 0) return nullptr;
  return std::make_unique<InhouseSoftmaxKernel>(s, rows, n);
}

class SoftmaxKernel final : public Kernel {
 public:
  SoftmaxKernel(const KernelSpec& s, dnnl::softmax_v2_forward::primitive_desc pd)
      : eng_(s.engine), const_in_(s.in[0].const_data), pd_(std::move(pd)), prim_(pd_) {}

  size_t scratchpad_bytes() const override { return pd_.scratchpad_desc().get_size(); }

  BoundKernel bind(const KernelBinding& b) const override {
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, memory(pd_.src_desc(), eng_, const_cast<void*>(const_in_ ? const_in_ : b.in.at(0)))},
        {DNNL_ARG_DST, memory(pd_.dst_desc(), eng_, b.out.at(0))},
        {DNNL_ARG_SCRATCHPAD, memory(pd_.scratchpad_desc(), eng_, b.scratchpad)}};
    dnnl::softmax_v2_forward prim = prim_;
    return [prim, args](dnnl::stream& st) { prim.execute(st, args); };
  }

 private:
  dnnl::engine eng_;
  const void* const_in_;
  dnnl::softmax_v2_forward::primitive_desc pd_;
  dnnl::softmax_v2_forward prim_;
};

template <class Op>
std::unique_ptr<Kernel> make_softmax(const KernelSpec& s, dnnl::algorithm alg) {
  auto* op = dynamic_cast<const Op*>(&s.op);
  if (!op || s.in.size() != 1 || s.out.size() != 1) return nullptr;  // no mask input
  const auto& x = s.in[0];
  // float32 or bfloat16 on either side (fp32 inside oneDNN's kernel), or a quantized result
  // (int8 attention's probabilities, read by a u8 P.V matmul) through an output scale.
  const KernelTensor& y = s.out[0];
  const bool quantized = dtype_quantized(y.dtype);
  if (!ops::f32_or_bf16(x.dtype) || (!ops::f32_or_bf16(y.dtype) && !quantized)) return nullptr;
  if (quantized && (y.quant.scale.size() != 1 || y.quant.zero_point != 0 || !(y.quant.scale[0] > 0.f) ||
                    std::is_same_v<Op, ops::LogSoftmax>))
    return nullptr;
  if (!x.layout.empty() || !s.out[0].layout.empty() || shape_elements(x.shape) <= 0) return nullptr;
  auto p = op->split(x.shape);
  memory::dims dims = p.inner == 1 ? memory::dims{p.outer, p.n} : memory::dims{p.outer, p.n, p.inner};
  auto tag = p.inner == 1 ? memory::format_tag::ab : memory::format_tag::abc;
  memory::desc src(dims, dnn::dtype(x.dtype), tag), dst(dims, dnn::dtype(s.out[0].dtype), tag);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (quantized) attr.set_output_scales(0, {1.f / y.quant.scale[0]});
  dnnl::softmax_v2_forward::primitive_desc pd;
  try {
    dnnl::softmax_v2_forward::desc d(dnnl::prop_kind::forward_inference, alg, src, dst, 1);
    pd = dnnl::softmax_v2_forward::primitive_desc(d, attr, s.engine, true);
  } catch (const dnnl::error&) {
    return nullptr;
  }
  if (!pd) return nullptr;
  return std::make_unique<SoftmaxKernel>(s, std::move(pd));
}

// Registered first: where both take a spec (int8 probabilities without a mask), this one runs.
KILN_REGISTER_KERNEL("Softmax", "inhouse", make_inhouse_softmax);
KILN_REGISTER_KERNEL("Softmax", "onednn", [](const KernelSpec& s) {
  return make_softmax<ops::Softmax>(s, dnnl::algorithm::softmax_accurate);
});
KILN_REGISTER_KERNEL("LogSoftmax", "onednn", [](const KernelSpec& s) {
  return make_softmax<ops::LogSoftmax>(s, dnnl::algorithm::softmax_log);
});

}  // namespace
}  // namespace kiln
