#include "ops/math/softmax.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace kiln::ops {

void SoftmaxAxis::attrs(AttrVisitor& v) {
  v.visit("axis", axis);
  visit_bool(v, "coerce_2d", coerce_2d);
}

void SoftmaxAxis::infer(InferContext& ctx, const char* op) const {
  check(ctx.num_inputs() == 1 && ctx.num_outputs() == 1, std::string(op) + " takes one input and one output");
  const auto& x = ctx.input(0);
  check(x.dtype == DType::Float32 || x.dtype == DType::Float64,
        std::string(op) + " takes float32 or float64, not " + dtype_name(x.dtype));
  int64_t r = static_cast<int64_t>(x.shape.size());
  // A scalar has nothing to normalise over; ONNX requires rank >= 1 as well.
  check(r >= 1, std::string(op) + " needs an input of rank 1 or more");
  check(axis >= -r && axis < r, std::string(op) + ": axis " + std::to_string(axis) + " is out of range for rank " +
                                    std::to_string(r));
  ctx.set_output(0, x.dtype, x.shape);
}

void Softmax::infer(InferContext& ctx) const {
  if (ctx.num_inputs() != 2) return SoftmaxAxis::infer(ctx, kType);
  check(ctx.num_outputs() == 1, "Softmax takes one output");
  const auto& x = ctx.input(0);
  const auto& m = ctx.input(1);
  check(x.dtype == DType::Float32 && m.dtype == DType::Float32, "Softmax with a mask takes float32 x and mask");
  const int64_t r = static_cast<int64_t>(x.shape.size());
  check(r >= 1 && (axis == -1 || axis == r - 1), "Softmax with a mask normalises along the last axis only");
  check(m.shape.size() >= 1 && m.shape.size() <= x.shape.size() && m.shape.back() == x.shape.back(),
        "Softmax's mask must have x's last dim and no higher rank");
  for (size_t d = 0, off = x.shape.size() - m.shape.size(); d + 1 < m.shape.size(); ++d)
    check(m.shape[d] == 1 || m.shape[d] == x.shape[off + d], "Softmax's mask does not broadcast onto x");
  ctx.set_output(0, x.dtype, x.shape);
}

std::vector<int64_t> Softmax::mask_rows(const Dims& x, const Dims& mask) {
  const size_t r = x.size(), off = r - mask.size();
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < r; ++d) rows *= x[d];
  std::vector<int64_t> at(static_cast<size_t>(std::max<int64_t>(rows, 0)));
  for (int64_t row = 0; row < rows; ++row) {
    int64_t rest = row, o = 0, stride = mask.back();
    for (size_t d = r - 1; d-- > 0;) {  // x's leading dims, innermost first
      const int64_t i = rest % x[d];
      rest /= x[d];
      if (d >= off) {
        if (mask[d - off] != 1) o += i * stride;
        stride *= mask[d - off];
      }
    }
    at[static_cast<size_t>(row)] = o;
  }
  return at;
}

SoftmaxAxis::Split SoftmaxAxis::split(const Dims& s) const {
  int64_t r = static_cast<int64_t>(s.size());
  int64_t a = axis < 0 ? axis + r : axis;
  Split p{1, 1, 1};
  for (int64_t i = 0; i < r; ++i) {
    if (i < a) p.outer *= s[i];
    else if (i == a || coerce_2d) p.n *= s[i];
    else p.inner *= s[i];
  }
  return p;
}

namespace {

enum class Mode { Soft, Log, Hard };

template <class T>
void normalise(const SoftmaxAxis& ax, Mode mode, const KernelArgs& args) {
  auto p = ax.split(args.in[0].shape);
  if (p.n == 0) return;
  const T* x = args.in[0].as<T>();
  T* y = args.out[0].as<T>();
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t in = 0; in < p.inner; ++in) {
      const T* xr = x + o * p.n * p.inner + in;
      T* yr = y + o * p.n * p.inner + in;
      int64_t arg = 0;
      for (int64_t i = 1; i < p.n; ++i)
        if (xr[i * p.inner] > xr[arg * p.inner]) arg = i;
      if (mode == Mode::Hard) {
        for (int64_t i = 0; i < p.n; ++i) yr[i * p.inner] = i == arg ? T(1) : T(0);
        continue;
      }
      double mx = xr[arg * p.inner], sum = 0;
      for (int64_t i = 0; i < p.n; ++i) sum += std::exp(xr[i * p.inner] - mx);
      if (mode == Mode::Log) {
        double ls = std::log(sum);
        for (int64_t i = 0; i < p.n; ++i) yr[i * p.inner] = static_cast<T>(xr[i * p.inner] - mx - ls);
      } else {
        for (int64_t i = 0; i < p.n; ++i) yr[i * p.inner] = static_cast<T>(std::exp(xr[i * p.inner] - mx) / sum);
      }
    }
}

void run(const SoftmaxAxis& ax, Mode mode, const KernelArgs& args) {
  if (args.in[0].dtype == DType::Float64) normalise<double>(ax, mode, args);
  else normalise<float>(ax, mode, args);
}

}  // namespace

void Softmax::reference(const KernelArgs& args) const {
  if (args.in.size() < 2 || !args.in[1].data) return run(*this, Mode::Soft, args);
  // softmax(x + mask): the sum in float, as a fused kernel adds it, then the plain reference.
  const Dims& xs = args.in[0].shape;
  const int64_t n = xs.back();
  const std::vector<int64_t> rows = mask_rows(xs, args.in[1].shape);
  const float* x = args.in[0].as<float>();
  const float* m = args.in[1].as<float>();
  std::vector<float> sum(static_cast<size_t>(shape_elements(xs)));
  for (size_t r = 0; r < rows.size(); ++r)
    for (int64_t c = 0; c < n; ++c) sum[r * n + c] = x[r * n + c] + m[rows[r] + c];
  KernelArgs plain{{args.in[0]}, args.out};
  plain.in[0].data = sum.data();
  run(*this, Mode::Soft, plain);
}
void LogSoftmax::reference(const KernelArgs& args) const { run(*this, Mode::Log, args); }
void Hardmax::reference(const KernelArgs& args) const { run(*this, Mode::Hard, args); }

KILN_REGISTER_OP(Softmax);
KILN_REGISTER_OP(LogSoftmax);
KILN_REGISTER_OP(Hardmax);

}  // namespace kiln::ops
