// oneDNN kernels for Gemm and MatMul, both as the matmul primitive. Constant B is reordered
// once at creation into the layout the primitive prefers (measured on 1x2048 * 2048x1000:
// matmul with pre-packed weights 45 us vs inner_product 51 us, so there is no separate inner
// product path). Tactics: the implementations oneDNN offers (pd.next_impl()). alpha is the
// output scale, a vector-shaped C the bias, and any other C a binary
// post-op ahead of the fused PostOps. int8: a quantized A times constant QInt8 B (one scale, or
// one per output column), s32 accumulation; output scales make the accumulator real, post-ops
// run on real values, and a final linear step quantizes a quantized output.
//
// An int8 layer ending in GELU with a quantized output (BERT's FFN-up) has two more variants.
// oneDNN's erf post-op adds a fifth to BERT's FFN-up matmul on Zen 5 and more than the matmul
// itself on AMX (docs/performance.md, int8), so the matmul ends without it and kiln finishes:
// - table (the first choice where the CPU has AVX-512 VBMI): the matmul writes its
//   pre-activations as uint8 over [where GELU's output becomes the zero point (-4 at most), where
//   it saturates] and a 256-byte table maps each level to its GELU's output level
//   (simd::LutU8Fn), 64 values per few instructions. The extra rounding costs BERT-base
//   0.026 -> 0.029 rel. L2 against torch;
// - "gelu-split" (the first choice with AVX-512 alone): the matmul writes real values to scratch
//   and an AVX-512 pass applies GELU and quantizes (simd::GeluQ8Fn), exact to one level;
// - "gelu-postop": oneDNN's post-op. Both stay timed tactics.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>

#include "kernels/kernel.h"
#include "kernels/quant_util.h"
#include "kernels/simd/simd.h"
#include "ops/math/eltwise.h"
#include "ops/math/gemm.h"

