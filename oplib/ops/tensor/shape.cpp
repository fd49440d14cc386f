// Shared helpers of the shape family (strided copy, axis and size checks, half conversions) and
// the ops that only reinterpret or permute: Reshape, Flatten, Squeeze, Unsqueeze, Shape, Size,
// Transpose, DepthToSpace, SpaceToDepth.
#include "ops/tensor/shape.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

namespace kiln::ops {

// ---------------------------------------------------------------------------------------------
// strided_copy

namespace {

template <class T>
void copy_run_typed(char* d, int64_t ds, const char* s, int64_t ss, int64_t n) {
  T* dp = reinterpret_cast<T*>(d);
  const T* sp = reinterpret_cast<const T*>(s);
  for (int64_t i = 0; i < n; ++i) dp[i * ds] = sp[i * ss];
}

// One innermost run of n elements.
void copy_run(char* d, int64_t ds, const char* s, int64_t ss, int64_t n, size_t es) {
  if (ds == 1 && ss == 1) {
    std::memcpy(d, s, static_cast<size_t>(n) * es);
    return;
  }
  if (ss == 0 && ds == 1 && es == 1) {
    std::memset(d, *s, static_cast<size_t>(n));
    return;
  }
  switch (es) {
    case 1: copy_run_typed<uint8_t>(d, ds, s, ss, n); break;
    case 2: copy_run_typed<uint16_t>(d, ds, s, ss, n); break;
    case 4: copy_run_typed<uint32_t>(d, ds, s, ss, n); break;
    case 8: copy_run_typed<uint64_t>(d, ds, s, ss, n); break;
    default:
      for (int64_t i = 0; i < n; ++i)
        std::memcpy(d + i * ds * static_cast<int64_t>(es), s + i * ss * static_cast<int64_t>(es), es);
  }
}

// Serial copy of a box of rank >= 1: an odometer over all but the innermost dim.
void copy_box(char* d, const char* s, const int64_t* dims, const int64_t* ds, const int64_t* ss,
              size_t rank, size_t es) {
  const size_t last = rank - 1;
  const int64_t e = static_cast<int64_t>(es);
  if (rank == 1) {
    copy_run(d, ds[0], s, ss[0], dims[0], es);
    return;
  }
  std::vector<int64_t> idx(last, 0);
  int64_t doff = 0, soff = 0;
  while (true) {
    copy_run(d + doff * e, ds[last], s + soff * e, ss[last], dims[last], es);
    size_t k = last;
    while (k > 0) {
      --k;
      doff += ds[k];
      soff += ss[k];
      if (++idx[k] < dims[k]) break;
      doff -= ds[k] * dims[k];
      soff -= ss[k] * dims[k];
      idx[k] = 0;
      if (k == 0) return;
    }
  }
}

}  // namespace

void strided_copy(void* dst, const std::vector<int64_t>& dst_strides, const void* src,
                  const std::vector<int64_t>& src_strides, const Dims& dims, size_t es) {
  // Drop size-1 dims, then merge neighbours that are contiguous in both src and dst.
  std::vector<int64_t> d, ds, ss;
  int64_t total = 1;
  for (size_t k = 0; k < dims.size(); ++k) {
    if (dims[k] <= 0) return;  // empty box
    total *= dims[k];
    if (dims[k] == 1) continue;
    if (!d.empty() && ds.back() == dst_strides[k] * dims[k] && ss.back() == src_strides[k] * dims[k]) {
      d.back() *= dims[k];
      ds.back() = dst_strides[k];
      ss.back() = src_strides[k];
      continue;
    }
    d.push_back(dims[k]);
    ds.push_back(dst_strides[k]);
    ss.push_back(src_strides[k]);
  }
  char* dp = static_cast<char*>(dst);
  const char* sp = static_cast<const char*>(src);
  if (d.empty()) {
    std::memcpy(dp, sp, es);
    return;
  }
  const int64_t e = static_cast<int64_t>(es);
  constexpr int64_t kParallelBytes = int64_t(1) << 20;
  if (total * e < kParallelBytes) {
    copy_box(dp, sp, d.data(), ds.data(), ss.data(), d.size(), es);
    return;
  }
  // Large copies: split the outermost dim (or, for one long run, chunks of it) across threads.
  if (d.size() == 1) {
    constexpr int64_t kChunk = 1 << 16;
    int64_t chunks = (d[0] + kChunk - 1) / kChunk;
#pragma omp parallel for
    for (int64_t c = 0; c < chunks; ++c) {
      int64_t b = c * kChunk, n = std::min(kChunk, d[0] - b);
      copy_run(dp + b * ds[0] * e, ds[0], sp + b * ss[0] * e, ss[0], n, es);
    }
    return;
  }
#pragma omp parallel for
  for (int64_t i = 0; i < d[0]; ++i)
    copy_box(dp + i * ds[0] * e, sp + i * ss[0] * e, d.data() + 1, ds.data() + 1, ss.data() + 1,
             d.size() - 1, es);
}

// ---------------------------------------------------------------------------------------------
// Checks and small helpers

int64_t normalize_axis(int64_t axis, int64_t rank, const char* what, bool allow_end) {
  int64_t lo = -rank, hi = allow_end ? rank : rank - 1;
  if (axis < lo || axis > hi)
    fail(std::string(what) + " " + std::to_string(axis) + " is out of range for rank " +
         std::to_string(rank) + " (valid: " + std::to_string(lo) + " to " + std::to_string(hi) + ")");
  return axis < 0 ? axis + rank : axis;
}

int64_t checked_elements(const Dims& s, const char* what) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) fail(std::string(what) + " has a negative or unknown dimension (" + shape_str(s) + ")");
    if (__builtin_mul_overflow(n, d, &n) || n > kMaxElements)
      fail(std::string(what) + " " + shape_str(s) + " has too many elements (more than 2^40)");
  }
  return n;
}

