#include "ops/math/eltwise.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "ops/tensor/shape.h"

namespace kiln::ops {

namespace {

template <class T> struct Tag { using type = T; };
struct BoolTag {};  // bool tensors hold one byte per element, 0 or 1

// Calls f(Tag<T>{}) for the C++ type of a numeric dtype; false if the dtype has none here.
template <class F>
bool dispatch_numeric(DType t, F&& f) {
  switch (t) {
    case DType::Float32: f(Tag<float>{}); return true;
    case DType::Float64: f(Tag<double>{}); return true;
    case DType::Int8: f(Tag<int8_t>{}); return true;
    case DType::Int16: f(Tag<int16_t>{}); return true;
    case DType::Int32: f(Tag<int32_t>{}); return true;
    case DType::Int64: f(Tag<int64_t>{}); return true;
    case DType::UInt8: f(Tag<uint8_t>{}); return true;
    case DType::UInt16: f(Tag<uint16_t>{}); return true;
    case DType::UInt32: f(Tag<uint32_t>{}); return true;
    case DType::UInt64: f(Tag<uint64_t>{}); return true;
    default: return false;
  }
}

bool is_float(DType t) { return t == DType::Float32 || t == DType::Float64; }
bool is_signed_int(DType t) {
  return t == DType::Int8 || t == DType::Int16 || t == DType::Int32 || t == DType::Int64;
}
bool is_unsigned_int(DType t) {
  return t == DType::UInt8 || t == DType::UInt16 || t == DType::UInt32 || t == DType::UInt64;
}

// Visits every innermost row of `out`: row(out_offset, in_offsets, n, in_steps) with the
// element offsets of each input (strides from broadcast_strides).
template <size_t N, class Row>
void walk_rows(const Dims& out, const std::array<std::vector<int64_t>, N>& st, Row&& row) {
  int64_t total = shape_elements(out);
  if (total <= 0) return;
  size_t r = out.size();
  std::array<int64_t, N> step{};
  if (r == 0) {
    row(int64_t{0}, std::array<int64_t, N>{}, int64_t{1}, step);
    return;
  }
  int64_t inner = out[r - 1];
  for (size_t k = 0; k < N; ++k) step[k] = st[k][r - 1];
  std::vector<int64_t> idx(r - 1, 0);
  for (int64_t q = 0, rows = total / inner; q < rows; ++q) {
    std::array<int64_t, N> off{};
    for (size_t d = 0; d + 1 < r; ++d)
      for (size_t k = 0; k < N; ++k) off[k] += idx[d] * st[k][d];
    row(q * inner, off, inner, step);
    for (int d = static_cast<int>(r) - 2; d >= 0; --d) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
}

bool act_supports_int(Act a) {
  return a == Act::Relu || a == Act::Abs || a == Act::Neg || a == Act::Clip || a == Act::Identity;
}

// Clip bounds clamped into T's range, so -FLT_MAX ("no lower bound") converts without UB.
template <class T>
T int_bound(double b) {
  double lo = static_cast<double>(std::numeric_limits<T>::lowest());
  double hi = static_cast<double>(std::numeric_limits<T>::max());
  if (!(b > lo)) return std::numeric_limits<T>::lowest();
  if (!(b < hi)) return std::numeric_limits<T>::max();
  return static_cast<T>(b);
}

template <class T>
void unary_int(Act a, float alpha, float beta, const T* x, T* y, int64_t n) {
  using U = std::make_unsigned_t<T>;
  // Two's-complement negation through unsigned, so abs/neg of the minimum value wrap, not trap.
  auto neg = [](T v) { return static_cast<T>(U(0) - static_cast<U>(v)); };
  T lo = int_bound<T>(alpha), hi = int_bound<T>(beta);
  for (int64_t i = 0; i < n; ++i) {
    T v = x[i];
    switch (a) {
      case Act::Relu: y[i] = v > 0 ? v : T(0); break;
      case Act::Abs: y[i] = v < 0 ? neg(v) : v; break;
      case Act::Neg: y[i] = neg(v); break;
      case Act::Clip: y[i] = v < lo ? lo : (v > hi ? hi : v); break;
      default: y[i] = v; break;
    }
  }
}

}  // namespace

std::vector<int64_t> broadcast_strides(const Dims& in, const Dims& out) {
  std::vector<int64_t> st(out.size(), 0);
  auto dense = shape_strides(in);
  size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i)
    st[lead + i] = (in[i] == 1 && out[lead + i] != 1) ? 0 : dense[i];
  return st;
}

// ---- Unary ----

void Unary::attrs(AttrVisitor& v) {
  visit_enum(v, "act", act);
  v.visit("alpha", alpha);
  v.visit("beta", beta);
  if (static_cast<int64_t>(act) < 1 || static_cast<int64_t>(act) > static_cast<int64_t>(kLastAct))
    fail("unknown activation " + std::to_string(static_cast<int64_t>(act)));
}

void Unary::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 1 && ctx.num_outputs() == 1, "Unary takes one input and one output");
  const auto& x = ctx.input(0);
  bool ok = is_float(x.dtype) || (is_signed_int(x.dtype) && act_supports_int(act));
  if (!ok)
    fail(std::string(act_name(act)) + " does not support input type " + dtype_name(x.dtype) +
         (act_supports_int(act) ? "; it takes float32, float64 or signed integers"
                                : "; it takes float32 or float64"));
  ctx.set_output(0, x.dtype, x.shape);
}

