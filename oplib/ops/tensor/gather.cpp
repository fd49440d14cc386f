// Indexing, conversion and generator ops of the shape family: Gather, GatherElements, Cast,
// ConstantOfShape, Range.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "ops/tensor/shape.h"

namespace kiln::ops {

static void check_indices_dtype(const TensorType& t) {
  check(t.dtype == DType::Int64 || t.dtype == DType::Int32,
        std::string("indices must be int64 or int32, not ") + dtype_name(t.dtype));
}

// Index i of an axis of size d, negative counting from the end; fails when out of range.
static int64_t wrap_index(int64_t i, int64_t d) {
  if (i < -d || i >= d)
    fail("index " + std::to_string(i) + " is out of range for an axis of size " + std::to_string(d));
  return i < 0 ? i + d : i;
}

// ---------------------------------------------------------------------------------------------
// Gather

void Gather::attrs(AttrVisitor& v) { v.visit("axis", axis); }

void Gather::infer(InferContext& ctx) const {
  check_io(ctx, 2, 2, 1, "Gather");
  const TensorType &x = ctx.input(0), &idx = ctx.input(1);
  check_indices_dtype(idx);
  check(!x.shape.empty(), "Gather needs data of rank >= 1");
  int64_t k = normalize_axis(axis, static_cast<int64_t>(x.shape.size()), "axis");
  if (const TensorView* c = ctx.constant(1); c && x.shape[k] >= 0)
    for (int64_t i = 0; i < c->elements(); ++i) wrap_index(element_as_int(*c, i), x.shape[k]);
  Shape out(x.shape.begin(), x.shape.begin() + k);
  out.insert(out.end(), idx.shape.begin(), idx.shape.end());
  out.insert(out.end(), x.shape.begin() + k + 1, x.shape.end());
  check_output_shape(out, "output");
  ctx.set_output(0, x.dtype, out);
}

void Gather::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &idx = a.in[1], &y = a.out[0];
  int64_t k = axis < 0 ? axis + static_cast<int64_t>(x.shape.size()) : axis;
  int64_t outer = 1, inner = 1, d = x.shape[k], n = idx.elements();
  for (int64_t i = 0; i < k; ++i) outer *= x.shape[i];
  for (size_t i = k + 1; i < x.shape.size(); ++i) inner *= x.shape[i];
  size_t es = dtype_size(x.dtype);
  int64_t e = static_cast<int64_t>(es);
  // Per index: an [outer, inner] box from data row j into output column block i.
  for (int64_t i = 0; i < n; ++i) {
    int64_t j = wrap_index(element_as_int(idx, i), d);
    strided_copy(static_cast<char*>(y.data) + i * inner * e, {n * inner, 1},
                 static_cast<const char*>(x.data) + j * inner * e, {d * inner, 1}, {outer, inner}, es);
  }
}

// ---------------------------------------------------------------------------------------------
// GatherElements

void GatherElements::attrs(AttrVisitor& v) { v.visit("axis", axis); }

void GatherElements::infer(InferContext& ctx) const {
  check_io(ctx, 2, 2, 1, "GatherElements");
  const TensorType &x = ctx.input(0), &idx = ctx.input(1);
  check_indices_dtype(idx);
  check(!x.shape.empty(), "GatherElements needs data of rank >= 1");
  check(idx.shape.size() == x.shape.size(), "indices " + shape_str(idx.shape) + " and data " +
                                                shape_str(x.shape) + " must have the same rank");
  int64_t k = normalize_axis(axis, static_cast<int64_t>(x.shape.size()), "axis");
  for (size_t i = 0; i < x.shape.size(); ++i)
    check(static_cast<int64_t>(i) == k || x.shape[i] < 0 || idx.shape[i] < 0 || idx.shape[i] <= x.shape[i],
          "indices " + shape_str(idx.shape) + " are larger than data " + shape_str(x.shape) + " in dim " +
              std::to_string(i));
  if (const TensorView* c = ctx.constant(1); c && x.shape[k] >= 0)
    for (int64_t i = 0; i < c->elements(); ++i) wrap_index(element_as_int(*c, i), x.shape[k]);
  ctx.set_output(0, x.dtype, idx.shape);
}

