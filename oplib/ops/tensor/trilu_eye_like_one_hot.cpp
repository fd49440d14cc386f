// Trilu, EyeLike and OneHot: attributes, shape inference and reference kernels.
#include "ops/tensor/trilu_eye_like_one_hot.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/tensor/shape.h"

namespace kiln::ops {

namespace {

// A scalar int parameter given either as attribute or as (a one-element) input i.
void check_scalar_param(const InferContext& ctx, size_t i, const char* what, bool int64_only) {
  if (!ctx.has_input(i)) return;
  const TensorType& t = ctx.input(i);
  if (int64_only)
    check(t.dtype == DType::Int64, std::string(what) + " must be int64, got " + dtype_name(t.dtype));
  const int64_t n = shape_elements(t.shape);
  check(n < 0 || n == 1, std::string(what) + " must hold exactly one value, got shape " + shape_str(t.shape));
}

int64_t scalar_param(const KernelArgs& a, size_t i, int64_t attr) {
  return i < a.in.size() && a.in[i].data ? element_as_int(a.in[i], 0) : attr;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Trilu

void Trilu::attrs(AttrVisitor& v) {
  visit_bool(v, "upper", upper);
  v.visit("k", k);
}

void Trilu::infer(InferContext& ctx) const {
  check_io(ctx, 1, 2, 1, "Trilu");
  const TensorType& x = ctx.input(0);
  check(x.shape.size() >= 2, "Trilu: input must have rank >= 2, got shape " + shape_str(x.shape));
  check_scalar_param(ctx, 1, "Trilu: k", true);
  ctx.set_output(0, x.dtype, x.shape);
}

void Trilu::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &y = a.out[0];
  const size_t r = x.shape.size();
  const int64_t m = x.shape[r - 2], n = x.shape[r - 1];
  if (m == 0 || n == 0) return;
  const int64_t mats = x.elements() / (m * n);
  // Beyond +-(m + n) every k keeps all or nothing; clamping keeps i + k from overflowing.
  const int64_t kk = std::clamp<int64_t>(scalar_param(a, 1, k), -(m + n), m + n);
  const size_t es = dtype_size(x.dtype);
  const char* src = static_cast<const char*>(x.data);
  char* dst = static_cast<char*>(y.data);
  for (int64_t b = 0; b < mats; ++b)
    for (int64_t i = 0; i < m; ++i) {
      const int64_t row = (b * m + i) * n;
      // Kept columns [lo, hi).
      const int64_t lo = upper ? std::clamp<int64_t>(i + kk, 0, n) : 0;
      const int64_t hi = upper ? n : std::clamp<int64_t>(i + kk + 1, 0, n);
      std::memset(dst + row * es, 0, static_cast<size_t>(n) * es);
      if (hi > lo) std::memcpy(dst + (row + lo) * es, src + (row + lo) * es, static_cast<size_t>(hi - lo) * es);
    }
}

// ---------------------------------------------------------------------------------------------
// EyeLike

void EyeLike::attrs(AttrVisitor& v) {
  v.visit("k", k);
  v.visit("dtype", dtype);
}

void EyeLike::infer(InferContext& ctx) const {
  check_io(ctx, 1, 1, 1, "EyeLike");
  const TensorType& x = ctx.input(0);
  check(x.shape.size() == 2, "EyeLike: input must be 2-D, got shape " + shape_str(x.shape));
  const DType t = static_cast<DType>(dtype);
  check(dtype >= 0 && dtype < 128 && dtype_onnx(t) && dtype_size(t) > 0,
        "EyeLike: unsupported output dtype code " + std::to_string(dtype));
  ctx.set_output(0, t, x.shape);
}

void EyeLike::reference(const KernelArgs& a) const {
  const TensorView& y = a.out[0];
  const int64_t m = y.shape[0], n = y.shape[1];
  const size_t es = dtype_size(y.dtype);
  std::memset(y.data, 0, y.bytes());
  const int64_t one = pack_element(y.dtype, 1.0);
  const int64_t kk = std::clamp<int64_t>(k, -(m + 1), n + 1);
  for (int64_t i = 0; i < m; ++i) {
    const int64_t j = i + kk;
    if (j >= 0 && j < n)
      std::memcpy(static_cast<char*>(y.data) + (i * n + j) * static_cast<int64_t>(es), &one, es);
  }
}

// ---------------------------------------------------------------------------------------------
// OneHot

void OneHot::attrs(AttrVisitor& v) {
  v.visit("axis", axis);
  v.visit("depth", depth);
}

void OneHot::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 3 && ctx.num_outputs() == 1,
        "OneHot takes inputs indices, [depth], values and has one output");
  const TensorType& idx = ctx.input(0);
  check(idx.dtype != DType::Bool && idx.dtype != DType::Float16 && idx.dtype != DType::BFloat16 &&
            dtype_size(idx.dtype) > 0,
        std::string("OneHot: unsupported indices type ") + dtype_name(idx.dtype));
  const TensorType& values = ctx.input(2);
  const int64_t nv = shape_elements(values.shape);
  check(nv < 0 || nv == 2,
        "OneHot: values must hold [off_value, on_value], got shape " + shape_str(values.shape));
  check(dtype_size(values.dtype) > 0,
        std::string("OneHot: unsupported values type ") + dtype_name(values.dtype));
  const int64_t r = static_cast<int64_t>(idx.shape.size());
  const int64_t ax = normalize_axis(axis, r + 1, "OneHot axis");
  int64_t d = depth;
  if (ctx.has_input(1)) {
    const TensorType& dt = ctx.input(1);
    check(dt.dtype != DType::Bool && dtype_size(dt.dtype) > 0 && dt.dtype != DType::Float16 &&
              dt.dtype != DType::BFloat16,
          std::string("OneHot: unsupported depth type ") + dtype_name(dt.dtype));
    const int64_t n = shape_elements(dt.shape);
    check(n < 0 || n == 1, "OneHot: depth must hold exactly one value, got shape " + shape_str(dt.shape));
    const TensorView* c = ctx.constant(1);
    if (c) {
      const double v = element_as_double(*c, 0);
      check(std::isfinite(v) && v >= 1 && v <= static_cast<double>(kMaxElements),
            "OneHot: depth must be >= 1, got " + std::to_string(v));
      d = static_cast<int64_t>(v);
    } else {
      d = -1;
    }
  } else {
    check(depth >= 1, "OneHot: depth must be >= 1, got " + std::to_string(depth));
  }
  Dims out = idx.shape;
  out.insert(out.begin() + ax, d);
  check_output_shape(out, "OneHot output");
  ctx.set_output(0, values.dtype, out);
}

