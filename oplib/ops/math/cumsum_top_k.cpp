// CumSum and TopK: shape checks and reference kernels (see cumsum_top_k.h).
#include "ops/math/cumsum_top_k.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <type_traits>

#include "ops/reduction/reduce.h"

namespace kiln::ops {

namespace {

// A dense tensor seen as [outer, n, inner] around one axis.
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
};
AxisSplit split_at(const Dims& s, int64_t axis) {
  AxisSplit p;
  for (int64_t i = 0; i < static_cast<int64_t>(s.size()); ++i) {
    if (i < axis) p.outer *= s[i];
    else if (i == axis) p.n = s[i];
    else p.inner *= s[i];
  }
  return p;
}

template <class T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

}  // namespace

// ---- CumSum -----------------------------------------------------------------------------------

void CumSum::attrs(AttrVisitor& v) {
  v.visit("axis", axis);
  visit_bool(v, "exclusive", exclusive);
  visit_bool(v, "reverse", reverse);
}

void CumSum::infer(InferContext& ctx) const {
  check((ctx.num_inputs() == 1 || ctx.num_inputs() == 2) && ctx.num_outputs() == 1,
        "CumSum takes the input and an optional axis input, and one output");
  const auto& x = ctx.input(0);
  const DType t = x.dtype;
  check(t == DType::Float32 || t == DType::Float64 || t == DType::Int32 || t == DType::Int64 ||
            t == DType::UInt32 || t == DType::UInt64,
        std::string("CumSum takes float32, float64 or a 32/64-bit integer type, not ") + dtype_name(t));
  const int64_t r = static_cast<int64_t>(x.shape.size());
  check(r >= 1, "CumSum needs an input of rank 1 or more");
  if (ctx.has_input(1)) {
    const auto& a = ctx.input(1);
    check(a.dtype == DType::Int32 || a.dtype == DType::Int64,
          std::string("CumSum: the axis input must be int32 or int64, not ") + dtype_name(a.dtype));
    check(a.shape.size() <= 1 && (a.shape.empty() || a.shape[0] == 1 || a.shape[0] == -1),
          "CumSum: the axis input must be a scalar or hold one element, not shape " + shape_str(a.shape));
    if (const TensorView* c = ctx.constant(1)) normalize_axis(element_as_int(*c, 0), r, "CumSum");
  } else {
    normalize_axis(axis, r, "CumSum");
  }
  ctx.set_output(0, t, x.shape);
}

namespace {

template <class T>
void cumsum(const CumSum& op, int64_t axis, const TensorView& xv, const TensorView& yv) {
  const auto p = split_at(xv.shape, axis);
  const T* x = xv.as<const T>();
  T* y = yv.as<T>();
  // Integers sum in uint64 (defined wrap-around), floats in double.
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t i = 0; i < p.inner; ++i) {
      const int64_t base = o * p.n * p.inner + i;
      Acc s = 0;
      for (int64_t q = 0; q < p.n; ++q) {
        const int64_t j = op.reverse ? p.n - 1 - q : q;
        const int64_t at = base + j * p.inner;
        if (op.exclusive) {
          y[at] = static_cast<T>(s);
          s += static_cast<Acc>(x[at]);
        } else {
          s += static_cast<Acc>(x[at]);
          y[at] = static_cast<T>(s);
        }
      }
    }
}

}  // namespace

void CumSum::reference(const KernelArgs& args) const {
  const auto& x = args.in[0];
  const int64_t r = static_cast<int64_t>(x.shape.size());
  const bool dynamic = args.in.size() > 1 && args.in[1].data;
  // A run-time axis was not checked by infer; normalize_axis throws rather than reading out of bounds.
  const int64_t a = normalize_axis(dynamic ? element_as_int(args.in[1], 0) : axis, r, "CumSum");
  dispatch_numeric(x.dtype, [&](auto tag) { cumsum<decltype(tag)>(*this, a, x, args.out[0]); });
}

// ---- TopK -------------------------------------------------------------------------------------

void TopK::attrs(AttrVisitor& v) {
  v.visit("k", k);
  v.visit("axis", axis);
  visit_bool(v, "largest", largest);
  visit_bool(v, "sorted", sorted);
}

