// Dynamic int8 MatMul / Gemm (kiln compile --int8Dynamic): float A, constant QInt8 B (s8, one
// scale or one per output column), a float or bf16 result. Two forms, by the op's dynamic_rows:
// - per row (the pass's default): every row of A (a token) gets its own symmetric s8 scale, so one
//   large row no longer coarsens the others. oneDNN 2.6 takes run-time output scales per column
//   only, so the row scales are a binary multiply post-op over a [1, M, 1] operand (in 2-D, oneDNN
//   2.6 runs that broadcast only on its reference loops), and the bias an add after it;
// - per tensor (--int8DynamicScales=tensor): A is quantized over its whole range, uint8 with a zero
//   point exactly as DynamicQuantizeLinear does, then oneDNN's u8 x s8 matmul runs with that zero
//   point, the output scales (A's scale times B's column scales) and the bias given at run time.
// Either way no calibration is needed and no input falls outside the range. Post-ops (activations,
// residual Sums) run fused on the real values. The quantized A and the run's scales (and bias) live
// in the context's scratchpad, so contexts share nothing but the packed B.
#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>

#include "kernels/kernel.h"
#include "kernels/quant_util.h"
#include "ops/math/gemm.h"

namespace kiln {
namespace {

using dnnl::algorithm;
using dnnl::memory;
using dt = memory::data_type;

size_t align64(size_t n) { return (n + 63) & ~size_t{63}; }

memory::desc dense(const memory::dims& d, dt t) {
  memory::dims st(d.size(), 1);
  for (size_t i = d.size() - 1; i > 0; --i) st[i - 1] = st[i] * d[i];
  return memory::desc(d, t, st);
}

// What the MatMul and Gemm factories extract: A as [M, K], B's element (k, n) at
// b[k * b_stride_k + n * b_stride_n], the real multiplier of each column, the bias, post-ops.
struct Geometry {
  int64_t M = 0, K = 0, N = 0;
  int64_t b_stride_k = 0, b_stride_n = 0;
  std::vector<float> col_scale;  // B's scale per column, times alpha
  std::vector<float> bias;       // per column, real units; empty = none
  const ops::PostOps* post = nullptr;
  size_t sum_first_input = 3;    // Sum post-op operands follow from this input on
};

class DynamicInt8Matmul final : public Kernel {
 public:
  // oneDNN's scratchpad, the quantized A, then per row the row scales, per tensor the run's
  // column scales, rescaled bias and zero point.
  size_t scratchpad_bytes() const override {
    const size_t run = rows_ ? align64(static_cast<size_t>(g_.M) * sizeof(float))
                             : 2 * align64(static_cast<size_t>(g_.N) * sizeof(float)) + align64(sizeof(int32_t));
    return align64(pd_.scratchpad_desc().get_size()) + align64(static_cast<size_t>(g_.M * g_.K)) + run;
  }
  Tactic tactic() const override {
    return {pd_.impl_info_str(), rows_ ? "dynamic s8 per row" : "dynamic u8", dnn::format_name(pd_.weights_desc())};
  }

