// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: shape checks and reference kernels.
// Both reduce to one loop over [N, C, D] log-probabilities (D = d1 * ... * dk).
#include "ops/nn/loss.h"

#include <cmath>
#include <vector>

namespace kiln::ops {

void LossAttrs::attrs(AttrVisitor& v) {
  visit_enum(v, "reduction", reduction);
  visit_bool(v, "has_ignore_index", has_ignore_index);
  v.visit("ignore_index", ignore_index);
  const auto r = static_cast<int64_t>(reduction);
  if (r < 0 || r > 2) fail("unknown loss reduction code " + std::to_string(r));
}

void LossAttrs::infer_loss(InferContext& ctx, const std::string& what) const {
  check(ctx.num_inputs() == 2 || ctx.num_inputs() == 3,
        what + " takes 2 or 3 inputs (scores, target, optional weight), got " + std::to_string(ctx.num_inputs()));
  check(ctx.has_input(0) && ctx.has_input(1), what + ": inputs 0 and 1 are required");
  const TensorType& x = ctx.input(0);
  const TensorType& t = ctx.input(1);
  check(x.dtype == DType::Float32 || x.dtype == DType::Float64,
        what + " takes float32 or float64 scores, not " + dtype_name(x.dtype));
  check(t.dtype == DType::Int32 || t.dtype == DType::Int64,
        what + " takes int32 or int64 targets, not " + dtype_name(t.dtype));
  check(x.shape.size() >= 2, what + ": scores must have rank >= 2 ([N, C, d...]), got shape " + shape_str(x.shape));
  check(t.shape.size() + 1 == x.shape.size(), what + ": target shape " + shape_str(t.shape) +
                                                  " must be the scores shape " + shape_str(x.shape) +
                                                  " without dim 1");
  for (size_t i = 0; i < t.shape.size(); ++i) {
    const int64_t want = x.shape[i == 0 ? 0 : i + 1];
    check(t.shape[i] < 0 || want < 0 || t.shape[i] == want,
          what + ": target shape " + shape_str(t.shape) + " does not match scores shape " + shape_str(x.shape));
  }
  if (ctx.has_input(2)) {
    const TensorType& w = ctx.input(2);
    check(w.dtype == x.dtype, what + ": weight has dtype " + std::string(dtype_name(w.dtype)) + " but scores have " +
                                  dtype_name(x.dtype));
    check(w.shape.size() == 1, what + ": weight must be 1-D [C], got shape " + shape_str(w.shape));
    check(w.shape[0] < 0 || x.shape[1] < 0 || w.shape[0] == x.shape[1],
          what + ": weight has " + std::to_string(w.shape[0]) + " elements but there are " +
              std::to_string(x.shape[1]) + " classes");
  }
  ctx.set_output(0, x.dtype, reduction == LossReduction::None ? t.shape : Dims{});
}

namespace {

// The loss over log-probabilities lp [N, C, D]: per element -lp[n, t, d] * weight[t], zero for
// ignored targets; then the reduction.
template <class T>
void nll(const LossAttrs& a, const T* lp, const TensorView& target, const T* weight, const Dims& xs, T* out) {
  const int64_t n_batch = xs[0], c = xs[1];
  int64_t d_sz = 1;
  for (size_t i = 2; i < xs.size(); ++i) d_sz *= xs[i];
  double sum = 0, wsum = 0;
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t d = 0; d < d_sz; ++d) {
      const int64_t i = n * d_sz + d;
      const int64_t t = element_as_int(target, i);
      double loss = 0, w = 0;
      if (!(a.has_ignore_index && t == a.ignore_index)) {
        if (t < 0 || t >= c)
          fail("target value " + std::to_string(t) + " is out of range for " + std::to_string(c) + " classes");
        w = weight ? static_cast<double>(weight[t]) : 1.0;
        loss = -static_cast<double>(lp[(n * c + t) * d_sz + d]) * w;
      }
      if (a.reduction == LossReduction::None) out[i] = static_cast<T>(loss);
      sum += loss;
      wsum += w;
    }
  // Mean over nothing (every target ignored) is 0/0 = NaN, as in ONNX's reference.
  if (a.reduction == LossReduction::Sum) *out = static_cast<T>(sum);
  if (a.reduction == LossReduction::Mean) *out = static_cast<T>(sum / wsum);
}

template <class T>
void run_nll(const LossAttrs& a, const KernelArgs& args) {
  const T* weight = args.in.size() > 2 ? args.in[2].as<const T>() : nullptr;
  nll<T>(a, args.in[0].as<const T>(), args.in[1], weight, args.in[0].shape, args.out[0].as<T>());
}

// log_softmax along dim 1 of x [N, C, D] into lp.
template <class T>
void log_softmax_dim1(const T* x, const Dims& xs, T* lp) {
  const int64_t n_batch = xs[0], c = xs[1];
  int64_t d_sz = 1;
  for (size_t i = 2; i < xs.size(); ++i) d_sz *= xs[i];
  if (c == 0) return;
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t d = 0; d < d_sz; ++d) {
      const T* xr = x + n * c * d_sz + d;
      T* lr = lp + n * c * d_sz + d;
      double mx = xr[0];
      for (int64_t k = 1; k < c; ++k) mx = std::fmax(mx, static_cast<double>(xr[k * d_sz]));
      double s = 0;
      for (int64_t k = 0; k < c; ++k) s += std::exp(xr[k * d_sz] - mx);
      const double ls = std::log(s);
      for (int64_t k = 0; k < c; ++k) lr[k * d_sz] = static_cast<T>(xr[k * d_sz] - mx - ls);
    }
}

template <class T>
void run_sce(const LossAttrs& a, const KernelArgs& args) {
  const TensorView& x = args.in[0];
  // The log_prob output is optional; without it the log-softmax goes to a scratch buffer.
  std::vector<T> scratch;
  T* lp = nullptr;
  if (args.out.size() > 1 && args.out[1].data) {
    lp = args.out[1].as<T>();
  } else {
    scratch.resize(static_cast<size_t>(x.elements()));
    lp = scratch.data();
  }
  log_softmax_dim1<T>(x.as<const T>(), x.shape, lp);
  const T* weight = args.in.size() > 2 ? args.in[2].as<const T>() : nullptr;
  nll<T>(a, lp, args.in[1], weight, x.shape, args.out[0].as<T>());
}

}  // namespace

void NegativeLogLikelihoodLoss::infer(InferContext& ctx) const {
  check(ctx.num_outputs() == 1, "NegativeLogLikelihoodLoss has one output");
  infer_loss(ctx, kType);
}

void NegativeLogLikelihoodLoss::reference(const KernelArgs& args) const {
  if (args.in[0].dtype == DType::Float64) run_nll<double>(*this, args);
  else run_nll<float>(*this, args);
}

void SoftmaxCrossEntropyLoss::infer(InferContext& ctx) const {
  check(ctx.num_outputs() == 1 || ctx.num_outputs() == 2,
        "SoftmaxCrossEntropyLoss has one or two outputs (loss, optional log_prob)");
  infer_loss(ctx, kType);
  if (ctx.num_outputs() == 2) ctx.set_output(1, ctx.input(0).dtype, ctx.input(0).shape);
}

void SoftmaxCrossEntropyLoss::reference(const KernelArgs& args) const {
  if (args.in[0].dtype == DType::Float64) run_sce<double>(*this, args);
  else run_sce<float>(*this, args);
}

KILN_REGISTER_OP(NegativeLogLikelihoodLoss);
KILN_REGISTER_OP(SoftmaxCrossEntropyLoss);

}  // namespace kiln::ops
