// ONNX's integer linear-algebra ops on oneDNN's int8 primitives: ConvInteger and QLinearConv on
// convolution_forward, MatMulInteger and QLinearMatMul on matmul. (kiln's own int8 layers, on
// quantized reals, are conv.cpp's and gemm.cpp's; these ops carry their integers in the graph.)
//
// How ONNX's arithmetic maps onto oneDNN 2.6:
// - The activation (u8 or s8) goes in as is, its zero point as oneDNN's source zero point (a
//   constant, or a run-time value read from its tensor on every run: DynamicQuantizeLinear's
//   output). oneDNN treats padding as the zero point, as ONNX does.
// - oneDNN wants s8 weights without a zero point. Constant weights are converted at kernel
//   creation: per output channel (matmul: per column), w - zp where that fits in s8 (s8 weights
//   with zero zero-point, or u8 weights with zero point 128 -- no cost at run time); otherwise
//   w - 128 (u8) or w (s8), and the remaining zero point c times the window sum of the source
//   (conv: a second oneDNN conv with all-ones weights, one output channel per group; matmul: row
//   sums computed in-house) is subtracted in a cheap pass over the output. That pass also
//   requantizes QLinear outputs, bit-exactly as the reference does.
// - Otherwise QLinear's requantization is fused: output scales x_scale * w_scale / y_scale per
//   channel, the int32 bias B as oneDNN's bias, y_zero_point as the destination zero point
//   (constant or run-time). Run-time x_scale / y_scale take the in-house pass instead: oneDNN
//   2.6's int8 convolutions accept output scales only as constants.
//   oneDNN rounds (acc + B) * scale + zp in float32 once, the reference rounds (acc + B) * scale
//   and then adds the zero point: near a tie the two may differ by one unit.
// - oneDNN's int8 kernels pass the int32 accumulator through float32 before writing it, even to
//   an s32 destination, so ConvInteger / MatMulInteger are exact while |acc| < 2^24 (every case
//   the tests and the ONNX suite have; beyond, the error is below float32's 2^-24 relative step,
//   which the Cast to float that follows these ops in ORT's dynamic quantization has anyway).
// - Only on CPUs with VNNI (avx512_core_vnni, avx2_vnni and later, as oneDNN reports its
//   effective ISA): without it oneDNN multiplies u8 * s8 pairs with 16-bit saturation and halves
//   s8-source weights, which is not exact. Elsewhere, and for what does not map (run-time weights
//   or weight scales/zero points, per-row A zero points, batched B, dynamic shapes), the factory
//   declines and the layer runs the reference loop.
#include <climits>
#include <cstring>
#include <unordered_map>

#include "kernels/quant_util.h"
#include "ops/nn/conv.h"
#include "ops/quantization/quant.h"

