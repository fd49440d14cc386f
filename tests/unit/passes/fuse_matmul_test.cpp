// fuse-post-ops on matrix products: MatMul/Gemm + constant bias Add (+ residual Add) (+ activation)
// becomes one node with a bias input and post-ops, with the same values; a transformer block as
// torch exports it (decomposed LayerNorm, Linear, erf GELU, Linear, residual) goes through the
// whole pipeline to LayerNormalization + two MatMuls, and through the plan and oneDNN kernels
// to the same numbers as the unoptimised graph.
#include <cstring>

#include "fuse_test_util.h"
#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"
#include "ops/math/gemm.h"

namespace kiln::test {
namespace {

std::vector<ops::Act> post_acts(const ops::PostOps& p) {
  std::vector<ops::Act> v;
  for (auto& op : p.ops) v.push_back(op.kind == ops::PostOp::Kind::Sum ? ops::Act::Identity : op.act);
  return v;
}

TEST(FuseMatMul, BiasAndActivation) {
  OnnxBuilder b(13);
  b.input("x", {2, 4, 16});
  b.init_random("w", {16, 8}, 1);
  b.init_random("bias", {8}, 2);
  b.node("MatMul", {"x", "w"}, {"mm"});
  b.node("Add", {"bias", "mm"}, {"biased"});  // torch's Linear puts the bias first
  b.node("Relu", {"biased"}, {"y"});
  b.output("y", {2, 4, 8});
  auto g = import_model(b);
  EXPECT_TRUE(run_and_compare(*g, passes::fuse_post_ops));
  ASSERT_EQ(g->nodes().size(), 1u) << ir::dump(*g);
  const ir::Node& n = *g->nodes()[0];
  auto* mm = n.as<ops::MatMul>();
  ASSERT_NE(mm, nullptr);
  ASSERT_EQ(n.inputs.size(), 3u);
  EXPECT_EQ(n.inputs[2]->name, "bias");
  EXPECT_EQ(post_acts(mm->post), std::vector<ops::Act>{ops::Act::Relu});
  EXPECT_EQ(g->outputs[0].value->producer, &n);
}

TEST(FuseMatMul, BroadcastBiasAndResidual) {
  OnnxBuilder b(13);
  b.input("x", {3, 16});
  b.input("res", {3, 8});
  b.init_random("w", {16, 8}, 1);
  b.init_random("bias", {1, 8}, 2);
  b.node("MatMul", {"x", "w"}, {"mm"});
  b.node("Add", {"mm", "bias"}, {"biased"});
  b.node("Add", {"res", "biased"}, {"sum"});
  b.node("Tanh", {"sum"}, {"y"});
  b.output("y", {3, 8});
  auto g = import_model(b);
  EXPECT_TRUE(run_and_compare(*g, passes::fuse_post_ops));
  ASSERT_EQ(g->nodes().size(), 1u) << ir::dump(*g);
  const ir::Node& n = *g->nodes()[0];
  auto* mm = n.as<ops::MatMul>();
  ASSERT_NE(mm, nullptr);
  ASSERT_EQ(n.inputs.size(), 4u);
  EXPECT_EQ(n.inputs[2]->type.shape, (Dims{8}));  // [1, 8] reshaped to MatMul's 1-D bias
  EXPECT_EQ(n.inputs[3]->name, "res");
  EXPECT_EQ(post_acts(mm->post), (std::vector<ops::Act>{ops::Act::Identity, ops::Act::Tanh}));
}

TEST(FuseMatMul, GemmBiasAndActivation) {
  OnnxBuilder b(13);
  b.input("x", {5, 16});
  b.init_random("w", {8, 16}, 1);
  b.init_random("bias", {8}, 2);
  auto& gemm = b.node("Gemm", {"x", "w"}, {"mm"});
  OnnxBuilder::attr(gemm, "transB", int64_t{1});
  OnnxBuilder::attr(gemm, "alpha", 0.5f);
  b.node("Add", {"mm", "bias"}, {"biased"});
  b.node("Sigmoid", {"biased"}, {"y"});
  b.output("y", {5, 8});
  auto g = import_model(b);
  EXPECT_TRUE(run_and_compare(*g, passes::fuse_post_ops));
  ASSERT_EQ(g->nodes().size(), 1u) << ir::dump(*g);
  const ir::Node& n = *g->nodes()[0];
  auto* gm = n.as<ops::Gemm>();
  ASSERT_NE(gm, nullptr);
  ASSERT_EQ(n.inputs.size(), 3u);
  EXPECT_EQ(gm->beta, 1.f);
  EXPECT_EQ(post_acts(gm->post), std::vector<ops::Act>{ops::Act::Sigmoid});
}

TEST(FuseMatMul, NonBiasAddsStayOutside) {
  struct Case { const char* what; Dims x, c; bool const_c, mm_is_output; };
  const std::vector<Case> cases{
      {"per-row constant", {4, 16}, {4, 1}, true, false},
      {"add broadcasts the product up", {4, 16}, {2, 4, 8}, true, false},
      {"runtime bias-shaped operand", {4, 16}, {8}, false, false},
      {"product is also a graph output", {4, 16}, {8}, true, true}};
  for (auto& c : cases) {
    SCOPED_TRACE(c.what);
    OnnxBuilder b(13);
    b.input("x", c.x);
    b.init_random("w", {16, 8}, 1);
    if (c.const_c) b.init_random("c", c.c, 2);
    else b.input("c", c.c);
    b.node("MatMul", {"x", "w"}, {"mm"});
    b.node("Add", {"mm", "c"}, {"y"});
    Dims y = c.c.size() > 2 ? Dims{2, 4, 8} : Dims{4, 8};
    b.output("y", y);
    if (c.mm_is_output) b.output("mm", {4, 8});
    auto g = import_model(b);
    EXPECT_FALSE(run_and_compare(*g, passes::fuse_post_ops));
    EXPECT_EQ(g->nodes().size(), 2u);
  }
}

// A BERT feed-forward block as torch 1.13 exports it at opset 13.
OnnxBuilder ffn_block() {
  OnnxBuilder b(13);
  b.input("x", {2, 5, 16});
  b.init_random("ln.weight", {16}, 1);
  b.init_random("ln.bias", {16}, 2);
  b.init_random("fc1.w", {16, 32}, 3);
  b.init_random("fc1.b", {32}, 4);
  b.init_random("fc2.w", {32, 16}, 5);
  b.init_random("fc2.b", {16}, 6);
  b.init("two", {}, {2.f});
  b.init("eps", {}, {1e-12f});
  b.init("root2", {}, {1.4142135381698608f});
  b.init("one", {}, {1.f});
  b.init("half", {}, {0.5f});
  OnnxBuilder::attr(b.node("ReduceMean", {"x"}, {"mean"}), "axes", std::vector<int64_t>{-1});
  b.node("Sub", {"x", "mean"}, {"d"});
  b.node("Pow", {"d", "two"}, {"sq"});
  OnnxBuilder::attr(b.node("ReduceMean", {"sq"}, {"var"}), "axes", std::vector<int64_t>{-1});
  b.node("Add", {"var", "eps"}, {"ve"});
  b.node("Sqrt", {"ve"}, {"std"});
  b.node("Div", {"d", "std"}, {"n"});
  b.node("Mul", {"n", "ln.weight"}, {"ns"});
  b.node("Add", {"ns", "ln.bias"}, {"ln"});
  b.node("MatMul", {"ln", "fc1.w"}, {"h0"});
  b.node("Add", {"fc1.b", "h0"}, {"h"});
  b.node("Div", {"h", "root2"}, {"hs"});
  b.node("Erf", {"hs"}, {"e"});
  b.node("Add", {"e", "one"}, {"a"});
  b.node("Mul", {"h", "a"}, {"m"});
  b.node("Mul", {"m", "half"}, {"gelu"});
  b.node("MatMul", {"gelu", "fc2.w"}, {"o0"});
  b.node("Add", {"fc2.b", "o0"}, {"o"});
  b.node("Add", {"o", "ln"}, {"y"});
  b.output("y", {2, 5, 16});
  return b;
}

TEST(FuseMatMul, TransformerFeedForwardThroughThePipeline) {
  OnnxBuilder b = ffn_block();
  auto g = import_model(b);
  auto in = random_inputs(*g, 3);
  auto want = evaluate(*g, in);
  passes::run_pipeline(*g, {});
  EXPECT_EQ(count_type(*g, "LayerNormalization"), 1u);
  EXPECT_EQ(count_type(*g, "MatMul"), 2u);
  EXPECT_EQ(g->nodes().size(), 3u) << ir::dump(*g);
  std::vector<std::vector<ops::Act>> posts;
  for (auto& n : g->nodes())
    if (auto* mm = n->as<ops::MatMul>()) {
      EXPECT_EQ(n->inputs.size(), mm->post.sum_count() + 3u);  // the bias is always fused
      posts.push_back(post_acts(mm->post));
    }
  EXPECT_EQ(posts, (std::vector<std::vector<ops::Act>>{{ops::Act::Gelu}, {ops::Act::Identity}}));
  auto got = evaluate(*g, in);
  EXPECT_TRUE(all_close(got.at("y"), want.at("y"), 1e-4, 1e-5));

  // Through the plan: the fused graph on the oneDNN kernels gives the unoptimised values.
  auto e = Engine::load_memory(compile_onnx_file(b.save("ffn_block.onnx"), {}).plan);
  EXPECT_EQ(e->layers().size(), 3u);
  auto ctx = e->create_context();
  const HostTensor& x = in.at("x");
  std::memcpy(ctx->input("x"), x.bytes.data(), x.bytes.size());
  ctx->run();
  HostTensor y(DType::Float32, {2, 5, 16});
  std::memcpy(y.bytes.data(), ctx->output(0), y.bytes.size());
  EXPECT_TRUE(all_close(y, want.at("y"), 1e-4, 1e-4));
}

}  // namespace
}  // namespace kiln::test