void Unary::reference(const KernelArgs& args) const {
  const TensorView& x = args.in[0];
  const TensorView& y = args.out[0];
  int64_t n = x.elements();
  switch (x.dtype) {
    case DType::Float32: {
      const float* s = x.as<float>();
      float* d = y.as<float>();
      for (int64_t i = 0; i < n; ++i) d[i] = apply_act(act, alpha, beta, s[i]);
      break;
    }
    case DType::Float64: {
      const double* s = x.as<double>();
      double* d = y.as<double>();
      for (int64_t i = 0; i < n; ++i) d[i] = apply_act<double>(act, alpha, beta, s[i]);
      break;
    }
    case DType::Int8: unary_int(act, alpha, beta, x.as<int8_t>(), y.as<int8_t>(), n); break;
    case DType::Int16: unary_int(act, alpha, beta, x.as<int16_t>(), y.as<int16_t>(), n); break;
    case DType::Int32: unary_int(act, alpha, beta, x.as<int32_t>(), y.as<int32_t>(), n); break;
    case DType::Int64: unary_int(act, alpha, beta, x.as<int64_t>(), y.as<int64_t>(), n); break;
    default: fail(std::string("Unary: unsupported type ") + dtype_name(x.dtype));
  }
}

KILN_REGISTER_OP(Unary);

// ---- Binary ----

const char* binary_name(BinaryKind k) {
  switch (k) {
    case BinaryKind::Add: return "Add";
    case BinaryKind::Sub: return "Sub";
    case BinaryKind::Mul: return "Mul";
    case BinaryKind::Div: return "Div";
    case BinaryKind::Pow: return "Pow";
    case BinaryKind::Max: return "Max";
    case BinaryKind::Min: return "Min";
    case BinaryKind::Mod: return "Mod";
    case BinaryKind::FMod: return "FMod";
    case BinaryKind::Equal: return "Equal";
    case BinaryKind::Less: return "Less";
    case BinaryKind::Greater: return "Greater";
    case BinaryKind::LessOrEqual: return "LessOrEqual";
    case BinaryKind::GreaterOrEqual: return "GreaterOrEqual";
    case BinaryKind::And: return "And";
    case BinaryKind::Or: return "Or";
    case BinaryKind::Xor: return "Xor";
    case BinaryKind::BitShiftLeft: return "BitShiftLeft";
    case BinaryKind::BitShiftRight: return "BitShiftRight";
    case BinaryKind::BitwiseAnd: return "BitwiseAnd";
    case BinaryKind::BitwiseOr: return "BitwiseOr";
    case BinaryKind::BitwiseXor: return "BitwiseXor";
  }
  return "?";
}

