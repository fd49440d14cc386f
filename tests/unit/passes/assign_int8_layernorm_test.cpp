// assign-int8 and LayerNormalization: where an int8 MatMul reads a LayerNorm's output, the
// LayerNorm writes the quantized tensor itself (kernels/nn/layernorm_quant.cpp) instead of a
// quantizing Reorder reading its float output back. Post-norm (BERT: the output also feeds a float
// residual Add) keeps float Y and adds the quantized copy; pre-norm (only int8 layers read it)
// writes the quantized tensor alone. Either way the plan stays within int8's error of the float
// reference kernels.
#include <cmath>
#include <cstring>

#include "fuse_test_util.h"
#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"

namespace kiln::test {
namespace {

// x -> LayerNorm -> y -> MatMul -> + (post-norm: y, pre-norm: x) -> out.
OnnxBuilder block(bool post_norm) {
  OnnxBuilder b(17);
  b.input("x", {1, 16, 64});
  b.init_random("g", {64}, 1);
  b.init_random("beta", {64}, 2);
  b.init_random("w", {64, 64}, 3);
  b.node("LayerNormalization", {"x", "g", "beta"}, {"y"}, "ln");
  b.node("MatMul", {"y", "w"}, {"m"}, "proj");
  b.node("Add", {"m", post_norm ? "y" : "x"}, {"out"});
  b.output("out", {1, 16, 64});
  return b;
}

struct Built {
  std::vector<LayerInfo> layers;
  double rel_l2 = 0;
};

Built build(OnnxBuilder& b) {
  auto g = import_model(b);
  auto in = random_inputs(*g, 3);
  HostTensor want = evaluate(*g, in).at("out");
  CompileOptions o;
  o.precision.int8 = true;
  o.calib_dir = "random";
  auto e = Engine::load_memory(compile_onnx_file(b.save("ln_int8.onnx"), o).plan);
  Built r{e->layers(), 0};
  auto ctx = e->create_context();
  std::memcpy(ctx->input("x"), in.at("x").bytes.data(), in.at("x").bytes.size());
  ctx->run();
  r.rel_l2 = rel_l2(static_cast<const float*>(ctx->output(0)), want);
  return r;
}

const LayerInfo* layer(const Built& b, const std::string& op) {
  for (auto& l : b.layers)
    if (l.op == op) return &l;
  return nullptr;
}

TEST(AssignInt8LayerNorm, PostNormWritesFloatAndItsQuantizedCopy) {
  OnnxBuilder m = block(true);
  const Built b = build(m);
  const LayerInfo* ln = layer(b, "LayerNormalization");
  ASSERT_NE(ln, nullptr);
  EXPECT_EQ(ln->kernel, "inhouse");
  EXPECT_EQ(ln->output_dtype, DType::Float32);  // the residual Add reads Y in float
  ASSERT_EQ(ln->quantized.size(), 1u);
  EXPECT_TRUE(ln->quantized[0].output);
  EXPECT_TRUE(dtype_quantized(ln->quantized[0].dtype));
  EXPECT_EQ(layer(b, "Reorder"), nullptr) << "a quantizing Reorder is still there";
  const LayerInfo* mm = layer(b, "MatMul");
  ASSERT_NE(mm, nullptr);
  EXPECT_TRUE(dtype_quantized(mm->precision));
  EXPECT_LT(b.rel_l2, 0.05);
}

TEST(AssignInt8LayerNorm, PreNormWritesOnlyTheQuantizedTensor) {
  OnnxBuilder m = block(false);
  const Built b = build(m);
  const LayerInfo* ln = layer(b, "LayerNormalization");
  ASSERT_NE(ln, nullptr);
  EXPECT_EQ(ln->kernel, "inhouse");
  EXPECT_TRUE(dtype_quantized(ln->output_dtype));
  // Only the graph input's quantizing Reorder is left (x also feeds the float residual).
  for (auto& l : b.layers)
    if (l.op == "Reorder") EXPECT_EQ(l.name.rfind("x/", 0), 0u) << l.name;
  EXPECT_LT(b.rel_l2, 0.05);
}

}  // namespace
}  // namespace kiln::test
