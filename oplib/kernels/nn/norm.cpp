// Normalisation kernels: BatchNormalization (inference, global stats) and LRN (across channels)
// on oneDNN; InstanceNormalization in-house (one pass per [n, c] plane, planes in parallel).
#include <cmath>
#include <unordered_map>

#include "kernels/kernel.h"
#include "ops/nn/norm.h"

namespace kiln {
namespace {

// One oneDNN primitive whose arguments are the layer's inputs (by argument id, in input order)
// and its single output.
class NormKernel final : public Kernel {
 public:
  NormKernel(const KernelSpec& s, dnnl::primitive prim, dnnl::primitive_desc pd, std::vector<int> in_args,
             std::vector<dnnl::memory::desc> in_mds)
      : eng_(s.engine), prim_(std::move(prim)), pd_(std::move(pd)), in_args_(std::move(in_args)),
        in_mds_(std::move(in_mds)) {
    for (auto& t : s.in) const_in_.push_back(t.const_data);
  }

  size_t scratchpad_bytes() const override { return pd_.scratchpad_desc().get_size(); }

  BoundKernel bind(const KernelBinding& b) const override {
    std::unordered_map<int, dnnl::memory> args;
    for (size_t i = 0; i < in_args_.size(); ++i) {
      void* p = const_cast<void*>(const_in_[i] ? const_in_[i] : b.in.at(i));
      args.emplace(in_args_[i], dnnl::memory(in_mds_[i], eng_, p));
    }
    args.emplace(DNNL_ARG_DST, dnnl::memory(pd_.dst_desc(), eng_, b.out.at(0)));
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(pd_.scratchpad_desc(), eng_, b.scratchpad));
    return [prim = prim_, args](dnnl::stream& st) { prim.execute(st, args); };
  }

 private:
  dnnl::engine eng_;
  dnnl::primitive prim_;
  dnnl::primitive_desc pd_;
  std::vector<int> in_args_;
  std::vector<dnnl::memory::desc> in_mds_;
  std::vector<const void*> const_in_;
};

bool dense_f32(const KernelSpec& s, size_t n_in, size_t min_rank, size_t max_rank) {
  if (s.in.size() != n_in || s.out.size() != 1) return false;
  for (auto& t : s.in)
    if (!t.present() || t.dtype != DType::Float32 || !shape_static(t.shape) || shape_elements(t.shape) == 0)
      return false;
  const KernelTensor& x = s.in[0];
  // dst is described by src's layout, so both must agree.
  return x.shape.size() >= min_rank && x.shape.size() <= max_rank && s.out[0].dtype == DType::Float32 &&
         s.out[0].shape == x.shape && s.out[0].layout == x.layout;
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

std::unique_ptr<Kernel> make_batch_norm(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::BatchNormalization*>(&s.op);
  if (!op || !dense_f32(s, 5, 2, 5)) return nullptr;
  try {
    using nf = dnnl::normalization_flags;
    dnnl::batch_normalization_forward::desc d(dnnl::prop_kind::forward_inference, dnn::md(s.in[0]), op->epsilon,
                                              nf::use_global_stats | nf::use_scale | nf::use_shift);
    dnnl::batch_normalization_forward::primitive_desc pd(d, user_scratchpad(), s.engine);
    const dnnl::memory::desc c = dnn::plain_md(s.in[1].shape, DType::Float32);
    return std::make_unique<NormKernel>(
        s, dnnl::batch_normalization_forward(pd), pd,
        std::vector<int>{DNNL_ARG_SRC, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE},
        std::vector<dnnl::memory::desc>{pd.src_desc(), c, c, c, c});
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

std::unique_ptr<Kernel> make_lrn(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::LRN*>(&s.op);
  // oneDNN's window is symmetric (size - 1 channels around c); ONNX's even sizes are not.
  if (!op || op->size % 2 == 0 || !dense_f32(s, 1, 3, 5)) return nullptr;
  try {
    // Both divide alpha by size for the across-channel form, so the attributes carry over.
    dnnl::lrn_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::lrn_across_channels,
                              dnn::md(s.in[0]), op->size, op->alpha, op->beta, op->bias);
    dnnl::lrn_forward::primitive_desc pd(d, user_scratchpad(), s.engine);
    return std::make_unique<NormKernel>(s, dnnl::lrn_forward(pd), pd, std::vector<int>{DNNL_ARG_SRC},
                                        std::vector<dnnl::memory::desc>{pd.src_desc()});
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

class InstanceNormKernel final : public Kernel {
 public:
  InstanceNormKernel(const KernelSpec& s, float eps) : eps_(eps) {
    const Dims& x = s.in[0].shape;
    planes_ = x[0] * x[1];
    channels_ = x[1];
    size_ = shape_elements(x) / planes_;
    for (auto& t : s.in) const_in_.push_back(t.const_data);
  }

  BoundKernel bind(const KernelBinding& b) const override {
    auto in = [&](size_t i) { return static_cast<const float*>(const_in_[i] ? const_in_[i] : b.in.at(i)); };
    const float *x = in(0), *scale = in(1), *shift = in(2);
    float* y = static_cast<float*>(b.out.at(0));
    return [=, planes = planes_, c = channels_, n = size_, eps = eps_](dnnl::stream&) {
#pragma omp parallel for schedule(static)
      for (int64_t p = 0; p < planes; ++p) {
        const float* xp = x + p * n;
        float* yp = y + p * n;
        // Two passes in double: the variance of a plane with a large mean stays accurate.
        double mean = 0, var = 0;
        for (int64_t i = 0; i < n; ++i) mean += xp[i];
        mean /= static_cast<double>(n);
        for (int64_t i = 0; i < n; ++i) var += (xp[i] - mean) * (xp[i] - mean);
        var /= static_cast<double>(n);
        const int64_t ch = p % c;
        const float m = static_cast<float>(mean), a = static_cast<float>(scale[ch] / std::sqrt(var + eps));
        const float k = shift[ch];
        for (int64_t i = 0; i < n; ++i) yp[i] = (xp[i] - m) * a + k;
      }
    };
  }

 private:
  float eps_;
  int64_t planes_ = 0, channels_ = 0, size_ = 0;
  std::vector<const void*> const_in_;
};

std::unique_ptr<Kernel> make_instance_norm(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::InstanceNormalization*>(&s.op);
  if (!op || !dense_f32(s, 3, 3, 64) || !s.in[0].layout.empty() || !s.out[0].layout.empty()) return nullptr;
  return std::make_unique<InstanceNormKernel>(s, op->epsilon);
}

KILN_REGISTER_KERNEL("BatchNormalization", "onednn", make_batch_norm);
KILN_REGISTER_KERNEL("LRN", "onednn", make_lrn);
KILN_REGISTER_KERNEL("InstanceNormalization", "inhouse", make_instance_norm);

}  // namespace
}  // namespace kiln