  BoundKernel bind(const KernelBinding& b) const override {
    auto* base = static_cast<uint8_t*>(b.scratchpad);
    size_t off = 0;
    auto carve = [&](size_t bytes) {
      void* p = base + off;
      off += align64(bytes);
      return p;
    };
    void* dnn_scratch = carve(pd_.scratchpad_desc().get_size());
    void* aq = carve(static_cast<size_t>(g_.M * g_.K));
    std::unordered_map<int, memory> args;
    args.emplace(DNNL_ARG_SRC, memory(pd_.src_desc(), eng_, aq));
    args.emplace(DNNL_ARG_WEIGHTS, packed_);
    args.emplace(DNNL_ARG_DST, memory(pd_.dst_desc(), eng_, b.out.at(0)));
    args.emplace(DNNL_ARG_SCRATCHPAD, memory(pd_.scratchpad_desc(), eng_, dnn_scratch));
    for (auto& s : sums_) args.emplace(s.id, memory(s.md, eng_, const_cast<void*>(b.in.at(s.input))));
    const float* a = static_cast<const float*>(b.in.at(0));
    const Geometry* g = &g_;
    dnnl::matmul prim = prim_;
    if (rows_) {
      // The row scales are the first post-op's operand, the bias (in real units) the second's.
      auto* row_scales = static_cast<float*>(carve(static_cast<size_t>(g_.M) * sizeof(float)));
      args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                   memory(dense({1, g_.M, 1}, dt::f32), eng_, row_scales));
      if (!g_.bias.empty())
        args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1,
                     memory(dense({1, 1, g_.N}, dt::f32), eng_, const_cast<float*>(g_.bias.data())));
      auto* q = static_cast<int8_t*>(aq);
      return [=](dnnl::stream& st) {
        qk::dynamic_quantize_rows_s8(a, g->M, g->K, q, row_scales);
        prim.execute(st, args);
      };
    }
    auto* scales = static_cast<float*>(carve(static_cast<size_t>(g_.N) * sizeof(float)));
    auto* bias = static_cast<float*>(carve(static_cast<size_t>(g_.N) * sizeof(float)));
    auto* zp = static_cast<int32_t*>(carve(sizeof(int32_t)));
    args.emplace(DNNL_ARG_BIAS, memory(pd_.bias_desc(), eng_, bias));
    args.emplace(DNNL_ARG_ATTR_OUTPUT_SCALES, memory(dense({g_.N}, dt::f32), eng_, scales));
    args.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, memory(dense({1}, dt::s32), eng_, zp));
    auto* q = static_cast<uint8_t*>(aq);
    return [=](dnnl::stream& st) {
      float sa = 0.f;
      int32_t z = 0;
      qk::dynamic_quantize_u8(a, g->M * g->K, q, sa, z);
      if (!(sa > 0.f)) sa = 1.f;  // A is all zero: so is every quantized level minus the zero point
      *zp = z;
      // oneDNN computes scale * (acc + bias): the bias goes in accumulator units.
      for (int64_t n = 0; n < g->N; ++n) {
        scales[n] = sa * g->col_scale[static_cast<size_t>(n)];
        bias[n] = g->bias.empty() ? 0.f : g->bias[static_cast<size_t>(n)] / scales[n];
      }
      prim.execute(st, args);
    };
  }

  // A is [M, K] row-major float32; B the spec's input 1; the output the spec's output 0 as [M, N].
  // Per row, the matmul is [1, M, K] x [1, K, N]: the row scales' [1, M, 1] broadcast is one
  // oneDNN 2.6 runs in its fast kernels there.
  static std::unique_ptr<Kernel> create(const KernelSpec& s, Geometry g, bool rows) {
    auto k = std::unique_ptr<DynamicInt8Matmul>(new DynamicInt8Matmul());
    k->eng_ = s.engine;
    k->rows_ = rows;
    auto dims = [rows](memory::dims d) {
      if (rows) d.insert(d.begin(), 1);
      return d;
    };
    const dt ty = dnn::dtype(s.out[0].dtype);
    const memory::desc dst = dense(dims({g.M, g.N}), ty);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::post_ops po;
    if (rows) {
      attr.set_output_scales(1 << 2, g.col_scale);
      po.append_binary(algorithm::binary_mul, dense({1, g.M, 1}, dt::f32));
      if (!g.bias.empty()) po.append_binary(algorithm::binary_add, dense({1, 1, g.N}, dt::f32));
    } else {
      attr.set_output_scales(1 << 1, {DNNL_RUNTIME_F32_VAL});
      attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    }
    for (auto& op : g.post->ops) {
      if (op.kind == ops::PostOp::Kind::Sum) {
        const size_t in = g.sum_first_input++;
        if (in >= s.in.size() || shape_elements(s.in[in].shape) != g.M * g.N || !s.in[in].layout.empty() ||
            !ops::f32_or_bf16(s.in[in].dtype))
          return nullptr;
        const memory::desc md = dense(dims({g.M, g.N}), dnn::dtype(s.in[in].dtype));
        k->sums_.push_back({DNNL_ARG_ATTR_MULTIPLE_POST_OP(po.len()) | DNNL_ARG_SRC_1, md, in});
        po.append_binary(algorithm::binary_add, md);
      } else if (!dnn::post_ops(ops::PostOps{{op}}, po)) {
        return nullptr;
      }
    }
    attr.set_post_ops(po);
    const memory::desc a = dense(dims({g.M, g.K}), rows ? dt::s8 : dt::u8);
    const memory::desc b_any(dims({g.K, g.N}), dt::s8, memory::format_tag::any);
    const memory::desc bias = dense({1, g.N}, dt::f32);
    using PD = dnnl::matmul::primitive_desc;
    try {
      // oneDNN's descriptor iterator keeps a pointer to the op descriptor: it must outlive the
      // enumeration of implementations (the tuner's candidates), not be a temporary in the maker.
      const dnnl::matmul::desc d = rows ? dnnl::matmul::desc(a, b_any, dst) : dnnl::matmul::desc(a, b_any, bias, dst);
      k->pd_ = dnn::pick_impl<PD>([&] { return PD(d, attr, s.engine); }, s.tactic ? s.tactic->impl : "", "",
                                  s.candidates);
    } catch (const dnnl::error&) {
      return nullptr;
    }
    // A reference implementation would be slower than the float layer it replaces.
    if (std::string(k->pd_.impl_info_str()).rfind("ref", 0) == 0) return nullptr;
    k->prim_ = dnnl::matmul(k->pd_);
    const memory::desc b_user(dims({g.K, g.N}), dt::s8,
                              rows ? memory::dims{g.K * g.N, g.b_stride_k, g.b_stride_n}
                                   : memory::dims{g.b_stride_k, g.b_stride_n});
    memory user(b_user, s.engine, const_cast<void*>(s.in[1].const_data));
    k->packed_ = memory(k->pd_.weights_desc(), s.engine);
    dnnl::stream st(s.engine);
    dnnl::reorder(user, k->packed_).execute(st, user, k->packed_);
    st.wait();
    k->g_ = std::move(g);
    return k;
  }

 private:
  struct Sum { int id; memory::desc md; size_t input; };
  bool rows_ = false;
  Geometry g_;
  dnnl::engine eng_;
  dnnl::matmul::primitive_desc pd_;
  dnnl::matmul prim_;
  memory packed_;
  std::vector<Sum> sums_;
};

