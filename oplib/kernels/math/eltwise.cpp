// oneDNN kernels for the elementwise ops: Unary as eltwise_forward (an activation oneDNN lacks
// as one algorithm is composed from two, e.g. Selu = linear(elu)), and Binary's float32
// arithmetic as the binary primitive with numpy broadcasting and fused post-ops.
#include <algorithm>
#include <optional>
#include <unordered_map>

#include "kernels/kernel.h"
#include "ops/math/eltwise.h"

namespace kiln {
namespace {

using dnnl::algorithm;
using dnnl::memory;

struct EltStep {
  algorithm alg;
  float alpha, beta;
};

// The oneDNN eltwise algorithms computing act, in order; empty when oneDNN cannot.
std::vector<EltStep> act_steps(ops::Act act, float a, float b) {
  using A = ops::Act;
  switch (act) {
    case A::Relu: return {{algorithm::eltwise_relu, 0.f, 0.f}};
    case A::LeakyRelu: return {{algorithm::eltwise_relu, a, 0.f}};
    case A::Clip: return {{algorithm::eltwise_clip_v2, a, b}};
    case A::Sigmoid: return {{algorithm::eltwise_logistic, 0.f, 0.f}};
    case A::Tanh: return {{algorithm::eltwise_tanh, 0.f, 0.f}};
    case A::Elu: return {{algorithm::eltwise_elu, a, 0.f}};
    // oneDNN 2.6 has no hardsigmoid; its hardswish ignores alpha/beta and is x*relu6(x+3)/6,
    // which is ONNX HardSwish exactly.
    case A::HardSigmoid: return {{algorithm::eltwise_linear, a, b}, {algorithm::eltwise_clip_v2, 0.f, 1.f}};
    case A::HardSwish: return {{algorithm::eltwise_hardswish, 0.f, 0.f}};
    case A::Swish: return {{algorithm::eltwise_swish, a, 0.f}};
    case A::Softplus: return {{algorithm::eltwise_soft_relu, 0.f, 0.f}};
    case A::Gelu: return {{algorithm::eltwise_gelu_erf, 0.f, 0.f}};
    case A::GeluTanh: return {{algorithm::eltwise_gelu_tanh, 0.f, 0.f}};
    case A::Mish: return {{algorithm::eltwise_mish, 0.f, 0.f}};
    case A::Selu: return {{algorithm::eltwise_elu, a, 0.f}, {algorithm::eltwise_linear, b, 0.f}};
    case A::Abs: return {{algorithm::eltwise_abs, 0.f, 0.f}};
    case A::Exp: return {{algorithm::eltwise_exp, 0.f, 0.f}};
    case A::Sqrt: return {{algorithm::eltwise_sqrt, 0.f, 0.f}};
    case A::Round: return {{algorithm::eltwise_round, 0.f, 0.f}};
    case A::Neg: return {{algorithm::eltwise_linear, -1.f, 0.f}};
    case A::Reciprocal: return {{algorithm::eltwise_pow, 1.f, -1.f}};
    case A::Identity: return {{algorithm::eltwise_linear, 1.f, 0.f}};
    // Log stays on the reference: oneDNN 2.6's polynomial gives log(1) = 3e-6, not 0.
    default: return {};  // Log, Floor, Ceil, Erf, Sin, Cos, Softsign
  }
}

bool all_dense(const KernelSpec& s) {
  for (auto& t : s.in)
    if (t.present() && (!t.layout.empty() || !shape_static(t.shape))) return false;
  for (auto& t : s.out)
    if (!t.layout.empty() || !shape_static(t.shape)) return false;
  return true;
}

// Maps PostOps to oneDNN, each Sum becoming a binary add of that operand (so dst never has to be
// pre-filled with it). sum_args collects the execution argument ids of the Sum operands.
bool map_post_ops(const ops::PostOps& p, const memory::desc& dst, dnnl::post_ops& out,
                  std::vector<int>& sum_args) {
  for (auto& po : p.ops) {
    if (po.kind == ops::PostOp::Kind::Sum) {
      sum_args.push_back(DNNL_ARG_ATTR_MULTIPLE_POST_OP(out.len()) | DNNL_ARG_SRC_1);
      out.append_binary(algorithm::binary_add, dst);
    } else if (!dnn::post_ops(ops::PostOps{{po}}, out)) {
      return false;
    }
  }
  return true;
}

const void* input_ptr(const KernelTensor& t, const KernelBinding& b, size_t i) {
  return t.const_data ? t.const_data : b.in.at(i);
}

// ---- Unary ----

// Two-step acts run as two primitives, the second in place on dst: oneDNN 2.6 sends an eltwise
// primitive with eltwise post-ops to its ref:any implementation, which leaves dst unwritten.
class UnaryKernel final : public Kernel {
 public:
  UnaryKernel(const KernelSpec& s, std::vector<dnnl::eltwise_forward::primitive_desc> pds)
      : eng_(s.engine), const_in_(s.in[0].const_data), pds_(std::move(pds)) {
    for (auto& pd : pds_) {
      prims_.emplace_back(pd);
      scratch_ = std::max(scratch_, pd.scratchpad_desc().get_size());
    }
  }

