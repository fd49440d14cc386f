// Resize: the reference against the values onnx documents for its backend cases and against
// hand-computed 1-D cases (every nearest mode, tf_crop_and_resize extrapolation), infer()
// errors and run-time parameters, the in-house kernel against the reference, and importers.
#include <gmock/gmock.h>

#include "ops/onnx_node_model.h"
#include "ops/literal_test_util.h"
#include "ops/tensor/resize.h"

namespace kiln::test {
namespace {

using namespace literal;
using ops::Resize;
using ops::ResizeCoord;
using ops::ResizeMode;
using ops::ResizeNearest;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

Resize make(ResizeMode m, ResizeCoord c, std::vector<float> scales, std::vector<int64_t> sizes = {}) {
  Resize r;
  r.mode = m;
  r.coord = c;
  r.scales = std::move(scales);
  r.sizes = std::move(sizes);
  return r;
}

std::vector<float> run(const Resize& r, HostTensor x) { return vals<float>(ref_n(r, {std::move(x)}).at(0)); }

HostTensor grid4() {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i + 1);
  return F({1, 1, 4, 4}, v);
}

TEST(ResizeRef, OnnxDocumentedNearestAndLinear) {
  auto r = make(ResizeMode::Nearest, ResizeCoord::HalfPixel, {1, 1, 2, 3});
  EXPECT_THAT(run(r, F({1, 1, 2, 2}, {1, 2, 3, 4})),
              ElementsAreArray(
                  std::vector<float>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}));
  r = make(ResizeMode::Linear, ResizeCoord::HalfPixel, {1, 1, 2, 2});
  EXPECT_THAT(run(r, F({1, 1, 2, 2}, {1, 2, 3, 4})),
              Pointwise(FloatNear(1e-6f), std::vector<float>{1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f,
                                                             2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4}));
  // align_corners with a fractional scale uses the unrounded output length 0.6 * 4.
  r = make(ResizeMode::Linear, ResizeCoord::AlignCorners, {1, 1, 0.6f, 0.6f});
  EXPECT_THAT(run(r, F({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})),
              Pointwise(FloatNear(1e-5f), std::vector<float>{1, 3.142857f}));
  r = make(ResizeMode::Linear, ResizeCoord::HalfPixel, {1, 1, 0.6f, 0.6f});
  EXPECT_THAT(run(r, F({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})),
              Pointwise(FloatNear(1e-5f), std::vector<float>{2.6666665f, 4.3333331f}));
}

TEST(ResizeRef, OnnxDocumentedCubic) {
  auto r = make(ResizeMode::Cubic, ResizeCoord::HalfPixel, {1, 1, 2, 2});
  auto y = run(r, grid4());
  ASSERT_EQ(y.size(), 64u);
  EXPECT_THAT(std::vector<float>(y.begin(), y.begin() + 8),
              Pointwise(FloatNear(1e-5f), std::vector<float>{0.47265625f, 0.76953125f, 1.24609375f, 1.875f,
                                                             2.28125f, 2.91015625f, 3.38671875f, 3.68359375f}));
  r.cubic_coeff_a = -0.5f;
  r.exclude_outside = true;
  y = run(r, grid4());
  EXPECT_THAT(
      std::vector<float>(y.begin(), y.begin() + 8),
      Pointwise(FloatNear(1e-5f), std::vector<float>{0.55882353f, 0.81494204f, 1.35698249f, 1.89705882f,
                                                     2.39705882f, 2.93713516f, 3.47917561f, 3.73529412f}));
  r = make(ResizeMode::Cubic, ResizeCoord::HalfPixel, {}, {1, 1, 3, 3});
  EXPECT_THAT(
      run(r, grid4()),
      Pointwise(FloatNear(1e-5f), std::vector<float>{1.63078704f, 3.00462963f, 4.37847222f, 7.12615741f, 8.5f,
                                                     9.87384259f, 12.62152778f, 13.99537037f, 15.36921296f}));
}