namespace kiln {
namespace {

using dnnl::memory;
using dt = memory::data_type;
using Args = std::unordered_map<int, memory>;

size_t align64(size_t n) { return (n + 63) / 64 * 64; }
bool q8(DType t) { return t == DType::UInt8 || t == DType::Int8; }
bool is_impl_ref(const dnnl::primitive_desc_base& pd) { return std::string(pd.impl_info_str()).rfind("ref", 0) == 0; }
memory::desc vec_md(int64_t n, dt t) { return memory::desc({n}, t, memory::format_tag::a); }
memory::desc dense(const Dims& s, dt t) {
  const Dims st = shape_strides(s);
  return memory::desc(dnn::dims(s), t, memory::dims(st.begin(), st.end()));
}

// Constant weights as s8 for oneDNN: w - zp = w8 - c per channel (see the header).
struct S8Weights {
  std::vector<int8_t> w;
  std::vector<int32_t> c;
  bool corrected = false;
};

// Element i belongs to channel (i / inner) % channels; zp holds one value or one per channel.
S8Weights to_s8(const KernelTensor& w, int64_t channels, int64_t inner, const KernelTensor* zp) {
  const int64_t n = shape_elements(w.shape);
  const bool per_channel = zp && shape_elements(zp->shape) > 1;
  auto zpv = [&](int64_t ch) { return zp ? qk::int_at(zp->const_data, zp->dtype, per_channel ? ch : 0) : 0; };
  std::vector<int32_t> lo(static_cast<size_t>(channels), INT_MAX), hi(static_cast<size_t>(channels), INT_MIN);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t ch = (i / inner) % channels;
    const int32_t d = qk::int_at(w.const_data, w.dtype, i) - zpv(ch);
    lo[ch] = std::min(lo[ch], d);
    hi[ch] = std::max(hi[ch], d);
  }
  S8Weights r;
  r.c.assign(static_cast<size_t>(channels), 0);
  std::vector<int32_t> base(static_cast<size_t>(channels));
  for (int64_t ch = 0; ch < channels; ++ch) {
    if (lo[ch] >= -128 && hi[ch] <= 127) {
      base[ch] = zpv(ch);
    } else {
      base[ch] = w.dtype == DType::UInt8 ? 128 : 0;
      r.c[ch] = zpv(ch) - base[ch];
      r.corrected = true;
    }
  }
  r.w.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    r.w[i] = static_cast<int8_t>(qk::int_at(w.const_data, w.dtype, i) - base[(i / inner) % channels]);
  return r;
}

dnnl::memory pack(const dnnl::engine& eng, const memory::desc& user, const void* data, const memory::desc& packed) {
  memory src(user, eng, const_cast<void*>(data)), dst(packed, eng);
  dnnl::stream st(eng);
  dnnl::reorder(src, dst).execute(st, src, dst);
  st.wait();
  return dst;
}

// Where each ONNX input of the four ops sits (-1: the op has none).
struct Inputs {
  int x = 0, w = 1, xzp = -1, wzp = -1, xs = -1, ws = -1, ys = -1, yzp = -1, b = -1;
  bool qlinear = false;
};

Inputs conv_inputs(bool qlinear) {
  if (!qlinear) return {0, 1, 2, 3};
  return {0, 3, 2, 5, 1, 4, 6, 7, 8, true};
}

Inputs matmul_inputs(bool qlinear) {
  if (!qlinear) return {0, 1, 2, 3};
  return {0, 3, 2, 5, 1, 4, 6, 7, -1, true};
}

// The quantization parameters one layer reads: which are constant (folded into the primitive at
// creation) and which are read from their tensors on every run.
class Params {
 public:
  Params(const KernelSpec& s, Inputs ix) : in_(s.in), ix_(ix) {}
  const KernelTensor* get(int i) const {
    return i >= 0 && static_cast<size_t>(i) < in_.size() && in_[i].present() ? &in_[i] : nullptr;
  }
  bool is_const(int i) const { return !get(i) || get(i)->const_data; }
  // Requantization multipliers x_scale * w_scale[ch] / y_scale, as the reference computes them.
  bool scales_const() const { return is_const(ix_.xs) && is_const(ix_.ys); }
  void multipliers(const KernelBinding* b, int64_t channels, float* out) const {
    const float xs = qk::f32_at(ptr(ix_.xs, b), 0), ys = qk::f32_at(ptr(ix_.ys, b), 0);
    const KernelTensor& w = *get(ix_.ws);
    const bool per = shape_elements(w.shape) > 1;
    for (int64_t c = 0; c < channels; ++c) out[c] = xs * qk::f32_at(w.const_data, per ? c : 0) / ys;
  }
  int32_t zero_point(int i, const KernelBinding* b) const {
    return get(i) ? qk::int_at(ptr(i, b), get(i)->dtype, 0) : 0;
  }
  const void* ptr(int i, const KernelBinding* b) const {
    const KernelTensor* t = get(i);
    if (!t) return nullptr;
    return t->const_data ? t->const_data : b ? qk::input_ptr(*t, *b, static_cast<size_t>(i)) : nullptr;
  }

