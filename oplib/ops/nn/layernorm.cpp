// LayerNormalization: attributes, shape inference and the reference kernel.
#include "ops/nn/layernorm.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/math/eltwise.h"

namespace kiln::ops {

namespace {

// Fails unless `p` broadcasts (numpy, one-directional) to the normalised shape `norm`.
void check_param(const TensorType& p, const TensorType& x, const Dims& norm, const char* name) {
  const std::string what = std::string("LayerNormalization: ") + name;
  check(p.dtype == x.dtype,
        what + " must have X's type " + dtype_name(x.dtype) + ", got " + dtype_name(p.dtype));
  check(p.shape.size() <= norm.size(), what + " has shape " + shape_str(p.shape) +
                                           ", which does not broadcast to the normalised shape " +
                                           shape_str(norm));
  const size_t lead = norm.size() - p.shape.size();
  for (size_t i = 0; i < p.shape.size(); ++i) {
    const int64_t d = p.shape[i], n = norm[lead + i];
    check(d == -1 || d == 1 || n == -1 || d == n, what + " has shape " + shape_str(p.shape) +
                                                      ", which does not broadcast to the normalised shape " +
                                                      shape_str(norm));
  }
}

template <class T>
void layer_norm(const KernelArgs& a, int64_t axis, double eps, size_t stats) {
  const TensorView& x = a.in[0];
  const Dims norm(x.shape.begin() + axis, x.shape.end());
  const int64_t cols = shape_elements(norm);
  const int64_t rows = shape_elements(Dims(x.shape.begin(), x.shape.begin() + axis));
  // Element offsets of Scale and B for each position of the normalised block.
  auto offsets = [&](const TensorView& p) {
    std::vector<int64_t> off(static_cast<size_t>(cols), 0);
    if (!p.data) return off;
    const auto st = broadcast_strides(p.shape, norm);
    std::vector<int64_t> idx(norm.size(), 0);
    for (int64_t c = 0; c < cols; ++c) {
      int64_t o = 0;
      for (size_t d = 0; d < norm.size(); ++d) o += idx[d] * st[d];
      off[static_cast<size_t>(c)] = o;
      for (int d = static_cast<int>(norm.size()) - 1; d >= 0; --d) {
        if (++idx[d] < norm[d]) break;
        idx[d] = 0;
      }
    }
    return off;
  };
  const TensorView& scale = a.in[1];
  const TensorView bias = a.in.size() > 2 ? a.in[2] : TensorView{};
  const auto s_off = offsets(scale), b_off = offsets(bias);
  const T* xp = x.as<const T>();
  const T* sp = scale.as<const T>();
  const T* bp = bias.as<const T>();
  T* yp = a.out[0].as<T>();
  float* mean_out = stats > 0 ? a.out[1].as<float>() : nullptr;
  float* inv_out = stats > 1 ? a.out[2].as<float>() : nullptr;
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = xp + r * cols;
    T* yr = yp + r * cols;
    double mean = 0, var = 0;
    for (int64_t c = 0; c < cols; ++c) mean += xr[c];
    mean /= static_cast<double>(cols);
    for (int64_t c = 0; c < cols; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    var /= static_cast<double>(cols);
    const double inv = 1.0 / std::sqrt(var + eps);
    for (int64_t c = 0; c < cols; ++c) {
      double y = (xr[c] - mean) * inv * static_cast<double>(sp[s_off[static_cast<size_t>(c)]]);
      if (bp) y += static_cast<double>(bp[b_off[static_cast<size_t>(c)]]);
      yr[c] = static_cast<T>(y);
    }
    if (mean_out) mean_out[r] = static_cast<float>(mean);
    if (inv_out) inv_out[r] = static_cast<float>(inv);
  }
}

}  // namespace

void LayerNormalization::attrs(AttrVisitor& v) {
  v.visit("axis", axis);
  v.visit("epsilon", epsilon);
  v.visit("stash_type", stash_type);
  v.visit("quantized_copy", quantized_copy);
}

void LayerNormalization::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 2 || ctx.num_inputs() == 3,
        "LayerNormalization takes 2 or 3 inputs (X, Scale, [B]), got " + std::to_string(ctx.num_inputs()));
  check(quantized_copy == 0 || quantized_copy == 1,
        "LayerNormalization: quantized_copy must be 0 or 1, got " + std::to_string(quantized_copy));
  const size_t outs = ctx.num_outputs() - std::min<size_t>(ctx.num_outputs(), static_cast<size_t>(quantized_copy));
  check(outs >= 1 && outs <= 3, "LayerNormalization has 1 to 3 outputs (Y, [Mean], [InvStdDev])" +
                                    std::string(quantized_copy ? " before its quantized copy of Y" : "") +
                                    ", got " + std::to_string(outs));
  check(stash_type == 1, "LayerNormalization: stash_type " + std::to_string(stash_type) +
                             " is not supported; only 1 (float32 statistics) is");
  check(std::isfinite(epsilon) && epsilon >= 0.f, "LayerNormalization: epsilon must be a finite value >= 0");
  const TensorType& x = ctx.input(0);
  check(x.dtype == DType::Float32 || x.dtype == DType::Float64,
        std::string("LayerNormalization supports float32 and float64 X, got ") + dtype_name(x.dtype));
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  check(rank >= 1, "LayerNormalization: X must have rank >= 1");
  check(axis >= -rank && axis < rank, "LayerNormalization: axis " + std::to_string(axis) +
                                          " is out of range for X of rank " + std::to_string(rank));
  const int64_t k = axis_for(x.shape.size());
  const Dims norm(x.shape.begin() + k, x.shape.end());
  check_param(ctx.input(1), x, norm, "Scale (input 1)");
  if (ctx.has_input(2)) check_param(ctx.input(2), x, norm, "B (input 2)");
  ctx.set_output(0, x.dtype, x.shape);
  Dims stat(x.shape.begin(), x.shape.begin() + k);
  stat.resize(x.shape.size(), 1);
  for (size_t i = 1; i < outs; ++i) ctx.set_output(i, DType::Float32, stat);
  if (quantized_copy) ctx.set_output(outs, x.dtype, x.shape);
}

void LayerNormalization::reference(const KernelArgs& args) const {
  const int64_t k = axis_for(args.in[0].shape.size());
  const size_t stats = args.out.size() - 1 - static_cast<size_t>(quantized_copy != 0);
  if (args.in[0].dtype == DType::Float64)
    layer_norm<double>(args, k, epsilon, stats);
  else
    layer_norm<float>(args, k, epsilon, stats);
  // The copy is float here too: the reference kernel's wrapper quantizes it on the way out.
  if (quantized_copy) {
    const TensorView& y = args.out[0];
    std::memcpy(args.out.back().data, y.data, static_cast<size_t>(y.elements()) * dtype_size(y.dtype));
  }
}

KILN_REGISTER_OP(LayerNormalization);

}  // namespace kiln::ops
