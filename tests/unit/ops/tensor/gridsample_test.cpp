// GridSample: the reference kernel against the values onnx's gridsample.py documents, infer()
// errors, and the importer.
#include <gmock/gmock.h>
#include <onnx/onnx_pb.h>

#include <cmath>

#include "import/importer.h"
#include "ops/literal_test_util.h"
#include "ops/onnx_node_model.h"
#include "ops/tensor/gridsample.h"

namespace kiln::test {
namespace {

using namespace literal;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

using V = std::vector<float>;

std::vector<float> run1(const ops::Op& op, std::vector<HostTensor> in) {
  return vals<float>(ref_n(op, std::move(in)).at(0));
}

// ---- GridSample (values from onnx's gridsample.py) ----

ops::GridSample gs(ops::GridSampleMode m, ops::GridSamplePadding p, bool align = false) {
  ops::GridSample g;
  g.mode = m;
  g.padding = p;
  g.align_corners = align;
  return g;
}

HostTensor x32() { return F({1, 1, 3, 2}, {0, 1, 2, 3, 4, 5}); }
HostTensor grid_a() {
  return F({1, 2, 4, 2}, {-1, -1, -0.5f, -0.5f, -0.2f, -0.2f, 0, 0, 0, 0, -0.2f, -0.2f, 0.5f, 0.5f, 1, 1});
}
HostTensor grid_p() {
  return F({1, 2, 4, 2}, {-10, -10, -5, -5, -0.2f, -0.2f, 10, 10, 10, 10, -0.2f, -0.2f, 5, 5, 10, 10});
}

TEST(GridSampleRef, OnnxDocumentedModes) {
  using M = ops::GridSampleMode;
  using P = ops::GridSamplePadding;
  EXPECT_THAT(run1(gs(M::Bilinear, P::Zeros), {x32(), grid_a()}),
              Pointwise(FloatNear(1e-4f), V{0, 0.5f, 1.7f, 2.5f, 2.5f, 1.7f, 4.5f, 1.25f}));
  EXPECT_THAT(run1(gs(M::Bilinear, P::Zeros, true), {x32(), grid_a()}),
              Pointwise(FloatNear(1e-4f), V{0, 1.25f, 2, 2.5f, 2.5f, 2, 3.75f, 5}));
  EXPECT_THAT(run1(gs(M::Nearest, P::Zeros), {x32(), grid_a()}),
              Pointwise(FloatNear(0), V{0, 0, 2, 2, 2, 2, 5, 0}));
  EXPECT_THAT(run1(gs(M::Bicubic, P::Zeros), {x32(), grid_a()}),
              Pointwise(FloatNear(1e-4f),
                        V{-0.1406f, 0.3828f, 1.7556f, 2.9688f, 2.9688f, 1.7556f, 5.1445f, 1.3906f}));
}

TEST(GridSampleRef, OnnxDocumentedPadding) {
  using M = ops::GridSampleMode;
  using P = ops::GridSamplePadding;
  EXPECT_THAT(run1(gs(M::Bilinear, P::Zeros), {x32(), grid_p()}),
              Pointwise(FloatNear(1e-4f), V{0, 0, 1.7f, 0, 0, 1.7f, 0, 0}));
  EXPECT_THAT(run1(gs(M::Bilinear, P::Border), {x32(), grid_p()}),
              Pointwise(FloatNear(1e-4f), V{0, 0, 1.7f, 5, 5, 1.7f, 5, 5}));
  EXPECT_THAT(run1(gs(M::Bilinear, P::Reflection), {x32(), grid_p()}),
              Pointwise(FloatNear(1e-4f), V{2.5f, 0, 1.7f, 2.5f, 2.5f, 1.7f, 5, 2.5f}));
}

TEST(GridSampleRef, IdentityGridAndHostileValues) {
  // With align_corners, the grid of pixel centres reproduces the image in every mode.
  HostTensor x = random_tensor(DType::Float32, {2, 3, 4, 5}, 11);
  HostTensor g(DType::Float32, {2, 4, 5, 2});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 5; ++j) {
        g.as<float>()[((b * 4 + i) * 5 + j) * 2] = -1.f + 2.f * float(j) / 4.f;
        g.as<float>()[((b * 4 + i) * 5 + j) * 2 + 1] = -1.f + 2.f * float(i) / 3.f;
      }
  for (auto m : {ops::GridSampleMode::Bilinear, ops::GridSampleMode::Nearest, ops::GridSampleMode::Bicubic})
    for (auto p :
         {ops::GridSamplePadding::Zeros, ops::GridSamplePadding::Border, ops::GridSamplePadding::Reflection})
      EXPECT_THAT(run1(gs(m, p, true), {x, g}), Pointwise(FloatNear(1e-5f), vals<float>(x)));
  // Infinite, NaN and huge coordinates must not crash; off-image zeros padding reads 0.
  HostTensor bad = F({1, 1, 3, 2}, {INFINITY, 0, -INFINITY, 1e30f, NAN, 0});
  for (auto m : {ops::GridSampleMode::Bilinear, ops::GridSampleMode::Nearest, ops::GridSampleMode::Bicubic})
    for (auto p : {ops::GridSamplePadding::Zeros, ops::GridSamplePadding::Border,
                   ops::GridSamplePadding::Reflection}) {
      auto y = run1(gs(m, p), {x32(), bad});
      ASSERT_EQ(y.size(), 3u);
      if (p == ops::GridSamplePadding::Zeros) {
        EXPECT_EQ(y[0], 0.f);
      }
    }
}

TEST(GridSampleInfer, ShapesAndErrors) {
  using M = ops::GridSampleMode;
  using P = ops::GridSamplePadding;
  auto g = gs(M::Bilinear, P::Zeros);
  std::vector<HostTensor> in{F({2, 3, 4, 5}, std::vector<float>(120)),
                             F({2, 6, 7, 2}, std::vector<float>(168))};
  EXPECT_EQ(infer_n(g, in, 1)[0].shape, (Dims{2, 3, 6, 7}));
  EXPECT_THAT(infer_err(g, {in[0], F({1, 6, 7, 2}, std::vector<float>(84))}), HasSubstr("batch size"));
  EXPECT_THAT(infer_err(g, {in[0], F({2, 6, 7, 3}, std::vector<float>(252))}), HasSubstr("grid must be"));
  EXPECT_THAT(infer_err(g, {F({3, 4, 5}, std::vector<float>(60)), in[1]}), HasSubstr("4-D"));
  EXPECT_THAT(infer_err(g, {I64({1, 1, 1, 1}, {1}), F({1, 1, 1, 2}, {0, 0})}), HasSubstr("float"));
  auto bad = g;
  bad.mode = static_cast<M>(7);
  EXPECT_THAT(infer_err(bad, in), HasSubstr("unknown mode"));
}

// ---- importer ----

TEST(GridSampleImport, ModesAndErrors) {
  OnnxTypedNodeModel gsm("GridSample", {"x", "grid"}, 16);
  gsm.input("x", onnx::TensorProto::FLOAT, {1, 2, 3, 4});
  gsm.input("grid", onnx::TensorProto::FLOAT, {1, 5, 6, 2});
  gsm.attr_s("mode", "bicubic");
  gsm.attr_s("padding_mode", "reflection");
  gsm.attr_i("align_corners", 1);
  auto g = gsm.import();
  EXPECT_EQ(gsm.out_type(*g).shape, (Dims{1, 2, 5, 6}));
  auto* op = g->nodes().at(0)->as<ops::GridSample>();
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(op->mode, ops::GridSampleMode::Bicubic);
  EXPECT_EQ(op->padding, ops::GridSamplePadding::Reflection);
  EXPECT_TRUE(op->align_corners);

  OnnxTypedNodeModel bad("GridSample", {"x", "grid"}, 16);
  bad.input("x", onnx::TensorProto::FLOAT, {1, 2, 3, 4});
  bad.input("grid", onnx::TensorProto::FLOAT, {1, 5, 6, 2});
  bad.attr_s("mode", "area");
  try {
    bad.import();
    ADD_FAILURE() << "mode 'area' was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown mode 'area'"));
  }
}

}  // namespace
}  // namespace kiln::test
