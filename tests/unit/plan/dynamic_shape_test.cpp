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

}  // namespace
}  // namespace kiln::test