// float32 A without a layout, constant QInt8 B of rank 2 with symmetric scales along `n_axis`
// (or one), a plain float32/bf16 output.
bool usable(const KernelSpec& s, int n_axis) {
  if (s.in.size() < 2 || s.out.size() != 1) return false;
  const KernelTensor &a = s.in[0], &b = s.in[1], &y = s.out[0];
  const ops::QuantParams& q = b.quant;
  return a.dtype == DType::Float32 && a.layout.empty() && !a.const_data && b.dtype == DType::QInt8 &&
         b.const_data && b.shape.size() == 2 && b.layout.empty() && q.zero_point == 0 && !q.empty() &&
         (q.scale.size() == 1 || (q.axis == n_axis && static_cast<int64_t>(q.scale.size()) == b.shape[n_axis])) &&
         ops::f32_or_bf16(y.dtype) && y.layout.empty() && shape_elements(a.shape) > 0;
}

// The bias input (MatMul's fused bias, Gemm's row C times beta): constant float32 of N values.
bool constant_bias(const KernelTensor& c, int64_t N, float mul, std::vector<float>& out) {
  if (c.dtype != DType::Float32 || !c.const_data) return false;
  const int64_t n = shape_elements(c.shape);
  if (n != N && n != 1) return false;
  const auto* p = static_cast<const float*>(c.const_data);
  for (int64_t j = 0; j < N; ++j) out.push_back(mul * p[n == 1 ? 0 : j]);
  return true;
}

void column_scales(const ops::QuantParams& q, int64_t N, float alpha, std::vector<float>& out) {
  for (int64_t j = 0; j < N; ++j) out.push_back(alpha * q.at(static_cast<size_t>(j)));
}

std::unique_ptr<Kernel> make_matmul(const KernelSpec& s) {
  auto* op = dynamic_cast<const ops::MatMul*>(&s.op);
  if (!op || !op->perm_a.empty() || !op->perm_b.empty() || !op->perm_y.empty() || !usable(s, 1)) return nullptr;
  const Dims& A = s.in[0].shape;
  Geometry g;
  g.K = s.in[1].shape[0];
  g.N = s.in[1].shape[1];
  if (A.empty() || A.back() != g.K) return nullptr;
  g.M = shape_elements(A) / g.K;
  if (shape_elements(s.out[0].shape) != g.M * g.N) return nullptr;
  g.b_stride_k = g.N;
  g.b_stride_n = 1;
  column_scales(s.in[1].quant, g.N, op->alpha, g.col_scale);
  if (s.in.size() > 2 && s.in[2].present() && !constant_bias(s.in[2], g.N, 1.f, g.bias)) return nullptr;
  g.post = &op->post;
  return DynamicInt8Matmul::create(s, std::move(g), op->dynamic_rows);
}

std::unique_ptr<Kernel> make_gemm(const KernelSpec& s) {
  auto* op = dynamic_cast<const ops::Gemm*>(&s.op);
  if (!op || op->transA || !usable(s, op->transB ? 0 : 1) || s.in[0].shape.size() != 2) return nullptr;
  Geometry g;
  const Dims& B = s.in[1].shape;
  g.M = s.in[0].shape[0];
  g.K = s.in[0].shape[1];
  g.N = op->transB ? B[0] : B[1];
  if ((op->transB ? B[1] : B[0]) != g.K) return nullptr;
  g.b_stride_k = op->transB ? 1 : g.N;
  g.b_stride_n = op->transB ? g.K : 1;
  column_scales(s.in[1].quant, g.N, op->alpha, g.col_scale);
  if (s.in.size() > 2 && s.in[2].present() && op->beta != 0.f) {
    // Only a row (or one value) broadcast over the rows is a bias: alpha * (A B) + beta * C.
    const Dims& c = s.in[2].shape;
    if ((c.size() == 2 && c[0] != 1) || c.size() > 2 || !constant_bias(s.in[2], g.N, op->beta, g.bias))
      return nullptr;
  }
  g.post = &op->post;
  return DynamicInt8Matmul::create(s, std::move(g), op->dynamic_rows);
}

KILN_REGISTER_KERNEL("MatMul", "onednn_dynamic_int8", make_matmul);
KILN_REGISTER_KERNEL("Gemm", "onednn_dynamic_int8", make_gemm);

}  // namespace
}  // namespace kiln
