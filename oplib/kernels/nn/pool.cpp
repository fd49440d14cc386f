// MaxPool, AveragePool and the global pools on oneDNN (pooling_v2_forward, inference): 1-3
// spatial dims, dilations, asymmetric pads. ceil_mode becomes extra end padding (derived from
// the inferred output shape); oneDNN ignores padding for max and for exclude-padding averages,
// but counts it for include-padding averages, which therefore fall back to the reference
// kernel when ceil_mode adds any. Tactics: the implementations oneDNN offers (pd.next_impl()).
// Where only oneDNN's reference pooling takes the tensors' layout (uint8 / int8 NCHW, as ONNX's
// QOperator models have them: its int8 pooling reads channels-last), the pool runs in the layout
// oneDNN picks, between reorders in and out (ResNet-18's stem max pool: 77 ms -> under 1 ms).
#include <unordered_map>

#include "kernels/kernel.h"
#include "ops/nn/pool.h"

namespace kiln {
namespace {

class PoolKernel final : public Kernel {
 public:
  // user_src / user_dst: the tensors' own layouts when the primitive runs in others (relayout).
  PoolKernel(const KernelSpec& s, dnnl::pooling_v2_forward::primitive_desc pd,
             const dnnl::memory::desc* user_src = nullptr, const dnnl::memory::desc* user_dst = nullptr)
      : eng_(s.engine), pd_(std::move(pd)), prim_(pd_) {
    pad_ = align(pd_.scratchpad_desc().get_size());
    total_ = pad_;
    if (user_src && user_dst) {
      user_src_ = *user_src;
      user_dst_ = *user_dst;
      to_src_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng_, user_src_, eng_, pd_.src_desc()));
      from_dst_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng_, pd_.dst_desc(), eng_, user_dst_));
      total_ += align(pd_.src_desc().get_size()) + align(pd_.dst_desc().get_size());
    }
  }

  size_t scratchpad_bytes() const override { return total_; }
  Tactic tactic() const override { return {pd_.impl_info_str(), to_src_ ? "relayout" : "", ""}; }

  BoundKernel bind(const KernelBinding& b) const override {
    using Args = std::unordered_map<int, dnnl::memory>;
    auto* scratch = static_cast<char*>(b.scratchpad);
    Args args;
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(pd_.scratchpad_desc(), eng_, scratch));
    if (!to_src_) {
      args.emplace(DNNL_ARG_SRC, dnnl::memory(pd_.src_desc(), eng_, b.in.at(0)));
      args.emplace(DNNL_ARG_DST, dnnl::memory(pd_.dst_desc(), eng_, b.out.at(0)));
      return [prim = prim_, args](dnnl::stream& st) { prim.execute(st, args); };
    }
    dnnl::memory tsrc(pd_.src_desc(), eng_, scratch + pad_);
    dnnl::memory tdst(pd_.dst_desc(), eng_, scratch + pad_ + align(pd_.src_desc().get_size()));
    args.emplace(DNNL_ARG_SRC, tsrc);
    args.emplace(DNNL_ARG_DST, tdst);
    Args in{{DNNL_ARG_FROM, dnnl::memory(user_src_, eng_, b.in.at(0))}, {DNNL_ARG_TO, tsrc}};
    Args out{{DNNL_ARG_FROM, tdst}, {DNNL_ARG_TO, dnnl::memory(user_dst_, eng_, b.out.at(0))}};
    return [prim = prim_, to = to_src_, from = from_dst_, args, in, out](dnnl::stream& st) {
      to.execute(st, in);
      prim.execute(st, args);
      from.execute(st, out);
    };
  }

 private:
  static size_t align(size_t n) { return (n + 63) / 64 * 64; }
  dnnl::engine eng_;
  dnnl::pooling_v2_forward::primitive_desc pd_;
  dnnl::pooling_v2_forward prim_;
  dnnl::memory::desc user_src_, user_dst_;
  dnnl::reorder to_src_, from_dst_;
  size_t pad_ = 0, total_ = 0;
};

bool supported(const KernelSpec& s, bool allow_int8) {
  if (s.in.size() != 1 || s.out.size() != 1) return false;
  const KernelTensor &x = s.in[0], &y = s.out[0];
  const size_t r = x.shape.size();
  if (r < 3 || r > 5 || y.shape.size() != r || x.dtype != y.dtype) return false;
  // Quantized tensors pool in their integers when both sides share one scale and zero point
  // (max pooling commutes with the affine map; averaging does, up to rounding).
  const bool quant_ok = dtype_quantized(x.dtype) && x.quant == y.quant && x.quant.scale.size() == 1;
  const bool ok = ops::f32_or_bf16(x.dtype) || quant_ok ||
                  (allow_int8 && (x.dtype == DType::Int8 || x.dtype == DType::UInt8));
  return ok && shape_static(x.shape) && shape_static(y.shape) && shape_elements(x.shape) > 0;
}

