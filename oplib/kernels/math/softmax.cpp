// oneDNN kernels for Softmax and LogSoftmax (softmax_v2 with softmax_accurate / softmax_log).
// Any rank and either ONNX form maps onto one dense view [outer, n, inner] normalised along n,
// so oneDNN sees at most 3 dims; the common last-axis case is the 2-D [outer, n].
#include <type_traits>
#include <unordered_map>

#include "kernels/kernel.h"
#include "ops/math/softmax.h"

namespace kiln {
namespace {

using dnnl::memory;

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
  if (!op || s.in.size() != 1 || s.out.size() != 1) return nullptr;
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

KILN_REGISTER_KERNEL("Softmax", "onednn", [](const KernelSpec& s) {
  return make_softmax<ops::Softmax>(s, dnnl::algorithm::softmax_accurate);
});
KILN_REGISTER_KERNEL("LogSoftmax", "onednn", [](const KernelSpec& s) {
  return make_softmax<ops::LogSoftmax>(s, dnnl::algorithm::softmax_log);
});

}  // namespace
}  // namespace kiln