namespace kiln {
namespace {

using dnnl::algorithm;
using dnnl::memory;
using dt = memory::data_type;

// Dense row-major (or, with swap_last, the last two dims swapped: a transposed matrix view).
memory::desc strided_md(const Dims& dims, bool swap_last = false, dt type = dt::f32) {
  Dims st = shape_strides(dims);
  if (swap_last) {
    size_t r = dims.size();
    Dims phys = dims;
    std::swap(phys[r - 1], phys[r - 2]);
    st = shape_strides(phys);
    std::swap(st[r - 1], st[r - 2]);
  }
  return memory::desc(memory::dims(dims.begin(), dims.end()), type, memory::dims(st.begin(), st.end()));
}

Dims pad_rank(const Dims& s, size_t r) {
  Dims p(r - s.size(), 1);
  p.insert(p.end(), s.begin(), s.end());
  return p;
}

// A dense tensor read through `perm` (MatMul's folded Transpose) and padded to rank r: the
// permuted dims with the matching strides, so the primitive reads it in place without a copy.
memory::desc permuted_md(const Dims& phys, const std::vector<int64_t>& perm, size_t r, dt type) {
  Dims st = shape_strides(phys), dims = phys, pst = st;
  for (size_t i = 0; i < perm.size(); ++i) {
    dims[i] = phys[perm[i]];
    pst[i] = st[perm[i]];
  }
  dims.insert(dims.begin(), r - phys.size(), 1);
  pst.insert(pst.begin(), r - phys.size(), shape_elements(phys));
  return memory::desc(memory::dims(dims.begin(), dims.end()), type, memory::dims(pst.begin(), pst.end()));
}

Dims apply_perm(const Dims& s, const std::vector<int64_t>& perm) {
  if (perm.empty()) return s;
  Dims r;
  for (int64_t p : perm) r.push_back(s[p]);
  return r;
}

// float32 throughout, or bfloat16 A and B (fp32 accumulation) with a float32 or bfloat16 result and
// Sum operands; a bias or C stays float32 (its constant data is read as floats). Or int8: A
// quantized per tensor, B QInt8, both without zero points; the result any real type. B is a
// constant (a weight, any scales) or, for attention's Q.K^T and P.V, a run-time tensor with one
// scale.
bool usable(const KernelSpec& s) {
  if (s.in.size() < 2) return false;
  const bool int8 = dtype_quantized(s.in[0].dtype);
  for (size_t i = 0; i < s.in.size(); ++i) {
    const KernelTensor& t = s.in[i];
    if (!t.present()) continue;
    if (!t.layout.empty() || shape_elements(t.shape) <= 0) return false;
    if (int8 && i < 2) {
      if (t.quant.zero_point != 0 || (i == 0 && t.quant.scale.size() != 1)) return false;
      if (i == 1 && (t.dtype != DType::QInt8 || (!t.const_data && !t.packed && t.quant.scale.size() != 1)))
        return false;
      continue;
    }
    if (i == 2 ? t.dtype != DType::Float32 : !ops::f32_or_bf16(t.dtype)) return false;
  }
  if (!int8 && s.in[0].dtype != s.in[1].dtype) return false;
  for (auto& t : s.out) {
    if (!ops::real_storage(t.dtype) || !t.layout.empty() || shape_elements(t.shape) <= 0) return false;
    if (dtype_quantized(t.dtype) && (!int8 || t.quant.scale.size() != 1)) return false;
  }
  return true;
}

// int8: the real value of one accumulator unit per output column (A's scale times B's column
// scale), or false when B's scales do not run along `n_axis`, its output-column axis.
bool int8_scales(const KernelSpec& s, int n_axis, float alpha, std::vector<float>& acc) {
  const ops::QuantParams &a = s.in[0].quant, &b = s.in[1].quant;
  if (b.scale.size() > 1 && b.axis != n_axis) return false;
  acc.clear();
  for (float w : b.scale) acc.push_back(a.scale[0] * w * alpha);
  return true;
}

dt dtype_of(const KernelTensor& t) { return dnn::dtype(t.dtype); }

// A oneDNN-allocated copy of prepared host data (dense md).
memory host_memory(const memory::desc& md, const dnnl::engine& eng, const std::vector<float>& data) {
  memory m(md, eng);
  std::memcpy(m.get_data_handle(), data.data(), data.size() * sizeof(float));
  return m;
}

// What a matmul kernel is built from; the Gemm and MatMul factories differ only in filling it.
struct Plan {
  memory::desc a, b, dst;
  const KernelTensor* b_const = nullptr;  // constant B: reordered at creation (or used pre-packed)
  float scale = 1.f;               // output scale (Gemm alpha), applied to A*B + bias
  memory::desc bias;               // zero desc when absent
  int bias_input = -1;             // runtime bias input, or -1
  std::vector<float> bias_data;    // constant bias, prepared
  const void* bias_const = nullptr;  // constant bias used in place
  // Binary post-op adding a broadcast tensor before the fused PostOps (Gemm's general C).
  memory::desc add_md;
  int add_input = -1;
  std::vector<float> add_data;
  const ops::PostOps* post = nullptr;
  // int8: output scales (replacing `scale`), their mask, and the quantized output's parameters.
  std::vector<float> acc_scale;
  int scale_mask = 0;
  const ops::QuantParams* out_quant = nullptr;
  size_t sum_first_input = 3;
  std::vector<memory::desc> sum_mds;  // per Sum operand when it broadcasts (else dst's)
  bool dense_dst = false;             // dst is row-major [rows, N] (no perm_y)
  bool out_signed = false;            // a quantized output is QInt8 (else QUInt8)
};

// The algorithm names of the variants of an int8 layer ending in GELU: the float pass and
// oneDNN's post-op; the table form, the first choice, has none.
constexpr const char* kGeluSplit = "gelu-split";
constexpr const char* kGeluPostOp = "gelu-postop";

// A quantized output whose last post-op is GELU (erf), on a CPU with the in-house pass.
bool gelu_split_possible(const Plan& p) {
  return p.out_quant && p.dense_dst && p.post && !p.post->ops.empty() &&
         p.post->ops.back().kind == ops::PostOp::Kind::Act && p.post->ops.back().act == ops::Act::Gelu &&
         simd::kernels().gelu_q8 != nullptr;
}

// The in-house end of the split variants: from the matmul's output in scratch to the layer's
// quantized output. Float form: GELU and quantization of real values. Table form: the matmul
// quantized its pre-activations to uint8 (gelu_lut), and a 256-entry table maps each level to
// the output level of its GELU.
struct GeluEpilogue {
  size_t scratch_offset = 0;  // the matmul's output buffer, after oneDNN's scratchpad
  int64_t rows = 0, cols = 0;
  float rscale = 1.f;
  int32_t zp = 0;
  bool is_signed = false;
  std::optional<std::array<uint8_t, 256>> lut;  // the table form

