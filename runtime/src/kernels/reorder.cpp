// oneDNN reorder between any two layouts of the same logical tensor.
#include "kernels/kernel.h"
#include "ops/reorder.h"

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

std::unique_ptr<Kernel> make_reorder(const KernelSpec& s) {
  if (!dynamic_cast<const ops::Reorder*>(&s.op) || s.in.size() != 1 || s.out.size() != 1) return nullptr;
  const KernelTensor &x = s.in[0], &y = s.out[0];
  if (x.dtype != y.dtype || x.shape != y.shape || x.const_data || !shape_static(x.shape)) return nullptr;
  try {
    dnnl::memory::desc src = dnn::md(x), dst = dnn::md(y);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::reorder::primitive_desc pd(s.engine, src, s.engine, dst, attr);
    return std::make_unique<ReorderKernel>(s.engine, dnnl::reorder(pd), src, dst, pd.scratchpad_desc());
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

KILN_REGISTER_KERNEL("Reorder", "onednn", make_reorder);

}  // namespace
}  // namespace kiln