int64_t elements_or_unknown(const Dims& s, const char* what) {
  return shape_static(s) ? checked_elements(s, what) : -1;
}

int64_t mul_or_unknown(int64_t d, int64_t k, const char* what) {
  if (d < 0 || k < 0) return -1;
  int64_t r;
  if (__builtin_mul_overflow(d, k, &r) || r > kMaxElements)
    fail(std::string(what) + " overflows: " + std::to_string(d) + " * " + std::to_string(k));
  return r;
}

void check_output_shape(const Dims& s, const char* what) {
  if (static_cast<int64_t>(s.size()) > kMaxRank)
    fail(std::string(what) + " has rank " + std::to_string(s.size()) + "; kiln allows at most " +
         std::to_string(kMaxRank));
  Dims known;
  for (int64_t d : s) {
    if (d < -1) fail(std::string(what) + " has a negative dimension (" + std::to_string(d) + ")");
    if (d >= 0) known.push_back(d);
  }
  checked_elements(known, what);
}

std::optional<std::vector<int64_t>> param_ints(const InferContext& ctx, size_t i,
                                               const std::vector<int64_t>& attr, const char* what) {
  if (!ctx.has_input(i)) return attr;
  const TensorType& t = ctx.input(i);
  check(t.dtype == DType::Int64 || t.dtype == DType::Int32,
        std::string(what) + " (input " + std::to_string(i) + ") must be int64 or int32, not " +
            dtype_name(t.dtype));
  check(t.shape.size() == 1, std::string(what) + " (input " + std::to_string(i) + ") must be 1-D, not " +
                                 shape_str(t.shape));
  check(t.shape[0] <= kMaxRank, std::string(what) + " has " + std::to_string(t.shape[0]) +
                                    " entries; kiln allows at most " + std::to_string(kMaxRank));
  const TensorView* c = ctx.constant(i);
  if (!c) return std::nullopt;
  return to_int_vector(*c);
}