namespace {

bool is_compare(BinaryKind k) { return k >= BinaryKind::Equal && k <= BinaryKind::GreaterOrEqual; }
bool is_logic(BinaryKind k) { return k >= BinaryKind::And && k <= BinaryKind::Xor; }
bool is_shift(BinaryKind k) { return k == BinaryKind::BitShiftLeft || k == BinaryKind::BitShiftRight; }
bool is_bitwise(BinaryKind k) { return k >= BinaryKind::BitwiseAnd && k <= BinaryKind::BitwiseXor; }
// The kinds that also take float16, computed in float32 and rounded back (nearest even).
bool takes_half(BinaryKind k) {
  return k == BinaryKind::Max || k == BinaryKind::Min || k == BinaryKind::Mod || k == BinaryKind::FMod;
}

// out[i] = f(a[i'], b[i'']) over the broadcast output.
template <class A, class B, class R, class F>
void binary_loop(const KernelArgs& args, F f) {
  const auto& out = args.out[0];
  std::array<std::vector<int64_t>, 2> st{broadcast_strides(args.in[0].shape, out.shape),
                                         broadcast_strides(args.in[1].shape, out.shape)};
  const A* x = args.in[0].as<A>();
  const B* y = args.in[1].as<B>();
  R* d = out.as<R>();
  walk_rows(out.shape, st, [&](int64_t o, auto off, int64_t n, auto step) {
    for (int64_t i = 0; i < n; ++i) d[o + i] = f(x[off[0] + i * step[0]], y[off[1] + i * step[1]]);
  });
}

// Integer power by squaring in wrapping unsigned arithmetic; negative exponents truncate to 0
// except for bases 1 and -1.
template <class T>
T int_pow(T base, double e) {
  if (!(e >= -4e18 && e <= 4e18)) e = e > 0 ? 4e18 : -4e18;  // also maps NaN to a bound
  int64_t k = static_cast<int64_t>(e);
  if (k < 0) {
    if (base == T(1)) return T(1);
    if constexpr (std::is_signed_v<T>)
      if (base == T(-1)) return (k & 1) ? T(-1) : T(1);
    return T(0);
  }
  uint64_t r = 1, b = static_cast<uint64_t>(base);
  for (uint64_t u = static_cast<uint64_t>(k); u; u >>= 1) {
    if (u & 1) r *= b;
    b *= b;
  }
  return static_cast<T>(r);
}

template <class T>
void arith(BinaryKind k, const KernelArgs& a) {
  constexpr bool fp = std::is_floating_point_v<T>;
  // Integers compute in uint64 so overflow wraps instead of being undefined.
  using W = std::conditional_t<fp, T, uint64_t>;
  auto w = [](T v) { return static_cast<W>(v); };
  switch (k) {
    case BinaryKind::Add: binary_loop<T, T, T>(a, [&](T x, T y) { return T(w(x) + w(y)); }); break;
    case BinaryKind::Sub: binary_loop<T, T, T>(a, [&](T x, T y) { return T(w(x) - w(y)); }); break;
    case BinaryKind::Mul: binary_loop<T, T, T>(a, [&](T x, T y) { return T(w(x) * w(y)); }); break;
    case BinaryKind::Div:
      binary_loop<T, T, T>(a, [&](T x, T y) -> T {
        if constexpr (fp) return x / y;
        else {
          if (y == T(0)) return T(0);
          if constexpr (std::is_signed_v<T>)
            if (y == T(-1)) return T(W(0) - w(x));  // avoids the MIN / -1 trap
          return T(x / y);
        }
      });
      break;
    case BinaryKind::Pow:
      binary_loop<T, T, T>(a, [](T x, T y) -> T {
        if constexpr (fp) return std::pow(x, y);
        else return int_pow<T>(x, static_cast<double>(y));
      });
      break;
    case BinaryKind::Max: binary_loop<T, T, T>(a, [](T x, T y) { return (x > y || x != x) ? x : y; }); break;
    case BinaryKind::Min: binary_loop<T, T, T>(a, [](T x, T y) { return (x < y || x != x) ? x : y; }); break;
    case BinaryKind::Mod:
    case BinaryKind::FMod: {
      bool c_style = k == BinaryKind::FMod;
      binary_loop<T, T, T>(a, [c_style](T x, T y) -> T {
        T r;
        if constexpr (fp) {
          r = std::fmod(x, y);
        } else {
          if (y == T(0)) return T(0);
          if constexpr (std::is_signed_v<T>)
            if (y == T(-1)) return T(0);
          r = T(x % y);
        }
        // numpy's mod takes the divisor's sign.
        if (!c_style && r != T(0) && ((r < T(0)) != (y < T(0)))) r = T(r + y);
        return r;
      });
      break;
    }
    default: fail(std::string("Binary: ") + binary_name(k) + " is not arithmetic");
  }
}

template <class T>
void compare(BinaryKind k, const KernelArgs& a) {
  auto b = [](bool v) { return static_cast<uint8_t>(v); };
  switch (k) {
    case BinaryKind::Equal: binary_loop<T, T, uint8_t>(a, [&](T x, T y) { return b(x == y); }); break;
    case BinaryKind::Less: binary_loop<T, T, uint8_t>(a, [&](T x, T y) { return b(x < y); }); break;
    case BinaryKind::Greater: binary_loop<T, T, uint8_t>(a, [&](T x, T y) { return b(x > y); }); break;
    case BinaryKind::LessOrEqual: binary_loop<T, T, uint8_t>(a, [&](T x, T y) { return b(x <= y); }); break;
    case BinaryKind::GreaterOrEqual:
      binary_loop<T, T, uint8_t>(a, [&](T x, T y) { return b(x >= y); });
      break;
    default: fail(std::string("Binary: ") + binary_name(k) + " is not a comparison");
  }
}

template <class T>
void shift(BinaryKind k, const KernelArgs& a) {
  constexpr T bits = sizeof(T) * 8;
  bool left = k == BinaryKind::BitShiftLeft;
  binary_loop<T, T, T>(a, [left](T x, T y) -> T {
    if (y >= bits) return T(0);
    return left ? T(x << y) : T(x >> y);
  });
}

}  // namespace