  void run(const void* x, void* q) const {
    auto* qb = static_cast<int8_t*>(q);
    // Rows of at least 16k values in all are split across the runtime's OpenMP threads.
    const bool wide = rows > 1 && rows * cols >= (int64_t(1) << 14);
    if (lut) {
      const simd::LutU8Fn f = simd::kernels().lut_u8;
      const auto* in = static_cast<const uint8_t*>(x);
      const uint8_t* table = lut->data();
#pragma omp parallel for schedule(static) if (wide)
      for (int64_t r = 0; r < rows; ++r) f(in + r * cols, cols, table, reinterpret_cast<uint8_t*>(qb + r * cols));
      return;
    }
    const simd::GeluQ8Fn f = simd::kernels().gelu_q8;
    const float* table = simd::gelu_table();
    const auto* in = static_cast<const float*>(x);
#pragma omp parallel for schedule(static) if (wide)
    for (int64_t r = 0; r < rows; ++r) f(in + r * cols, cols, table, rscale, zp, is_signed ? 1 : 0, qb + r * cols);
  }
};

// The table form's pre-activation quantization (uint8 with a zero point over [lo, hi]: from where
// GELU's output becomes exactly the zero point to where it saturates, qk::gelu_table_range) and
// its table; nullopt where the output holds nothing above 0 or the CPU lacks the byte permutes.
struct GeluLut {
  float scale;
  int32_t zp;
  std::array<uint8_t, 256> table;
};
std::optional<GeluLut> gelu_lut(const ops::QuantParams& out, bool out_signed) {
  if (!simd::kernels().lut_u8 || out.scale.size() != 1 || !(out.scale[0] > 0.f)) return std::nullopt;
  const double so = out.scale[0], top = ((out_signed ? 127 : 255) - out.zero_point) * so;
  if (!(top > 0)) return std::nullopt;
  const auto [lo, hi] = qk::gelu_table_range(so, top);
  GeluLut r;
  r.scale = static_cast<float>((hi - lo) / 255);
  r.zp = static_cast<int32_t>(std::nearbyint(-lo / r.scale));
  for (int q = 0; q < 256; ++q) {
    const double v = std::clamp(std::nearbyint(qk::gelu_erf((q - r.zp) * double(r.scale)) / so) + out.zero_point, out_signed ? -128.0 : 0.0,
                                out_signed ? 127.0 : 255.0);
    r.table[static_cast<size_t>(q)] = static_cast<uint8_t>(static_cast<int8_t>(static_cast<int>(v)));
  }
  return r;
}

class MatmulKernel final : public Kernel {
 public:
  size_t scratchpad_bytes() const override {
    if (!gelu_) return pd_.scratchpad_desc().get_size();
    return gelu_->scratch_offset + pd_.dst_desc().get_size();
  }
  Tactic tactic() const override {
    const char* alg = gelu_postop_ ? kGeluPostOp : gelu_ && !gelu_->lut ? kGeluSplit : "";
    return {pd_.impl_info_str(), alg, dnn::format_name(pd_.weights_desc())};
  }
  std::vector<PackedWeights> packed_weights() const override {
    for (auto& [id, m] : owned_)
      if (id == DNNL_ARG_WEIGHTS) return {{1, m, b_user_}};
    return {};
  }

