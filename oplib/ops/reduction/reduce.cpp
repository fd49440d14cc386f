#include "ops/reduction/reduce.h"

#include <cmath>
#include <limits>
#include <type_traits>

namespace kiln::ops {

const char* reduce_name(ReduceKind k) {
  switch (k) {
    case ReduceKind::Sum: return "ReduceSum";
    case ReduceKind::Mean: return "ReduceMean";
    case ReduceKind::Max: return "ReduceMax";
    case ReduceKind::Min: return "ReduceMin";
    case ReduceKind::Prod: return "ReduceProd";
    case ReduceKind::L1: return "ReduceL1";
    case ReduceKind::L2: return "ReduceL2";
    case ReduceKind::LogSum: return "ReduceLogSum";
    case ReduceKind::LogSumExp: return "ReduceLogSumExp";
    case ReduceKind::SumSquare: return "ReduceSumSquare";
  }
  return "Reduce(invalid kind)";
}

int64_t normalize_axis(int64_t axis, int64_t rank, const char* op, const char* what) {
  check(axis >= -rank && axis < rank, std::string(op) + ": " + what + " " + std::to_string(axis) +
                                          " is out of range for an input of rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

void Reduce::attrs(AttrVisitor& v) {
  visit_enum(v, "kind", kind);
  v.visit("axes", axes);
  visit_bool(v, "keepdims", keepdims);
}

std::vector<bool> Reduce::reduced_mask(size_t rank, const std::vector<int64_t>& axes) {
  std::vector<bool> m(rank, axes.empty());
  const int64_t r = static_cast<int64_t>(rank);
  // Out-of-range axes are infer()'s to report; here they must only not write out of bounds.
  for (int64_t a : axes)
    if (a >= -r && a < r) m[static_cast<size_t>(a < 0 ? a + r : a)] = true;
  return m;
}

void Reduce::infer(InferContext& ctx) const {
  check(kind >= ReduceKind::Sum && kind <= ReduceKind::SumSquare,
        "Reduce: invalid kind " + std::to_string(static_cast<int64_t>(kind)));
  const char* name = reduce_name(kind);
  check((ctx.num_inputs() == 1 || ctx.num_inputs() == 2) && ctx.num_outputs() == 1,
        std::string(name) + " takes the data, optionally the axes, and one output");
  const auto& x = ctx.input(0);
  const DType t = x.dtype;
  const bool wide = t == DType::Float32 || t == DType::Float64 || t == DType::Int32 || t == DType::Int64 ||
                    t == DType::UInt32 || t == DType::UInt64;
  const bool any_numeric = dispatch_numeric(t, [](auto) {});
  const bool minmax = kind == ReduceKind::Max || kind == ReduceKind::Min;
  // bool from opset 20: max is any(), min is all(), which uint8's max/min compute on 0/1 bytes.
  check(wide || (minmax && (any_numeric || t == DType::Bool)),
        std::string(name) + " takes float32, float64 or a 32/64-bit integer type" +
            (minmax ? " (or another integer type, or bool)" : "") + ", not " + dtype_name(t));
  const int64_t r = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> ax = axes;
  if (ctx.has_input(1)) {
    const auto& a = ctx.input(1);
    check(a.dtype == DType::Int64, std::string(name) + ": the axes input must be int64, not " + dtype_name(a.dtype));
    check(a.shape.size() == 1 && a.shape[0] > 0,
          std::string(name) + ": the axes input must be 1-D with a known, non-zero length, not " +
              shape_str(a.shape));
    if (const TensorView* v = ctx.constant(1)) {
      ax = to_int_vector(*v);
    } else {
      // Which axes go is known at run time only; a dim of 1 stays 1 either way.
      check(keepdims || a.shape[0] <= r, std::string(name) + ": more axes than the input has dims");
      Dims out;
      if (keepdims)
        for (int64_t d : x.shape) out.push_back(d == 1 ? 1 : -1);
      else
        out.assign(static_cast<size_t>(r - a.shape[0]), -1);
      ctx.set_output(0, t, std::move(out));
      return;
    }
  }
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (int64_t a : ax) {
    int64_t n = normalize_axis(a, r, name, "axis");
    check(!seen[static_cast<size_t>(n)], std::string(name) + ": axis " + std::to_string(a) + " is listed twice");
    seen[static_cast<size_t>(n)] = true;
  }
  auto mask = reduced_mask(static_cast<size_t>(r), ax);
  Dims out;
  for (size_t i = 0; i < x.shape.size(); ++i) {
    if (!mask[i]) out.push_back(x.shape[i]);
    else if (keepdims) out.push_back(1);
  }
  ctx.set_output(0, t, std::move(out));
}

namespace {

// Element offsets (row-major in `shape`) of every point of the sub-lattice spanned by the dims
// where `pick` holds, the others at 0, enumerated in row-major order of the picked dims.
std::vector<int64_t> lattice_offsets(const Dims& shape, const std::vector<bool>& pick) {
  auto strides = shape_strides(shape);
  std::vector<size_t> dims;
  int64_t n = 1;
  for (size_t i = 0; i < shape.size(); ++i)
    if (pick[i]) {
      dims.push_back(i);
      n *= shape[i];
    }
  std::vector<int64_t> offs;
  offs.reserve(static_cast<size_t>(n));
  std::vector<int64_t> idx(dims.size(), 0);
  for (int64_t q = 0; q < n; ++q) {
    int64_t o = 0;
    for (size_t k = 0; k < dims.size(); ++k) o += idx[k] * strides[dims[k]];
    offs.push_back(o);
    for (size_t k = dims.size(); k-- > 0;) {
      if (++idx[k] < shape[dims[k]]) break;
      idx[k] = 0;
    }
  }
  return offs;
}

// double -> T for results computed in double; integers saturate (NaN -> 0) instead of hitting UB.
template <class T>
T from_double(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    if (std::isnan(v)) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

template <class T>
T lowest() {
  if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<T>::infinity();
  else return std::numeric_limits<T>::lowest();
}
template <class T>
T highest() {
  if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::infinity();
  else return std::numeric_limits<T>::max();
}

template <class T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

// One output element from the input elements x[base + red[j]].
template <class T>
T reduce_one(ReduceKind kind, const T* x, const std::vector<int64_t>& red) {
  constexpr bool fp = std::is_floating_point_v<T>;
  const size_t n = red.size();
  // Integers accumulate in uint64, whose wrap-around is defined; the final cast to T is modular.
  using Acc = std::conditional_t<fp, double, uint64_t>;
  auto at = [&](size_t j) { return x[red[j]]; };
  auto sum_of = [&](auto f) {
    Acc s = 0;
    for (size_t j = 0; j < n; ++j) s += f(at(j));
    return s;
  };
  auto sum_d = [&](auto f) {  // in double, for the kinds that end in sqrt/log
    double s = 0;
    for (size_t j = 0; j < n; ++j) s += f(static_cast<double>(at(j)));
    return s;
  };
  switch (kind) {
    case ReduceKind::Sum: return static_cast<T>(sum_of([](T v) { return static_cast<Acc>(v); }));
    case ReduceKind::Mean: {
      if constexpr (fp) {
        return static_cast<T>(n ? sum_of([](T v) { return static_cast<Acc>(v); }) / static_cast<double>(n)
                                : std::numeric_limits<double>::quiet_NaN());
      } else {
        if (n == 0) return T(0);
        using Wide = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
        Wide s = static_cast<Wide>(sum_of([](T v) { return static_cast<Acc>(v); }));
        return static_cast<T>(s / static_cast<Wide>(n));
      }
    }
    case ReduceKind::Max:
    case ReduceKind::Min: {
      const bool mx = kind == ReduceKind::Max;
      T m = mx ? lowest<T>() : highest<T>();
      for (size_t j = 0; j < n; ++j) {
        T v = at(j);
        if (is_nan(v)) return v;  // like numpy: NaN wins
        if (mx ? v > m : v < m) m = v;
      }
      return m;
    }
    case ReduceKind::Prod: {
      Acc p = 1;
      for (size_t j = 0; j < n; ++j) p *= static_cast<Acc>(at(j));
      return static_cast<T>(p);
    }
    case ReduceKind::L1:
      // For integers -Acc(v) is |v| modulo 2^64, so INT_MIN's magnitude is not lost either.
      return static_cast<T>(sum_of([](T v) {
        if constexpr (std::is_signed_v<T>)
          if (v < 0) return -static_cast<Acc>(v);
        return static_cast<Acc>(v);
      }));
    case ReduceKind::SumSquare:
      return static_cast<T>(sum_of([](T v) { return static_cast<Acc>(v) * static_cast<Acc>(v); }));
    case ReduceKind::L2: return from_double<T>(std::sqrt(sum_d([](double v) { return v * v; })));
    case ReduceKind::LogSum: return from_double<T>(std::log(sum_d([](double v) { return v; })));
    case ReduceKind::LogSumExp: {
      // Shift by the max so large inputs do not overflow exp; an all -inf (or empty) set has
      // max -inf, where the shift would give NaN, and its log-sum-exp is -inf.
      double m = -std::numeric_limits<double>::infinity();
      for (size_t j = 0; j < n; ++j) {
        double v = static_cast<double>(at(j));
        if (std::isnan(v)) return from_double<T>(v);
        m = std::max(m, v);
      }
      if (std::isinf(m)) return from_double<T>(m);
      return from_double<T>(m + std::log(sum_d([m](double v) { return std::exp(v - m); })));
    }
  }
  return T(0);
}

template <class T>
void reduce_all(ReduceKind kind, const std::vector<bool>& mask, const TensorView& xv, const TensorView& yv) {
  std::vector<bool> kept(mask.size());
  for (size_t i = 0; i < mask.size(); ++i) kept[i] = !mask[i];
  const auto bases = lattice_offsets(xv.shape, kept);
  const auto red = lattice_offsets(xv.shape, mask);
  const T* x = xv.as<const T>();
  T* y = yv.as<T>();
  for (size_t o = 0; o < bases.size(); ++o) y[o] = reduce_one<T>(kind, x + bases[o], red);
}

}  // namespace

void Reduce::reference(const KernelArgs& args) const {
  const auto& x = args.in[0];
  std::vector<int64_t> ax = axes;
  if (args.in.size() > 1 && args.in[1].data) {
    // Run-time axes: a layer whose output shape is static anyway (all kept dims 1, or a scalar
    // result) skips the per-run infer(), so check the range here rather than index out of bounds.
    ax = to_int_vector(args.in[1]);
    for (int64_t a : ax) normalize_axis(a, static_cast<int64_t>(x.shape.size()), reduce_name(kind));
  }
  auto mask = reduced_mask(x.shape.size(), ax);
  int64_t kept = 1;
  for (size_t i = 0; i < mask.size(); ++i) kept *= mask[i] ? 1 : x.shape[i];
  check(kept == args.out[0].elements(), std::string(reduce_name(kind)) + ": the axes do not fit the output shape " +
                                            shape_str(args.out[0].shape) + " (an axis listed twice?)");
  // A zero-sized kept dim leaves nothing to write.
  if (kept == 0) return;
  const DType t = x.dtype == DType::Bool ? DType::UInt8 : x.dtype;  // Max/Min only (infer)
  dispatch_numeric(t, [&](auto tag) { reduce_all<decltype(tag)>(kind, mask, x, args.out[0]); });
}

KILN_REGISTER_OP(Reduce);

}  // namespace kiln::ops
