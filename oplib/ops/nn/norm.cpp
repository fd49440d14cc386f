// BatchNormalization (inference and training mode), InstanceNormalization and LRN: attributes, shape inference
// and reference kernels.
#include "ops/nn/norm.h"

#include <algorithm>
#include <cmath>

namespace kiln::ops {

namespace {

int64_t spatial_size(const Dims& s) {
  int64_t p = 1;
  for (size_t i = 2; i < s.size(); ++i) p *= s[i];
  return p;
}

// X [N, C, ...] float32 followed by per-channel float32 parameters [C] named in `params`.
void infer_channel_op(InferContext& ctx, const std::string& what, std::vector<const char*> params, size_t min_rank,
                      size_t max_outputs = 1) {
  check(ctx.num_inputs() == 1 + params.size(), what + " takes " + std::to_string(1 + params.size()) +
                                                   " inputs, got " + std::to_string(ctx.num_inputs()));
  check(ctx.num_outputs() >= 1 && ctx.num_outputs() <= max_outputs,
        what + " has " + (max_outputs == 1 ? std::string("one output") : "1-" + std::to_string(max_outputs) + " outputs") +
            ", got " + std::to_string(ctx.num_outputs()));
  const TensorType& x = ctx.input(0);
  check(x.dtype == DType::Float32, what + " supports float32 only; X is " + dtype_name(x.dtype));
  check(x.shape.size() >= min_rank, what + ": X must have rank >= " + std::to_string(min_rank) +
                                        " ([N, C, ...]), got shape " + shape_str(x.shape));
  const int64_t c = x.shape[1];
  for (size_t i = 0; i < params.size(); ++i) {
    const TensorType& p = ctx.input(i + 1);
    const std::string name = what + ": " + params[i] + " (input " + std::to_string(i + 1) + ")";
    check(p.dtype == DType::Float32, name + " must be float32, got " + dtype_name(p.dtype));
    check(p.shape.size() == 1, name + " must be 1-D [C], got shape " + shape_str(p.shape));
    if (c >= 0 && p.shape[0] >= 0)
      check(p.shape[0] == c, name + " has " + std::to_string(p.shape[0]) + " elements but X has " +
                                 std::to_string(c) + " channels");
  }
  ctx.set_output(0, x.dtype, x.shape);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// BatchNormalization

void BatchNormalization::attrs(AttrVisitor& v) { v.visit("epsilon", epsilon); }

void BatchNormalization::infer(InferContext& ctx) const {
  check(epsilon >= 0.f, "BatchNormalization: epsilon must be >= 0");
  infer_channel_op(ctx, "BatchNormalization", {"scale", "B", "mean", "var"}, 2);
}

void BatchNormalization::reference(const KernelArgs& a) const {
  const TensorView& x = a.in[0];
  const float *scale = a.in[1].as<const float>(), *shift = a.in[2].as<const float>();
  const float *mean = a.in[3].as<const float>(), *var = a.in[4].as<const float>();
  const int64_t n_batch = x.shape[0], c = x.shape[1], sz = spatial_size(x.shape);
  const float* xp = x.as<const float>();
  float* yp = a.out[0].as<float>();
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t ch = 0; ch < c; ++ch) {
      const double inv = 1.0 / std::sqrt(static_cast<double>(var[ch]) + epsilon);
      const int64_t base = (n * c + ch) * sz;
      for (int64_t i = 0; i < sz; ++i)
        yp[base + i] = static_cast<float>((xp[base + i] - static_cast<double>(mean[ch])) * inv * scale[ch] + shift[ch]);
    }
}

// ---------------------------------------------------------------------------------------------
// BatchNormalizationTraining

void BatchNormalizationTraining::attrs(AttrVisitor& v) {
  v.visit("epsilon", epsilon);
  v.visit("momentum", momentum);
}

void BatchNormalizationTraining::infer(InferContext& ctx) const {
  check(epsilon >= 0.f, "BatchNormalization: epsilon must be >= 0");
  check(std::isfinite(momentum), "BatchNormalization: momentum must be finite");
  infer_channel_op(ctx, "BatchNormalization (training mode)", {"scale", "B", "input_mean", "input_var"}, 2, 3);
  for (size_t i = 1; i < ctx.num_outputs(); ++i) ctx.set_output(i, DType::Float32, {ctx.input(0).shape[1]});
}

void BatchNormalizationTraining::reference(const KernelArgs& a) const {
  const TensorView& x = a.in[0];
  const float *scale = a.in[1].as<const float>(), *shift = a.in[2].as<const float>();
  const float *in_mean = a.in[3].as<const float>(), *in_var = a.in[4].as<const float>();
  const int64_t n_batch = x.shape[0], c = x.shape[1], sz = spatial_size(x.shape);
  const float* xp = x.as<const float>();
  float* yp = a.out[0].as<float>();
  const double count = static_cast<double>(n_batch * sz);
  for (int64_t ch = 0; ch < c; ++ch) {
    double mean = 0, var = 0;
    for (int64_t n = 0; n < n_batch; ++n)
      for (int64_t i = 0; i < sz; ++i) mean += xp[(n * c + ch) * sz + i];
    mean = count > 0 ? mean / count : 0;
    for (int64_t n = 0; n < n_batch; ++n)
      for (int64_t i = 0; i < sz; ++i) {
        const double d = xp[(n * c + ch) * sz + i] - mean;
        var += d * d;
      }
    var = count > 0 ? var / count : 0;
    const double inv = 1.0 / std::sqrt(var + epsilon);
    for (int64_t n = 0; n < n_batch; ++n)
      for (int64_t i = 0; i < sz; ++i) {
        const int64_t k = (n * c + ch) * sz + i;
        yp[k] = static_cast<float>((xp[k] - mean) * inv * scale[ch] + shift[ch]);
      }
    if (a.out.size() > 1 && a.out[1].data)
      a.out[1].as<float>()[ch] = static_cast<float>(in_mean[ch] * static_cast<double>(momentum) + mean * (1.0 - momentum));
    if (a.out.size() > 2 && a.out[2].data)
      a.out[2].as<float>()[ch] = static_cast<float>(in_var[ch] * static_cast<double>(momentum) + var * (1.0 - momentum));
  }
}

KILN_REGISTER_OP(BatchNormalizationTraining);

// ---------------------------------------------------------------------------------------------
// InstanceNormalization

void InstanceNormalization::attrs(AttrVisitor& v) { v.visit("epsilon", epsilon); }

void InstanceNormalization::infer(InferContext& ctx) const {
  check(epsilon >= 0.f, "InstanceNormalization: epsilon must be >= 0");
  infer_channel_op(ctx, "InstanceNormalization", {"scale", "B"}, 3);
}

void InstanceNormalization::reference(const KernelArgs& a) const {
  const TensorView& x = a.in[0];
  const float *scale = a.in[1].as<const float>(), *shift = a.in[2].as<const float>();
  const int64_t n_batch = x.shape[0], c = x.shape[1], sz = spatial_size(x.shape);
  const float* xp = x.as<const float>();
  float* yp = a.out[0].as<float>();
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t ch = 0; ch < c; ++ch) {
      const int64_t base = (n * c + ch) * sz;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < sz; ++i) mean += xp[base + i];
      mean /= static_cast<double>(sz);
      for (int64_t i = 0; i < sz; ++i) var += (xp[base + i] - mean) * (xp[base + i] - mean);
      var /= static_cast<double>(sz);
      const double inv = 1.0 / std::sqrt(var + epsilon);
      for (int64_t i = 0; i < sz; ++i)
        yp[base + i] = static_cast<float>((xp[base + i] - mean) * inv * scale[ch] + shift[ch]);
    }
}

