// Shapes that depend on input values (a Reshape whose target is a graph input) are inferred and
// allocated on every run, through the same compile -> plan -> load -> run path.
#include <cstring>

#include <gtest/gtest.h>

#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"
#include "onnx_builder_util.h"

namespace kiln::test {
namespace {

std::shared_ptr<const Engine> reshape_engine() {
  OnnxBuilder b;
  b.input("x", {2, 6});
  b.input("shape", {2}, onnx::TensorProto::INT64);
  b.node("Reshape", {"x", "shape"}, {"r"});
  b.node("Relu", {"r"}, {"y"});
  b.output("y", {-1, -1});
  return Engine::load_memory(compile_onnx_file(b.save("dynamic_reshape.onnx"), {}).plan);
}

void run_with(ExecutionContext& ctx, std::vector<int64_t> shape) {
  float x[12];
  for (int i = 0; i < 12; ++i) x[i] = static_cast<float>(i - 6);
  std::memcpy(ctx.input("x"), x, sizeof x);
  std::memcpy(ctx.input("shape"), shape.data(), 2 * sizeof(int64_t));
  ctx.run();
}

TEST(DynamicShape, ReshapeTargetFromAnInput) {
  auto e = reshape_engine();
  EXPECT_EQ(e->outputs()[0].shape, (std::vector<int64_t>{-1, -1}));
  auto ctx = e->create_context();
  run_with(*ctx, {3, 4});
  EXPECT_EQ(ctx->output_shape(0), (std::vector<int64_t>{3, 4}));
  const float* y = static_cast<const float*>(ctx->output(0));
  EXPECT_EQ(y[0], 0.f);
  EXPECT_EQ(y[11], 5.f);
  run_with(*ctx, {-1, 2});
  EXPECT_EQ(ctx->output_shape(0), (std::vector<int64_t>{6, 2}));
  EXPECT_EQ(static_cast<const float*>(ctx->output(0))[10], 4.f);
}

TEST(DynamicShape, BadValuesAreCleanErrors) {
  auto e = reshape_engine();
  auto ctx = e->create_context();
  for (std::vector<int64_t> bad : {std::vector<int64_t>{5, 5}, {-1, -1}, {1ll << 40, 1ll << 40}, {-7, 2}}) {
    try {
      run_with(*ctx, bad);
      ADD_FAILURE() << "shape " << bad[0] << "x" << bad[1] << " was accepted";
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find("Reshape"), std::string::npos) << err.what();
    }
  }
  run_with(*ctx, {12, 1});  // the context still works afterwards
  EXPECT_EQ(ctx->output_shape(0), (std::vector<int64_t>{12, 1}));
}

// Layers after a value-dependent Reshape get their fast kernel for each run's shapes (created on
// first use, cached per context); results must match the arithmetic whichever kernel runs.
TEST(DynamicShape, LayersAfterAValueDependentShapeComputeCorrectly) {
  OnnxBuilder b;
  b.input("x", {4, 6});
  b.input("shape", {2}, onnx::TensorProto::INT64);
  std::vector<float> w(3 * 5);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(static_cast<int>(i % 7) - 3) * 0.5f;
  b.init("w", {3, 5}, w);
  b.node("Reshape", {"x", "shape"}, {"r"});
  b.node("MatMul", {"r", "w"}, {"m"});
  b.node("Relu", {"m"}, {"y"});
  b.output("y", {-1, 5});
  auto e = Engine::load_memory(compile_onnx_file(b.save("dynamic_matmul.onnx"), {}).plan);
  auto ctx = e->create_context();
  for (int round = 0; round < 3; ++round) {
    float x[24];
    for (int i = 0; i < 24; ++i) x[i] = static_cast<float>((i * 5 + round) % 11) - 5.f;
    std::memcpy(ctx->input("x"), x, sizeof x);
    const int64_t shape[2] = {round == 1 ? 8 : -1, 3};
    std::memcpy(ctx->input("shape"), shape, sizeof shape);
    ctx->run();
    ASSERT_EQ(ctx->output_shape(0), (std::vector<int64_t>{8, 5}));
    const float* y = static_cast<const float*>(ctx->output(0));
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < 5; ++c) {
        float want = 0;
        for (int k = 0; k < 3; ++k) want += x[r * 3 + k] * w[static_cast<size_t>(k * 5 + c)];
        ASSERT_NEAR(y[r * 5 + c], std::max(0.f, want), 1e-5f) << "round " << round << " at " << r << "," << c;
      }
  }
}

}  // namespace
}  // namespace kiln::test
