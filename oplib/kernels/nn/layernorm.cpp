// LayerNormalization on oneDNN's layer_normalization primitive. oneDNN normalises over the last
// dim only, so X is viewed as [rows, cols] with cols = prod(X.shape[axis:]): any axis maps onto
// it. When the node asks for Mean/InvStdDev the training form runs, which writes mean and
// variance; the variance is turned into 1/sqrt(var + epsilon) in place afterwards.
#include <cmath>
#include <unordered_map>

#include "kernels/kernel.h"
#include "ops/nn/layernorm.h"

namespace kiln {
namespace {

constexpr size_t kAlign = 64;
size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

class LayerNormKernel final : public Kernel {
 public:
  LayerNormKernel(const KernelSpec& s, const ops::LayerNormalization& op, int64_t rows, int64_t cols)
      : eng_(s.engine),
        rows_(rows),
        eps_(op.epsilon),
        outs_(s.out.size()),
        has_bias_(s.in.size() > 2 && s.in[2].present()) {
    using nf = dnnl::normalization_flags;
    auto flags = nf::use_scale;
    if (has_bias_) flags = flags | nf::use_shift;
    const auto prop = outs_ > 1 ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    data_md_ = dnn::plain_md({rows, cols}, s.in[0].dtype);  // float32 or bfloat16, in and out alike
    stat_md_ = dnn::plain_md({rows}, DType::Float32);
    param_md_ = dnn::plain_md({cols}, DType::Float32);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::layer_normalization_forward::desc d(prop, data_md_, stat_md_, op.epsilon, flags);
    pd_ = dnnl::layer_normalization_forward::primitive_desc(d, attr, s.engine);
    prim_ = dnnl::layer_normalization_forward(pd_);
    for (auto& t : s.in) const_in_.push_back(t.const_data);
  }

  // oneDNN's scratchpad, then a variance buffer when only Mean is requested.
  size_t scratchpad_bytes() const override {
    return align_up(pd_.scratchpad_desc().get_size()) + (outs_ == 2 ? align_up(sizeof(float) * rows_) : 0);
  }

  BoundKernel bind(const KernelBinding& b) const override {
    auto in = [&](size_t i) { return const_cast<void*>(const_in_[i] ? const_in_[i] : b.in.at(i)); };
    std::unordered_map<int, dnnl::memory> args;
    args.emplace(DNNL_ARG_SRC, dnnl::memory(data_md_, eng_, in(0)));
    args.emplace(DNNL_ARG_DST, dnnl::memory(data_md_, eng_, b.out.at(0)));
    args.emplace(DNNL_ARG_SCALE, dnnl::memory(param_md_, eng_, in(1)));
    if (has_bias_) args.emplace(DNNL_ARG_SHIFT, dnnl::memory(param_md_, eng_, in(2)));
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(pd_.scratchpad_desc(), eng_, b.scratchpad));
    float* var = nullptr;
    if (outs_ > 1) {
      var = outs_ > 2 ? static_cast<float*>(b.out.at(2))
                      : reinterpret_cast<float*>(static_cast<char*>(b.scratchpad) +
                                                 align_up(pd_.scratchpad_desc().get_size()));
      args.emplace(DNNL_ARG_MEAN, dnnl::memory(stat_md_, eng_, b.out.at(1)));
      args.emplace(DNNL_ARG_VARIANCE, dnnl::memory(stat_md_, eng_, var));
    }
    const bool want_inv = outs_ > 2;
    return [prim = prim_, args, var, want_inv, rows = rows_, eps = eps_](dnnl::stream& st) {
      prim.execute(st, args);
      if (!want_inv) return;
      st.wait();
      for (int64_t r = 0; r < rows; ++r) var[r] = 1.f / std::sqrt(var[r] + eps);
    };
  }

 private:
  dnnl::engine eng_;
  int64_t rows_;
  float eps_;
  size_t outs_;
  bool has_bias_;
  dnnl::memory::desc data_md_, stat_md_, param_md_;
  dnnl::layer_normalization_forward::primitive_desc pd_;
  dnnl::primitive prim_;
  std::vector<const void*> const_in_;
};

bool dense_static_f32(const KernelTensor& t, bool bf16) {
  return t.dtype == (bf16 ? DType::BFloat16 : DType::Float32) && t.layout.empty() && shape_static(t.shape);
}

std::unique_ptr<Kernel> make_layer_norm(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::LayerNormalization*>(&s.op);
  if (!op || s.in.size() < 2 || s.out.empty()) return nullptr;
  // The data may be bfloat16 (in and out alike); scale, bias and statistics stay float32.
  const bool bf16 = s.in[0].dtype == DType::BFloat16;
  if (bf16 && s.out[0].dtype != DType::BFloat16) return nullptr;
  for (size_t i = 0; i < s.in.size(); ++i)
    if (s.in[i].present() && !dense_static_f32(s.in[i], i == 0 && bf16)) return nullptr;
  for (size_t i = 0; i < s.out.size(); ++i)
    if (!dense_static_f32(s.out[i], i == 0 && bf16)) return nullptr;
  const Dims& x = s.in[0].shape;
  const int64_t k = op->axis_for(x.size());
  const int64_t rows = shape_elements(Dims(x.begin(), x.begin() + k));
  const int64_t cols = shape_elements(Dims(x.begin() + k, x.end()));
  if (rows <= 0 || cols <= 0) return nullptr;
  // Broadcast Scale/B (fewer elements than the normalised block) stay on the reference path;
  // with the full element count, broadcasting can only add size-1 dims, so the order matches.
  for (size_t i = 1; i < s.in.size(); ++i)
    if (s.in[i].present() && shape_elements(s.in[i].shape) != cols) return nullptr;
  try {
    return std::make_unique<LayerNormKernel>(s, *op, rows, cols);
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

KILN_REGISTER_KERNEL("LayerNormalization", "onednn", make_layer_norm);

}  // namespace
}  // namespace kiln