  size_t scratchpad_bytes() const override { return scratch_; }

  BoundKernel bind(const KernelBinding& b) const override {
    void* src = const_cast<void*>(const_in_ ? const_in_ : b.in.at(0));
    std::vector<std::pair<dnnl::eltwise_forward, std::unordered_map<int, memory>>> steps;
    for (size_t i = 0; i < pds_.size(); ++i) {
      const auto& pd = pds_[i];
      steps.emplace_back(prims_[i], std::unordered_map<int, memory>{
          {DNNL_ARG_SRC, memory(pd.src_desc(), eng_, i == 0 ? src : b.out.at(0))},
          {DNNL_ARG_DST, memory(pd.dst_desc(), eng_, b.out.at(0))},
          {DNNL_ARG_SCRATCHPAD, memory(pd.scratchpad_desc(), eng_, b.scratchpad)}});
    }
    return [steps](dnnl::stream& st) {
      for (auto& [prim, args] : steps) prim.execute(st, args);
    };
  }

 private:
  dnnl::engine eng_;
  const void* const_in_;
  std::vector<dnnl::eltwise_forward::primitive_desc> pds_;
  std::vector<dnnl::eltwise_forward> prims_;
  size_t scratch_ = 0;
};

// True when the implementation oneDNN picked is its slow reference code, which kiln never
// chooses over its own kernels.
template <class PD>
bool is_ref_impl(const PD& pd) {
  return std::string(pd.impl_info_str()).find("ref") != std::string::npos;
}

// Same blocked layout on every tensor (a blocked region): the kernel runs on oneDNN's md of it.
bool same_blocked_layout(const KernelSpec& s) {
  const std::string& l = s.out[0].layout;
  if (l.empty() || !shape_static(s.out[0].shape)) return false;
  for (auto& t : s.in)
    if (t.present() && (t.layout != l || t.const_data)) return false;
  return true;
}

std::unique_ptr<Kernel> make_unary(const KernelSpec& s) {
  auto* op = dynamic_cast<const ops::Unary*>(&s.op);
  if (!op || s.in.size() != 1 || s.out.size() != 1) return nullptr;
  const bool blocked = same_blocked_layout(s);
  if (!blocked && !all_dense(s)) return nullptr;
  // float32, or bfloat16 in and out (computed in fp32 inside oneDNN's kernel).
  if (!ops::f32_or_bf16(s.in[0].dtype) || s.out[0].dtype != s.in[0].dtype)
    return nullptr;
  int64_t n = shape_elements(s.in[0].shape);
  if (n <= 0) return nullptr;
  auto steps = act_steps(op->act, op->alpha, op->beta);
  if (steps.empty()) return nullptr;
  // Elementwise over dense data, so any shape is one flat vector to oneDNN; a blocked tensor
  // keeps its md so oneDNN leaves the channel padding alone.
  memory::desc md = blocked ? dnn::md(s.in[0]) : memory::desc({n}, dnn::dtype(s.in[0].dtype), memory::format_tag::a);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  std::vector<dnnl::eltwise_forward::primitive_desc> pds;
  for (auto& st : steps) {
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, st.alg, md, st.alpha, st.beta);
    pds.emplace_back(d, attr, s.engine, true);
    if (!pds.back() || (blocked && is_ref_impl(pds.back()))) return nullptr;
  }
  return std::make_unique<UnaryKernel>(s, std::move(pds));
}

KILN_REGISTER_KERNEL("Unary", "onednn", make_unary);

// ---- Binary ----

class BinaryKernel final : public Kernel {
 public:
  BinaryKernel(const KernelSpec& s, dnnl::binary::primitive_desc pd, bool swapped, std::vector<int> sum_args)
      : spec_in_(s.in), eng_(s.engine), pd_(std::move(pd)), prim_(pd_), swapped_(swapped),
        sum_args_(std::move(sum_args)) {}

