#include "ops/training/optimizer.h"

#include <cmath>
#include <type_traits>

namespace kiln::ops {

namespace {

// R, T, then `per` groups of N tensors (X, G, state...): checks types and shapes, and gives
// outputs X'1..X'N then the new state, each shaped like its input. Returns N.
int64_t infer_optimizer(InferContext& ctx, const char* what, size_t per) {
  const size_t n_in = ctx.num_inputs();
  check(n_in >= 2 + per && (n_in - 2) % per == 0,
        std::string(what) + " takes R, T and " + std::to_string(per) + " tensors per optimized tensor, got " +
            std::to_string(n_in) + " inputs");
  const size_t n = (n_in - 2) / per;
  check(ctx.num_outputs() == (per - 1) * n, std::string(what) + " updating " + std::to_string(n) + " tensor(s) gives " +
                                                std::to_string((per - 1) * n) + " outputs, not " +
                                                std::to_string(ctx.num_outputs()));
  const TensorType &r = ctx.input(0), &t = ctx.input(1);
  check(r.dtype == DType::Float32 || r.dtype == DType::Float64,
        std::string(what) + ": R must be float32 or float64, not " + dtype_name(r.dtype));
  check(t.dtype == DType::Int64, std::string(what) + ": T must be int64, not " + dtype_name(t.dtype));
  for (const TensorType* s : {&r, &t}) {
    const int64_t e = shape_elements(s->shape);
    check(e == 1 || e == -1, std::string(what) + ": R and T must be scalars, got shape " + shape_str(s->shape));
  }
  for (size_t i = 0; i < n; ++i) {
    const TensorType& x = ctx.input(2 + i);
    check(x.dtype == DType::Float32 || x.dtype == DType::Float64,
          std::string(what) + ": X" + std::to_string(i + 1) + " must be float32 or float64, not " + dtype_name(x.dtype));
    for (size_t k = 1; k < per; ++k) {
      const TensorType& o = ctx.input(2 + k * n + i);
      check(o.dtype == x.dtype && o.shape == x.shape,
            std::string(what) + ": input " + std::to_string(2 + k * n + i) + " must match X" + std::to_string(i + 1) +
                " (" + dtype_name(x.dtype) + " " + shape_str(x.shape) + "), got " + dtype_name(o.dtype) + " " +
                shape_str(o.shape));
    }
    for (size_t k = 0; k + 1 < per; ++k) ctx.set_output(k * n + i, x.dtype, x.shape);
  }
  return static_cast<int64_t>(n);
}

struct Scalars {
  double r;
  int64_t t;
};

Scalars scalars(const KernelArgs& a) { return {element_as_double(a.in[0], 0), element_as_int(a.in[1], 0)}; }

// Applies `step(x, g, state..., outs...)` element by element to tensor i of N, in its dtype.
template <class T, size_t kPer, class Step>
void each_element(const KernelArgs& a, size_t n, size_t i, Step step) {
  const int64_t e = a.in[2 + i].elements();
  const T* in[kPer];
  T* out[kPer - 1];
  for (size_t k = 0; k < kPer; ++k) in[k] = a.in[2 + k * n + i].as<const T>();
  for (size_t k = 0; k + 1 < kPer; ++k) out[k] = a.out[k * n + i].as<T>();
  for (int64_t j = 0; j < e; ++j) step(in, out, j);
}

template <size_t kPer, class Step>
void run(const KernelArgs& a, Step step) {
  const size_t n = (a.in.size() - 2) / kPer;
  for (size_t i = 0; i < n; ++i) {
    if (a.in[2 + i].dtype == DType::Float64)
      each_element<double, kPer>(a, n, i, step);
    else
      each_element<float, kPer>(a, n, i, step);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Adagrad

void Adagrad::attrs(AttrVisitor& v) {
  v.visit("decay_factor", decay_factor);
  v.visit("epsilon", epsilon);
  v.visit("norm_coefficient", norm_coefficient);
}

void Adagrad::infer(InferContext& ctx) const { infer_optimizer(ctx, "Adagrad", 3); }

void Adagrad::reference(const KernelArgs& a) const {
  const Scalars s = scalars(a);
  const double r = s.r / (1.0 + static_cast<double>(s.t) * decay_factor);
  run<3>(a, [&](auto in, auto out, int64_t j) {
    using T = std::remove_const_t<std::remove_pointer_t<std::decay_t<decltype(in[0])>>>;
    const double x = in[0][j], g = norm_coefficient * x + in[1][j];
    const double h = in[2][j] + g * g;
    out[0][j] = static_cast<T>(x - r * g / (std::sqrt(h) + epsilon));
    out[1][j] = static_cast<T>(h);
  });
}

// ---------------------------------------------------------------------------------------------
// Adam

void Adam::attrs(AttrVisitor& v) {
  v.visit("alpha", alpha);
  v.visit("beta", beta);
  v.visit("epsilon", epsilon);
  v.visit("norm_coefficient", norm_coefficient);
  v.visit("norm_coefficient_post", norm_coefficient_post);
}

void Adam::infer(InferContext& ctx) const { infer_optimizer(ctx, "Adam", 4); }

void Adam::reference(const KernelArgs& a) const {
  const Scalars s = scalars(a);
  const double t = static_cast<double>(s.t);
  // Bias correction of both moments, folded into the rate; none before the first update.
  const double r = s.t > 0 ? s.r * std::sqrt(1.0 - std::pow(double(beta), t)) / (1.0 - std::pow(double(alpha), t)) : s.r;
  run<4>(a, [&](auto in, auto out, int64_t j) {
    using T = std::remove_const_t<std::remove_pointer_t<std::decay_t<decltype(in[0])>>>;
    const double x = in[0][j], g = norm_coefficient * x + in[1][j];
    const double v = alpha * double(in[2][j]) + (1.0 - alpha) * g;
    const double h = beta * double(in[3][j]) + (1.0 - beta) * g * g;
    const double x_new = x - r * v / (std::sqrt(h) + epsilon);
    out[0][j] = static_cast<T>((1.0 - norm_coefficient_post) * x_new);
    out[1][j] = static_cast<T>(v);
    out[2][j] = static_cast<T>(h);
  });
}

// ---------------------------------------------------------------------------------------------
// Momentum

void Momentum::attrs(AttrVisitor& v) {
  v.visit("alpha", alpha);
  v.visit("beta", beta);
  v.visit("norm_coefficient", norm_coefficient);
  v.visit("mode", mode);
}

void Momentum::infer(InferContext& ctx) const {
  check(mode == "standard" || mode == "nesterov", "Momentum: mode must be 'standard' or 'nesterov', not '" + mode + "'");
  infer_optimizer(ctx, "Momentum", 3);
}

void Momentum::reference(const KernelArgs& a) const {
  const Scalars s = scalars(a);
  // The first update (T = 0) takes the whole gradient.
  const double beta_t = s.t > 0 ? beta : 1.0;
  const bool nesterov = mode == "nesterov";
  run<3>(a, [&](auto in, auto out, int64_t j) {
    using T = std::remove_const_t<std::remove_pointer_t<std::decay_t<decltype(in[0])>>>;
    const double x = in[0][j], g = norm_coefficient * x + in[1][j];
    const double v = alpha * double(in[2][j]) + beta_t * g;
    out[0][j] = static_cast<T>(nesterov ? x - s.r * (g + alpha * v) : x - s.r * v);
    out[1][j] = static_cast<T>(v);
  });
}

KILN_REGISTER_OP(Adagrad);
KILN_REGISTER_OP(Adam);
KILN_REGISTER_OP(Momentum);

}  // namespace kiln::ops
