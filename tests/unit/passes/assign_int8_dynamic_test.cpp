// assign-int8-dynamic (--int8Dynamic) on a transformer-style FFN block, x -> MatMul + bias -> Relu
// -> MatMul + bias -> + x: both MatMuls run on the dynamic int8 kernel with s8 weights, no
// calibration; the plan's output stays within int8's error of the float reference kernels (and
// is not bit-identical to it: int8 really ran); a layer pinned to fp32 stays float; without the
// flag nothing changes; with a scale per row, rows of very different sizes each keep their accuracy.
#include <cmath>
#include <cstring>

#include "fuse_test_util.h"
#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"

namespace kiln::test {
namespace {

OnnxBuilder ffn() {
  OnnxBuilder b(13);
  b.input("x", {1, 16, 64});
  b.init_random("w1", {64, 128}, 1);
  b.init_random("b1", {128}, 2);
  b.init_random("w2", {128, 64}, 3);
  b.init_random("b2", {64}, 4);
  b.node("MatMul", {"x", "w1"}, {"h0"}, "ffn_in");
  b.node("Add", {"h0", "b1"}, {"h1"});
  b.node("Relu", {"h1"}, {"h"});
  b.node("MatMul", {"h", "w2"}, {"o0"}, "ffn_out");
  b.node("Add", {"o0", "b2"}, {"o1"});
  b.node("Add", {"o1", "x"}, {"y"});
  b.output("y", {1, 16, 64});
  return b;
}

struct Result {
  size_t int8_layers = 0, per_row_layers = 0;
  double rel_l2 = 0;
  double worst_row_rel_l2 = 0;  // over the 16 rows (tokens) of y
};

// row_growth > 1 scales token t of x by row_growth^t: a few large tokens beside small ones.
Result compile_and_run(OnnxBuilder& b, const CompileOptions& o, float row_growth = 1.f) {
  auto g = import_model(b);
  auto in = random_inputs(*g, 3);
  float* x = in.at("x").as<float>();
  for (int t = 0; t < 16; ++t)
    for (int k = 0; k < 64; ++k) x[t * 64 + k] *= std::pow(row_growth, float(t));
  HostTensor want = evaluate(*g, in).at("y");
  auto e = Engine::load_memory(compile_onnx_file(b.save("ffn.onnx"), o).plan);
  Result r;
  for (auto& l : e->layers()) {
    r.int8_layers += l.op == "MatMul" && dtype_quantized(l.precision);
    r.per_row_layers += l.op == "MatMul" && l.tactic.find("per row") != std::string::npos;
  }
  auto ctx = e->create_context();
  std::memcpy(ctx->input("x"), in.at("x").bytes.data(), in.at("x").bytes.size());
  ctx->run();
  const auto* y = static_cast<const float*>(ctx->output(0));
  r.rel_l2 = rel_l2(y, want);
  for (int t = 0; t < 16; ++t) {
    double d = 0, n = 0;
    for (int k = 0; k < 64; ++k) {
      const double w = want.as<float>()[t * 64 + k];
      d += (y[t * 64 + k] - w) * (y[t * 64 + k] - w);
      n += w * w;
    }
    r.worst_row_rel_l2 = std::max(r.worst_row_rel_l2, std::sqrt(d / n));
  }
  return r;
}

TEST(AssignInt8Dynamic, FfnMatMulsRunInInt8WithoutCalibration) {
  OnnxBuilder b = ffn();
  CompileOptions o;
  o.precision.int8_dynamic = true;
  const Result r = compile_and_run(b, o);
  EXPECT_EQ(r.int8_layers, 2u);
  // Each source is quantized to 256 levels over its range: about 1% error here, not 0.
  EXPECT_LT(r.rel_l2, 0.03);
  EXPECT_GT(r.rel_l2, 1e-5) << "bit-identical to the float reference: nothing ran in int8";
}

// Tokens growing 1.6x each (1 to 1150): one scale per tensor leaves the small tokens a few levels
// (their FFN output is mostly lost); one per row keeps every token within int8's error.
TEST(AssignInt8Dynamic, ScalePerRowKeepsSmallTokensAccurate) {
  OnnxBuilder b = ffn();
  CompileOptions o;
  o.precision.int8_dynamic = true;
  const Result row = compile_and_run(b, o, 1.6f);  // the default
  o.precision.int8_dynamic_scales = "tensor";
  const Result tensor = compile_and_run(b, o, 1.6f);
  EXPECT_EQ(tensor.per_row_layers, 0u);
  EXPECT_EQ(row.int8_layers, 2u);
  EXPECT_EQ(row.per_row_layers, 2u);
  EXPECT_LT(row.worst_row_rel_l2, 0.03);
  EXPECT_GT(row.worst_row_rel_l2, 1e-5) << "bit-identical to the float reference: nothing ran in int8";
  EXPECT_GT(tensor.worst_row_rel_l2, 5 * row.worst_row_rel_l2) << "per tensor should lose the small tokens";
}

TEST(AssignInt8Dynamic, PinnedLayerStaysFloat) {
  OnnxBuilder b = ffn();
  CompileOptions o;
  o.precision.int8_dynamic = true;
  o.precision.layer_precisions = {{"ffn_out", "fp32"}};
  const Result r = compile_and_run(b, o);
  EXPECT_EQ(r.int8_layers, 1u);
  EXPECT_LT(r.rel_l2, 0.03);
}

TEST(AssignInt8Dynamic, WithoutTheFlagNothingIsInt8) {
  OnnxBuilder b = ffn();
  const Result r = compile_and_run(b, {});
  EXPECT_EQ(r.int8_layers, 0u);
  EXPECT_LT(r.rel_l2, 1e-4);
}

}  // namespace
}  // namespace kiln::test
