// Conv and ConvTranspose on oneDNN (convolution_forward / deconvolution_forward): float32, or
// bfloat16 source and weights with a float32 or bfloat16 result (fp32 bias and accumulation), or
// int8 (Conv only: a quantized source, per-channel QInt8 weights, s32 accumulation, the result
// requantized by output scales and post-ops into a float or quantized output; dnn::int8_attr),
// 1-3 spatial dims, groups, dilations, asymmetric pads, bias and post-ops (activations and one
// Sum). Tactics: every implementation oneDNN offers for the layer (pd.next_impl()), and for Conv
// also the Winograd algorithm where oneDNN has it (f32 3x3 stride 1 on avx512_core). Constant
// weights are reordered once, at creation, into the format the chosen implementation wants, or used
// in place when the plan stores them in it (dnn::weights_memory); layers with non-constant weights,
// several Sum post-ops or post-ops oneDNN lacks fall back to the reference kernel.
#include <cstring>
#include <optional>
#include <unordered_map>

#include "kernels/kernel.h"
#include "ops/nn/conv.h"

namespace kiln {
namespace {

using dims = dnnl::memory::dims;

class ConvKernel final : public Kernel {
 public:
  // sum_input: index of the Sum post-op operand, copied into dst before each run (oneDNN's sum
  // post-op accumulates onto whatever dst holds), or -1.
  ConvKernel(const KernelSpec& s, dnnl::primitive prim, dnnl::primitive_desc pd, dnnl::memory weights,
             dnnl::memory::desc user, int sum_input, std::string algorithm)
      : eng_(s.engine), prim_(std::move(prim)), pd_(std::move(pd)), weights_(std::move(weights)),
        user_(std::move(user)), sum_input_(sum_input), dst_bytes_(pd_.dst_desc().get_size()),
        tactic_{pd_.impl_info_str(), std::move(algorithm), dnn::format_name(pd_.weights_desc())} {
    if (s.in.size() > 2 && s.in[2].present()) {
      has_bias_ = true;
      bias_const_ = s.in[2].const_data;
    }
  }
  // int8: the bias divided by each channel's accumulator scale (dnn::int8_attr), owned here.
  void own_bias(std::vector<float> b) {
    bias_own_ = std::make_shared<std::vector<float>>(std::move(b));
    bias_const_ = bias_own_->data();
  }

  size_t scratchpad_bytes() const override { return pd_.scratchpad_desc().get_size(); }
  Tactic tactic() const override { return tactic_; }
  std::vector<PackedWeights> packed_weights() const override { return {{1, weights_, user_}}; }

  BoundKernel bind(const KernelBinding& b) const override {
    std::unordered_map<int, dnnl::memory> args;
    args.emplace(DNNL_ARG_SRC, dnnl::memory(pd_.src_desc(), eng_, b.in.at(0)));
    // A fresh wrapper per binding, sharing the kernel's buffer: a binding never mutates it.
    args.emplace(DNNL_ARG_WEIGHTS, dnnl::memory(pd_.weights_desc(), eng_, weights_.get_data_handle()));
    if (has_bias_) {
      void* p = const_cast<void*>(bias_const_ ? bias_const_ : b.in.at(2));
      args.emplace(DNNL_ARG_BIAS, dnnl::memory(pd_.weights_desc(1), eng_, p));
    }
    void* dst = b.out.at(0);
    args.emplace(DNNL_ARG_DST, dnnl::memory(pd_.dst_desc(), eng_, dst));
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(pd_.scratchpad_desc(), eng_, b.scratchpad));
    const void* sum = sum_input_ >= 0 ? b.in.at(static_cast<size_t>(sum_input_)) : nullptr;
    if (sum == dst) sum = nullptr;  // in place: dst already holds the operand
    return [prim = prim_, args, sum, dst, bytes = dst_bytes_, keep = weights_, bias = bias_own_](dnnl::stream& st) {
      if (sum) std::memcpy(dst, sum, bytes);
      prim.execute(st, args);
    };
  }