 private:
  std::vector<KernelTensor> in_;
  Inputs ix_;
};

// Values a binding feeds oneDNN at run time (zero points, scales), owned by its closure.
struct RunValues {
  int32_t src_zp = 0, dst_zp = 0;
  std::vector<float> scales;
};

// Sets oneDNN's zero point for `arg`: a constant, or a run-time one when the tensor is not
// constant. A constant 0 sets nothing.
void set_zp(dnnl::primitive_attr& attr, int arg, const Params& p, int input) {
  if (!p.get(input)) return;
  if (!p.is_const(input)) attr.set_zero_points(arg, 0, {DNNL_RUNTIME_S32_VAL});
  else if (int32_t v = p.zero_point(input, nullptr)) attr.set_zero_points(arg, 0, {v});
}

// A reorder between a tensor's plain layout and the one a primitive chose (oneDNN's int8
// convolutions read and write only channels-last or blocked layouts), or nothing when they agree.
struct Relayout {
  memory::desc from, to;
  dnnl::reorder prim;
  bool needed() const { return static_cast<bool>(prim); }
  void make(const dnnl::engine& eng, const memory::desc& f, const memory::desc& t) {
    from = f;
    to = t;
    if (f != t) prim = dnnl::reorder(dnnl::reorder::primitive_desc(eng, f, eng, t));
  }
  Args args(const dnnl::engine& eng, const void* f, void* t) const {
    return {{DNNL_ARG_FROM, memory(from, eng, const_cast<void*>(f))}, {DNNL_ARG_TO, memory(to, eng, t)}};
  }
};

// What the conv and matmul kernels share: the main primitive (and for corrected weights the
// window-sum primitive), the packed weights, the reorders around them and the pass after them.
class QKernel : public Kernel {
 public:
  size_t scratchpad_bytes() const override { return total_; }
  Tactic tactic() const override { return {pd_.impl_info_str(), "", dnn::format_name(w_md_)}; }

  BoundKernel bind(const KernelBinding& b) const override {
    auto rv = std::make_shared<RunValues>();
    rv->scales.assign(static_cast<size_t>(channels_), 1.f);
    if (ix_.qlinear && p_.scales_const()) p_.multipliers(nullptr, channels_, rv->scales.data());
    if (ix_.qlinear && p_.is_const(ix_.yzp)) rv->dst_zp = p_.zero_point(ix_.yzp, nullptr);
    if (p_.is_const(ix_.xzp)) rv->src_zp = p_.zero_point(ix_.xzp, nullptr);
    auto* scratch = static_cast<char*>(b.scratchpad);
    void* y = b.out.at(0);
    // Plain results: the layer's output, or for a requantizing correction the int32 accumulator.
    void* acc = corrected_ && ix_.qlinear ? static_cast<void*>(scratch + acc_off_) : y;
    auto* sums = reinterpret_cast<int32_t*>(scratch + sum_off_);
    const void* x = b.in.at(static_cast<size_t>(ix_.x));
    const void* src = src_re_.needed() ? scratch + src_t_off_ : x;
    void* dst = dst_re_.needed() ? scratch + dst_t_off_ : acc;
    void* sdst = sum_re_.needed() ? scratch + sum_t_off_ : static_cast<void*>(sums);
    Args a = args(pd_, src, weights_, dst, scratch, *rv, true);
    if (!corrected_ && p_.get(ix_.b))
      a.emplace(DNNL_ARG_BIAS, memory(vec_md(channels_, dt::s32), eng_, const_cast<void*>(p_.ptr(ix_.b, &b))));
    Args sa, src_a, dst_a, sum_a;
    if (corrected_ && sum_prim_) sa = args(sum_pd_, src, ones_, sdst, scratch, *rv, false);
    if (src_re_.needed()) src_a = src_re_.args(eng_, x, const_cast<void*>(src));
    if (dst_re_.needed()) dst_a = dst_re_.args(eng_, dst, acc);
    if (sum_re_.needed()) sum_a = sum_re_.args(eng_, sdst, sums);
    const auto* bias = static_cast<const int32_t*>(p_.ptr(ix_.b, &b));
    // Kernels outlive their bindings (a context holds its specialisation), so `this` stays valid.
    return [this, rv, a, sa, src_a, dst_a, sum_a, acc, sums, y, x, bias, bb = b](dnnl::stream& st) {
      if (!p_.is_const(ix_.xzp)) rv->src_zp = p_.zero_point(ix_.xzp, &bb);
      if (ix_.qlinear && !p_.scales_const()) p_.multipliers(&bb, channels_, rv->scales.data());
      if (ix_.qlinear && !p_.is_const(ix_.yzp)) rv->dst_zp = p_.zero_point(ix_.yzp, &bb);
      if (src_re_.needed()) src_re_.prim.execute(st, src_a);
      prim_.execute(st, a);
      if (dst_re_.needed()) dst_re_.prim.execute(st, dst_a);
      if (!corrected_) return;
      if (sum_prim_) {
        sum_prim_.execute(st, sa);
        if (sum_re_.needed()) sum_re_.prim.execute(st, sum_a);
      } else if (sums_) {
        row_sums(x, rv->src_zp, sums);
      }
      fix(static_cast<const int32_t*>(acc), sums, bias, *rv, y);
    };
  }