void Binary::attrs(AttrVisitor& v) {
  visit_enum(v, "kind", kind);
  post.attrs(v);
  int64_t k = static_cast<int64_t>(kind);
  if (k < 1 || k > static_cast<int64_t>(BinaryKind::BitwiseXor))
    fail("unknown binary op kind " + std::to_string(k));
}

void Binary::infer(InferContext& ctx) const {
  const std::string name = binary_name(kind);
  size_t sums = post.sum_count();
  check(ctx.num_inputs() == 2 + sums && ctx.num_outputs() == 1,
        name + " takes 2 inputs (plus one per fused Sum) and one output");
  const auto& a = ctx.input(0);
  const auto& b = ctx.input(1);
  auto types = std::string(dtype_name(a.dtype)) + " and " + dtype_name(b.dtype);
  if (is_logic(kind)) {
    check(a.dtype == DType::Bool && b.dtype == DType::Bool, name + " takes bool inputs, got " + types);
  } else if (is_bitwise(kind)) {
    check(a.dtype == b.dtype && (is_unsigned_int(a.dtype) || is_signed_int(a.dtype)),
          name + " takes two inputs of the same integer type, got " + types);
  } else if (is_shift(kind)) {
    check(a.dtype == b.dtype && is_unsigned_int(a.dtype),
          name + " takes two inputs of the same unsigned integer type, got " + types);
  } else if (is_compare(kind)) {
    check(a.dtype == b.dtype, name + " takes two inputs of the same type, got " + types);
    check(dtype_numeric(a.dtype) || a.dtype == DType::Bool, name + " does not support type " + types);
  } else if (kind == BinaryKind::Pow) {
    check(dtype_numeric(a.dtype) && dtype_numeric(b.dtype), "Pow does not support types " + types);
  } else {
    check(a.dtype == b.dtype, name + " takes two inputs of the same type, got " + types);
    check(dtype_numeric(a.dtype) || (takes_half(kind) && a.dtype == DType::Float16),
          name + " does not support type " + types);
  }
  DType out = is_compare(kind) || is_logic(kind) ? DType::Bool : a.dtype;
  Dims shape = broadcast_shapes(a.shape, b.shape, name);
  if (!post.empty()) check(out == DType::Float32, name + ": fused post-ops need a float32 output");
  for (size_t i = 0; i < sums; ++i) {
    const auto& s = ctx.input(2 + i);
    check(s.dtype == DType::Float32 && s.shape.size() == shape.size(),
          name + ": fused Sum operand " + std::to_string(i) + " must be float32 of the output's rank");
    for (size_t d = 0; d < shape.size(); ++d)
      check(s.shape[d] < 0 || shape[d] < 0 || s.shape[d] == shape[d],
            name + ": fused Sum operand " + shape_str(s.shape) + " differs from the output " + shape_str(shape));
  }
  ctx.set_output(0, out, shape);
}