  BoundKernel bind(const KernelBinding& b) const override {
    std::unordered_map<int, memory> args(owned_.begin(), owned_.end());
    for (auto& a : runtime_) {
      const KernelTensor& t = in_[a.input];
      void* p = const_cast<void*>(t.const_data ? t.const_data : b.in.at(a.input));
      args.emplace(a.id, memory(a.md, eng_, p));
    }
    args.emplace(DNNL_ARG_SCRATCHPAD, memory(pd_.scratchpad_desc(), eng_, b.scratchpad));
    dnnl::matmul prim = prim_;
    if (gelu_) {
      void* real = static_cast<char*>(b.scratchpad) + gelu_->scratch_offset;
      args.emplace(DNNL_ARG_DST, memory(pd_.dst_desc(), eng_, real));
      void* out = b.out.at(0);
      return [prim, args, real, out, g = *gelu_](dnnl::stream& st) {
        prim.execute(st, args);
        st.wait();
        g.run(real, out);
      };
    }
    args.emplace(DNNL_ARG_DST, memory(pd_.dst_desc(), eng_, b.out.at(0)));
    return [prim, args](dnnl::stream& st) { prim.execute(st, args); };
  }

  static std::unique_ptr<Kernel> create(const KernelSpec& s, Plan& p);

 private:
  struct Arg { int id; memory::desc md; size_t input; };
  std::vector<KernelTensor> in_;
  dnnl::engine eng_;
  dnnl::matmul::primitive_desc pd_;
  dnnl::matmul prim_;
  std::vector<Arg> runtime_;                  // bound to the context's buffers
  std::vector<std::pair<int, memory>> owned_;  // packed weights, prepared bias / C
  memory::desc b_user_;                        // constant B as the model stores it
  std::optional<GeluEpilogue> gelu_;           // the split variants' in-house end
  bool gelu_postop_ = false;                   // a split was possible and not taken
};

std::unique_ptr<Kernel> MatmulKernel::create(const KernelSpec& s, Plan& p) {
  const bool splittable = gelu_split_possible(p);
  const std::string want = splittable && s.tactic ? s.tactic->algorithm : "";
  const bool postop = splittable && want == kGeluPostOp;
  // The table form unless another is asked for (plans before it record "" for the float form).
  const std::optional<GeluLut> lut = splittable && want.empty() ? gelu_lut(*p.out_quant, p.out_signed) : std::nullopt;
  // Building the other forms' candidates below needs the plan as given (building this one
  // consumes its Sum operands).
  std::optional<Plan> as_given;
  if (splittable && want.empty() && s.candidates) as_given = p;
  auto k = std::unique_ptr<MatmulKernel>(new MatmulKernel());
  k->in_ = s.in;
  k->eng_ = s.engine;
  k->gelu_postop_ = postop;
  const bool split = splittable && !postop;
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (!p.acc_scale.empty()) attr.set_output_scales(p.acc_scale.size() > 1 ? p.scale_mask : 0, p.acc_scale);
  else if (p.scale != 1.f) attr.set_output_scales(0, {p.scale});
  dnnl::post_ops po;
  if (p.add_input >= 0 || !p.add_data.empty()) {
    int id = DNNL_ARG_ATTR_MULTIPLE_POST_OP(po.len()) | DNNL_ARG_SRC_1;
    po.append_binary(algorithm::binary_add, p.add_md);
    if (p.add_input >= 0) k->runtime_.push_back({id, p.add_md, static_cast<size_t>(p.add_input)});
    else k->owned_.emplace_back(id, host_memory(p.add_md, s.engine, p.add_data));
  }
  for (size_t i = 0; i < p.post->ops.size() - (split ? 1 : 0); ++i) {
    const ops::PostOp& op = p.post->ops[i];
    if (op.kind == ops::PostOp::Kind::Sum) {
      int id = DNNL_ARG_ATTR_MULTIPLE_POST_OP(po.len()) | DNNL_ARG_SRC_1;
      size_t sum = p.sum_first_input - 3;
      const memory::desc& md = sum < p.sum_mds.size() ? p.sum_mds[sum] : p.dst;
      po.append_binary(algorithm::binary_add, md);
      k->runtime_.push_back({id, md, p.sum_first_input++});
    } else if (!dnn::post_ops(ops::PostOps{{op}}, po)) {
      return nullptr;
    }
  }
  if (p.out_quant && !split)  // real values to the output's integers
    po.append_eltwise(1.f, algorithm::eltwise_linear, 1.f / p.out_quant->scale[0],
                      static_cast<float>(p.out_quant->zero_point));
  if (lut)  // pre-activations to the table's levels
    po.append_eltwise(1.f, algorithm::eltwise_linear, 1.f / lut->scale, static_cast<float>(lut->zp));
  attr.set_post_ops(po);
  memory::desc b_md = p.b_const ? memory::desc(p.b.dims(), p.b.data_type(), memory::format_tag::any) : p.b;
  bool has_bias = p.bias_input >= 0 || p.bias_const || !p.bias_data.empty();
  const memory::dims yd = p.dst.dims();
  const memory::desc dst = split ? strided_md(Dims(yd.begin(), yd.end()), false, lut ? dt::u8 : dt::f32) : p.dst;
  dnnl::matmul::desc d = has_bias ? dnnl::matmul::desc(p.a, b_md, p.bias, dst) : dnnl::matmul::desc(p.a, b_md, dst);
  using PD = dnnl::matmul::primitive_desc;
  try {
    k->pd_ = dnn::pick_impl<PD>([&] { return PD(d, attr, s.engine); }, s.tactic ? s.tactic->impl : "",
                                postop ? kGeluPostOp : split && !lut ? kGeluSplit : "", s.candidates);
  } catch (const dnnl::error&) {
    return nullptr;
  }
  if (as_given)  // the other forms' implementations are tactics too, after the first choice's
    for (const char* form : {lut ? kGeluSplit : nullptr, kGeluPostOp}) {
      if (!form) continue;
      const Tactic other{"", form, ""};
      KernelSpec alt = s;
      alt.tactic = &other;
      Plan copy = *as_given;
      create(alt, copy);
    }
  if (split) {
    const int64_t cols = yd.back();
    k->gelu_ = GeluEpilogue{(k->pd_.scratchpad_desc().get_size() + 63) / 64 * 64,
                            shape_elements(Dims(yd.begin(), yd.end())) / cols, cols, 1.f / p.out_quant->scale[0],
                            p.out_quant->zero_point, p.out_signed, std::nullopt};
    if (lut) k->gelu_->lut = lut->table;
  }
  k->prim_ = dnnl::matmul(k->pd_);
  k->runtime_.push_back({DNNL_ARG_SRC, p.a, 0});
  dnnl::stream st(s.engine);
  if (p.b_const) {
    k->owned_.emplace_back(DNNL_ARG_WEIGHTS, dnn::weights_memory(s.engine, *p.b_const, p.b, k->pd_.weights_desc()));
    k->b_user_ = p.b;
  } else {
    k->runtime_.push_back({DNNL_ARG_WEIGHTS, p.b, 1});
  }
  if (p.bias_input >= 0) {
    k->runtime_.push_back({DNNL_ARG_BIAS, p.bias, static_cast<size_t>(p.bias_input)});
  } else if (p.bias_const) {
    k->owned_.emplace_back(DNNL_ARG_BIAS, memory(p.bias, s.engine, const_cast<void*>(p.bias_const)));
  } else if (!p.bias_data.empty()) {
    k->owned_.emplace_back(DNNL_ARG_BIAS, host_memory(p.bias, s.engine, p.bias_data));
  }
  st.wait();
  return k;
}

// ---- Gemm ----

std::unique_ptr<Kernel> make_gemm(const KernelSpec& s) {
  auto* op = dynamic_cast<const ops::Gemm*>(&s.op);
  if (!op || !usable(s) || s.in.size() < 2) return nullptr;
  const Dims& A = s.in[0].shape;
  const Dims& B = s.in[1].shape;
  if (A.size() != 2 || B.size() != 2) return nullptr;
  const int64_t M = s.out[0].shape[0], N = s.out[0].shape[1], K = A[op->transA ? 0 : 1];
  Plan p;
  p.a = strided_md({M, K}, op->transA, dtype_of(s.in[0]));
  p.b = strided_md({K, N}, op->transB, dtype_of(s.in[1]));
  p.dst = strided_md({M, N}, false, dtype_of(s.out[0]));
  if (s.in[1].const_data || s.in[1].packed) p.b_const = &s.in[1];
  p.scale = op->alpha;
  p.post = &op->post;
  if (dtype_quantized(s.in[0].dtype)) {
    if (!int8_scales(s, op->transB ? 0 : 1, op->alpha, p.acc_scale)) return nullptr;
    p.scale_mask = 1 << 1;
    if (dtype_quantized(s.out[0].dtype)) p.out_quant = &s.out[0].quant;
  }
  p.dense_dst = true;
  p.out_signed = s.out[0].dtype == DType::QInt8;
  // The output scale multiplies A*B + bias: a bias is divided by column j's scale.
  auto out_scale = [&](int64_t j) { return p.acc_scale.empty() ? op->alpha : p.acc_scale[p.acc_scale.size() == 1 ? 0 : j]; };
  const KernelTensor* C = s.in.size() > 2 && s.in[2].present() ? &s.in[2] : nullptr;
  if (C && op->beta != 0.f) {
    Dims c = pad_rank(C->shape, 2);
    int64_t cn = shape_elements(c);
    auto cdata = static_cast<const float*>(C->const_data);
    if (cdata && c[0] == 1 && op->alpha != 0.f) {
      // A row (or scalar) C is the bias.
      p.bias = strided_md({1, N});
      for (int64_t j = 0; j < N; ++j) p.bias_data.push_back(op->beta / out_scale(j) * cdata[c[1] == 1 ? 0 : j]);
    } else if (cdata) {
      p.add_md = strided_md(c);
      for (int64_t i = 0; i < cn; ++i) p.add_data.push_back(op->beta * cdata[i]);
    } else if (op->beta == 1.f) {
      p.add_md = strided_md(c);
      p.add_input = 2;
    } else {
      return nullptr;  // runtime C scaled by beta: no oneDNN form without an extra pass
    }
  }
  return MatmulKernel::create(s, p);
}

KILN_REGISTER_KERNEL("Gemm", "onednn", make_gemm);

// ---- MatMul ----

std::unique_ptr<Kernel> make_matmul(const KernelSpec& s) {
  auto* op = dynamic_cast<const ops::MatMul*>(&s.op);
  if (!op || !usable(s) || s.in.size() < 2) return nullptr;
  Dims a = apply_perm(s.in[0].shape, op->perm_a), b = apply_perm(s.in[1].shape, op->perm_b);
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  size_t r = std::max(a.size(), b.size());
  if (r > 12) return nullptr;
  a = pad_rank(a, r);
  b = pad_rank(b, r);
  // Y in the promoted rank: same elements and layout as the real Y, which only lacks 1-dims.
  Dims y(r);
  for (size_t i = 0; i + 2 < r; ++i) y[i] = std::max(a[i], b[i]);
  y[r - 2] = a[r - 2];
  y[r - 1] = b[r - 1];
  if (shape_elements(y) != shape_elements(s.out[0].shape)) return nullptr;
  // B shared by every batch (a weight): fold A's batch dims into M, one [batch*M, K] x [K, N]
  // GEMM instead of batch small ones that each stream all of B (torch's seq-first attention
  // projections are [197, 1, 768] x [768, 2304]: 197 GEMVs, 4x slower than one GEMM).
  // Only for plain A and Y and full-shape Sum operands: permuted views and broadcast operands
  // are described in the unfolded shape.
  bool b_shared = op->perm_a.empty() && op->perm_y.empty();
  for (size_t i = 0; i + 2 < r; ++i) b_shared &= b[i] == 1;
  for (size_t i = 3; i < s.in.size(); ++i) b_shared &= s.in[i].shape == s.out[0].shape;
  if (b_shared && r > 2) {
    const int64_t rows = shape_elements(a) / a[r - 1];
    a = pad_rank({rows, a[r - 1]}, r);
    y = pad_rank({rows, y[r - 1]}, r);
  }
  Plan p;
  const dt ta = dtype_of(s.in[0]), tb = dtype_of(s.in[1]), ty = dtype_of(s.out[0]);
  p.a = op->perm_a.empty() ? strided_md(a, false, ta) : permuted_md(s.in[0].shape, op->perm_a, r, ta);
  p.b = op->perm_b.empty() ? strided_md(b, false, tb) : permuted_md(s.in[1].shape, op->perm_b, r, tb);
  p.dst = strided_md(y, false, ty);
  if (!op->perm_y.empty()) {
    // The product written through perm_y: product dim perm_y[j] takes Y's stride j.
    const Dims& ys = s.out[0].shape;
    if (ys.size() != r || s.in.size() > 3) return nullptr;
    Dims yst = shape_strides(ys), pst(r);
    for (size_t j = 0; j < r; ++j) pst[op->perm_y[j]] = yst[j];
    p.dst = memory::desc(memory::dims(y.begin(), y.end()), ty, memory::dims(pst.begin(), pst.end()));
  }
  p.dense_dst = op->perm_y.empty();
  p.out_signed = s.out[0].dtype == DType::QInt8;
  if (s.in[1].const_data || s.in[1].packed) p.b_const = &s.in[1];
  p.post = &op->post;
  p.scale = op->alpha;
  if (dtype_quantized(s.in[0].dtype)) {
    // A constant B is a weight [K, N] with scales per column; a run-time B has one scale and may
    // be read through perm_b (K^T).
    if ((p.b_const && (!op->perm_b.empty() || s.in[1].shape.size() != 2)) ||
        !int8_scales(s, 1, op->alpha, p.acc_scale))
      return nullptr;
    p.scale_mask = 1 << (r - 1);
    if (dtype_quantized(s.out[0].dtype)) p.out_quant = &s.out[0].quant;
  }
  if (s.in.size() > 2 && s.in[2].present()) {
    Dims bias(r, 1);
    bias[r - 1] = s.in[2].shape[0];
    p.bias = strided_md(bias);
    if (op->alpha != 1.f || !p.acc_scale.empty()) {
      // The output scale multiplies A*B + bias: a constant bias is divided by it up front.
      auto* c = static_cast<const float*>(s.in[2].const_data);
      if (!c || op->alpha == 0.f) return nullptr;
      for (int64_t j = 0; j < s.in[2].shape[0]; ++j)
        p.bias_data.push_back(c[j] / (p.acc_scale.empty() ? op->alpha : p.acc_scale[p.acc_scale.size() == 1 ? 0 : j]));
    } else if (s.in[2].const_data) {
      p.bias_const = s.in[2].const_data;
    } else {
      p.bias_input = 2;
    }
  }
  for (size_t i = 3; i < s.in.size(); ++i) {
    if (s.in[i].shape.size() > r) return nullptr;
    const dt ts = dtype_of(s.in[i]);
    p.sum_mds.push_back(s.in[i].shape == s.out[0].shape && ts == ty
                            ? p.dst
                            : s.in[i].shape == s.out[0].shape ? strided_md(y, false, ts)
                                                              : strided_md(pad_rank(s.in[i].shape, r), false, ts));
  }
  return MatmulKernel::create(s, p);
}

KILN_REGISTER_KERNEL("MatMul", "onednn", make_matmul);

}  // namespace
}  // namespace kiln