  size_t scratchpad_bytes() const override { return pd_.scratchpad_desc().get_size(); }

  BoundKernel bind(const KernelBinding& b) const override {
    size_t i0 = swapped_ ? 1 : 0, i1 = swapped_ ? 0 : 1;
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC_0, memory(pd_.src_desc(0), eng_, const_cast<void*>(input_ptr(spec_in_[i0], b, i0)))},
        {DNNL_ARG_SRC_1, memory(pd_.src_desc(1), eng_, const_cast<void*>(input_ptr(spec_in_[i1], b, i1)))},
        {DNNL_ARG_DST, memory(pd_.dst_desc(), eng_, b.out.at(0))},
        {DNNL_ARG_SCRATCHPAD, memory(pd_.scratchpad_desc(), eng_, b.scratchpad)}};
    for (size_t k = 0; k < sum_args_.size(); ++k)
      args.emplace(sum_args_[k], memory(pd_.dst_desc(), eng_, const_cast<void*>(input_ptr(spec_in_[2 + k], b, 2 + k))));
    dnnl::binary prim = prim_;
    return [prim, args](dnnl::stream& st) { prim.execute(st, args); };
  }

 private:
  std::vector<KernelTensor> spec_in_;
  dnnl::engine eng_;
  dnnl::binary::primitive_desc pd_;
  dnnl::binary prim_;
  bool swapped_;
  std::vector<int> sum_args_;
};

std::optional<algorithm> binary_alg(ops::BinaryKind k) {
  using K = ops::BinaryKind;
  switch (k) {
    case K::Add: return algorithm::binary_add;
    case K::Sub: return algorithm::binary_sub;
    case K::Mul: return algorithm::binary_mul;
    case K::Div: return algorithm::binary_div;
    case K::Max: return algorithm::binary_max;
    case K::Min: return algorithm::binary_min;
    default: return std::nullopt;
  }
}

bool commutative(ops::BinaryKind k) {
  using K = ops::BinaryKind;
  return k == K::Add || k == K::Mul || k == K::Max || k == K::Min;
}

Dims pad_rank(const Dims& s, size_t r) {
  Dims p(r - s.size(), 1);
  p.insert(p.end(), s.begin(), s.end());
  return p;
}

// Reduces (src1 b, dst o) to its broadcast structure: drops unit dims of o and merges runs of
// dims where b is either all broadcast or all full, so oneDNN's jit sees a pattern it knows
// (scalar, per-channel, full) instead of falling back to its slow reference. A b that varies
// only along leading dims ([F, B], e.g. x - mean(x, -1)) becomes [1, F, B]: per-channel.
void canonicalize(Dims& b, Dims& o) {
  Dims nb, no;
  int prev = -1;
  for (size_t i = 0; i < o.size(); ++i) {
    if (o[i] == 1) continue;
    int cls = b[i] == 1 ? 1 : 0;
    if (cls == prev) {
      no.back() *= o[i];
      nb.back() *= b[i];
    } else {
      no.push_back(o[i]);
      nb.push_back(b[i]);
      prev = cls;
    }
  }
  if (no.empty()) no = nb = {1};
  if (no.size() == 2 && nb[0] != 1 && nb[1] == 1) {
    no.insert(no.begin(), 1);
    nb.insert(nb.begin(), 1);
  }
  b = nb;
  o = no;
}

