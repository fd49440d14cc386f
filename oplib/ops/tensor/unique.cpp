// Unique: shape checks and the reference kernel (see unique.h). infer() gives the
// value-dependent output length by running the selection itself when the values are known, so
// infer() and reference() cannot disagree.
#include "ops/tensor/unique.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <utility>

namespace kiln::ops {

namespace {

// X viewed as [outer, len, inner]: slice i is every x[o, i, j], compared in (o, j) order.
struct SliceView {
  int64_t outer = 1, len = 0, inner = 1;
};

SliceView slice_view(const Dims& s, bool has_axis, int64_t axis) {
  if (!has_axis) return {1, shape_elements(s), 1};
  const int64_t r = static_cast<int64_t>(s.size()), ax = axis < 0 ? axis + r : axis;
  SliceView v;
  v.len = s[ax];
  for (int64_t d = 0; d < ax; ++d) v.outer *= s[d];
  for (int64_t d = ax + 1; d < r; ++d) v.inner *= s[d];
  return v;
}

struct UniqueResult {
  std::vector<int64_t> first;    // per unique value, in output order: its first slice
  std::vector<int64_t> counts;   // per unique value, in output order
  std::vector<int64_t> inverse;  // per slice: the position of its value in the output
};

// A total order: NaN after everything and equal to NaN, so sorting is well defined and NaNs
// collapse into one value as numpy's unique does.
template <class T>
int compare(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    const bool na = std::isnan(a), nb = std::isnan(b);
    if (na || nb) return na == nb ? 0 : (na ? 1 : -1);
  }
  return a < b ? -1 : (b < a ? 1 : 0);
}

template <class T>
UniqueResult unique_of(const T* x, const SliceView& v, bool sorted) {
  auto cmp = [&](int64_t a, int64_t b) {
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t j = 0; j < v.inner; ++j) {
        const int c = compare(x[(o * v.len + a) * v.inner + j], x[(o * v.len + b) * v.inner + j]);
        if (c) return c;
      }
    return 0;
  };
  std::vector<int64_t> order(static_cast<size_t>(v.len));
  std::iota(order.begin(), order.end(), int64_t{0});
  // Stable, so each run of equal slices starts with its first occurrence.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
  std::vector<int64_t> group_of(order.size());  // per slice: its run in sorted order
  UniqueResult r;
  for (size_t k = 0; k < order.size(); ++k) {
    if (k == 0 || cmp(order[k - 1], order[k]) != 0) {
      r.first.push_back(order[k]);
      r.counts.push_back(0);
    }
    group_of[order[k]] = static_cast<int64_t>(r.first.size()) - 1;
    ++r.counts.back();
  }
  std::vector<int64_t> pos(r.first.size());  // run -> output position
  std::iota(pos.begin(), pos.end(), int64_t{0});
  if (!sorted) {
    std::vector<int64_t> runs(pos);
    std::sort(runs.begin(), runs.end(), [&](int64_t a, int64_t b) { return r.first[a] < r.first[b]; });
    UniqueResult u;
    for (size_t p = 0; p < runs.size(); ++p) {
      pos[runs[p]] = static_cast<int64_t>(p);
      u.first.push_back(r.first[runs[p]]);
      u.counts.push_back(r.counts[runs[p]]);
    }
    r.first = std::move(u.first);
    r.counts = std::move(u.counts);
  }
  r.inverse.resize(order.size());
  for (size_t i = 0; i < order.size(); ++i) r.inverse[i] = pos[group_of[i]];
  return r;
}

template <class F>
auto dispatch_unique(DType t, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int64: return f(int64_t{});
    case DType::Int32: return f(int32_t{});
    case DType::Int16: return f(int16_t{});
    case DType::Int8: return f(int8_t{});
    case DType::UInt8: case DType::Bool: return f(uint8_t{});
    case DType::UInt16: return f(uint16_t{});
    case DType::UInt32: return f(uint32_t{});
    case DType::UInt64: return f(uint64_t{});
    default: fail(std::string("Unique does not support dtype ") + dtype_name(t));
  }
}

UniqueResult run_unique(const Unique& op, const TensorView& x) {
  const SliceView v = slice_view(x.shape, op.has_axis != 0, op.axis);
  return dispatch_unique(x.dtype, [&](auto zero) {
    using T = decltype(zero);
    return unique_of(x.as<const T>(), v, op.sorted != 0);
  });
}

}  // namespace

void Unique::attrs(AttrVisitor& v) {
  v.visit("axis", axis);
  v.visit("has_axis", has_axis);
  v.visit("sorted", sorted);
}

void Unique::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 1 && ctx.has_input(0), "Unique takes one input");
  check(ctx.num_outputs() >= 1 && ctx.num_outputs() <= 4,
        "Unique has one to four outputs (Y, indices, inverse_indices, counts)");
  const TensorType& x = ctx.input(0);
  dispatch_unique(x.dtype, [](auto) { return 0; });  // rejects unsupported dtypes
  check(sorted == 0 || sorted == 1, "Unique: sorted must be 0 or 1");
  const int64_t r = static_cast<int64_t>(x.shape.size());
  int64_t len;
  Dims y;
  if (has_axis) {
    check(axis >= -r && axis < r,
          "Unique: axis " + std::to_string(axis) + " is out of range for input rank " + std::to_string(r));
    y = x.shape;
    len = x.shape[axis < 0 ? axis + r : axis];
  } else {
    len = shape_elements(x.shape);
    y = {len};
  }
  int64_t count = -1;
  const TensorView* v = ctx.constant(0);
  if (v && v->shape == x.shape && shape_static(x.shape)) count = static_cast<int64_t>(run_unique(*this, *v).first.size());
  (has_axis ? y[axis < 0 ? axis + r : axis] : y[0]) = count;
  ctx.set_output(0, x.dtype, y);
  if (ctx.num_outputs() > 1) ctx.set_output(1, DType::Int64, {count});
  if (ctx.num_outputs() > 2) ctx.set_output(2, DType::Int64, {len});
  if (ctx.num_outputs() > 3) ctx.set_output(3, DType::Int64, {count});
}

void Unique::reference(const KernelArgs& a) const {
  const TensorView& x = a.in[0];
  const UniqueResult u = run_unique(*this, x);
  const SliceView v = slice_view(x.shape, has_axis != 0, axis);
  const int64_t n = static_cast<int64_t>(u.first.size());
  check(a.out[0].elements() == n * v.outer * v.inner, "Unique: the output was sized for another input");
  // Y: the first occurrence of each unique slice, in output order.
  const size_t es = dtype_size(x.dtype), row = static_cast<size_t>(v.inner) * es;
  const auto* src = static_cast<const uint8_t*>(x.data);
  auto* dst = static_cast<uint8_t*>(a.out[0].data);
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t k = 0; k < n; ++k)
      std::memcpy(dst + static_cast<size_t>(o * n + k) * row, src + static_cast<size_t>(o * v.len + u.first[k]) * row,
                  row);
  if (a.out.size() > 1) std::copy(u.first.begin(), u.first.end(), a.out[1].as<int64_t>());
  if (a.out.size() > 2) std::copy(u.inverse.begin(), u.inverse.end(), a.out[2].as<int64_t>());
  if (a.out.size() > 3) std::copy(u.counts.begin(), u.counts.end(), a.out[3].as<int64_t>());
}

KILN_REGISTER_OP(Unique);

}  // namespace kiln::ops
