// Cast: dtype checks and the reference conversion (declared in shape.h).
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "ops/tensor/shape.h"

namespace kiln::ops {

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


KILN_REGISTER_OP(Cast);

}  // namespace kiln::ops