// Binary inside a blocked region: dst and one operand share the blocked layout; the other operand
// is either the same or a per-channel [N|1, C, 1, 1] tensor (the squeeze-excite scale).
std::unique_ptr<Kernel> make_blocked_binary(const KernelSpec& s, const ops::Binary& op, algorithm alg) {
  const KernelTensor& y = s.out[0];
  if (y.shape.size() != 4) return nullptr;
  size_t big = s.in[0].shape == y.shape && s.in[0].layout == y.layout ? 0 : 1;
  const KernelTensor &a = s.in[big], &b = s.in[1 - big];
  if (a.shape != y.shape || a.layout != y.layout || a.const_data) return nullptr;
  if (big == 1 && !commutative(op.kind)) return nullptr;
  bool per_channel = b.shape.size() == 4 && b.shape[1] == y.shape[1] && b.shape[2] == 1 && b.shape[3] == 1 &&
                     (b.shape[0] == 1 || b.shape[0] == y.shape[0]);
  if (!(b.shape == y.shape && b.layout == y.layout) && !per_channel) return nullptr;
  for (size_t k = 2; k < s.in.size(); ++k)
    if (s.in[k].shape != y.shape || s.in[k].layout != y.layout) return nullptr;
  memory::desc dst = dnn::md(y);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops po;
  std::vector<int> sum_args;
  if (!map_post_ops(op.post, dst, po, sum_args)) return nullptr;
  attr.set_post_ops(po);
  dnnl::binary::primitive_desc pd;
  try {
    dnnl::binary::desc d(alg, dnn::md(a), dnn::md(b), dst);
    pd = dnnl::binary::primitive_desc(d, attr, s.engine, true);
  } catch (const dnnl::error&) {
    return nullptr;
  }
  if (!pd || is_ref_impl(pd)) return nullptr;
  return std::make_unique<BinaryKernel>(s, std::move(pd), big == 1, std::move(sum_args));
}

// float32 or bfloat16 operands (they may differ: a bf16 activation plus an fp32 constant) and
// result; Sum operands are added through dst's descriptor, so they share its type.
bool float_operands(const KernelSpec& s) {
  if (!ops::f32_or_bf16(s.out[0].dtype)) return false;
  for (size_t i = 0; i < s.in.size(); ++i)
    if (!ops::f32_or_bf16(s.in[i].dtype) || (i >= 2 && s.in[i].dtype != s.out[0].dtype)) return false;
  return true;
}

std::unique_ptr<Kernel> make_binary(const KernelSpec& s) {
  auto* op = dynamic_cast<const ops::Binary*>(&s.op);
  if (!op || s.in.size() != 2 + op->post.sum_count() || s.out.size() != 1) return nullptr;
  if (!s.out[0].layout.empty()) {
    auto alg = binary_alg(op->kind);
    for (auto& t : s.in)
      if (t.dtype != DType::Float32) return nullptr;
    return alg && float_operands(s) ? make_blocked_binary(s, *op, *alg) : nullptr;
  }
  if (!all_dense(s)) return nullptr;
  auto alg = binary_alg(op->kind);
  if (!alg || !float_operands(s)) return nullptr;
  const Dims& out = s.out[0].shape;
  if (shape_elements(out) <= 0) return nullptr;
  // oneDNN wants equal ranks, dst == src0 and src1 broadcast along its 1-dims.
  size_t r = std::max<size_t>(out.size(), 1);
  Dims a = pad_rank(s.in[0].shape, r), b = pad_rank(s.in[1].shape, r), o = pad_rank(out, r);
  bool swapped = false;
  if (a != o) {
    if (b != o || !commutative(op->kind)) return nullptr;
    std::swap(a, b);
    swapped = true;
  }
  canonicalize(b, o);
  a = o;
  if (o.size() > 6) return nullptr;
  memory::desc dst = dnn::plain_md(o, s.out[0].dtype);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops po;
  std::vector<int> sum_args;
  if (!map_post_ops(op->post, dst, po, sum_args)) return nullptr;
  attr.set_post_ops(po);
  const DType ta = s.in[swapped ? 1 : 0].dtype, tb = s.in[swapped ? 0 : 1].dtype;
  dnnl::binary::primitive_desc pd;
  try {
    dnnl::binary::desc d(*alg, dnn::plain_md(a, ta), dnn::plain_md(b, tb), dst);
    pd = dnnl::binary::primitive_desc(d, attr, s.engine, true);
  } catch (const dnnl::error&) {
    return nullptr;
  }
  if (!pd || (s.out[0].dtype != DType::Float32 && is_ref_impl(pd))) return nullptr;
  return std::make_unique<BinaryKernel>(s, std::move(pd), swapped, std::move(sum_args));
}

KILN_REGISTER_KERNEL("Binary", "onednn", make_binary);

}  // namespace
}  // namespace kiln