 protected:
  QKernel(const KernelSpec& s, Inputs ix) : eng_(s.engine), ix_(ix), p_(s, ix), ydt_(s.out[0].dtype) {}

  // Creates the main primitive (and the all-ones one), the reorders from and to the plain
  // layouts user_src_, user_dst_ and user_sum_, and lays out the scratchpad.
  bool finish(const std::function<dnnl::primitive_desc(const dnnl::primitive_attr&, bool)>& make) {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    set_zp(attr, DNNL_ARG_SRC, p_, ix_.xzp);
    if (ix_.qlinear && !corrected_) {
      // Constant scales here: run-time ones make the layer corrected_.
      const int mask = p_.get(ix_.ws) && shape_elements(p_.get(ix_.ws)->shape) > 1 ? 1 << 1 : 0;
      std::vector<float> m(static_cast<size_t>(channels_));
      p_.multipliers(nullptr, channels_, m.data());
      if (!mask) m.resize(1);
      attr.set_output_scales(mask, m);
      set_zp(attr, DNNL_ARG_DST, p_, ix_.yzp);
    }
    try {
      pd_ = make(attr, false);
      if (is_impl_ref(pd_)) return false;  // no faster than the reference loop
      if (sums_ && has_sum_prim_) {
        dnnl::primitive_attr sattr;
        sattr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        set_zp(sattr, DNNL_ARG_SRC, p_, ix_.xzp);
        sum_pd_ = make(sattr, true);
        sum_prim_ = dnnl::primitive(sum_pd_);
        sum_re_.make(eng_, sum_pd_.dst_desc(0), user_sum_);
      }
      prim_ = dnnl::primitive(pd_);
      src_re_.make(eng_, user_src_, pd_.src_desc(0));
      dst_re_.make(eng_, pd_.dst_desc(0), user_dst_);
    } catch (const dnnl::error&) {
      return false;
    }
    w_md_ = pd_.weights_desc(0);
    size_t pad = pd_.scratchpad_desc().get_size();
    if (sum_prim_) pad = std::max(pad, sum_pd_.scratchpad_desc().get_size());
    size_t at = align64(pad);
    auto take = [&](size_t bytes) {
      const size_t off = at;
      at += align64(bytes);
      return off;
    };
    if (src_re_.needed()) src_t_off_ = take(pd_.src_desc(0).get_size());
    if (dst_re_.needed()) dst_t_off_ = take(pd_.dst_desc(0).get_size());
    if (corrected_ && ix_.qlinear) acc_off_ = take(user_dst_.get_size());
    if (sums_) sum_off_ = take(sum_bytes_);
    if (sum_re_.needed()) sum_t_off_ = take(sum_pd_.dst_desc(0).get_size());
    total_ = at;
    return true;
  }