void TopK::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 1 || ctx.num_inputs() == 2, "TopK takes the data and optionally k");
  // Fewer than two declared outputs fails in set_output below ("more outputs than the node declares").
  check(ctx.num_outputs() <= 2, "TopK has two outputs, values and indices");
  const auto& x = ctx.input(0);
  check(dtype_numeric(x.dtype), std::string("TopK takes a numeric tensor, not ") + dtype_name(x.dtype));
  const int64_t r = static_cast<int64_t>(x.shape.size());
  check(r >= 1, "TopK needs an input of rank 1 or more");
  const int64_t a = normalize_axis(axis, r, "TopK");
  int64_t kk = k;
  bool known = true;
  if (ctx.has_input(1)) {
    const auto& kt = ctx.input(1);
    check(kt.dtype == DType::Int64, std::string("TopK: k must be int64, not ") + dtype_name(kt.dtype));
    check(kt.shape.size() <= 1 && (kt.shape.empty() || kt.shape[0] == 1 || kt.shape[0] == -1),
          "TopK: k must hold one element, not shape " + shape_str(kt.shape));
    const TensorView* v = ctx.constant(1);
    known = v != nullptr;
    if (v) kk = element_as_int(*v, 0);
  }
  if (known) {
    check(kk >= 0, "TopK: k must not be negative, got " + std::to_string(kk));
    check(x.shape[a] < 0 || kk <= x.shape[a], "TopK: k = " + std::to_string(kk) + " exceeds the size " +
                                                  std::to_string(x.shape[a]) + " of axis " + std::to_string(axis));
  }
  Dims out = x.shape;
  out[a] = known ? kk : -1;
  ctx.set_output(0, x.dtype, out);
  ctx.set_output(1, DType::Int64, out);
}

namespace {

template <class T>
void top_k(const TopK& op, int64_t k, const TensorView& xv, const TensorView& vals, const TensorView& idxs) {
  const int64_t a = normalize_axis(op.axis, static_cast<int64_t>(xv.shape.size()), "TopK");
  const auto p = split_at(xv.shape, a);
  // A run-time k must fit the axis and the outputs' buffers (shaped from k when it was inferred).
  check(k >= 0 && k <= p.n, "TopK: k = " + std::to_string(k) + " is not within the axis size " + std::to_string(p.n));
  check(vals.shape.size() == xv.shape.size() && vals.shape[a] == k,
        "TopK: k = " + std::to_string(k) + " does not fit the output shape " + shape_str(vals.shape));
  const T* x = xv.as<const T>();
  T* v = vals.as<T>();
  int64_t* ix = idxs.as<int64_t>();
  std::vector<int64_t> order(static_cast<size_t>(p.n));
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t i = 0; i < p.inner; ++i) {
      const T* row = x + o * p.n * p.inner + i;
      auto at = [&](int64_t j) { return row[j * p.inner]; };
      // A strict total order: NaN above every number, then the index breaks ties.
      auto before = [&](int64_t l, int64_t m) {
        const T vl = at(l), vm = at(m);
        const bool nl = is_nan(vl), nm = is_nan(vm);
        if (nl != nm) return op.largest ? nl : nm;
        if (!nl && vl != vm) return op.largest ? vl > vm : vl < vm;
        return l < m;
      };
      std::iota(order.begin(), order.end(), int64_t{0});
      std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      for (int64_t q = 0; q < k; ++q) {
        const int64_t at_out = o * k * p.inner + q * p.inner + i;
        v[at_out] = at(order[static_cast<size_t>(q)]);
        ix[at_out] = order[static_cast<size_t>(q)];
      }
    }
}

}  // namespace

void TopK::reference(const KernelArgs& args) const {
  const int64_t kk = args.in.size() > 1 && args.in[1].data ? element_as_int(args.in[1], 0) : k;
  dispatch_numeric(args.in[0].dtype,
                   [&](auto tag) { top_k<decltype(tag)>(*this, kk, args.in[0], args.out[0], args.out[1]); });
}

KILN_REGISTER_OP(CumSum);
KILN_REGISTER_OP(TopK);

}  // namespace kiln::ops
