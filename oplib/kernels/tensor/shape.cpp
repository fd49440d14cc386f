// Fast kernels for the ops that only move data: the reshaping views (Reshape, Flatten, Squeeze,
// Unsqueeze) are one memcpy, skipped when the planner aliased input and output; Transpose is a
// oneDNN reorder from a permuted-strides view of the input to the plain output.
#include <algorithm>
#include <cstring>

#include "kernels/kernel.h"
#include "ops/tensor/shape.h"

namespace kiln {
namespace {

bool dense(const KernelSpec& s) {
  for (auto& t : s.in)
    if (t.present() && !t.layout.empty()) return false;
  for (auto& t : s.out)
    if (!t.layout.empty() || !shape_static(t.shape)) return false;
  return true;
}

class CopyKernel final : public Kernel {
 public:
  CopyKernel(const void* const_in, size_t bytes) : const_in_(const_in), bytes_(bytes) {}

  BoundKernel bind(const KernelBinding& b) const override {
    const char* src = static_cast<const char*>(const_in_ ? const_in_ : b.in.at(0));
    char* dst = static_cast<char*>(b.out.at(0));
    size_t n = bytes_;
    return [src, dst, n](dnnl::stream&) {
      if (src == dst || n == 0) return;
      constexpr size_t kChunk = size_t(1) << 20;
      if (n < 2 * kChunk) {
        std::memcpy(dst, src, n);
        return;
      }
      // Large copies split across threads: one core cannot saturate memory bandwidth.
      int64_t chunks = static_cast<int64_t>((n + kChunk - 1) / kChunk);
#pragma omp parallel for
      for (int64_t c = 0; c < chunks; ++c) {
        size_t off = static_cast<size_t>(c) * kChunk;
        std::memcpy(dst + off, src + off, std::min(kChunk, n - off));
      }
    };
  }

 private:
  const void* const_in_;
  size_t bytes_;
};

std::unique_ptr<Kernel> make_copy(const KernelSpec& s) {
  if (!dense(s) || s.in.empty() || s.out.size() != 1 || s.in[0].dtype != s.out[0].dtype) return nullptr;
  int64_t n = shape_elements(s.out[0].shape);
  if (n < 0 || n != shape_elements(s.in[0].shape)) return nullptr;
  return std::make_unique<CopyKernel>(s.in[0].const_data, static_cast<size_t>(n) * dtype_size(s.out[0].dtype));
}

class TransposeKernel final : public Kernel {
 public:
  TransposeKernel(const KernelSpec& s, dnnl::reorder::primitive_desc pd)
      : eng_(s.engine), const_in_(s.in[0].const_data), pd_(std::move(pd)), prim_(pd_) {}

  size_t scratchpad_bytes() const override { return pd_.scratchpad_desc().get_size(); }

  BoundKernel bind(const KernelBinding& b) const override {
    dnnl::memory src(pd_.src_desc(), eng_, const_cast<void*>(const_in_ ? const_in_ : b.in.at(0)));
    dnnl::memory dst(pd_.dst_desc(), eng_, b.out.at(0));
    dnnl::memory sp(pd_.scratchpad_desc(), eng_, b.scratchpad);
    dnnl::reorder prim = prim_;
    return [prim, src, dst, sp](dnnl::stream& st) {
      prim.execute(st, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}, {DNNL_ARG_SCRATCHPAD, sp}});
    };
  }

 private:
  dnnl::engine eng_;
  const void* const_in_;
  dnnl::reorder::primitive_desc pd_;
  dnnl::reorder prim_;
};

std::unique_ptr<Kernel> make_transpose(const KernelSpec& s) {
  if (!dense(s) || s.in.size() != 1 || s.out.size() != 1) return nullptr;
  const KernelTensor &x = s.in[0], &y = s.out[0];
  DType t = x.dtype;
  if (t != DType::Float32 && t != DType::Int32 && t != DType::Int8 && t != DType::UInt8 &&
      t != DType::BFloat16)
    return nullptr;
  size_t r = x.shape.size();
  if (r == 0 || r > 6 || !shape_static(x.shape) || shape_elements(x.shape) == 0) return nullptr;
  const auto* op = dynamic_cast<const ops::Transpose*>(&s.op);
  if (!op) return nullptr;
  auto perm = op->effective_perm(r);
  auto xs = shape_strides(x.shape);
  dnnl::memory::dims strides(r);
  for (size_t i = 0; i < r; ++i) strides[i] = xs[perm[i]];
  try {
    dnnl::memory::desc src(dnn::dims(y.shape), dnn::dtype(t), strides);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::reorder::primitive_desc pd(s.engine, src, s.engine, dnn::plain_md(y.shape, t), attr);
    return std::make_unique<TransposeKernel>(s, std::move(pd));
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

KILN_REGISTER_KERNEL("Reshape", "inhouse", make_copy);
KILN_REGISTER_KERNEL("Flatten", "inhouse", make_copy);
KILN_REGISTER_KERNEL("Squeeze", "inhouse", make_copy);
KILN_REGISTER_KERNEL("Unsqueeze", "inhouse", make_copy);
KILN_REGISTER_KERNEL("Transpose", "onednn", make_transpose);

}  // namespace
}  // namespace kiln