 private:
  dnnl::engine eng_;
  dnnl::primitive prim_;
  dnnl::primitive_desc pd_;
  dnnl::memory weights_;
  dnnl::memory::desc user_;  // the model's weights as the primitive's logical dims see them
  bool has_bias_ = false;
  const void* bias_const_ = nullptr;
  std::shared_ptr<std::vector<float>> bias_own_;
  int sum_input_;
  size_t dst_bytes_;
  Tactic tactic_;
};

// A conv whose tensors' layout has only oneDNN's reference implementation here (a plan laid out
// nChw16c for AVX-512, loaded where oneDNN may use AVX2 only): the primitive runs in the layout
// this CPU's kernels want, between reorders of the source (and Sum operand) in and the result out.
// The reorders cost a few passes over memory; the reference conv costs ~1000x (ResNet-50: 72 s).
class RelayoutConvKernel final : public Kernel {
 public:
  RelayoutConvKernel(const KernelSpec& s, dnnl::convolution_forward::primitive_desc pd, dnnl::memory weights,
                     dnnl::memory::desc user_weights, dnnl::memory::desc user_src, dnnl::memory::desc user_dst,
                     int sum_input)
      : eng_(s.engine), pd_(std::move(pd)), prim_(pd_), weights_(std::move(weights)),
        user_weights_(std::move(user_weights)), user_src_(user_src),
        user_dst_(user_dst), sum_input_(sum_input),
        to_src_(dnnl::reorder::primitive_desc(eng_, user_src, eng_, pd_.src_desc())),
        to_dst_(dnnl::reorder::primitive_desc(eng_, user_dst, eng_, pd_.dst_desc())),
        from_dst_(dnnl::reorder::primitive_desc(eng_, pd_.dst_desc(), eng_, user_dst)),
        tactic_{pd_.impl_info_str(), "relayout", dnn::format_name(pd_.weights_desc())} {
    if (s.in.size() > 2 && s.in[2].present()) {
      has_bias_ = true;
      bias_ = s.in[2].const_data;  // nullptr: a run-time bias input
    }
    src_off_ = align(pd_.scratchpad_desc().get_size());
    dst_off_ = src_off_ + align(pd_.src_desc().get_size());
    total_ = dst_off_ + align(pd_.dst_desc().get_size());
  }

  size_t scratchpad_bytes() const override { return total_; }
  Tactic tactic() const override { return tactic_; }
  std::vector<PackedWeights> packed_weights() const override { return {{1, weights_, user_weights_}}; }

  BoundKernel bind(const KernelBinding& b) const override {
    auto* scratch = static_cast<char*>(b.scratchpad);
    dnnl::memory src(user_src_, eng_, b.in.at(0)), dst(user_dst_, eng_, b.out.at(0));
    dnnl::memory tsrc(pd_.src_desc(), eng_, scratch + src_off_), tdst(pd_.dst_desc(), eng_, scratch + dst_off_);
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, tsrc}, {DNNL_ARG_DST, tdst},
        {DNNL_ARG_WEIGHTS, dnnl::memory(pd_.weights_desc(), eng_, weights_.get_data_handle())},
        {DNNL_ARG_SCRATCHPAD, dnnl::memory(pd_.scratchpad_desc(), eng_, scratch)}};
    if (has_bias_)
      args.emplace(DNNL_ARG_BIAS, dnnl::memory(pd_.bias_desc(), eng_, const_cast<void*>(bias_ ? bias_ : b.in.at(2))));
    using Args = std::unordered_map<int, dnnl::memory>;
    Args in{{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, tsrc}}, out{{DNNL_ARG_FROM, tdst}, {DNNL_ARG_TO, dst}}, sum;
    if (sum_input_ >= 0)
      sum = {{DNNL_ARG_FROM, dnnl::memory(user_dst_, eng_, b.in.at(static_cast<size_t>(sum_input_)))},
             {DNNL_ARG_TO, tdst}};
    // The reorder primitives are made once, in the constructor: a run only executes them.
    return [prim = prim_, to_src = to_src_, to_dst = to_dst_, from_dst = from_dst_, args, in, out, sum,
            keep = weights_](dnnl::stream& st) {
      to_src.execute(st, in);
      if (!sum.empty()) to_dst.execute(st, sum);
      prim.execute(st, args);
      from_dst.execute(st, out);
    };
  }

 private:
  static size_t align(size_t n) { return (n + 63) / 64 * 64; }
  dnnl::engine eng_;
  dnnl::convolution_forward::primitive_desc pd_;
  dnnl::primitive prim_;
  dnnl::memory weights_;
  dnnl::memory::desc user_weights_, user_src_, user_dst_;
  int sum_input_;
  dnnl::reorder to_src_, to_dst_, from_dst_;  // user layout <-> the primitive's
  bool has_bias_ = false;
  const void* bias_ = nullptr;
  size_t src_off_ = 0, dst_off_ = 0, total_ = 0;
  Tactic tactic_;
};

