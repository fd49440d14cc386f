// ConstantOfShape and Range: shape checks and reference kernels (see constant_of_shape_range.h).
#include "ops/generator/constant_of_shape_range.h"

#include <cmath>
#include <cstring>
#include <type_traits>

#include "ops/tensor/shape.h"

namespace kiln::ops {

namespace {

// The dtypes Range::infer accepts.
template <class F>
void with_range_type(DType t, F&& f) {
  switch (t) {
    case DType::Float32: f(float{}); break;
    case DType::Float64: f(double{}); break;
    case DType::Int16: f(int16_t{}); break;
    case DType::Int32: f(int32_t{}); break;
    case DType::Int64: f(int64_t{}); break;
    default: fail(std::string("Range does not handle dtype ") + dtype_name(t));
  }
}

}  // namespace

void ConstantOfShape::attrs(AttrVisitor& v) {
  v.visit("shape", shape);
  v.visit("dtype", dtype);
  v.visit("value_bits", value_bits);
}

void ConstantOfShape::infer(InferContext& ctx) const {
  check(ctx.num_inputs() <= 1, "ConstantOfShape takes at most one input (the shape)");
  check(ctx.num_outputs() == 1, "ConstantOfShape produces one output");
  DType t = static_cast<DType>(dtype);
  check(dtype >= 0 && dtype <= 127 && dtype_onnx(t), "dtype code " + std::to_string(dtype) + " is not supported");
  auto s = param_ints(ctx, 0, shape, "shape");
  if (!s) {
    check(ctx.input(0).shape[0] >= 0, "the shape input has unknown length, so the output rank is unknown");
    ctx.set_output(0, t, Dims(static_cast<size_t>(ctx.input(0).shape[0]), -1));
    return;
  }
  for (int64_t d : *s) check(d >= 0, "shape " + shape_str(*s) + " has a negative dimension");
  check_output_shape(*s, "output");
  ctx.set_output(0, t, *s);
}

void ConstantOfShape::reference(const KernelArgs& a) const {
  const TensorView& y = a.out[0];
  size_t es = dtype_size(y.dtype);
  char* d = static_cast<char*>(y.data);
  for (int64_t i = 0; i < y.elements(); ++i) std::memcpy(d + i * static_cast<int64_t>(es), &value_bits, es);
}

// ---------------------------------------------------------------------------------------------
// Range

static bool range_dtype(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::Int16 || t == DType::Int32 ||
         t == DType::Int64;
}

// max(ceil((limit - start) / delta), 0), exact for integers, checked against kMaxElements.
static int64_t range_count(const TensorView& s, const TensorView& l, const TensorView& d) {
  if (s.dtype == DType::Float32 || s.dtype == DType::Float64) {
    double a = element_as_double(s, 0), b = element_as_double(l, 0), c = element_as_double(d, 0);
    check(c != 0 && std::isfinite(a) && std::isfinite(b) && std::isfinite(c),
          "Range needs finite start and limit and a non-zero finite delta");
    double n = std::ceil((b - a) / c);
    check(n <= static_cast<double>(kMaxElements), "Range would produce more than 2^40 elements");
    return n > 0 ? static_cast<int64_t>(n) : 0;
  }
  __int128 a = element_as_int(s, 0), b = element_as_int(l, 0), c = element_as_int(d, 0);
  check(c != 0, "Range needs a non-zero delta");
  __int128 diff = b - a;
  __int128 n = diff / c + ((diff % c != 0 && (diff > 0) == (c > 0)) ? 1 : 0);
  check(n <= kMaxElements, "Range would produce more than 2^40 elements");
  return n > 0 ? static_cast<int64_t>(n) : 0;
}

void Range::infer(InferContext& ctx) const {
  check_io(ctx, 3, 3, 1, "Range");
  DType t = ctx.input(0).dtype;
  check(range_dtype(t), std::string("Range supports float32/float64/int16/int32/int64, not ") + dtype_name(t));
  for (size_t i = 0; i < 3; ++i) {
    const TensorType& x = ctx.input(i);
    check(x.dtype == t, "Range inputs must share one dtype; input " + std::to_string(i) + " is " +
                            dtype_name(x.dtype) + ", input 0 is " + dtype_name(t));
    check(shape_elements(x.shape) == 1, "Range input " + std::to_string(i) + " must be a scalar, not " +
                                            shape_str(x.shape));
  }
  const TensorView *s = ctx.constant(0), *l = ctx.constant(1), *d = ctx.constant(2);
  ctx.set_output(0, t, {s && l && d ? range_count(*s, *l, *d) : -1});
}

void Range::reference(const KernelArgs& a) const {
  const TensorView& y = a.out[0];
  int64_t n = y.elements();
  with_range_type(y.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_arithmetic_v<T>) {
      T* out = y.as<T>();
      if constexpr (std::is_floating_point_v<T>) {
        double s = element_as_double(a.in[0], 0), d = element_as_double(a.in[2], 0);
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(s + static_cast<double>(i) * d);
      } else {
        int64_t s = element_as_int(a.in[0], 0), d = element_as_int(a.in[2], 0);
        // Unsigned arithmetic: wraps instead of overflowing on hostile inputs.
        for (int64_t i = 0; i < n; ++i)
          out[i] = static_cast<T>(static_cast<uint64_t>(s) + static_cast<uint64_t>(i) * static_cast<uint64_t>(d));
      }
    }
  });
}

KILN_REGISTER_OP(ConstantOfShape);
KILN_REGISTER_OP(Range);

}  // namespace kiln::ops