  Args args(const dnnl::primitive_desc& pd, const void* src, const memory& w, void* dst, char* scratch,
            RunValues& rv, bool main) const {
    Args a{{DNNL_ARG_SRC, memory(pd.src_desc(0), eng_, const_cast<void*>(src))},
           {DNNL_ARG_WEIGHTS, memory(pd.weights_desc(0), eng_, w.get_data_handle())},
           {DNNL_ARG_DST, memory(pd.dst_desc(0), eng_, dst)},
           {DNNL_ARG_SCRATCHPAD, memory(pd.scratchpad_desc(), eng_, scratch)}};
    if (!p_.is_const(ix_.xzp))
      a.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, memory(vec_md(1, dt::s32), eng_, &rv.src_zp));
    if (ix_.qlinear && !corrected_ && main && !p_.is_const(ix_.yzp))
      a.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, memory(vec_md(1, dt::s32), eng_, &rv.dst_zp));
    return a;
  }

  // Matmul only: the window sums of the source, one per row (conv uses the all-ones primitive).
  virtual void row_sums(const void* x, int32_t zp, int32_t* out) const {}
  // The pass after corrected weights: acc - c * window sum (+ B, requantized for QLinear).
  virtual void fix(const int32_t* acc, const int32_t* sums, const int32_t* bias, const RunValues& rv,
                   void* y) const = 0;

  // Writes (acc - c * sum + bias) as int32 or requantized with multiplier m and zero point zp.
  void finish_one(int64_t acc, int64_t c, int64_t sum, int64_t bias, float m, int32_t zp, void* y, int64_t i) const {
    const int64_t v = acc - c * sum + bias;
    if (!ix_.qlinear) static_cast<int32_t*>(y)[i] = static_cast<int32_t>(v);
    else if (ydt_ == DType::Int8) static_cast<int8_t*>(y)[i] = qk::quantize_one<int8_t>(static_cast<float>(v) * m, zp);
    else static_cast<uint8_t*>(y)[i] = qk::quantize_one<uint8_t>(static_cast<float>(v) * m, zp);
  }

  dnnl::engine eng_;
  Inputs ix_;
  Params p_;
  DType ydt_;
  int64_t channels_ = 1;
  // corrected_: an in-house pass follows oneDNN's int32 result (weight corrections, or run-time
  // requantization scales, which oneDNN 2.6's int8 convolutions take only as constants);
  // sums_: that pass needs the window sums of the source.
  bool corrected_ = false, sums_ = false, has_sum_prim_ = false;
  std::vector<int32_t> c_;
  size_t sum_bytes_ = 0;
  memory::desc user_src_, user_dst_, user_sum_;  // plain layouts, set before finish()
  dnnl::primitive_desc pd_, sum_pd_;
  dnnl::primitive prim_, sum_prim_;
  Relayout src_re_, dst_re_, sum_re_;
  memory weights_, ones_;
  memory::desc w_md_;
  size_t src_t_off_ = 0, dst_t_off_ = 0, acc_off_ = 0, sum_off_ = 0, sum_t_off_ = 0, total_ = 0;
};

// Shared checks: plain static tensors, the integer types, constant weights and weight
// parameters, one-value activation parameters.
bool common_ok(const KernelSpec& s, const Inputs& ix, size_t max_in) {
  if (!dnn::has_vnni() || s.out.size() != 1 || s.in.size() > max_in) return false;
  for (auto& t : s.in)
    if (t.present() && (!t.layout.empty() || !shape_static(t.shape) || shape_elements(t.shape) <= 0)) return false;
  const KernelTensor& y = s.out[0];
  if (!y.layout.empty() || !shape_static(y.shape) || shape_elements(y.shape) <= 0) return false;
  if (static_cast<size_t>(std::max(ix.x, ix.w)) >= s.in.size()) return false;
  if (!q8(s.in[ix.x].dtype) || !q8(s.in[ix.w].dtype) || !s.in[ix.w].const_data) return false;
  if (ix.qlinear ? !q8(y.dtype) : y.dtype != DType::Int32) return false;
  Params p(s, ix);
  for (int i : {ix.wzp, ix.ws})
    if (p.get(i) && !p.is_const(i)) return false;
  for (int i : {ix.xzp, ix.xs, ix.ys, ix.yzp})
    if (p.get(i) && shape_elements(p.get(i)->shape) != 1) return false;
  if (ix.qlinear && (!p.get(ix.xs) || !p.get(ix.ws) || !p.get(ix.ys))) return false;
  return true;
}

