// NonMaxSuppression: shape checks and the reference kernel (see non_max_suppression.h). infer()
// gives the value-dependent output length by running the selection itself when the values are
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

KILN_REGISTER_OP(NonMaxSuppression);

}  // namespace kiln::ops