void GatherElements::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &idx = a.in[1], &y = a.out[0];
  size_t r = x.shape.size();
  size_t k = static_cast<size_t>(axis < 0 ? axis + static_cast<int64_t>(r) : axis);
  auto xs = shape_strides(x.shape);
  int64_t e = static_cast<int64_t>(dtype_size(x.dtype)), n = y.elements();
  std::vector<int64_t> at(r, 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < r; ++d)
      off += (d == k ? wrap_index(element_as_int(idx, i), x.shape[k]) : at[d]) * xs[d];
    std::memcpy(static_cast<char*>(y.data) + i * e, static_cast<const char*>(x.data) + off * e, e);
    for (size_t d = r; d-- > 0;) {
      if (++at[d] < y.shape[d]) break;
      at[d] = 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Cast

namespace {

// Storage tags for the dtypes C++ has no arithmetic type for.
struct F16 { uint16_t b; };
struct BF16 { uint16_t b; };
struct Bool8 { uint8_t b; };

template <class F>
void with_type(DType t, F&& f) {
  switch (t) {
    case DType::Float32: f(float{}); break;
    case DType::Float64: f(double{}); break;
    case DType::Float16: f(F16{}); break;
    case DType::BFloat16: f(BF16{}); break;
    case DType::Bool: f(Bool8{}); break;
    case DType::Int8: f(int8_t{}); break;
    case DType::UInt8: f(uint8_t{}); break;
    case DType::Int16: f(int16_t{}); break;
    case DType::UInt16: f(uint16_t{}); break;
    case DType::Int32: f(int32_t{}); break;
    case DType::UInt32: f(uint32_t{}); break;
    case DType::Int64: f(int64_t{}); break;
    case DType::UInt64: f(uint64_t{}); break;
    default: fail(std::string("Cast does not handle dtype ") + dtype_name(t));
  }
}

// A source element as the arithmetic value it stands for.
template <class S>
auto load(S s) {
  if constexpr (std::is_same_v<S, F16>) return half_to_float(s.b);
  else if constexpr (std::is_same_v<S, BF16>) return bf16_to_float(s.b);
  else if constexpr (std::is_same_v<S, Bool8>) return s.b != 0;
  else return s;
}

// Truncation toward zero without C++'s undefined behaviour for out-of-range values.
template <class D>
D float_to_int(double v) {
  constexpr double k63 = 9223372036854775808.0;
  if (std::isnan(v)) return D(0);
  if constexpr (std::is_same_v<D, uint64_t>)
    if (v >= k63) return v >= 2 * k63 ? std::numeric_limits<uint64_t>::max() : static_cast<uint64_t>(v);
  if (v >= k63) return static_cast<D>(std::numeric_limits<int64_t>::max());
  if (v < -k63) return static_cast<D>(std::numeric_limits<int64_t>::min());
  return static_cast<D>(static_cast<int64_t>(v));  // narrower types wrap, as numpy does
}

template <class D, class V>
D store(V v) {
  if constexpr (std::is_same_v<D, Bool8>) return Bool8{static_cast<uint8_t>(v != 0)};
  else if constexpr (std::is_same_v<D, F16>) return F16{float_to_half(static_cast<float>(v))};
  else if constexpr (std::is_same_v<D, BF16>) return BF16{float_to_bf16(static_cast<float>(v))};
  else if constexpr (std::is_floating_point_v<V> && std::is_integral_v<D>) return float_to_int<D>(v);
  else return static_cast<D>(v);
}

template <class D, class S>
void convert(void* dst, const void* src, int64_t n) {
  D* d = static_cast<D*>(dst);
  const S* s = static_cast<const S*>(src);
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) d[i] = store<D>(load(s[i]));
}

}  // namespace

void Cast::attrs(AttrVisitor& v) { v.visit("to", to); }

void Cast::infer(InferContext& ctx) const {
  check_io(ctx, 1, 1, 1, "Cast");
  DType t = static_cast<DType>(to);
  check(to >= 0 && to <= 127 && dtype_onnx(t), "Cast to dtype code " + std::to_string(to) + " is not supported");
  ctx.set_output(0, t, ctx.input(0).shape);
}

void Cast::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &y = a.out[0];
  if (x.dtype == y.dtype) {
    if (x.data != y.data) std::memcpy(y.data, x.data, x.bytes());
    return;
  }
  with_type(y.dtype, [&](auto d) {
    with_type(x.dtype, [&](auto s) { convert<decltype(d), decltype(s)>(y.data, x.data, x.elements()); });
  });
}

// ---------------------------------------------------------------------------------------------
// ConstantOfShape

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
    ctx.set_output(0, t, Shape(static_cast<size_t>(ctx.input(0).shape[0]), -1));
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
  with_type(y.dtype, [&](auto tag) {
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

KILN_REGISTER_OP(Gather);
KILN_REGISTER_OP(GatherElements);
KILN_REGISTER_OP(Cast);
KILN_REGISTER_OP(ConstantOfShape);
KILN_REGISTER_OP(Range);

}  // namespace kiln::ops
