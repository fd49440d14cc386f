// oneDNN reorder between any two layouts of the same logical tensor, converting between the real
// storage types on the way: float32, bfloat16 and quantized 8-bit (quantize, dequantize and
// requantize are reorders with scales and zero points).
#include "kernels/kernel.h"
#include "ops/tensor/reorder.h"

namespace kiln {
namespace {

class ReorderKernel final : public Kernel {
 public:
  ReorderKernel(dnnl::engine eng, dnnl::reorder prim, dnnl::memory::desc src, dnnl::memory::desc dst,
                dnnl::memory::desc scratch)
      : eng_(std::move(eng)), prim_(std::move(prim)), src_(src), dst_(dst), scratch_(scratch) {}
  size_t scratchpad_bytes() const override { return scratch_.get_size(); }
  BoundKernel bind(const KernelBinding& b) const override {
    dnnl::memory src(src_, eng_, b.in[0]), dst(dst_, eng_, b.out[0]), scratch(scratch_, eng_, b.scratchpad);
    dnnl::reorder prim = prim_;
    return [prim, src, dst, scratch](dnnl::stream& s) {
      prim.execute(s, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}, {DNNL_ARG_SCRATCHPAD, scratch}});
    };
  }

 private:
  dnnl::engine eng_;
  dnnl::reorder prim_;
  dnnl::memory::desc src_, dst_, scratch_;
};

// One oneDNN reorder from src to dst (layouts, types or both); nullptr where oneDNN has none.
std::unique_ptr<Kernel> reorder_kernel(const dnnl::engine& eng, const dnnl::memory::desc& src,
                                       const dnnl::memory::desc& dst, const ops::QuantParams* qsrc = nullptr,
                                       const ops::QuantParams* qdst = nullptr) {
  try {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    // dst = (src_scale / dst_scale) * (src - src_zp) + dst_zp; floats have scale 1, zero point 0.
    const float ss = qsrc ? qsrc->scale.at(0) : 1.f, ds = qdst ? qdst->scale.at(0) : 1.f;
    if (ss != ds) attr.set_output_scales(0, {ss / ds});
    if (qsrc && qsrc->zero_point) attr.set_zero_points(DNNL_ARG_SRC, 0, {qsrc->zero_point});
    if (qdst && qdst->zero_point) attr.set_zero_points(DNNL_ARG_DST, 0, {qdst->zero_point});
    dnnl::reorder::primitive_desc pd(eng, src, eng, dst, attr);
    return std::make_unique<ReorderKernel>(eng, dnnl::reorder(pd), src, dst, pd.scratchpad_desc());
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

std::unique_ptr<Kernel> make_reorder(const KernelSpec& s) {
  if (!dynamic_cast<const ops::Reorder*>(&s.op) || s.in.size() != 1 || s.out.size() != 1) return nullptr;
  const KernelTensor &x = s.in[0], &y = s.out[0];
  // A Reorder may also convert between float32 and bfloat16: the precision pass's conversions are
  // Reorders, so a layout change and a type change at one boundary are one pass over memory.
  if (x.dtype != y.dtype && !(ops::real_storage(x.dtype) && ops::real_storage(y.dtype))) return nullptr;
  if (x.shape != y.shape || x.const_data || !shape_static(x.shape)) return nullptr;
  const bool qx = dtype_quantized(x.dtype), qy = dtype_quantized(y.dtype);
  if ((qx && x.quant.scale.size() != 1) || (qy && y.quant.scale.size() != 1)) return nullptr;
  try {
    return reorder_kernel(s.engine, dnn::md(x), dnn::md(y), qx ? &x.quant : nullptr, qy ? &y.quant : nullptr);
  } catch (const dnnl::error&) {  // dnn::md refuses the shape for the layout
    return nullptr;
  }
}

KILN_REGISTER_KERNEL("Reorder", "onednn", make_reorder);

// Cast between the float types oneDNN converts (float32, bfloat16, float16: the casts around a
// float16 model's inputs and outputs), dense, as one reorder.
std::unique_ptr<Kernel> make_cast(const KernelSpec& s) {
  if (s.in.size() != 1 || s.out.size() != 1) return nullptr;
  const KernelTensor &x = s.in[0], &y = s.out[0];
  auto convertible = [](DType t) { return ops::f32_or_bf16(t) || t == DType::Float16; };
  if (!convertible(x.dtype) || !convertible(y.dtype) || x.dtype == y.dtype) return nullptr;
  if (!x.layout.empty() || !y.layout.empty() || x.const_data || !shape_static(x.shape) || shape_elements(x.shape) <= 0)
    return nullptr;
  const dnnl::memory::dims d{shape_elements(x.shape)};
  return reorder_kernel(s.engine, dnnl::memory::desc(d, dnn::dtype(x.dtype), dnnl::memory::format_tag::a),
                        dnnl::memory::desc(d, dnn::dtype(y.dtype), dnnl::memory::format_tag::a));
}

KILN_REGISTER_KERNEL("Cast", "onednn", make_cast);

}  // namespace
}  // namespace kiln