// ---- ConvInteger / QLinearConv ----

class QConvKernel final : public QKernel {
 public:
  static std::unique_ptr<Kernel> create(const KernelSpec& s, const ops::QConvGeometry& g, bool qlinear) {
    const Inputs ix = conv_inputs(qlinear);
    if (!common_ok(s, ix, qlinear ? 9 : 4)) return nullptr;
    const KernelTensor &x = s.in[ix.x], &w = s.in[ix.w];
    const size_t r = x.shape.size();
    if (r < 3 || r > 5 || w.shape.size() != r) return nullptr;
    Params p(s, ix);
    if (p.get(ix.b) && (p.get(ix.b)->dtype != DType::Int32 || shape_elements(p.get(ix.b)->shape) != w.shape[0]))
      return nullptr;
    auto k = std::unique_ptr<QConvKernel>(new QConvKernel(s, ix));
    const int64_t m = w.shape[0], groups = g.group, cg = w.shape[1];
    const int64_t ksz = shape_elements(Dims(w.shape.begin() + 2, w.shape.end()));
    k->channels_ = m;
    k->n_ = x.shape[0];
    k->groups_ = groups;
    k->out_sz_ = shape_elements(Dims(s.out[0].shape.begin() + 2, s.out[0].shape.end()));
    S8Weights w8 = to_s8(w, m, cg * ksz, p.get(ix.wzp));
    k->sums_ = w8.corrected;
    k->corrected_ = w8.corrected || (qlinear && !p.scales_const());
    k->has_sum_prim_ = true;
    k->c_ = w8.c;
    k->sum_bytes_ = static_cast<size_t>(k->n_ * groups * k->out_sz_) * 4;
    const ops::Window win = ops::make_window("QConv", Dims(w.shape.begin() + 2, w.shape.end()), g.strides,
                                             g.dilations, g.pads);
    memory::dims st, dil, pl, pr;
    for (size_t i = 0; i < win.rank(); ++i) {
      st.push_back(win.strides[i]);
      dil.push_back(win.dilations[i] - 1);  // oneDNN counts the gaps
      pl.push_back(win.pad_begin[i]);
      pr.push_back(win.pad_end[i]);
    }
    // ONNX's [M, C/g, K...] is oneDNN's [g, M/g, C/g, K...] without moving data.
    auto wdims = [&](int64_t per_group_out) {
      Dims d = w.shape;
      d[0] = per_group_out;
      if (groups > 1) d.insert(d.begin(), groups);
      return d;
    };
    const memory::desc src = dense(x.shape, dnn::dtype(x.dtype));
    const Dims wd = wdims(m / groups), od = wdims(1);
    Dims sum_shape = s.out[0].shape;
    sum_shape[1] = groups;
    const dt ydt = k->corrected_ ? dt::s32 : dnn::dtype(s.out[0].dtype);
    const memory::desc bias = !k->corrected_ && p.get(ix.b) ? vec_md(m, dt::s32) : memory::desc();
    const std::string want = s.tactic ? s.tactic->impl : "";
    // oneDNN's descriptor iterator keeps a pointer to the op descriptor: both must outlive it.
    std::vector<std::unique_ptr<dnnl::convolution_forward::desc>> descs;
    k->user_src_ = src;
    k->user_dst_ = dense(s.out[0].shape, ydt);
    k->user_sum_ = dense(sum_shape, dt::s32);
    QConvKernel* kp = k.get();
    // Layouts are oneDNN's choice (its int8 convolutions take no plain NCHW); the all-ones
    // convolution reads the source in the layout the main one chose.
    auto make = [&](const dnnl::primitive_attr& attr, bool ones) -> dnnl::primitive_desc {
      const memory::desc wany(dnn::dims(ones ? od : wd), dt::s8, memory::format_tag::any);
      const memory::desc sany = ones ? kp->pd_.src_desc(0) : memory::desc(src.dims(), src.data_type(), memory::format_tag::any);
      const memory::desc dany(dnn::dims(ones ? sum_shape : s.out[0].shape), ones ? dt::s32 : ydt,
                              memory::format_tag::any);
      descs.push_back(std::make_unique<dnnl::convolution_forward::desc>(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, sany, wany,
          ones ? memory::desc() : bias, dany, st, dil, pl, pr));
      using PD = dnnl::convolution_forward::primitive_desc;
      const auto& d = *descs.back();
      return dnn::pick_impl<PD>([&] { return PD(d, attr, s.engine); }, ones ? "" : want, "",
                                ones ? nullptr : s.candidates);
    };
    if (!k->finish(make)) return nullptr;
    try {
      k->weights_ = pack(s.engine, dense(wd, dt::s8), w8.w.data(), k->pd_.weights_desc(0));
      if (k->sum_prim_) {
        std::vector<int8_t> ones(static_cast<size_t>(groups * cg * ksz), 1);
        k->ones_ = pack(s.engine, dense(od, dt::s8), ones.data(), k->sum_pd_.weights_desc(0));
      }
    } catch (const dnnl::error&) {
      return nullptr;
    }
    return k;
  }