// ---------------------------------------------------------------------------------------------
// LRN: Y = X / (bias + alpha / size * sum of X^2 over channels
//      [c - floor((size - 1) / 2), c + ceil((size - 1) / 2)])^beta

void LRN::attrs(AttrVisitor& v) {
  v.visit("alpha", alpha);
  v.visit("beta", beta);
  v.visit("bias", bias);
  v.visit("size", size);
}

void LRN::infer(InferContext& ctx) const {
  check(size >= 1, "LRN: size must be >= 1, got " + std::to_string(size));
  infer_channel_op(ctx, "LRN", {}, 2);
}

void LRN::reference(const KernelArgs& a) const {
  const TensorView& x = a.in[0];
  const int64_t n_batch = x.shape[0], c = x.shape[1], sz = spatial_size(x.shape);
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  const float* xp = x.as<const float>();
  float* yp = a.out[0].as<float>();
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t ch = 0; ch < c; ++ch) {
      const int64_t lo = std::max<int64_t>(0, ch - before), hi = std::min<int64_t>(c - 1, ch + after);
      for (int64_t i = 0; i < sz; ++i) {
        double sq = 0;
        for (int64_t k = lo; k <= hi; ++k) {
          const double v = xp[(n * c + k) * sz + i];
          sq += v * v;
        }
        const double den = std::pow(bias + alpha / static_cast<double>(size) * sq, static_cast<double>(beta));
        yp[(n * c + ch) * sz + i] = static_cast<float>(xp[(n * c + ch) * sz + i] / den);
      }
    }
}

KILN_REGISTER_OP(BatchNormalization);
KILN_REGISTER_OP(InstanceNormalization);
KILN_REGISTER_OP(LRN);

}  // namespace kiln::ops