void OneHot::reference(const KernelArgs& a) const {
  const TensorView &idx = a.in[0], &values = a.in[2], &y = a.out[0];
  const int64_t r = static_cast<int64_t>(idx.shape.size());
  const int64_t ax = axis < 0 ? axis + r + 1 : axis;
  const int64_t d = y.shape[static_cast<size_t>(ax)];
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < ax; ++i) outer *= idx.shape[static_cast<size_t>(i)];
  for (int64_t i = ax; i < r; ++i) inner *= idx.shape[static_cast<size_t>(i)];
  const size_t es = dtype_size(values.dtype);
  const char* off = static_cast<const char*>(values.data);
  const char* on = off + es;
  char* dst = static_cast<char*>(y.data);
  const bool float_idx = idx.dtype == DType::Float32 || idx.dtype == DType::Float64;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      int64_t hot = -1;
      if (float_idx) {
        // Truncation toward zero, as a cast to int64 does; NaN and huge values hit nothing.
        const double v = std::trunc(element_as_double(idx, o * inner + i));
        if (v >= -static_cast<double>(d) && v < static_cast<double>(d))
          hot = static_cast<int64_t>(v);
        else
          hot = d;
      } else {
        hot = element_as_int(idx, o * inner + i);
      }
      if (hot < 0 && hot >= -d) hot += d;
      for (int64_t j = 0; j < d; ++j)
        std::memcpy(dst + ((o * d + j) * inner + i) * static_cast<int64_t>(es), j == hot ? on : off, es);
    }
}

KILN_REGISTER_OP(Trilu);
KILN_REGISTER_OP(EyeLike);
KILN_REGISTER_OP(OneHot);

}  // namespace kiln::ops