TEST(ResizeRef, NearestModes1D) {
  const HostTensor x = F({4}, {10, 20, 30, 40});
  // asymmetric x / 2: 0, 0.5, 1, 1.5, ... 3.5.
  auto r = make(ResizeMode::Nearest, ResizeCoord::Asymmetric, {}, {8});
  r.nearest = ResizeNearest::Floor;
  EXPECT_THAT(run(r, x), ElementsAre(10, 10, 20, 20, 30, 30, 40, 40));
  r.nearest = ResizeNearest::Ceil;
  EXPECT_THAT(run(r, x), ElementsAre(10, 20, 20, 30, 30, 40, 40, 40));
  r.nearest = ResizeNearest::RoundPreferFloor;
  EXPECT_THAT(run(r, x), ElementsAre(10, 10, 20, 20, 30, 30, 40, 40));
  r.nearest = ResizeNearest::RoundPreferCeil;
  EXPECT_THAT(run(r, x), ElementsAre(10, 20, 20, 30, 30, 40, 40, 40));
  // Legacy (Upsample / Resize-10): floor when upsampling, ceil when downsampling.
  r = make(ResizeMode::Nearest, ResizeCoord::Asymmetric, {0.75f});
  r.nearest = ResizeNearest::Simple;
  EXPECT_THAT(run(r, x), ElementsAre(10, 30, 40));  // x / 0.75 = 0, 1.33, 2.67
  r.nearest = ResizeNearest::Floor;
  EXPECT_THAT(run(r, x), ElementsAre(10, 20, 30));
  // Any dtype: int64 nearest.
  r = make(ResizeMode::Nearest, ResizeCoord::HalfPixel, {2});
  EXPECT_THAT(vals<int64_t>(ref_n(r, {I64({2}, {-7, 9})}).at(0)), ElementsAre(-7, -7, 9, 9));
}

TEST(ResizeRef, TfCropAndResizeExtrapolates) {
  // x_ori = o * (1.2 - 0.4) * 3 / 2 + 0.4 * 3 = 1.2, 2.4, 3.6 (> 3: outside).
  auto r = make(ResizeMode::Linear, ResizeCoord::TfCropAndResize, {}, {3});
  r.roi = {0.4f, 1.2f};
  r.extrapolation_value = 10.f;
  EXPECT_THAT(run(r, F({4}, {1, 2, 3, 4})), Pointwise(FloatNear(1e-5f), std::vector<float>{2.2f, 3.4f, 10}));
  r.mode = ResizeMode::Nearest;
  EXPECT_THAT(run(r, F({4}, {1, 2, 3, 4})), ElementsAre(2, 3, 10));
}

TEST(ResizeInfer, ShapesAndErrors) {
  auto r = make(ResizeMode::Linear, ResizeCoord::HalfPixel, {1, 1, 1.5f, 0.5f});
  HostTensor x(DType::Float32, {2, 3, 5, 7});
  std::vector<HostTensor> in{x};
  EXPECT_EQ(infer_n(r, in, 1)[0].shape, (Dims{2, 3, 7, 3}));
  EXPECT_THAT(infer_err(make(ResizeMode::Linear, ResizeCoord::HalfPixel, {1, 2}), {x}),
              HasSubstr("scales has 2"));
  EXPECT_THAT(infer_err(make(ResizeMode::Linear, ResizeCoord::HalfPixel, {1, 1, 0, 1}), {x}), HasSubstr("> 0"));
  // Both as attributes: keep_aspect_ratio_policy's form (sizes give the shape, scales the coordinates).
  EXPECT_EQ(infer_n(make(ResizeMode::Linear, ResizeCoord::HalfPixel, {1, 1, 1, 1}, {2, 3, 4, 6}), in, 1)[0].shape,
            (Dims{2, 3, 4, 6}));
  EXPECT_THAT(infer_err(make(ResizeMode::Linear, ResizeCoord::HalfPixel, {}), {x}), HasSubstr("exactly one"));
  EXPECT_THAT(infer_err(make(ResizeMode::Cubic, ResizeCoord::HalfPixel, {2}), {I64({2}, {1, 2})}),
              HasSubstr("float32 or float64"));
  EXPECT_THAT(infer_err(make(ResizeMode::Linear, ResizeCoord::TfCropAndResize, {}, {2, 3, 5, 7}), {x}),
              HasSubstr("roi"));
  EXPECT_THAT(infer_err(make(ResizeMode::Nearest, ResizeCoord::HalfPixel, {1e30f, 1, 1, 1}), {x}),
              HasSubstr("would have"));

  // Parameters as inputs: unknown at compile time -> unknown dims; constants resolve.
  Resize p = make(ResizeMode::Nearest, ResizeCoord::HalfPixel, {});
  std::vector<HostTensor> dyn{x, absent(), absent(), I64({4}, {2, 3, 10, 14})};
  EXPECT_EQ(infer_n(p, dyn, 1)[0].shape, (Dims{-1, -1, -1, -1}));
  dyn[3].constant = true;
  EXPECT_EQ(infer_n(p, dyn, 1)[0].shape, (Dims{2, 3, 10, 14}));
  std::vector<HostTensor> sc{F({1, 1, 2, 2}, {1, 2, 3, 4}), absent(), F({4}, {1, 1, 2, 1}, true)};
  auto y = ref_n(p, sc);  // the reference reads the scales input
  EXPECT_EQ(y[0].shape, (Dims{1, 1, 4, 2}));
  EXPECT_THAT(vals<float>(y[0]), ElementsAre(1, 2, 1, 2, 3, 4, 3, 4));
}

