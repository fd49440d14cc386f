// RoiAlign: the reference kernel against hand-computed values (including the ONNX examples),
// infer() errors, and the importer's opset rules.
#include <cmath>

#include <gtest/gtest.h>

#include "ops/multi_output_test_util.h"
#include "ops/object_detection/roi_align.h"

namespace kiln::test {
namespace {

using namespace ops;
using namespace multi_output;

RoiAlign roi(bool half_pixel, RoiAlign::Mode mode = RoiAlign::Mode::Avg) {
  RoiAlign op;
  op.half_pixel = half_pixel;
  op.mode = mode;
  op.sampling_ratio = 1;
  return op;
}

float roi1(const RoiAlign& op, std::vector<float> box) {
  HostTensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  return vals<float>(run_ref(op, {x, f32({1, 4}, box), i64({1}, {0})}, 1)[0])[0];
}

TEST(RoiAlignReference, Sampling) {
  // One sample at the bin centre (0.5, 0.5): the mean of the four pixels.
  EXPECT_FLOAT_EQ(roi1(roi(false), {0, 0, 1, 1}), 2.5f);
  // half_pixel shifts by -0.5: the sample lands on pixel (0, 0).
  EXPECT_FLOAT_EQ(roi1(roi(true), {0, 0, 1, 1}), 1.f);
  // Max mode takes the largest weighted corner (0.25 * 4), as ONNX Runtime does.
  EXPECT_FLOAT_EQ(roi1(roi(false, RoiAlign::Mode::Max), {0, 0, 1, 1}), 1.f);
  // spatial_scale maps ROI coordinates onto the feature map.
  RoiAlign scaled = roi(false);
  scaled.spatial_scale = 0.5f;
  EXPECT_FLOAT_EQ(roi1(scaled, {0, 0, 2, 2}), 2.5f);
  // Samples more than one pixel outside the map contribute nothing; ones just outside clamp.
  EXPECT_FLOAT_EQ(roi1(roi(false), {5, 5, 6, 6}), 0.f);
  EXPECT_FLOAT_EQ(roi1(roi(false), {1.5f, 1.5f, 2.5f, 2.5f}), 4.f);
  // Without half_pixel a degenerate ROI still spans one pixel.
  EXPECT_FLOAT_EQ(roi1(roi(false), {0, 0, 0, 0}), 2.5f);
}

TEST(RoiAlignReference, BinsAndBatches) {
  // X [2, 1, 2, 4]; a 1x2 output over the whole first image with 2x2 samples per bin.
  HostTensor x = f32({2, 1, 2, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 10, 10, 10, 10, 10, 10, 10, 10});
  RoiAlign op = roi(false);
  op.output_width = 2;
  op.sampling_ratio = 2;
  auto y = run_ref(op, {x, f32({2, 4}, {0, 0, 4, 2, 0, 0, 4, 2}), i64({2}, {0, 1})}, 1)[0];
  EXPECT_EQ(y.shape, (Dims{2, 1, 1, 2}));
  // Bin 0 samples x at 0.5 and 1.5, y at 0.5 and 1.5 (clamped to row 1): value = x + 4 * min(y, 1).
  // Bin 1 samples x at 2.5 and 3.5 (clamped to 3).
  expect_near(vals<float>(y), {(0.5 + 1.5) / 2 + (2 + 4) / 2.0 - 0, (2.5 + 3) / 2 + 3, 10, 10}, 1e-5);
  EXPECT_NE(run_err(op, {x, f32({1, 4}, {0, 0, 1, 1}), i64({1}, {2})}).find("batch index 2"), std::string::npos);
}

TEST(RoiAlignInfer, Errors) {
  RoiAlign r;
  const ops::TensorType bi{DType::Int64, {3}};
  EXPECT_EQ(infer_err(r, {f32({1, 2, 8, 8}), f32({3, 4}), bi}), "");
  EXPECT_NE(infer_err(r, {f32({1, 2, 8}), f32({3, 4}), bi}).find("[N, C, H, W]"), std::string::npos);
  EXPECT_NE(infer_err(r, {f32({1, 2, 8, 8}), f32({3, 5}), bi}).find("[num_rois, 4]"), std::string::npos);
  EXPECT_NE(infer_err(r, {f32({1, 2, 8, 8}), f32({3, 4}), {DType::Int64, {2}}}).find("batch_indices"),
            std::string::npos);
  r.output_height = 0;
  EXPECT_NE(infer_err(r, {f32({1, 2, 8, 8}), f32({3, 4}), bi}).find("output_height"), std::string::npos);
}

TEST(RoiAlignImport, Opsets) {
  auto roi_model = [](int opset) {
    OnnxBuilder b(opset);
    b.input("X", {1, 1, 4, 4});
    b.input("rois", {2, 4});
    b.input("bi", {2}, onnx::TensorProto::INT64);
    auto& n = b.node("RoiAlign", {"X", "rois", "bi"}, {"Y"});
    OnnxBuilder::attr(n, "output_height", int64_t{2});
    attr_s(n, "mode", "max");
    b.output("Y", {2, 1, 2, 1});
    return import(b);
  };
  auto g10 = roi_model(10);
  const auto* r10 = only_op<RoiAlign>(*g10);
  ASSERT_TRUE(r10);
  EXPECT_FALSE(r10->half_pixel);  // opset 10 has only the output_half_pixel behaviour
  EXPECT_EQ(r10->mode, RoiAlign::Mode::Max);
  EXPECT_EQ(r10->output_height, 2);
  EXPECT_EQ(r10->output_width, 1);
  auto g16 = roi_model(16);
  const auto* r16 = only_op<RoiAlign>(*g16);
  ASSERT_TRUE(r16);
  EXPECT_TRUE(r16->half_pixel);  // opset 16's default
}

}  // namespace
}  // namespace kiln::test
