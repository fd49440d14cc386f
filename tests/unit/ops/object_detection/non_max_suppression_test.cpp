// NonMaxSuppression: the reference kernel against hand-computed values (the ONNX examples among
// them), infer() with known and unknown values, infer() errors, and the compile -> plan -> run
// path where the output length comes from input values.
#include <cstring>

#include <gtest/gtest.h>

#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"
#include "ops/multi_output_test_util.h"
#include "ops/object_detection/non_max_suppression.h"

namespace kiln::test {
namespace {

using namespace ops;
using namespace multi_output;

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
                                   float score, Dims bshape = {1, 6, 4}, Dims sshape = {1, 1, 6}) {
  return {f32(std::move(bshape), boxes), f32(std::move(sshape), scores), i64({1}, {max_out}), f32({1}, {iou}),
          f32({1}, {score})};
}

TEST(NonMaxSuppressionReference, OnnxExamples) {
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

TEST(NonMaxSuppressionReference, BatchesAndClassesInOrder) {
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

TEST(NonMaxSuppressionReference, TiesThresholdsAndDefaults) {
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

TEST(NonMaxSuppressionInfer, ValuesDecideTheLength) {
  NonMaxSuppression op;
  auto in = nms_inputs(kBoxes, kScores, 3, 0.5f, 0.f);
  // Compile time with graph-input values: unknown length.
  EXPECT_EQ(infer_outputs(op, in)[0].shape, (Dims{-1, 3}));
  EXPECT_EQ(infer_outputs(op, in)[0].dtype, DType::Int64);
  // One known value is not enough.
  in[2] = constant(in[2]);
  EXPECT_EQ(infer_outputs(op, in)[0].shape, (Dims{-1, 3}));
  for (auto& t : in) t.constant = true;
  EXPECT_EQ(infer_outputs(op, in)[0].shape, (Dims{3, 3}));
  in[4] = constant(f32({1}, {0.4f}));
  EXPECT_EQ(infer_outputs(op, in)[0].shape, (Dims{2, 3}));
}

TEST(NonMaxSuppressionInfer, Errors) {
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

TEST(NonMaxSuppressionEndToEnd, LengthFollowsTheInputs) {
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

}  // namespace
}  // namespace kiln::test