 private:
  QConvKernel(const KernelSpec& s, Inputs ix) : QKernel(s, ix) {}

  void fix(const int32_t* acc, const int32_t* sums, const int32_t* bias, const RunValues& rv,
           void* y) const override {
    const int64_t m = channels_, mg = m / groups_, out = out_sz_;
#pragma omp parallel for schedule(static)
    for (int64_t nm = 0; nm < n_ * m; ++nm) {
      const int64_t n = nm / m, ch = nm % m;
      const int32_t* a = acc + nm * out;
      const int32_t* sp = sums_ ? sums + (n * groups_ + ch / mg) * out : nullptr;
      const int64_t c = c_[ch], b = bias ? bias[ch] : 0;
      const float mult = rv.scales[ch];
      for (int64_t i = 0; i < out; ++i) finish_one(a[i], c, sp ? sp[i] : 0, b, mult, rv.dst_zp, y, nm * out + i);
    }
  }

  int64_t n_ = 1, groups_ = 1, out_sz_ = 1;
};

std::unique_ptr<Kernel> make_conv_integer(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::ConvInteger*>(&s.op);
  return op ? QConvKernel::create(s, *op, false) : nullptr;
}

std::unique_ptr<Kernel> make_qlinear_conv(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::QLinearConv*>(&s.op);
  return op ? QConvKernel::create(s, *op, true) : nullptr;
}

// ---- MatMulInteger / QLinearMatMul ----