// What Conv and ConvTranspose have in common on the way to a primitive.
struct Common {
  ops::Window win;
  dims strides, dilates, pad_l, pad_r;
  dnnl::memory::desc src, bias, dst;
  dnnl::primitive_attr attr;
  int sum_input = -1;
  bool int8 = false;
  std::vector<float> acc_scale;  // int8: real value of one accumulator unit, per output channel
};

// Checks the parts of the spec both kernels need; false means "not handled, use reference".
bool prepare(const KernelSpec& s, const ops::PostOps& post, const std::vector<int64_t>& strides,
             const std::vector<int64_t>& dilations, const std::vector<int64_t>& pads, Common& c) {
  if (s.in.size() < 2 || s.out.size() != 1) return false;
  const KernelTensor &x = s.in[0], &w = s.in[1], &y = s.out[0];
  const size_t r = x.shape.size();
  if (r < 3 || r > 5 || w.shape.size() != r) return false;
  // float32, or bfloat16 source and weights (fp32 accumulation) writing either type; or int8.
  c.int8 = dtype_quantized(x.dtype);
  if (c.int8 ? w.dtype != DType::QInt8 || s.op.type() != "Conv"
             : (x.dtype != DType::Float32 && x.dtype != DType::BFloat16) || w.dtype != x.dtype)
    return false;
  if (!ops::real_storage(y.dtype)) return false;
  if ((!w.const_data && !w.packed) || !shape_static(x.shape) || !shape_static(w.shape) || !shape_static(y.shape)) return false;
  if (shape_elements(x.shape) == 0 || shape_elements(y.shape) == 0) return false;
  const bool has_bias = s.in.size() > 2 && s.in[2].present();
  if (has_bias && s.in[2].dtype != DType::Float32) return false;
  const size_t sums = post.sum_count();
  if (sums > 1) return false;  // oneDNN accumulates into dst once
  if (sums == 1) {
    if (s.in.size() != 4) return false;
    const KernelTensor& a = s.in[3];
    // The operand is copied byte for byte into dst, so it must be laid out exactly like dst (an
    // int8 layer's operand may be another 8-bit type: oneDNN reads it with its own scale).
    if ((a.dtype != y.dtype && !(c.int8 && dtype_size(a.dtype) == 1 && dtype_size(y.dtype) == 1)) ||
        a.shape != y.shape || a.layout != y.layout)
      return false;
    c.sum_input = 3;
  }
  c.win = ops::make_window(std::string(s.op.type()), Dims(w.shape.begin() + 2, w.shape.end()), strides, dilations, pads);
  for (size_t i = 0; i < c.win.rank(); ++i) {
    c.strides.push_back(c.win.strides[i]);
    c.dilates.push_back(c.win.dilations[i] - 1);  // oneDNN counts the gaps, ONNX the step
    c.pad_l.push_back(c.win.pad_begin[i]);
    c.pad_r.push_back(c.win.pad_end[i]);
  }
  c.src = dnn::md(x);
  c.dst = dnn::md(y);
  if (has_bias) c.bias = dnn::plain_md(s.in[2].shape, DType::Float32);
  if (c.int8) {
    if (has_bias && !s.in[2].const_data) return false;  // the bias is rescaled once, at creation
    if (!dnn::int8_attr(post, x, w, c.sum_input >= 0 ? &s.in[3] : nullptr, y, 1, c.attr, c.acc_scale)) return false;
  } else {
    dnnl::post_ops po;
    if (!dnn::post_ops(post, po)) return false;
    c.attr.set_post_ops(po);
  }
  c.attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return true;
}