struct KernelCase {
  ResizeMode mode;
  ResizeCoord coord;
  Dims x;
  std::vector<float> scales;
  std::vector<int64_t> sizes;
};

TEST(ResizeInhouse, MatchesReference) {
  const ResizeCoord coords[] = {ResizeCoord::HalfPixel, ResizeCoord::Asymmetric, ResizeCoord::PytorchHalfPixel,
                                ResizeCoord::AlignCorners, ResizeCoord::TfHalfPixelForNn};
  const std::vector<KernelCase> shapes = {
      {ResizeMode::Nearest, ResizeCoord::HalfPixel, {2, 3, 5, 7}, {1, 1, 2, 2}, {}},
      {ResizeMode::Nearest, ResizeCoord::HalfPixel, {1, 3, 9, 13}, {}, {1, 3, 4, 6}},
      {ResizeMode::Nearest, ResizeCoord::HalfPixel, {2, 3, 5, 7}, {1, 1, 1.7f, 0.6f}, {}},
      {ResizeMode::Nearest, ResizeCoord::HalfPixel, {3, 2, 17}, {}, {5, 2, 1}},  // leading axis resized too
      {ResizeMode::Nearest, ResizeCoord::HalfPixel, {1, 2, 3, 4, 5}, {1, 1, 2, 1.5f, 0.5f}, {}},
  };
  for (ResizeMode mode : {ResizeMode::Nearest, ResizeMode::Linear, ResizeMode::Cubic})
    for (ResizeCoord coord : coords)
      for (const KernelCase& c : shapes) {
        Resize r = make(mode, coord, c.scales, c.sizes);
        r.nearest = ResizeNearest::RoundPreferCeil;
        r.exclude_outside = mode == ResizeMode::Cubic && coord == ResizeCoord::HalfPixel;
        SCOPED_TRACE(std::to_string(static_cast<int>(mode)) + "/" + std::to_string(static_cast<int>(coord)) +
                     " " + shape_str(c.x));
        expect_kernel_n(r, "inhouse", {random_tensor(DType::Float32, c.x, 7, -2, 2)}, 1, 1e-4, 1e-5);
      }
  // tf_crop_and_resize with extrapolation on two axes, and nearest on int8 and float64.
  Resize crop = make(ResizeMode::Linear, ResizeCoord::TfCropAndResize, {}, {1, 2, 6, 5});
  crop.roi = {0, 0, -0.2f, 0.3f, 1, 1, 0.9f, 1.4f};
  crop.extrapolation_value = -3.f;
  expect_kernel_n(crop, "inhouse", {random_tensor(DType::Float32, {1, 2, 7, 8}, 3)}, 1);
  crop.mode = ResizeMode::Nearest;
  expect_kernel_n(crop, "inhouse", {random_tensor(DType::Int8, {1, 2, 7, 8}, 3, -100, 100)}, 1, 0, 0);
  Resize up = make(ResizeMode::Nearest, ResizeCoord::Asymmetric, {1, 1, 2, 2});
  up.nearest = ResizeNearest::Floor;
  expect_kernel_n(up, "inhouse", {random_tensor(DType::Float64, {1, 3, 4, 5}, 3)}, 1, 0, 0);
  // Identity resize: a plain copy.
  expect_kernel_n(make(ResizeMode::Cubic, ResizeCoord::HalfPixel, {1, 1, 1, 1}), "inhouse",
                  {random_tensor(DType::Float32, {1, 3, 4, 5}, 3)}, 1, 0, 0);
}

