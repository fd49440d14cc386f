// NonMaxSuppression and Unique: shape checks and reference kernels (see nms_ops.h). Both infer
// their value-dependent output length by running the selection itself when the values are
// known, so infer() and reference() cannot disagree.
#include "ops/object_detection/non_max_suppression.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <utility>

namespace kiln::ops {

// ---------------------------------------------------------------------------------------------
// NonMaxSuppression

namespace {

// The values NonMaxSuppression selects from, gathered from views of the inputs.
struct NmsProblem {
  const float* boxes = nullptr;
  const float* scores = nullptr;
  int64_t batches = 0, classes = 0, boxes_per_batch = 0;
  int64_t max_per_class = 0;
  float iou_threshold = 0.f;
  bool has_score_threshold = false;
  float score_threshold = 0.f;
  bool center_point_box = false;
};

// An optional one-element input (0-d or [1]); nullptr when absent.
const TensorView* scalar_input(const std::vector<const TensorView*>& v, size_t i) {
  return i < v.size() && v[i] && v[i]->data ? v[i] : nullptr;
}

NmsProblem nms_problem(const std::vector<const TensorView*>& v, bool center_point_box) {
  NmsProblem p;
  p.boxes = v[0]->as<const float>();
  p.scores = v[1]->as<const float>();
  p.batches = v[1]->shape[0];
  p.classes = v[1]->shape[1];
  p.boxes_per_batch = v[1]->shape[2];
  if (const TensorView* m = scalar_input(v, 2)) p.max_per_class = std::max<int64_t>(element_as_int(*m, 0), 0);
  if (const TensorView* t = scalar_input(v, 3)) p.iou_threshold = t->as<const float>()[0];
  if (const TensorView* t = scalar_input(v, 4)) {
    p.has_score_threshold = true;
    p.score_threshold = t->as<const float>()[0];
  }
  p.center_point_box = center_point_box;
  return p;
}

struct BoxExtent {
  float x_min, x_max, y_min, y_max;
};

BoxExtent extent(const float* b, bool center) {
  if (center) {
    const float hw = b[2] / 2, hh = b[3] / 2;
    return {b[0] - hw, b[0] + hw, b[1] - hh, b[1] + hh};
  }
  return {std::min(b[1], b[3]), std::max(b[1], b[3]), std::min(b[0], b[2]), std::max(b[0], b[2])};
}

// ONNX Runtime's test, in float: boxes that do not overlap or have no area never suppress.
bool suppresses(const float* a, const float* b, const NmsProblem& p) {
  const BoxExtent e1 = extent(a, p.center_point_box), e2 = extent(b, p.center_point_box);
  const float ix_min = std::max(e1.x_min, e2.x_min), ix_max = std::min(e1.x_max, e2.x_max);
  if (!(ix_max > ix_min)) return false;
  const float iy_min = std::max(e1.y_min, e2.y_min), iy_max = std::min(e1.y_max, e2.y_max);
  if (!(iy_max > iy_min)) return false;
  const float inter = (ix_max - ix_min) * (iy_max - iy_min);
  const float area1 = (e1.x_max - e1.x_min) * (e1.y_max - e1.y_min);
  const float area2 = (e2.x_max - e2.x_min) * (e2.y_max - e2.y_min);
  const float uni = area1 + area2 - inter;
  if (!(inter > 0.f) || !(area1 > 0.f) || !(area2 > 0.f) || !(uni > 0.f)) return false;
  return inter / uni > p.iou_threshold;
}

std::vector<std::array<int64_t, 3>> nms_select(const NmsProblem& p) {
  std::vector<std::array<int64_t, 3>> out;
  if (p.max_per_class == 0) return out;
  const int64_t n = p.boxes_per_batch;
  std::vector<int64_t> cand, kept;
  for (int64_t b = 0; b < p.batches; ++b) {
    const float* boxes = p.boxes + b * n * 4;
    for (int64_t c = 0; c < p.classes; ++c) {
      const float* s = p.scores + (b * p.classes + c) * n;
      cand.clear();
      for (int64_t i = 0; i < n; ++i)
        if (!p.has_score_threshold || s[i] > p.score_threshold) cand.push_back(i);
      // Descending score, ties to the lower index; NaN scores go last rather than breaking the
      // ordering.
      std::stable_sort(cand.begin(), cand.end(), [&](int64_t x, int64_t y) {
        if (std::isnan(s[y])) return !std::isnan(s[x]);
        return s[x] > s[y];
      });
      kept.clear();
      for (int64_t i : cand) {
        if (static_cast<int64_t>(kept.size()) >= p.max_per_class) break;
        bool keep = true;
        for (int64_t k : kept)
          if (suppresses(boxes + k * 4, boxes + i * 4, p)) {
            keep = false;
            break;
          }
        if (keep) kept.push_back(i);
      }
      for (int64_t k : kept) out.push_back({b, c, k});
    }
  }
  return out;
}

void check_one_element(const TensorType& t, DType want, const char* name) {
  check(t.dtype == want, std::string("NonMaxSuppression: ") + name + " must be " + dtype_name(want) + ", not " +
                             dtype_name(t.dtype));
  check(t.shape.size() <= 1 && (t.shape.empty() || t.shape[0] < 0 || t.shape[0] == 1),
        std::string("NonMaxSuppression: ") + name + " must hold one value, got shape " + shape_str(t.shape));
}

}  // namespace

void NonMaxSuppression::attrs(AttrVisitor& v) { v.visit("center_point_box", center_point_box); }

void NonMaxSuppression::infer(InferContext& ctx) const {
  check(ctx.num_inputs() >= 2 && ctx.num_inputs() <= 5 && ctx.num_outputs() == 1,
        "NonMaxSuppression takes boxes, scores and up to three optional inputs, and has one output");
  check(ctx.has_input(0) && ctx.has_input(1), "NonMaxSuppression: boxes and scores are required");
  const TensorType &boxes = ctx.input(0), &scores = ctx.input(1);
  check(boxes.dtype == DType::Float32 && scores.dtype == DType::Float32,
        "NonMaxSuppression takes float32 boxes and scores, not " + std::string(dtype_name(boxes.dtype)) + " and " +
            dtype_name(scores.dtype));
  check(boxes.shape.size() == 3 && (boxes.shape[2] < 0 || boxes.shape[2] == 4),
        "NonMaxSuppression: boxes must be [batches, boxes, 4], got shape " + shape_str(boxes.shape));
  check(scores.shape.size() == 3, "NonMaxSuppression: scores must be [batches, classes, boxes], got shape " +
                                      shape_str(scores.shape));
  auto agree = [](int64_t a, int64_t b) { return a < 0 || b < 0 || a == b; };
  check(agree(boxes.shape[0], scores.shape[0]) && agree(boxes.shape[1], scores.shape[2]),
        "NonMaxSuppression: boxes " + shape_str(boxes.shape) + " and scores " + shape_str(scores.shape) +
            " disagree on the batch or box count");
  check(center_point_box == 0 || center_point_box == 1, "NonMaxSuppression: center_point_box must be 0 or 1");
  if (ctx.has_input(2)) check_one_element(ctx.input(2), DType::Int64, "max_output_boxes_per_class");
  if (ctx.has_input(3)) check_one_element(ctx.input(3), DType::Float32, "iou_threshold");
  if (ctx.has_input(4)) check_one_element(ctx.input(4), DType::Float32, "score_threshold");

  // The count is known only when every input that decides it is.
  std::vector<const TensorView*> v(ctx.num_inputs(), nullptr);
  bool known = true;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    v[i] = ctx.constant(i);
    known = known && v[i] && v[i]->shape == ctx.input(i).shape && shape_static(v[i]->shape);
  }
  int64_t count = -1;
  if (known) {
    for (size_t i = 2; i < v.size(); ++i)
      check(!v[i] || v[i]->elements() == 1, "NonMaxSuppression: optional inputs must hold exactly one value");
    count = static_cast<int64_t>(nms_select(nms_problem(v, center_point_box != 0)).size());
  }
  ctx.set_output(0, DType::Int64, {count, 3});
}

void NonMaxSuppression::reference(const KernelArgs& a) const {
  std::vector<const TensorView*> v;
  for (const TensorView& t : a.in) v.push_back(&t);
  const auto sel = nms_select(nms_problem(v, center_point_box != 0));
  const size_t rows = std::min(sel.size(), static_cast<size_t>(a.out[0].shape[0]));
  int64_t* out = a.out[0].as<int64_t>();
  for (size_t r = 0; r < rows; ++r) std::copy(sel[r].begin(), sel[r].end(), out + r * 3);
}

// ---------------------------------------------------------------------------------------------
// Unique

namespace {

// X viewed as [outer, len, inner]: slice i is every x[o, i, j], compared in (o, j) order.
struct SliceView {
  int64_t outer = 1, len = 0, inner = 1;
};

SliceView slice_view(const Shape& s, bool has_axis, int64_t axis) {
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
  Shape y;
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

KILN_REGISTER_OP(NonMaxSuppression);
KILN_REGISTER_OP(Unique);

}  // namespace kiln::ops
