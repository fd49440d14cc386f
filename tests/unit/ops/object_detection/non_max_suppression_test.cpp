// NonMaxSuppression, Unique, MaxPool's Indices output and MaxUnpool's run-time output_shape:
// reference kernels against hand-computed values (the ONNX examples among them), infer() with
// known and unknown values, infer() errors, the importers, and the compile -> plan -> run path
// where output sizes come from input values.
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include <gtest/gtest.h>

#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"
#include "ops/object_detection/roi_align.h"
#include "ops/object_detection/non_max_suppression.h"
#include "ops/nn/pool.h"
#include "ops/multi_output_test_util.h"

namespace kiln::test {
namespace {

using namespace ops;
using namespace seq;

// The boxes of the ONNX NonMaxSuppression examples: two clusters near y = 0 and y = 10 and a
// lone box at y = 100.
const std::vector<float> kBoxes = {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, -0.1f, 1, 0.9f,
                                   0, 10, 1, 11, 0, 10.1f, 1, 11.1f, 0, 100, 1, 101};
const std::vector<float> kScores = {0.9f, 0.75f, 0.6f, 0.95f, 0.5f, 0.3f};

HostTensor constant(HostTensor t) {
  t.constant = true;
  return t;
}

// Runs NMS as the runtime does: every input's value known to infer().
std::vector<int64_t> nms(const NonMaxSuppression& op, std::vector<HostTensor> in) {
  for (auto& t : in) t.constant = t.dtype != DType::Undefined;
  auto out = run_ref(op, std::move(in), 1)[0];
  EXPECT_EQ(out.shape.size(), 2u);
  EXPECT_EQ(out.shape[1], 3);
  return vals<int64_t>(out);
}

std::vector<HostTensor> nms_inputs(std::vector<float> boxes, std::vector<float> scores, int64_t max_out, float iou,
                                   float score, Shape bshape = {1, 6, 4}, Shape sshape = {1, 1, 6}) {
  return {f32(std::move(bshape), boxes), f32(std::move(sshape), scores), i64({1}, {max_out}), f32({1}, {iou}),
          f32({1}, {score})};
}

TEST(NmsReference, OnnxExamples) {
  NonMaxSuppression op;
  // suppress_by_IOU: 1 and 2 overlap 0, 4 overlaps 3.
  EXPECT_EQ(nms(op, nms_inputs(kBoxes, kScores, 3, 0.5f, 0.f)), (std::vector<int64_t>{0, 0, 3, 0, 0, 0, 0, 0, 5}));
  // suppress_by_IOU_and_scores: 0.3 is not above 0.4.
  EXPECT_EQ(nms(op, nms_inputs(kBoxes, kScores, 3, 0.5f, 0.4f)), (std::vector<int64_t>{0, 0, 3, 0, 0, 0}));
  // limit_output_size.
  EXPECT_EQ(nms(op, nms_inputs(kBoxes, kScores, 2, 0.5f, 0.f)), (std::vector<int64_t>{0, 0, 3, 0, 0, 0}));
  // flipped_coordinates: corners in any order.
  const std::vector<float> flipped = {1, 1, 0, 0, 0, 0.1f, 1, 1.1f, 0, 0.9f, 1, -0.1f,
                                      0, 10, 1, 11, 1, 10.1f, 0, 11.1f, 1, 101, 0, 100};
  EXPECT_EQ(nms(op, nms_inputs(flipped, kScores, 3, 0.5f, 0.f)), (std::vector<int64_t>{0, 0, 3, 0, 0, 0, 0, 0, 5}));
  // center_point_box_format.
  NonMaxSuppression center;
  center.center_point_box = 1;
  const std::vector<float> centers = {0.5f, 0.5f, 1, 1, 0.5f, 0.6f, 1, 1, 0.5f, 0.4f, 1, 1,
                                      0.5f, 10.5f, 1, 1, 0.5f, 10.6f, 1, 1, 0.5f, 100.5f, 1, 1};
  EXPECT_EQ(nms(center, nms_inputs(centers, kScores, 3, 0.5f, 0.f)),
            (std::vector<int64_t>{0, 0, 3, 0, 0, 0, 0, 0, 5}));
  // [0, 0, 4, 4] and [1, 1, 4, 4] have IoU 9/23 as centre boxes but 9/16 as corner boxes.
  const std::vector<float> two = {0, 0, 4, 4, 1, 1, 4, 4};
  EXPECT_EQ(nms(center, nms_inputs(two, {0.9f, 0.8f}, 3, 0.5f, 0.f, {1, 2, 4}, {1, 1, 2})),
            (std::vector<int64_t>{0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(nms(op, nms_inputs(two, {0.9f, 0.8f}, 3, 0.5f, 0.f, {1, 2, 4}, {1, 1, 2})),
            (std::vector<int64_t>{0, 0, 0}));
}

TEST(NmsReference, BatchesAndClassesInOrder) {
  NonMaxSuppression op;
  std::vector<float> boxes2 = kBoxes;
  boxes2.insert(boxes2.end(), kBoxes.begin(), kBoxes.end());
  std::vector<float> scores2 = kScores;
  scores2.insert(scores2.end(), kScores.begin(), kScores.end());
  EXPECT_EQ(nms(op, nms_inputs(kBoxes, scores2, 2, 0.5f, 0.f, {1, 6, 4}, {1, 2, 6})),
            (std::vector<int64_t>{0, 0, 3, 0, 0, 0, 0, 1, 3, 0, 1, 0}));
  EXPECT_EQ(nms(op, nms_inputs(boxes2, scores2, 2, 0.5f, 0.f, {2, 6, 4}, {2, 1, 6})),
            (std::vector<int64_t>{0, 0, 3, 0, 0, 0, 1, 0, 3, 1, 0, 0}));
  // Class 1 of batch 0 prefers other boxes: selection is per class.
  const std::vector<float> s = {0.9f, 0.75f, 0.6f, 0.95f, 0.5f, 0.3f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
  EXPECT_EQ(nms(op, nms_inputs(kBoxes, s, 2, 0.5f, 0.f, {1, 6, 4}, {1, 2, 6})),
            (std::vector<int64_t>{0, 0, 3, 0, 0, 0, 0, 1, 5, 0, 1, 4}));
}

TEST(NmsReference, TiesThresholdsAndDefaults) {
  NonMaxSuppression op;
  // Zero-area boxes never suppress each other: equal scores come out in index order.
  EXPECT_EQ(nms(op, nms_inputs(std::vector<float>(40, 0.f), std::vector<float>(10, 0.9f), 3, 0.5f, 0.f,
                               {1, 10, 4}, {1, 1, 10})),
            (std::vector<int64_t>{0, 0, 0, 0, 0, 1, 0, 0, 2}));
  // identical_boxes: equal scores pick the lowest index, the rest are suppressed (IoU 1).
  std::vector<float> same;
  for (int i = 0; i < 10; ++i) same.insert(same.end(), {0, 0, 1, 1});
  EXPECT_EQ(nms(op, nms_inputs(same, std::vector<float>(10, 0.9f), 3, 0.5f, 0.f, {1, 10, 4}, {1, 1, 10})),
            (std::vector<int64_t>{0, 0, 0}));
  // IoU exactly at the threshold does not suppress: [0,0,1,1] vs [0,0,1,2] have IoU 0.5.
  const std::vector<float> half = {0, 0, 1, 1, 0, 0, 1, 2};
  EXPECT_EQ(nms(op, nms_inputs(half, {0.9f, 0.8f}, 5, 0.5f, 0.f, {1, 2, 4}, {1, 1, 2})),
            (std::vector<int64_t>{0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(nms(op, nms_inputs(half, {0.9f, 0.8f}, 5, 0.49f, 0.f, {1, 2, 4}, {1, 1, 2})),
            (std::vector<int64_t>{0, 0, 0}));
  // A score equal to score_threshold is dropped.
  EXPECT_EQ(nms(op, nms_inputs(half, {0.9f, 0.8f}, 5, 0.5f, 0.8f, {1, 2, 4}, {1, 1, 2})),
            (std::vector<int64_t>{0, 0, 0}));
  // max_output_boxes_per_class absent or <= 0 selects nothing; absent thresholds keep all.
  EXPECT_TRUE(nms(op, {f32({1, 6, 4}, kBoxes), f32({1, 1, 6}, kScores)}).empty());
  EXPECT_TRUE(nms(op, nms_inputs(kBoxes, kScores, -4, 0.5f, 0.f)).empty());
  EXPECT_EQ(nms(op, {f32({1, 6, 4}, kBoxes), f32({1, 1, 6}, kScores), i64({1}, {10})}),
            (std::vector<int64_t>{0, 0, 3, 0, 0, 0, 0, 0, 5}));  // iou 0: any overlap suppresses
  EXPECT_EQ(nms(op, {f32({1, 6, 4}, kBoxes), f32({1, 1, 6}, kScores), i64({}, {10}), absent(), f32({}, {0.55f})}),
            (std::vector<int64_t>{0, 0, 3, 0, 0, 0}));
}

TEST(NmsInfer, ValuesDecideTheLength) {
  NonMaxSuppression op;
  auto in = nms_inputs(kBoxes, kScores, 3, 0.5f, 0.f);
  // Compile time with graph-input values: unknown length.
  EXPECT_EQ(infer_outputs(op, in)[0].shape, (Shape{-1, 3}));
  EXPECT_EQ(infer_outputs(op, in)[0].dtype, DType::Int64);
  // One known value is not enough.
  in[2] = constant(in[2]);
  EXPECT_EQ(infer_outputs(op, in)[0].shape, (Shape{-1, 3}));
  for (auto& t : in) t.constant = true;
  EXPECT_EQ(infer_outputs(op, in)[0].shape, (Shape{3, 3}));
  in[4] = constant(f32({1}, {0.4f}));
  EXPECT_EQ(infer_outputs(op, in)[0].shape, (Shape{2, 3}));
}

TEST(NmsInfer, Errors) {
  NonMaxSuppression op;
  const TensorType b = f32({1, 6, 4}), s = f32({1, 2, 6});
  EXPECT_EQ(infer_err(op, {b, s}), "");
  EXPECT_NE(infer_err(op, {f32({1, 6, 5}), s}).find("[batches, boxes, 4]"), std::string::npos);
  EXPECT_NE(infer_err(op, {f32({6, 4}), s}).find("[batches, boxes, 4]"), std::string::npos);
  EXPECT_NE(infer_err(op, {b, f32({1, 2, 7})}).find("disagree"), std::string::npos);
  EXPECT_NE(infer_err(op, {b, f32({2, 2, 6})}).find("disagree"), std::string::npos);
  EXPECT_NE(infer_err(op, {b, f32({2, 6})}).find("scores must be"), std::string::npos);
  EXPECT_NE(infer_err(op, {b, s, f32({1})}).find("max_output_boxes_per_class must be int64"), std::string::npos);
  EXPECT_NE(infer_err(op, {b, s, {DType::Int64, {2}}}).find("one value"), std::string::npos);
  EXPECT_NE(infer_err(op, {b, s, {DType::Int64, {1}}, {DType::Int64, {1}}}).find("iou_threshold"),
            std::string::npos);
  EXPECT_NE(infer_err(op, {{DType::Float64, {1, 6, 4}}, s}).find("float32"), std::string::npos);
  EXPECT_NE(infer_err(op, {b}).find("takes boxes, scores"), std::string::npos);
  op.center_point_box = 2;
  EXPECT_NE(infer_err(op, {b, s}).find("center_point_box"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Unique

Unique unique(int64_t sorted, std::optional<int64_t> axis = std::nullopt) {
  Unique u;
  u.sorted = sorted;
  u.has_axis = axis.has_value();
  u.axis = axis.value_or(0);
  return u;
}

std::vector<HostTensor> run_unique(const Unique& op, HostTensor x, size_t n_out = 4) {
  x.constant = true;
  return run_ref(op, {std::move(x)}, n_out);
}

TEST(NmsUnique, FlatSortedAndNot) {
  const HostTensor x = f32({6}, {2, 1, 1, 3, 4, 3});
  auto r = run_unique(unique(1), x);
  EXPECT_EQ(vals<float>(r[0]), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{1, 0, 3, 4}));
  EXPECT_EQ(vals<int64_t>(r[2]), (std::vector<int64_t>{1, 0, 0, 2, 3, 2}));
  EXPECT_EQ(vals<int64_t>(r[3]), (std::vector<int64_t>{2, 1, 2, 1}));
  r = run_unique(unique(0), x);
  EXPECT_EQ(vals<float>(r[0]), (std::vector<float>{2, 1, 3, 4}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{0, 1, 3, 4}));
  EXPECT_EQ(vals<int64_t>(r[2]), (std::vector<int64_t>{0, 1, 1, 2, 3, 2}));
  EXPECT_EQ(vals<int64_t>(r[3]), (std::vector<int64_t>{1, 2, 2, 1}));
  // Without an axis any rank is flattened; int64 compares exactly beyond double precision.
  const int64_t big = (int64_t{1} << 60) + 1;
  r = run_unique(unique(1), i64({2, 2}, {big, big - 1, big, -5}), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(vals<int64_t>(r[0]), (std::vector<int64_t>{-5, big - 1, big}));
}

TEST(NmsUnique, AlongAnAxis) {
  // sorted_with_axis.
  auto r = run_unique(unique(1, 0), f32({3, 3}, {1, 0, 0, 1, 0, 0, 2, 3, 4}));
  EXPECT_EQ(r[0].shape, (Shape{2, 3}));
  EXPECT_EQ(vals<float>(r[0]), (std::vector<float>{1, 0, 0, 2, 3, 4}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(vals<int64_t>(r[2]), (std::vector<int64_t>{0, 0, 1}));
  EXPECT_EQ(vals<int64_t>(r[3]), (std::vector<int64_t>{2, 1}));
  // sorted_with_axis_3d: slices along axis 1 compare over both batch rows.
  r = run_unique(unique(1, 1), f32({2, 4, 2}, {1, 1, 0, 1, 2, 1, 0, 1, 1, 1, 0, 1, 2, 1, 0, 1}));
  EXPECT_EQ(r[0].shape, (Shape{2, 3, 2}));
  EXPECT_EQ(vals<float>(r[0]), (std::vector<float>{0, 1, 1, 1, 2, 1, 0, 1, 1, 1, 2, 1}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{1, 0, 2}));
  EXPECT_EQ(vals<int64_t>(r[2]), (std::vector<int64_t>{1, 0, 2, 0}));
  EXPECT_EQ(vals<int64_t>(r[3]), (std::vector<int64_t>{2, 1, 1}));
  // sorted_with_negative_axis: columns [1,1,2], [0,0,3], [0,0,3].
  r = run_unique(unique(1, -1), f32({3, 3}, {1, 0, 0, 1, 0, 0, 2, 3, 3}));
  EXPECT_EQ(r[0].shape, (Shape{3, 2}));
  EXPECT_EQ(vals<float>(r[0]), (std::vector<float>{0, 1, 0, 1, 3, 2}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(vals<int64_t>(r[2]), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(vals<int64_t>(r[3]), (std::vector<int64_t>{2, 1}));
  // Unsorted along an axis: first-occurrence order.
  r = run_unique(unique(0, 0), f32({3, 2}, {5, 5, 1, 1, 5, 5}));
  EXPECT_EQ(vals<float>(r[0]), (std::vector<float>{5, 5, 1, 1}));
  EXPECT_EQ(vals<int64_t>(r[2]), (std::vector<int64_t>{0, 1, 0}));
}

TEST(NmsUnique, NanCollapsesAndSortsLast) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto r = run_unique(unique(1), f32({5}, {nan, 2, nan, -1, 2}));
  const auto y = vals<float>(r[0]);
  ASSERT_EQ(y.size(), 3u);
  EXPECT_EQ(y[0], -1.f);
  EXPECT_EQ(y[1], 2.f);
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_EQ(vals<int64_t>(r[3]), (std::vector<int64_t>{1, 2, 2}));
}

TEST(NmsUnique, InferAndErrors) {
  std::vector<HostTensor> in{f32({2, 5, 3}, std::vector<float>(30, 1.f))};
  auto t = infer_outputs(unique(1, 1), in);  // one output unless asked for more
  EXPECT_EQ(t[0].shape, (Shape{2, -1, 3}));
  std::vector<const TensorView*> none{nullptr};
  InferContext ctx({{DType::Float32, {2, 5, 3}}}, none, 4);
  unique(1, 1).infer(ctx);
  EXPECT_EQ(ctx.outputs()[1].shape, (Shape{-1}));
  EXPECT_EQ(ctx.outputs()[2].shape, (Shape{5}));  // inverse_indices: one per slice, always known
  EXPECT_EQ(ctx.outputs()[3].dtype, DType::Int64);
  in[0].constant = true;
  EXPECT_EQ(infer_outputs(unique(1, 1), in)[0].shape, (Shape{2, 1, 3}));
  EXPECT_EQ(infer_outputs(unique(1), in)[0].shape, (Shape{1}));
  EXPECT_NE(infer_err(unique(1, 3), {f32({2, 5, 3})}).find("axis 3 is out of range"), std::string::npos);
  EXPECT_NE(infer_err(unique(1, -4), {f32({2, 5, 3})}).find("out of range"), std::string::npos);
  EXPECT_NE(infer_err(unique(2), {f32({4})}).find("sorted"), std::string::npos);
  EXPECT_NE(infer_err(unique(1), {{DType::Float16, {4}}}).find("float16"), std::string::npos);
  EXPECT_NE(infer_err(unique(1), {f32({4})}, 5).find("one to four"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// MaxPool's Indices output

MaxPool max_pool(std::vector<int64_t> k, std::vector<int64_t> s, std::vector<int64_t> pads, int64_t order = 0) {
  MaxPool m;
  m.p.kernel_shape = std::move(k);
  m.p.strides = std::move(s);
  m.p.pads = std::move(pads);
  m.storage_order = order;
  return m;
}

std::vector<float> iota(int n, float start = 0) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = start++;
  return v;
}

TEST(NmsMaxPoolIndices, OnnxExamples) {
  // with_argmax_2d_precomputed_pads: 5x5 window, pads 2.
  auto r = run_ref(max_pool({5, 5}, {}, {2, 2, 2, 2}), {f32({1, 1, 5, 5}, iota(25, 1))}, 2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].dtype, DType::Int64);
  EXPECT_EQ(r[1].shape, (Shape{1, 1, 5, 5}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{12, 13, 14, 14, 14, 17, 18, 19, 19, 19, 22, 23, 24,
                                                       24, 24, 22, 23, 24, 24, 24, 22, 23, 24, 24, 24}));
  EXPECT_EQ(vals<float>(r[0])[0], 13.f);
  // with_argmax_2d_precomputed_strides, storage_order 1: column-major positions.
  r = run_ref(max_pool({2, 2}, {2, 2}, {}, 1), {f32({1, 1, 5, 5}, iota(25, 1))}, 2);
  EXPECT_EQ(vals<float>(r[0]), (std::vector<float>{7, 9, 17, 19}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{6, 16, 8, 18}));
  r = run_ref(max_pool({2, 2}, {2, 2}, {}, 0), {f32({1, 1, 5, 5}, iota(25, 1))}, 2);
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{6, 8, 16, 18}));
}

TEST(NmsMaxPoolIndices, PlanesTiesAnd3d) {
  // Two batches x two channels: indices include the plane offset n * C * HW + c * HW.
  std::vector<float> x(16, 0.f);
  x[1] = 5, x[4 + 2] = 5, x[8 + 3] = 5, x[12 + 0] = 5;
  auto r = run_ref(max_pool({2, 2}, {}, {}), {f32({2, 2, 2, 2}, x)}, 2);
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{1, 6, 11, 12}));
  // Ties keep the first position in row-major window order.
  r = run_ref(max_pool({2, 2}, {}, {}), {f32({1, 1, 2, 2}, {3, 3, 3, 3})}, 2);
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{0}));
  // 3-D, column-major: position (d, h, w) of a 2x3x4 volume is d + 2 * h + 6 * w.
  std::vector<float> v(24, 0.f);
  v[1 * 12 + 2 * 4 + 3] = 9;  // (1, 2, 3): row-major 23
  r = run_ref(max_pool({2, 3, 4}, {}, {}, 1), {f32({1, 1, 2, 3, 4}, v)}, 2);
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{1 + 2 * 2 + 6 * 3}));
  r = run_ref(max_pool({2, 3, 4}, {}, {}, 0), {f32({1, 1, 2, 3, 4}, v)}, 2);
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{23}));
  // int8 input.
  r = run_ref(max_pool({3}, {3}, {}), {s8({1, 1, 6}, {-3, 7, -1, 4, 4, -8})}, 2);
  EXPECT_EQ(vals<int8_t>(r[0]), (std::vector<int8_t>{7, 4}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{1, 3}));
}

TEST(NmsMaxPoolIndices, InferAndKernelChoice) {
  EXPECT_EQ(infer_err(max_pool({2, 2}, {}, {}), {f32({1, 1, 4, 4})}, 2), "");
  EXPECT_NE(infer_err(max_pool({2, 2}, {}, {}), {f32({1, 1, 4, 4})}, 3).find("Indices"), std::string::npos);
  EXPECT_NE(infer_err(max_pool({2, 2}, {}, {}, 2), {f32({1, 1, 4, 4})}, 2).find("storage_order"), std::string::npos);
  AveragePool avg;
  avg.p.kernel_shape = {2, 2};
  EXPECT_NE(infer_err(avg, {f32({1, 1, 4, 4})}, 2).find("one output"), std::string::npos);
  // The oneDNN kernel computes Y only, so it declines the two-output form.
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  const MaxPool op = max_pool({2, 2}, {}, {});
  KernelSpec one{op, {{DType::Float32, {1, 1, 4, 4}, "", nullptr}}, {{DType::Float32, {1, 1, 3, 3}, "", nullptr}}, eng};
  EXPECT_NE(KernelRegistry::instance().create("MaxPool", "onednn", one), nullptr);
  KernelSpec two = one;
  two.out.push_back({DType::Int64, {1, 1, 3, 3}, "", nullptr});
  EXPECT_EQ(KernelRegistry::instance().create("MaxPool", "onednn", two), nullptr);
}

TEST(NmsMaxPoolIndices, Import) {
  OnnxBuilder b(12);
  b.input("x", {1, 1, 4, 4});
  auto& n = b.node("MaxPool", {"x"}, {"y", "i"});
  OnnxBuilder::attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
  OnnxBuilder::attr(n, "storage_order", int64_t{1});
  b.output("y", {1, 1, 3, 3});
  b.output("i", {1, 1, 3, 3}, onnx::TensorProto::INT64);
  auto g = import(b);
  const auto* mp = only_op<MaxPool>(*g);
  ASSERT_TRUE(mp);
  EXPECT_EQ(mp->storage_order, 1);
  for (auto& node : g->nodes())
    if (node->op && node->type() == "MaxPool") {
      ASSERT_EQ(node->outputs.size(), 2u);
      EXPECT_EQ(node->outputs[1]->type.dtype, DType::Int64);
    }
  // An unused Indices output keeps the one-output form.
  OnnxBuilder u(12);
  u.input("x", {1, 1, 4, 4});
  OnnxBuilder::attr(u.node("MaxPool", {"x"}, {"y", ""}), "kernel_shape", std::vector<int64_t>{2, 2});
  u.output("y", {1, 1, 3, 3});
  auto gu = import(u);
  for (auto& node : gu->nodes())
    if (node->op && node->type() == "MaxPool") {
      EXPECT_EQ(node->outputs.size(), 1u);
    }
}

// ---------------------------------------------------------------------------------------------
// MaxUnpool's output_shape input

MaxUnpool unpool() {
  MaxUnpool op;
  op.kernel_shape = {2, 2};
  op.strides = {2, 2};
  return op;
}

TEST(NmsMaxUnpool, OutputShapeInput) {
  const MaxUnpool op = unpool();
  const HostTensor x = f32({1, 1, 2, 2}, {5, 6, 7, 8}), i = i64({1, 1, 2, 2}, {5, 7, 13, 15});
  // Compile time: the spatial dims wait for the value.
  std::vector<HostTensor> in{x, i, i64({4}, {1, 1, 5, 5})};
  EXPECT_EQ(infer_outputs(op, in)[0].shape, (Shape{1, 1, -1, -1}));
  // Run time (export_with_output_shape): the 4x4 unpooled result at the origin of a 5x5 Y.
  in[2].constant = true;
  auto y = run_ref(op, in, 1)[0];
  EXPECT_EQ(y.shape, (Shape{1, 1, 5, 5}));
  std::vector<double> want(25, 0);
  want[6] = 5, want[8] = 6, want[16] = 7, want[18] = 8;
  expect_near(vals<float>(y), want);
  // The attribute form means the same.
  MaxUnpool attr = unpool();
  attr.output_shape = {1, 1, 5, 5};
  expect_near(vals<float>(run_ref(attr, {x, i}, 1)[0]), want);
  // Pads are ignored when an output shape is given: the unpooled shape stays 4x4.
  MaxUnpool padded = unpool();
  padded.pads = {1, 1, 1, 1};
  expect_near(vals<float>(run_ref(padded, in, 1)[0]), want);
  // Smaller than the unpooled shape, or another rank / batch: errors.
  in[2] = constant(i64({4}, {1, 1, 3, 5}));
  EXPECT_NE(run_err(op, in).find("not be smaller"), std::string::npos);
  in[2] = constant(i64({4}, {2, 1, 5, 5}));
  EXPECT_NE(run_err(op, in).find("batch and channels"), std::string::npos);
  EXPECT_NE(infer_err(op, {f32({1, 1, 2, 2}), {DType::Int64, {1, 1, 2, 2}}, {DType::Int64, {3}}}).find("[4]"),
            std::string::npos);
  EXPECT_NE(infer_err(op, {f32({1, 1, 2, 2}), {DType::Int64, {1, 1, 2, 2}}, f32({4})}).find("int64"),
            std::string::npos);
  // Indices address the unpooled shape, not Y.
  in[2] = constant(i64({4}, {1, 1, 5, 5}));
  in[1] = i64({1, 1, 2, 2}, {5, 7, 13, 16});
  EXPECT_NE(run_err(op, in).find("out of range"), std::string::npos);
}

TEST(NmsMaxUnpool, ImportKeepsARuntimeShapeInput) {
  OnnxBuilder b(11);
  b.input("x", {1, 1, 2, 2});
  b.input("i", {1, 1, 2, 2}, onnx::TensorProto::INT64);
  b.input("os", {4}, onnx::TensorProto::INT64);
  auto& n = b.node("MaxUnpool", {"x", "i", "os"}, {"y"});
  OnnxBuilder::attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
  OnnxBuilder::attr(n, "strides", std::vector<int64_t>{2, 2});
  b.output("y", {1, 1, 5, 5});
  auto g = import(b);
  const auto* mu = only_op<MaxUnpool>(*g);
  ASSERT_TRUE(mu);
  EXPECT_TRUE(mu->output_shape.empty());
  for (auto& node : g->nodes())
    if (node->op && node->type() == "MaxUnpool") {
      EXPECT_EQ(node->inputs.size(), 3u);
      EXPECT_EQ(node->outputs[0]->type.shape, (Shape{1, 1, -1, -1}));
    }
}

// ---------------------------------------------------------------------------------------------
// The whole path: compile -> plan -> load -> run, output sizes decided by this run's values

TEST(NmsEndToEnd, NmsLengthFollowsTheInputs) {
  OnnxBuilder b(11);
  b.input("boxes", {1, 6, 4});
  b.input("scores", {1, 1, 6});
  b.input("max", {1}, onnx::TensorProto::INT64);
  b.input("iou", {1});
  b.input("score", {1});
  b.node("NonMaxSuppression", {"boxes", "scores", "max", "iou", "score"}, {"sel"});
  b.output("sel", {-1, 3}, onnx::TensorProto::INT64);
  auto e = Engine::load_memory(compile_onnx_file(b.save("nms_e2e.onnx"), {}).plan);
  auto ctx = e->create_context();
  auto run = [&](int64_t max, float score) {
    std::memcpy(ctx->input("boxes"), kBoxes.data(), kBoxes.size() * sizeof(float));
    std::memcpy(ctx->input("scores"), kScores.data(), kScores.size() * sizeof(float));
    std::memcpy(ctx->input("max"), &max, sizeof max);
    const float iou = 0.5f;
    std::memcpy(ctx->input("iou"), &iou, sizeof iou);
    std::memcpy(ctx->input("score"), &score, sizeof score);
    ctx->run();
    const auto shape = ctx->output_shape(0);
    const auto* p = static_cast<const int64_t*>(ctx->output(0));
    return std::vector<int64_t>(p, p + shape.at(0) * shape.at(1));
  };
  EXPECT_EQ(run(3, 0.f), (std::vector<int64_t>{0, 0, 3, 0, 0, 0, 0, 0, 5}));
  EXPECT_EQ(run(3, 0.4f), (std::vector<int64_t>{0, 0, 3, 0, 0, 0}));
  EXPECT_EQ(ctx->output_shape(0), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(run(0, 0.f), (std::vector<int64_t>{}));
}

TEST(NmsEndToEnd, UniqueCountsFollowTheInput) {
  OnnxBuilder b(11);
  b.input("x", {6});
  b.node("Unique", {"x"}, {"y", "", "inv", "counts"});
  b.output("y", {-1});
  b.output("counts", {-1}, onnx::TensorProto::INT64);
  b.output("inv", {6}, onnx::TensorProto::INT64);
  auto e = Engine::load_memory(compile_onnx_file(b.save("unique_e2e.onnx"), {}).plan);
  auto ctx = e->create_context();
  const float x[6] = {2, 1, 1, 3, 4, 3};
  std::memcpy(ctx->input("x"), x, sizeof x);
  ctx->run();
  EXPECT_EQ(ctx->output_shape(0), (std::vector<int64_t>{4}));
  const auto* y = static_cast<const float*>(ctx->output("y"));
  EXPECT_EQ(std::vector<float>(y, y + 4), (std::vector<float>{1, 2, 3, 4}));
  const auto* c = static_cast<const int64_t*>(ctx->output("counts"));
  EXPECT_EQ(std::vector<int64_t>(c, c + 4), (std::vector<int64_t>{2, 1, 2, 1}));
  const auto* inv = static_cast<const int64_t*>(ctx->output("inv"));
  EXPECT_EQ(std::vector<int64_t>(inv, inv + 6), (std::vector<int64_t>{1, 0, 0, 2, 3, 2}));
  const float same[6] = {7, 7, 7, 7, 7, 7};
  std::memcpy(ctx->input("x"), same, sizeof same);
  ctx->run();
  EXPECT_EQ(ctx->output_shape(0), (std::vector<int64_t>{1}));
}

}  // namespace
}  // namespace kiln::test