std::unique_ptr<Kernel> build(const KernelSpec& s, dnnl::algorithm alg, const ops::Window& w) {
  const Dims& in = s.in[0].shape;
  const Dims& out = s.out[0].shape;
  dnnl::memory::dims strides, kernel, dil, pad_l, pad_r;
  for (size_t i = 0; i < w.rank(); ++i) {
    strides.push_back(w.strides[i]);
    kernel.push_back(w.kernel[i]);
    dil.push_back(w.dilations[i] - 1);  // oneDNN counts the gaps, ONNX the step
    pad_l.push_back(w.pad_begin[i]);
    // oneDNN derives the output size with floor division; pad the end so the last window the
    // inferred shape asks for (ceil_mode) exists.
    const int64_t needed = (out[2 + i] - 1) * w.strides[i] + w.extent(i) - in[2 + i] - w.pad_begin[i];
    pad_r.push_back(std::max(w.pad_end[i], needed));
    if (alg == dnnl::algorithm::pooling_avg_include_padding && needed > w.pad_end[i]) return nullptr;
  }
  try {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    using PD = dnnl::pooling_v2_forward::primitive_desc;
    // oneDNN's descriptor iterator keeps a pointer to the op descriptor: it must outlive it.
    const dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, alg, dnn::md(s.in[0]),
                                           dnn::md(s.out[0]), strides, kernel, dil, pad_l, pad_r);
    auto make = [&] { return PD(d, attr, s.engine); };
    PD pd = dnn::pick_impl<PD>(make, s.tactic ? s.tactic->impl : "", "", s.candidates);
    const bool is_ref = std::string(pd.impl_info_str()).rfind("ref", 0) == 0;
    if (is_ref && dtype_size(s.in[0].dtype) == 1) {
      // Channels-last (oneDNN's pooling takes no `any` source layout).
      using tag = dnnl::memory::format_tag;
      const size_t r = s.in[0].shape.size();
      const tag cl = r == 3 ? tag::nwc : r == 4 ? tag::nhwc : tag::ndhwc;
      const dnnl::memory::desc src = dnn::md(s.in[0]), dst = dnn::md(s.out[0]);
      const dnnl::pooling_v2_forward::desc nhwc(dnnl::prop_kind::forward_inference, alg,
                                                dnnl::memory::desc(src.dims(), src.data_type(), cl),
                                                dnnl::memory::desc(dst.dims(), dst.data_type(), cl), strides, kernel,
                                                dil, pad_l, pad_r);
      PD other(nhwc, attr, s.engine);
      if (std::string(other.impl_info_str()).rfind("ref", 0) != 0)
        return std::make_unique<PoolKernel>(s, std::move(other), &src, &dst);
    }
    return std::make_unique<PoolKernel>(s, std::move(pd));
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

std::unique_ptr<Kernel> make_max_pool(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::MaxPool*>(&s.op);
  if (!op || !supported(s, true)) return nullptr;
  return build(s, dnnl::algorithm::pooling_max, op->p.window("MaxPool"));
}

std::unique_ptr<Kernel> make_average_pool(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::AveragePool*>(&s.op);
  if (!op || !supported(s, false)) return nullptr;
  const auto alg = op->count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                         : dnnl::algorithm::pooling_avg_exclude_padding;
  return build(s, alg, op->p.window("AveragePool"));
}

// A global pool is one window covering all spatial positions.
template <class Op>
std::unique_ptr<Kernel> make_global(const KernelSpec& s, dnnl::algorithm alg) {
  if (!dynamic_cast<const Op*>(&s.op) || !supported(s, false)) return nullptr;
  const Dims& in = s.in[0].shape;
  const Dims kernel(in.begin() + 2, in.end());
  return build(s, alg, ops::make_window(Op::kType, kernel, {}, {}, {}));
}

KILN_REGISTER_KERNEL("MaxPool", "onednn", make_max_pool);
KILN_REGISTER_KERNEL("AveragePool", "onednn", make_average_pool);
KILN_REGISTER_KERNEL("GlobalAveragePool", "onednn", [](const KernelSpec& s) {
  return make_global<ops::GlobalAveragePool>(s, dnnl::algorithm::pooling_avg_exclude_padding);
});
KILN_REGISTER_KERNEL("GlobalMaxPool", "onednn", [](const KernelSpec& s) {
  return make_global<ops::GlobalMaxPool>(s, dnnl::algorithm::pooling_max);
});

}  // namespace
}  // namespace kiln