void Binary::reference(const KernelArgs& args) const {
  DType t = args.in[0].dtype;
  if (is_logic(kind)) {
    auto b = [](bool v) { return static_cast<uint8_t>(v); };
    if (kind == BinaryKind::And)
      binary_loop<uint8_t, uint8_t, uint8_t>(args, [&](uint8_t x, uint8_t y) { return b(x && y); });
    else if (kind == BinaryKind::Or)
      binary_loop<uint8_t, uint8_t, uint8_t>(args, [&](uint8_t x, uint8_t y) { return b(x || y); });
    else
      binary_loop<uint8_t, uint8_t, uint8_t>(args, [&](uint8_t x, uint8_t y) { return b(!x != !y); });
  } else if (is_compare(kind)) {
    if (t == DType::Bool) compare<uint8_t>(kind, args);
    else dispatch_numeric(t, [&](auto tag) { compare<typename decltype(tag)::type>(kind, args); });
  } else if (is_shift(kind)) {
    dispatch_numeric(t, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_unsigned_v<T>) shift<T>(kind, args);
    });
  } else if (is_bitwise(kind)) {
    dispatch_numeric(t, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_integral_v<T>) {
        if (kind == BinaryKind::BitwiseAnd) binary_loop<T, T, T>(args, [](T x, T y) { return T(x & y); });
        else if (kind == BinaryKind::BitwiseOr) binary_loop<T, T, T>(args, [](T x, T y) { return T(x | y); });
        else binary_loop<T, T, T>(args, [](T x, T y) { return T(x ^ y); });
      }
    });
  } else if (kind == BinaryKind::Pow && args.in[1].dtype != t) {
    dispatch_numeric(t, [&](auto tag) {
      using T = typename decltype(tag)::type;
      dispatch_numeric(args.in[1].dtype, [&](auto etag) {
        using E = typename decltype(etag)::type;
        binary_loop<T, E, T>(args, [](T x, E y) -> T {
          if constexpr (std::is_floating_point_v<T>)
            return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
          else return int_pow<T>(x, static_cast<double>(y));
        });
      });
    });
  } else if (t == DType::Float16) {
    // Widen both operands, compute in float32, round back: float16 has no native arithmetic here.
    std::array<std::vector<float>, 3> f;
    KernelArgs wide;
    for (size_t i = 0; i < 2; ++i) {
      const TensorView& v = args.in[i];
      f[i].resize(static_cast<size_t>(v.elements()));
      for (size_t e = 0; e < f[i].size(); ++e) f[i][e] = half_to_float(v.as<const uint16_t>()[e]);
      wide.in.push_back({DType::Float32, v.shape, f[i].data()});
    }
    f[2].resize(static_cast<size_t>(args.out[0].elements()));
    wide.out.push_back({DType::Float32, args.out[0].shape, f[2].data()});
    arith<float>(kind, wide);
    for (size_t e = 0; e < f[2].size(); ++e) args.out[0].as<uint16_t>()[e] = float_to_half(f[2][e]);
  } else {
    dispatch_numeric(t, [&](auto tag) { arith<typename decltype(tag)::type>(kind, args); });
  }
  if (!post.empty()) {
    std::vector<const float*> sums;
    for (size_t i = 2; i < args.in.size(); ++i) sums.push_back(args.in[i].as<float>());
    post.apply(args.out[0].as<float>(), args.out[0].elements(), sums);
  }
}

KILN_REGISTER_OP(Binary);

// ---- PRelu ----

void PRelu::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 2 && ctx.num_outputs() == 1, "PRelu takes inputs X and slope, and one output");
  const auto& x = ctx.input(0);
  const auto& s = ctx.input(1);
  check(is_float(x.dtype) || is_signed_int(x.dtype),
        std::string("PRelu does not support input type ") + dtype_name(x.dtype));
  check(s.dtype == x.dtype, std::string("PRelu: slope has type ") + dtype_name(s.dtype) +
                                " but X has type " + dtype_name(x.dtype));
  Dims b = broadcast_shapes(x.shape, s.shape, "PRelu");
  check(b.size() == x.shape.size(), "PRelu: slope " + shape_str(s.shape) +
                                        " has a higher rank than X " + shape_str(x.shape));
  for (size_t i = 0; i < b.size(); ++i)
    check(x.shape[i] < 0 || b[i] < 0 || b[i] == x.shape[i],
          "PRelu: slope " + shape_str(s.shape) + " does not broadcast to X " + shape_str(x.shape));
  ctx.set_output(0, x.dtype, x.shape);
}

