// assign-int8-dynamic (--int8Dynamic) on a transformer-style FFN block, x -> MatMul + bias -> Relu
// -> MatMul + bias -> + x: both MatMuls run on the dynamic int8 kernel with s8 weights, no
// calibration; the plan's output stays within int8's error of the float reference kernels (and
// is not bit-identical to it: int8 really ran); a layer pinned to fp32 stays float; without the
// flag nothing changes.
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
  size_t int8_layers = 0;
  double rel_l2 = 0;
};

Result compile_and_run(OnnxBuilder& b, const CompileOptions& o) {
  auto g = import_model(b);
  auto in = random_inputs(*g, 3);
  HostTensor want = evaluate(*g, in).at("y");
  auto e = Engine::load_memory(compile_onnx_file(b.save("ffn.onnx"), o).plan);
  Result r;
  for (auto& l : e->layers()) r.int8_layers += l.op == "MatMul" && dtype_quantized(l.precision);
  auto ctx = e->create_context();
  std::memcpy(ctx->input("x"), in.at("x").bytes.data(), in.at("x").bytes.size());
  ctx->run();
  r.rel_l2 = rel_l2(static_cast<const float*>(ctx->output(0)), want);
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