std::vector<int64_t> param_ints(const KernelArgs& args, size_t i, const std::vector<int64_t>& attr) {
  if (i >= args.in.size() || !args.in[i].data) return attr;
  return to_int_vector(args.in[i]);
}

// ---------------------------------------------------------------------------------------------
// Half / bfloat16 conversions (by hand: no F16C dependency, exact RNE)

static uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
static float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exp == 31) return float_of(sign | 0x7f800000u | (mant << 13));
  return float_of(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t float_to_half(float f) {
  uint32_t x = bits_of(f);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  uint32_t a = x & 0x7fffffffu;
  if (a >= 0x7f800000u)  // Inf stays Inf; NaN stays a (quiet) NaN
    return sign | 0x7c00 | (a > 0x7f800000u ? 0x200 | ((a >> 13) & 0x3ff) : 0);
  if (a >= 0x477ff000u) return sign | 0x7c00;  // >= 65520 rounds to Inf
  if (a < 0x38800000u) {                        // below 2^-14: subnormal half (or zero)
    float v = float_of(a) * 16777216.0f;        // exact: scales by 2^24
    return sign | static_cast<uint16_t>(std::nearbyint(v));
  }
  uint32_t r = a + 0xfffu + ((a >> 13) & 1u);  // round to nearest even at bit 13
  return sign | static_cast<uint16_t>((r - (112u << 23)) >> 13);
}

float bf16_to_float(uint16_t h) { return float_of(static_cast<uint32_t>(h) << 16); }

uint16_t float_to_bf16(float f) {
  uint32_t x = bits_of(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

template <class T>
static T saturate_cast(double v) {
  if (std::isnan(v)) return T(0);
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

int64_t pack_element(DType dtype, double v) {
  uint64_t bits = 0;
  auto put = [&](auto x) { std::memcpy(&bits, &x, sizeof(x)); };
  switch (dtype) {
    case DType::Float32: put(static_cast<float>(v)); break;
    case DType::Float64: put(v); break;
    case DType::Float16: put(float_to_half(static_cast<float>(v))); break;
    case DType::BFloat16: put(float_to_bf16(static_cast<float>(v))); break;
    case DType::Bool: put(static_cast<uint8_t>(v != 0)); break;
    case DType::Int8: put(saturate_cast<int8_t>(v)); break;
    case DType::UInt8: put(saturate_cast<uint8_t>(v)); break;
    case DType::Int16: put(saturate_cast<int16_t>(v)); break;
    case DType::UInt16: put(saturate_cast<uint16_t>(v)); break;
    case DType::Int32: put(saturate_cast<int32_t>(v)); break;
    case DType::UInt32: put(saturate_cast<uint32_t>(v)); break;
    case DType::Int64: put(saturate_cast<int64_t>(v)); break;
    case DType::UInt64: put(saturate_cast<uint64_t>(v)); break;
    default: fail(std::string("cannot hold a value of dtype ") + dtype_name(dtype));
  }
  return static_cast<int64_t>(bits);
}

int64_t pack_element_bits(const TensorView& t, int64_t i) {
  uint64_t bits = 0;
  size_t es = dtype_size(t.dtype);
  std::memcpy(&bits, static_cast<const char*>(t.data) + i * static_cast<int64_t>(es), es);
  return static_cast<int64_t>(bits);
}

// ---------------------------------------------------------------------------------------------
// Reshape family

static void copy_through(const KernelArgs& a) {
  if (a.out[0].data != a.in[0].data && a.out[0].bytes())
    std::memcpy(a.out[0].data, a.in[0].data, a.out[0].bytes());
}

void check_io(const InferContext& ctx, size_t min_in, size_t max_in, size_t outs, const char* op) {
  check(ctx.num_inputs() >= min_in && ctx.num_inputs() <= max_in,
        std::string(op) + " takes " + std::to_string(min_in) +
            (min_in == max_in ? "" : " to " + std::to_string(max_in)) + " inputs, got " +
            std::to_string(ctx.num_inputs()));
  check(ctx.num_outputs() == outs, std::string(op) + " produces " + std::to_string(outs) + " output" +
                                       (outs == 1 ? "" : "s") + ", the node has " +
                                       std::to_string(ctx.num_outputs()));
  check(dtype_valid(ctx.input(0).dtype), std::string(op) + ": input 0 has an unsupported dtype");
}

Dims resolve_reshape(const Dims& in, const std::vector<int64_t>& target, bool allowzero) {
  check(static_cast<int64_t>(target.size()) <= kMaxRank,
        "target shape has rank " + std::to_string(target.size()) + "; kiln allows at most " +
            std::to_string(kMaxRank));
  Dims out(target.size());
  int64_t infer_at = -1;
  bool has_zero = false;
  std::vector<bool> copied(target.size(), false);  // 0 entries copying the input dim
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t t = target[i];
    if (t == -1) {
      if (infer_at >= 0) fail("target shape has more than one -1 (" + shape_str(target) + ")");
      infer_at = static_cast<int64_t>(i);
      out[i] = -1;
    } else if (t == 0 && !allowzero) {
      if (i >= in.size())
        fail("target shape has 0 at position " + std::to_string(i) + ", which copies an input dim, but the input "
             "has rank " + std::to_string(in.size()));
      out[i] = in[i];
      copied[i] = true;
    } else if (t < 0) {
      fail("target shape has an invalid dimension " + std::to_string(t));
    } else {
      has_zero |= t == 0;
      out[i] = t;
    }
  }
  if (allowzero && has_zero && infer_at >= 0)
    fail("with allowzero=1 the target shape cannot hold both 0 and -1");
  // Dims copied through by 0 cancel on both sides, so a dynamic batch still lets -1 resolve.
  Dims in_rest, out_rest;
  for (size_t i = 0; i < in.size(); ++i)
    if (i >= copied.size() || !copied[i]) in_rest.push_back(in[i]);
  for (size_t i = 0; i < out.size(); ++i)
    if (!copied[i] && static_cast<int64_t>(i) != infer_at) out_rest.push_back(out[i]);
  bool in_known = shape_static(in_rest), out_known = shape_static(out_rest);
  int64_t n_in = in_known ? checked_elements(in_rest, "input shape") : -1;
  int64_t n_out = out_known ? checked_elements(out_rest, "target shape") : -1;
  if (infer_at >= 0) {
    if (in_known && out_known) {
      if (n_out == 0)
        fail("cannot infer the -1 of target shape " + shape_str(target) + ": the other dims multiply to 0");
      if (n_in % n_out != 0)
        fail("cannot reshape " + shape_str(in) + " into " + shape_str(target) + ": " + std::to_string(n_in) +
             " elements do not divide into groups of " + std::to_string(n_out));
      out[infer_at] = n_in / n_out;
    }
  } else if (in_known && out_known && n_in != n_out) {
    fail("cannot reshape " + shape_str(in) + " (" + std::to_string(shape_elements(in)) + " elements) into " +
         shape_str(out) + " (" + std::to_string(shape_elements(out)) + " elements)");
  }
  return out;
}

void Reshape::attrs(AttrVisitor& v) {
  v.visit("shape", shape);
  v.visit("allowzero", allowzero);
}

void Reshape::infer(InferContext& ctx) const {
  check_io(ctx, 1, 2, 1, "Reshape");
  const TensorType& x = ctx.input(0);
  auto target = param_ints(ctx, 1, shape, "shape");
  if (!target) {  // known at run time only: the rank is all we know
    check(ctx.input(1).shape[0] >= 0, "the shape input has unknown length, so the output rank is unknown");
    ctx.set_output(0, x.dtype, Dims(static_cast<size_t>(ctx.input(1).shape[0]), -1));
    return;
  }
  ctx.set_output(0, x.dtype, resolve_reshape(x.shape, *target, allowzero != 0));
}

void Reshape::reference(const KernelArgs& a) const { copy_through(a); }

void Flatten::attrs(AttrVisitor& v) { v.visit("axis", axis); }

void Flatten::infer(InferContext& ctx) const {
  check_io(ctx, 1, 1, 1, "Flatten");
  const TensorType& x = ctx.input(0);
  int64_t r = static_cast<int64_t>(x.shape.size());
  int64_t k = normalize_axis(axis, r, "axis", true);
  Dims a(x.shape.begin(), x.shape.begin() + k), b(x.shape.begin() + k, x.shape.end());
  ctx.set_output(0, x.dtype, {elements_or_unknown(a, "input"), elements_or_unknown(b, "input")});
}

void Flatten::reference(const KernelArgs& a) const { copy_through(a); }

void Squeeze::attrs(AttrVisitor& v) { v.visit("axes", axes); }

// Axes given as a run-time input (opset 13): their values, or nullopt while they are unknown.
static std::optional<std::vector<int64_t>> runtime_axes(InferContext& ctx, const std::vector<int64_t>& attr) {
  if (!ctx.has_input(1)) return attr;
  check(ctx.input(1).shape.size() == 1 && ctx.input(1).shape[0] >= 0, "axes must be a 1-D tensor of known length");
  if (const TensorView* v = ctx.constant(1)) return to_int_vector(*v);
  return std::nullopt;
}

void Squeeze::infer(InferContext& ctx) const {
  check_io(ctx, 1, 2, 1, "Squeeze");
  const TensorType& x = ctx.input(0);
  auto given = runtime_axes(ctx, this->axes);
  if (!given) {
    int64_t r = static_cast<int64_t>(x.shape.size()) - ctx.input(1).shape[0];
    check(r >= 0, "more axes to squeeze than the input has dims");
    ctx.set_output(0, x.dtype, Dims(static_cast<size_t>(r), -1));
    return;
  }
  const std::vector<int64_t>& axes = *given;
  int64_t r = static_cast<int64_t>(x.shape.size());
  std::vector<bool> drop(x.shape.size(), false);
  if (axes.empty()) {
    for (size_t i = 0; i < x.shape.size(); ++i) {
      check(x.shape[i] >= 0, "squeezing without axes needs every dim known, but the input is " +
                                 shape_str(x.shape) + "; give axes or fix the input shapes");
      drop[i] = x.shape[i] == 1;
    }
  }
  for (int64_t ax : axes) {
    int64_t k = normalize_axis(ax, r, "axis");
    check(!drop[k], "axis " + std::to_string(ax) + " is listed twice");
    check(x.shape[k] == 1 || x.shape[k] < 0, "cannot squeeze axis " + std::to_string(ax) + " of shape " +
                                                 shape_str(x.shape) + ": its size is not 1");
    drop[k] = true;
  }
  Dims out;
  for (size_t i = 0; i < x.shape.size(); ++i)
    if (!drop[i]) out.push_back(x.shape[i]);
  ctx.set_output(0, x.dtype, out);
}

void Squeeze::reference(const KernelArgs& a) const { copy_through(a); }

void Unsqueeze::attrs(AttrVisitor& v) { v.visit("axes", axes); }

void Unsqueeze::infer(InferContext& ctx) const {
  check_io(ctx, 1, 2, 1, "Unsqueeze");
  const TensorType& x = ctx.input(0);
  auto given = runtime_axes(ctx, this->axes);
  if (!given) {
    int64_t r = static_cast<int64_t>(x.shape.size()) + ctx.input(1).shape[0];
    check(r <= kMaxRank, "output rank " + std::to_string(r) + " is too large");
    ctx.set_output(0, x.dtype, Dims(static_cast<size_t>(r), -1));
    return;
  }
  const std::vector<int64_t>& axes = *given;
  check(!axes.empty(), "Unsqueeze needs at least one axis");
  int64_t r = static_cast<int64_t>(x.shape.size() + axes.size());
  check(r <= kMaxRank, "output rank " + std::to_string(r) + " is too large");
  std::vector<bool> added(static_cast<size_t>(r), false);
  for (int64_t ax : axes) {
    int64_t k = normalize_axis(ax, r, "axis");
    check(!added[k], "axis " + std::to_string(ax) + " is listed twice");
    added[k] = true;
  }
  Dims out;
  size_t j = 0;
  for (int64_t i = 0; i < r; ++i) out.push_back(added[i] ? 1 : x.shape[j++]);
  ctx.set_output(0, x.dtype, out);
}

void Unsqueeze::reference(const KernelArgs& a) const { copy_through(a); }

// ---------------------------------------------------------------------------------------------
// Shape, Size

static std::pair<int64_t, int64_t> shape_range(int64_t start, int64_t end, int64_t r) {
  auto clampi = [r](int64_t v) { return std::clamp(v < 0 ? std::max(v, -r) + r : v, int64_t(0), r); };
  int64_t s = clampi(start), e = clampi(end);
  return {s, std::max(e, s)};
}

void Shape::attrs(AttrVisitor& v) {
  v.visit("start", start);
  v.visit("end", end);
}

void Shape::infer(InferContext& ctx) const {
  check_io(ctx, 1, 1, 1, "Shape");
  auto [s, e] = shape_range(start, end, static_cast<int64_t>(ctx.input(0).shape.size()));
  ctx.set_output(0, DType::Int64, {e - s});
}

void Shape::reference(const KernelArgs& a) const {
  const Dims& in = a.in[0].shape;
  auto [s, e] = shape_range(start, end, static_cast<int64_t>(in.size()));
  for (int64_t i = s; i < e; ++i) a.out[0].as<int64_t>()[i - s] = in[i];
}

void Size::infer(InferContext& ctx) const {
  check_io(ctx, 1, 1, 1, "Size");
  ctx.set_output(0, DType::Int64, {});
}

void Size::reference(const KernelArgs& a) const { *a.out[0].as<int64_t>() = a.in[0].elements(); }

// ---------------------------------------------------------------------------------------------
// Transpose, DepthToSpace, SpaceToDepth

std::vector<int64_t> Transpose::effective_perm(size_t rank) const {
  if (!perm.empty()) return perm;
  std::vector<int64_t> p(rank);
  for (size_t i = 0; i < rank; ++i) p[i] = static_cast<int64_t>(rank - 1 - i);
  return p;
}

void Transpose::attrs(AttrVisitor& v) { v.visit("perm", perm); }

void Transpose::infer(InferContext& ctx) const {
  check_io(ctx, 1, 1, 1, "Transpose");
  const TensorType& x = ctx.input(0);
  auto p = effective_perm(x.shape.size());
  check(p.size() == x.shape.size(), "perm has " + std::to_string(p.size()) + " entries but the input " +
                                        shape_str(x.shape) + " has rank " + std::to_string(x.shape.size()));
  std::vector<bool> seen(p.size(), false);
  Dims out;
  for (int64_t a : p) {
    check(a >= 0 && a < static_cast<int64_t>(p.size()) && !seen[a],
          "perm " + shape_str(p) + " is not a permutation of 0.." + std::to_string(p.size() - 1));
    seen[a] = true;
    out.push_back(x.shape[a]);
  }
  ctx.set_output(0, x.dtype, out);
}

void Transpose::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &y = a.out[0];
  auto p = effective_perm(x.shape.size());
  auto xs = shape_strides(x.shape);
  std::vector<int64_t> ss(p.size());
  for (size_t i = 0; i < p.size(); ++i) ss[i] = xs[p[i]];
  strided_copy(y.data, shape_strides(y.shape), x.data, ss, y.shape, dtype_size(x.dtype));
}

static void check_block(const TensorType& x, int64_t b, const char* op) {
  check(x.shape.size() == 4, std::string(op) + " needs a 4-D input [N, C, H, W], got " + shape_str(x.shape));
  check(b >= 1 && b <= (int64_t(1) << 16), std::string(op) + ": blocksize " + std::to_string(b) + " is invalid");
}

void DepthToSpace::attrs(AttrVisitor& v) {
  v.visit("blocksize", blocksize);
  v.visit("mode", mode);
}

void DepthToSpace::infer(InferContext& ctx) const {
  check_io(ctx, 1, 1, 1, "DepthToSpace");
  const TensorType& x = ctx.input(0);
  check_block(x, blocksize, "DepthToSpace");
  check(mode == "DCR" || mode == "CRD", "mode must be DCR or CRD, not '" + mode + "'");
  int64_t bb = blocksize * blocksize, c = x.shape[1];
  check(c < 0 || c % bb == 0, "channels " + std::to_string(c) + " are not divisible by blocksize^2 = " +
                                  std::to_string(bb));
  Dims out{x.shape[0], c < 0 ? -1 : c / bb, mul_or_unknown(x.shape[2], blocksize, "output height"),
            mul_or_unknown(x.shape[3], blocksize, "output width")};
  check_output_shape(out, "output");
  ctx.set_output(0, x.dtype, out);
}

void DepthToSpace::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &y = a.out[0];
  int64_t b = blocksize, n = x.shape[0], c = x.shape[1] / (b * b), h = x.shape[2], w = x.shape[3];
  int64_t hw = h * w, sn = x.shape[1] * hw;
  // Output viewed as [N, C', H, b1, W, b2]; where b1, b2 and C' sit in the input's channels.
  int64_t sc, sb1, sb2;
  if (mode == "DCR") sb1 = b * c * hw, sb2 = c * hw, sc = hw;
  else sc = b * b * hw, sb1 = b * hw, sb2 = hw;
  Dims dims{n, c, h, b, w, b};
  strided_copy(y.data, shape_strides(dims), x.data, {sn, sc, w, sb1, 1, sb2}, dims, dtype_size(x.dtype));
}

void SpaceToDepth::attrs(AttrVisitor& v) { v.visit("blocksize", blocksize); }

void SpaceToDepth::infer(InferContext& ctx) const {
  check_io(ctx, 1, 1, 1, "SpaceToDepth");
  const TensorType& x = ctx.input(0);
  check_block(x, blocksize, "SpaceToDepth");
  for (int k = 2; k < 4; ++k)
    check(x.shape[k] < 0 || x.shape[k] % blocksize == 0,
          "spatial dims of " + shape_str(x.shape) + " are not divisible by blocksize " + std::to_string(blocksize));
  int64_t bb = blocksize * blocksize;
  Dims out{x.shape[0], mul_or_unknown(x.shape[1], bb, "output channels"), x.shape[2] < 0 ? -1 : x.shape[2] / blocksize,
            x.shape[3] < 0 ? -1 : x.shape[3] / blocksize};
  check_output_shape(out, "output");
  ctx.set_output(0, x.dtype, out);
}

void SpaceToDepth::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &y = a.out[0];
  int64_t b = blocksize, n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
  // Output viewed as [N, b1, b2, C, H/b, W/b]; input index h = h'*b + b1, w = w'*b + b2.
  Dims dims{n, b, b, c, h / b, w / b};
  strided_copy(y.data, shape_strides(dims), x.data, {c * h * w, w, 1, h * w, b * w, b}, dims,
               dtype_size(x.dtype));
}

KILN_REGISTER_OP(Reshape);
KILN_REGISTER_OP(Flatten);
KILN_REGISTER_OP(Squeeze);
KILN_REGISTER_OP(Unsqueeze);
KILN_REGISTER_OP(Shape);
KILN_REGISTER_OP(Size);
KILN_REGISTER_OP(Transpose);
KILN_REGISTER_OP(DepthToSpace);
KILN_REGISTER_OP(SpaceToDepth);

}  // namespace kiln::ops