std::unique_ptr<Kernel> make_conv(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::Conv*>(&s.op);
  Common c;
  if (!op || !prepare(s, op->post, op->strides, op->dilations, op->pads, c)) return nullptr;
  const Dims& ws = s.in[1].shape;
  const int64_t g = op->group;
  // ONNX's [M, C/g, K...] is oneDNN's grouped [g, M/g, C/g, K...] without moving any data.
  Dims wd = ws;
  if (g > 1) {
    wd.insert(wd.begin(), g);
    wd[1] = ws[0] / g;
  }
  try {
    using PD = dnnl::convolution_forward::primitive_desc;
    const dnnl::memory::desc w_any(dnn::dims(wd), dnn::dtype(s.in[1].dtype), dnnl::memory::format_tag::any);
    // oneDNN's descriptor iterator keeps a pointer to the op descriptor: both must outlive it.
    auto desc = [&](dnnl::algorithm alg) {
      return dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, alg, c.src, w_any, c.bias, c.dst,
                                             c.strides, c.dilates, c.pad_l, c.pad_r);
    };
    const auto direct = desc(dnnl::algorithm::convolution_direct);
    std::optional<dnnl::convolution_forward::desc> winograd;
    const bool want_wino = (s.tactic && s.tactic->algorithm == "winograd") || s.candidates;
    try {
      if (want_wino) winograd = desc(dnnl::algorithm::convolution_winograd);
    } catch (const dnnl::error&) {
    }
    auto maker = [&](const dnnl::convolution_forward::desc& d) {
      return [&d, &c, &s] { return PD(d, c.attr, s.engine); };
    };
    const std::string want = s.tactic ? s.tactic->impl : "";
    if (s.candidates) {
      dnn::pick_impl<PD>(maker(direct), "", "", s.candidates);
      try {  // oneDNN refuses the descriptor where it has no Winograd kernel
        if (winograd) dnn::pick_impl<PD>(maker(*winograd), "", "winograd", s.candidates);
      } catch (const dnnl::error&) {
      }
    }
    std::optional<PD> pd;
    std::string alg;
    if (s.tactic && s.tactic->algorithm == "winograd" && winograd) {
      try {
        pd = dnn::pick_impl<PD>(maker(*winograd), want, "", nullptr);
        alg = "winograd";
      } catch (const dnnl::error&) {  // not on this CPU: the direct algorithm's first choice
      }
    }
    if (!pd) pd = dnn::pick_impl<PD>(maker(direct), want, "", nullptr);
    // int8 on oneDNN's reference conv is no faster than kiln's reference: decline, so the
    // precision pass keeps the layer in float.
    if (c.int8 && std::string(pd->impl_info_str()).rfind("ref", 0) == 0) return nullptr;
    if (!s.candidates && std::string(pd->impl_info_str()).rfind("ref", 0) == 0) {
      // Only the reference conv takes these layouts here: let oneDNN pick the layouts too.
      const dnnl::memory::desc src_any(c.src.dims(), c.src.data_type(), dnnl::memory::format_tag::any),
          dst_any(c.dst.dims(), c.dst.data_type(), dnnl::memory::format_tag::any);
      const dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                              src_any, w_any, c.bias, dst_any, c.strides, c.dilates, c.pad_l,
                                              c.pad_r);
      PD any(d, c.attr, s.engine);
      if (std::string(any.impl_info_str()).rfind("ref", 0) != 0) {
        const dnnl::memory::desc user = dnn::plain_md(wd, s.in[1].dtype);
        dnnl::memory w = dnn::weights_memory(s.engine, s.in[1], user, any.weights_desc());
        return std::make_unique<RelayoutConvKernel>(s, any, std::move(w), user, c.src, c.dst, c.sum_input);
      }
    }
    const dnnl::memory::desc user = dnn::plain_md(wd, s.in[1].dtype);
    dnnl::memory w = dnn::weights_memory(s.engine, s.in[1], user, pd->weights_desc());
    dnnl::primitive prim = dnnl::convolution_forward(*pd);
    auto k = std::make_unique<ConvKernel>(s, std::move(prim), *pd, std::move(w), user, c.sum_input, alg);
    if (c.int8 && s.in.size() > 2 && s.in[2].present()) {
      const auto* b = static_cast<const float*>(s.in[2].const_data);
      std::vector<float> scaled(static_cast<size_t>(ws[0]));
      for (size_t i = 0; i < scaled.size(); ++i) scaled[i] = b[i] / c.acc_scale[c.acc_scale.size() == 1 ? 0 : i];
      k->own_bias(std::move(scaled));
    }
    return k;
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