void PRelu::reference(const KernelArgs& args) const {
  const auto& x = args.in[0];
  const auto& s = args.in[1];
  const auto& y = args.out[0];
  std::array<std::vector<int64_t>, 3> st{broadcast_strides(y.shape, y.shape),
                                         broadcast_strides(x.shape, y.shape),
                                         broadcast_strides(s.shape, y.shape)};
  dispatch_numeric(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_signed_v<T>) {  // infer() admits floats and signed integers only
      const T* px = x.as<T>();
      const T* ps = s.as<T>();
      T* py = y.as<T>();
      walk_rows(y.shape, st, [&](int64_t o, auto off, int64_t n, auto step) {
        for (int64_t i = 0; i < n; ++i) {
          T v = px[off[1] + i * step[1]];
          py[o + i] = v >= T(0) ? v : static_cast<T>(ps[off[2] + i * step[2]] * v);
        }
      });
    }
  });
}

KILN_REGISTER_OP(PRelu);

// ---- Where ----

void Where::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 3 && ctx.num_outputs() == 1, "Where takes inputs condition, X, Y and one output");
  const auto& c = ctx.input(0);
  const auto& x = ctx.input(1);
  const auto& y = ctx.input(2);
  check(c.dtype == DType::Bool, std::string("Where: condition must be bool, not ") + dtype_name(c.dtype));
  check(x.dtype == y.dtype, std::string("Where: X has type ") + dtype_name(x.dtype) + " but Y has type " +
                                dtype_name(y.dtype));
  check(dtype_size(x.dtype) != 0, "Where: X has an unknown type");
  Dims s = broadcast_shapes(broadcast_shapes(c.shape, x.shape, "Where"), y.shape, "Where");
  ctx.set_output(0, x.dtype, s);
}

template <class T>
static void where_copy(const KernelArgs& a) {
  const auto& out = a.out[0];
  std::array<std::vector<int64_t>, 4> st{broadcast_strides(out.shape, out.shape),
                                         broadcast_strides(a.in[0].shape, out.shape),
                                         broadcast_strides(a.in[1].shape, out.shape),
                                         broadcast_strides(a.in[2].shape, out.shape)};
  const uint8_t* c = a.in[0].as<uint8_t>();
  const T* x = a.in[1].as<T>();
  const T* y = a.in[2].as<T>();
  T* d = out.as<T>();
  walk_rows(out.shape, st, [&](int64_t o, auto off, int64_t n, auto step) {
    for (int64_t i = 0; i < n; ++i)
      d[o + i] = c[off[1] + i * step[1]] ? x[off[2] + i * step[2]] : y[off[3] + i * step[3]];
  });
}

void Where::reference(const KernelArgs& args) const {
  // Only selection, so any dtype is moved as raw bits of its size.
  switch (dtype_size(args.out[0].dtype)) {
    case 1: where_copy<uint8_t>(args); break;
    case 2: where_copy<uint16_t>(args); break;
    case 4: where_copy<uint32_t>(args); break;
    case 8: where_copy<uint64_t>(args); break;
    default: fail("Where: unsupported type");
  }
}

KILN_REGISTER_OP(Where);

// ---- Not ----

void Not::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 1 && ctx.num_outputs() == 1, "Not takes one input and one output");
  const auto& x = ctx.input(0);
  check(x.dtype == DType::Bool, std::string("Not takes a bool input, not ") + dtype_name(x.dtype));
  ctx.set_output(0, DType::Bool, x.shape);
}

void Not::reference(const KernelArgs& args) const {
  const uint8_t* s = args.in[0].as<uint8_t>();
  uint8_t* d = args.out[0].as<uint8_t>();
  for (int64_t i = 0, n = args.in[0].elements(); i < n; ++i) d[i] = s[i] ? 0 : 1;
}

KILN_REGISTER_OP(Not);

}  // namespace kiln::ops