class QMatMulKernel final : public QKernel {
 public:
  static std::unique_ptr<Kernel> create(const KernelSpec& s, bool qlinear) {
    const Inputs ix = matmul_inputs(qlinear);
    if (!common_ok(s, ix, qlinear ? 8 : 4)) return nullptr;
    const KernelTensor &a = s.in[ix.x], &b = s.in[ix.w];
    if (b.shape.size() != 2) return nullptr;  // batched or 1-D B: the reference
    const int64_t kdim = b.shape[0], n = b.shape[1];
    if (a.shape.back() != kdim) return nullptr;
    Params p(s, ix);
    // b's zero point and scale: one value or one per column ([N] or [1, N]).
    for (int i : {ix.wzp, ix.ws})
      if (p.get(i) && shape_elements(p.get(i)->shape) != 1 &&
          (shape_elements(p.get(i)->shape) != n || p.get(i)->shape.back() != n))
        return nullptr;
    auto k = std::unique_ptr<QMatMulKernel>(new QMatMulKernel(s, ix));
    k->channels_ = n;
    k->k_ = kdim;
    k->rows_ = shape_elements(a.shape) / kdim;
    S8Weights w8 = to_s8(b, n, 1, p.get(ix.wzp));
    k->sums_ = w8.corrected;
    k->corrected_ = w8.corrected || (qlinear && !p.scales_const());
    k->c_ = w8.c;
    k->sum_bytes_ = static_cast<size_t>(k->rows_) * 4;
    const memory::desc src({k->rows_, kdim}, dnn::dtype(a.dtype), memory::format_tag::ab);
    const memory::desc wany({kdim, n}, dt::s8, memory::format_tag::any);
    const memory::desc dst({k->rows_, n}, k->corrected_ ? dt::s32 : dnn::dtype(s.out[0].dtype), memory::format_tag::ab);
    const dnnl::matmul::desc d(src, wany, dst);
    k->user_src_ = src;
    k->user_dst_ = dst;
    const std::string want = s.tactic ? s.tactic->impl : "";
    auto make = [&](const dnnl::primitive_attr& attr, bool) -> dnnl::primitive_desc {
      using PD = dnnl::matmul::primitive_desc;
      return dnn::pick_impl<PD>([&] { return PD(d, attr, s.engine); }, want, "", s.candidates);
    };
    if (!k->finish(make)) return nullptr;
    try {
      k->weights_ = pack(s.engine, memory::desc({kdim, n}, dt::s8, memory::format_tag::ab), w8.w.data(),
                         k->pd_.weights_desc(0));
    } catch (const dnnl::error&) {
      return nullptr;
    }
    return k;
  }

 private:
  QMatMulKernel(const KernelSpec& s, Inputs ix) : QKernel(s, ix) { adt_ = s.in[ix.x].dtype; }

  void row_sums(const void* x, int32_t zp, int32_t* out) const override {
    const int64_t kd = k_;
#pragma omp parallel for schedule(static) if (rows_ * kd > (1 << 16))
    for (int64_t r = 0; r < rows_; ++r) {
      int32_t s = 0;
      if (adt_ == DType::UInt8) {
        const uint8_t* p = static_cast<const uint8_t*>(x) + r * kd;
        for (int64_t i = 0; i < kd; ++i) s += p[i];
      } else {
        const int8_t* p = static_cast<const int8_t*>(x) + r * kd;
        for (int64_t i = 0; i < kd; ++i) s += p[i];
      }
      out[r] = s - static_cast<int32_t>(kd) * zp;
    }
  }

  void fix(const int32_t* acc, const int32_t* sums, const int32_t*, const RunValues& rv, void* y) const override {
    const int64_t n = channels_;
#pragma omp parallel for schedule(static) if (rows_ * n > (1 << 14))
    for (int64_t r = 0; r < rows_; ++r)
      for (int64_t j = 0; j < n; ++j)
        finish_one(acc[r * n + j], c_[j], sums_ ? sums[r] : 0, 0, rv.scales[j], rv.dst_zp, y, r * n + j);
  }

  int64_t k_ = 1, rows_ = 1;
  DType adt_ = DType::UInt8;
};

std::unique_ptr<Kernel> make_matmul_integer(const KernelSpec& s) {
  if (!dynamic_cast<const ops::MatMulInteger*>(&s.op)) return nullptr;
  // A per-row a_zero_point ([M] or A's shape with K = 1) is not oneDNN's common zero point.
  if (s.in.size() > 2 && s.in[2].present() && shape_elements(s.in[2].shape) != 1) return nullptr;
  return QMatMulKernel::create(s, false);
}

std::unique_ptr<Kernel> make_qlinear_matmul(const KernelSpec& s) {
  if (!dynamic_cast<const ops::QLinearMatMul*>(&s.op)) return nullptr;
  return QMatMulKernel::create(s, true);
}

KILN_REGISTER_KERNEL("ConvInteger", "onednn", make_conv_integer);
KILN_REGISTER_KERNEL("QLinearConv", "onednn", make_qlinear_conv);
KILN_REGISTER_KERNEL("MatMulInteger", "onednn", make_matmul_integer);
KILN_REGISTER_KERNEL("QLinearMatMul", "onednn", make_qlinear_matmul);

}  // namespace
}  // namespace kiln