TEST(ResizeInhouse, DeclinesRunTimeParamsAndDoubleInterpolation) {
  std::vector<HostTensor> out;
  Resize r = make(ResizeMode::Nearest, ResizeCoord::HalfPixel, {});
  EXPECT_FALSE(kernel_n(r, "inhouse", {F({1, 2}, {1, 2}), absent(), absent(), I64({2}, {1, 4})}, 1, out));
  EXPECT_TRUE(kernel_n(r, "inhouse", {F({1, 2}, {1, 2}), absent(), absent(), I64({2}, {1, 4}, true)}, 1, out));
  EXPECT_THAT(vals<float>(out[0]), ElementsAre(1, 1, 2, 2));
  EXPECT_FALSE(
      kernel_n(make(ResizeMode::Linear, ResizeCoord::HalfPixel, {2}), "inhouse", {D({2}, {1, 2})}, 1, out));
}

// ---- importers ----

std::string import_error(const OnnxNodeModel& m) {
  try {
    m.import();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ResizeImport, Opsets) {
  // Resize-13 with constant scales: the parameter becomes an attribute, X the only input.
  auto g = OnnxNodeModel("Resize", {"x", "", "s"}, {"y"}, 13)
               .input("x", {1, 2, 3, 4})
               .init("s", F({4}, {1, 1, 2, 2}))
               .s("mode", "linear")
               .s("coordinate_transformation_mode", "align_corners")
               .import();
  auto* n = only_node(*g, "Resize");
  ASSERT_TRUE(n);
  auto* r = n->as<Resize>();
  EXPECT_EQ(r->mode, ResizeMode::Linear);
  EXPECT_EQ(r->coord, ResizeCoord::AlignCorners);
  EXPECT_THAT(r->scales, ElementsAre(1, 1, 2, 2));
  EXPECT_EQ(n->inputs.size(), 1u);
  EXPECT_EQ(n->outputs[0]->type.shape, (Dims{1, 2, 6, 8}));

  // Run-time scales stay an input; dims unknown.
  g = OnnxNodeModel("Resize", {"x", "", "s"}, {"y"}, 13).input("x", {1, 2, 3, 4}).input("s", {4}).import();
  n = only_node(*g, "Resize");
  ASSERT_TRUE(n);
  ASSERT_EQ(n->inputs.size(), 3u);
  EXPECT_EQ(n->inputs[1], nullptr);
  EXPECT_EQ(n->outputs[0]->type.shape, (Dims{-1, -1, -1, -1}));

  // Upsample-7 (attribute) and Resize-10: legacy coordinates.
  OnnxNodeModel up("Upsample", {"x"}, {"y"}, 7);
  up.input("x", {1, 1, 2, 2}).s("mode", "bilinear");
  auto* a = up.node.add_attribute();
  a->set_name("scales");
  a->set_type(onnx::AttributeProto::FLOATS);
  for (float f : {1.f, 1.f, 2.f, 3.f}) a->add_floats(f);
  g = up.import();
  n = only_node(*g, "Resize");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->as<Resize>()->mode, ResizeMode::Linear);
  EXPECT_EQ(n->outputs[0]->type.shape, (Dims{1, 1, 4, 6}));
  EXPECT_THAT(import_error(OnnxNodeModel("Upsample", {"x"}, {"y"}, 7).input("x", {1, 1, 2, 2})),
              HasSubstr("scales"));
  g = OnnxNodeModel("Resize", {"x", "s"}, {"y"}, 10)
          .input("x", {1, 1, 2, 2})
          .init("s", F({4}, {1, 1, 2, 2}))
          .import();
  r = only_node(*g, "Resize")->as<Resize>();
  EXPECT_EQ(r->coord, ResizeCoord::Asymmetric);
  EXPECT_EQ(r->nearest, ResizeNearest::Simple);

  EXPECT_THAT(import_error(OnnxNodeModel("Resize", {"x", "", "s"}, {"y"}, 13)
                               .input("x", {1, 1, 2, 2})
                               .init("s", F({4}, {1, 1, 2, 2}))
                               .s("mode", "area")),
              HasSubstr("mode 'area'"));
  EXPECT_THAT(import_error(OnnxNodeModel("Resize", {"x", "", "s"}, {"y"}, 13)
                               .input("x", {1, 1, 2, 2})
                               .init("s", F({4}, {1, 1, 2, 2}))
                               .s("coordinate_transformation_mode", "tf_crop_and_resize")),
              HasSubstr("roi"));
}

}  // namespace
}  // namespace kiln::test