std::unique_ptr<Kernel> make_conv_transpose(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::ConvTranspose*>(&s.op);
  Common c;
  if (!op || !prepare(s, op->post, op->strides, op->dilations, op->pads, c)) return nullptr;
  // output_padding extends the output at the end: for oneDNN that is a smaller (possibly
  // negative) right padding.
  for (size_t i = 0; i < op->output_padding.size() && i < c.pad_r.size(); ++i) c.pad_r[i] -= op->output_padding[i];
  const Dims& ws = s.in[1].shape;
  const int64_t g = op->group, cin = ws[0], mg = ws[1];
  const int64_t k_sz = shape_elements(Dims(ws.begin() + 2, ws.end()));
  // ONNX stores [C, M/g, K...] = [g, C/g, M/g, K...]; oneDNN's logical order is [g, M/g, C/g, K...]
  // (or [M, C, K...] ungrouped), so describe ONNX's memory with explicit strides.
  Dims wd;
  dims st;
  if (g > 1) {
    wd = {g, mg, cin / g};
    st = {(cin / g) * mg * k_sz, k_sz, mg * k_sz};
  } else {
    wd = {mg, cin};
    st = {k_sz, mg * k_sz};
  }
  const dims kst = shape_strides(Dims(ws.begin() + 2, ws.end()));
  wd.insert(wd.end(), ws.begin() + 2, ws.end());
  st.insert(st.end(), kst.begin(), kst.end());
  try {
    using PD = dnnl::deconvolution_forward::primitive_desc;
    const auto wdt = dnn::dtype(s.in[1].dtype);
    const dnnl::memory::desc w_any(dnn::dims(wd), wdt, dnnl::memory::format_tag::any);
    // oneDNN's descriptor iterator keeps a pointer to the op descriptor: it must outlive it.
    const dnnl::deconvolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct,
                                              c.src, w_any, c.bias, c.dst, c.strides, c.dilates, c.pad_l, c.pad_r);
    auto make = [&] { return PD(d, c.attr, s.engine); };
    PD pd = dnn::pick_impl<PD>(make, s.tactic ? s.tactic->impl : "", "", s.candidates);
    const dnnl::memory::desc user(dnn::dims(wd), wdt, st);
    dnnl::memory w = dnn::weights_memory(s.engine, s.in[1], user, pd.weights_desc());
    dnnl::primitive prim = dnnl::deconvolution_forward(pd);
    return std::make_unique<ConvKernel>(s, std::move(prim), pd, std::move(w), user, c.sum_input, "");
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

KILN_REGISTER_KERNEL("Conv", "onednn", make_conv);
KILN_REGISTER_KERNEL("ConvTranspose", "onednn", make_conv_transpose);

}  // namespace
}  // namespace kiln
