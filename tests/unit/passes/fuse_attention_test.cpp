// fuse-attention: torch's spelling of scaled dot-product attention (head-split Transposes, K^T,
// scale, mask Add, Softmax, @ V) becomes MatMul[alpha, perms, +mask] -> Softmax -> MatMul[perm]
// with the same values (reference kernels before/after), and through the plan on the oneDNN
// kernels; variants that must be left alone are.
#include <cmath>
#include <cstring>

#include "fuse_test_util.h"
#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"
#include "ops/math/gemm.h"

namespace kiln::test {
namespace {

constexpr int64_t kSeq = 6, kHeads = 2, kDim = 8, kHidden = kHeads * kDim;

struct Options {
  bool mask = true;
  bool scale_on_q = false;     // timm: (q * scale) @ k^T instead of (q @ k^T) / sqrt(d)
  bool div_on_q = false;       // torch MultiheadAttention: (q / sqrt(d)) @ k^T
  bool vector_scale = false;   // a per-key scale: not a scalar, must stay outside
  bool scores_output = false;  // the raw scores are also a graph output
};

// One attention block as torch 1.13 exports it from q/k/v Linear layers.
OnnxBuilder attention(const Options& o) {
  OnnxBuilder b(13);
  b.input("x", {1, kSeq, kHidden});
  if (o.mask) b.input("mask", {1, 1, 1, kSeq});
  b.init_i64("heads_shape", {4}, {1, kSeq, kHeads, kDim});
  b.init_i64("merged_shape", {3}, {1, kSeq, kHidden});
  for (const char* p : {"q", "k", "v"}) {
    std::string n = p;
    b.init_random(n + ".w", {kHidden, kHidden}, static_cast<uint32_t>(n[0]));
    b.node("MatMul", {"x", n + ".w"}, {n + "_lin"});
    b.node("Reshape", {n + "_lin", "heads_shape"}, {n + "_heads"});
  }
  OnnxBuilder::attr(b.node("Transpose", {"q_heads"}, {"q"}), "perm", std::vector<int64_t>{0, 2, 1, 3});
  OnnxBuilder::attr(b.node("Transpose", {"k_heads"}, {"kt"}), "perm", std::vector<int64_t>{0, 2, 3, 1});
  OnnxBuilder::attr(b.node("Transpose", {"v_heads"}, {"v"}), "perm", std::vector<int64_t>{0, 2, 1, 3});
  std::string q = "q";
  if (o.scale_on_q || o.div_on_q) {
    b.init("qscale", {}, {0.35f});
    b.node(o.div_on_q ? "Div" : "Mul", {"q", "qscale"}, {"qs"});
    q = "qs";
  }
  b.node("MatMul", {q, "kt"}, {"scores"});
  std::string s = "scores";
  if (!o.scale_on_q && !o.div_on_q) {
    if (o.vector_scale) b.init("sqrt_d", {kSeq}, {2, 3, 4, 5, 6, 7});
    else b.init("sqrt_d", {}, {std::sqrt(float(kDim))});
    b.node("Div", {"scores", "sqrt_d"}, {"scaled"});
    s = "scaled";
  }
  if (o.mask) {
    b.node("Add", {s, "mask"}, {"masked"});
    s = "masked";
  }
  OnnxBuilder::attr(b.node("Softmax", {s}, {"probs"}), "axis", int64_t{-1});
  b.node("MatMul", {"probs", "v"}, {"ctx"});
  OnnxBuilder::attr(b.node("Transpose", {"ctx"}, {"ctx_t"}), "perm", std::vector<int64_t>{0, 2, 1, 3});
  b.node("Reshape", {"ctx_t", "merged_shape"}, {"y"});
  b.output("y", {1, kSeq, kHidden});
  if (o.scores_output) b.output("scores", {1, kHeads, kSeq, kSeq});
  return b;
}

// The scores MatMul: the one whose output feeds the Softmax.
const ops::MatMul* scores_matmul(const ir::Graph& g, const ir::Node** node = nullptr) {
  auto uses = g.uses();
  for (auto& n : g.nodes())
    if (auto* mm = n->as<ops::MatMul>())
      for (ir::Node* u : uses[n->outputs[0]])
        if (u->type() == "Softmax") {
          if (node) *node = n.get();
          return mm;
        }
  return nullptr;
}

TEST(FuseAttention, BertSpelling) {
  OnnxBuilder b = attention({});
  auto g = import_model(b);
  EXPECT_TRUE(run_and_compare(*g, passes::fuse_attention));
  passes::dead_code(*g);
  g->compact();
  EXPECT_EQ(count_type(*g, "Binary"), 0u) << ir::dump(*g);  // Div and the mask Add are folded
  EXPECT_EQ(count_type(*g, "Transpose"), 0u) << ir::dump(*g);
  const ir::Node* n = nullptr;
  const ops::MatMul* mm = scores_matmul(*g, &n);
  ASSERT_NE(mm, nullptr) << ir::dump(*g);
  EXPECT_FLOAT_EQ(mm->alpha, 1.f / std::sqrt(float(kDim)));
  EXPECT_EQ(mm->perm_a, (std::vector<int64_t>{0, 2, 1, 3}));
  EXPECT_EQ(mm->perm_b, (std::vector<int64_t>{0, 2, 3, 1}));
  ASSERT_EQ(n->inputs.size(), 4u);
  EXPECT_EQ(n->inputs[2], nullptr);
  EXPECT_EQ(n->inputs[3]->name, "mask");
  EXPECT_EQ(n->outputs[0]->name, "masked");
  size_t context = 0;
  for (auto& node : g->nodes())
    if (auto* m = node->as<ops::MatMul>(); m && node->inputs[0]->name == "probs") {
      EXPECT_EQ(m->perm_b, (std::vector<int64_t>{0, 2, 1, 3}));
      EXPECT_EQ(m->perm_y, (std::vector<int64_t>{0, 2, 1, 3}));  // the head merge, written in place
      EXPECT_EQ(node->outputs[0]->name, "ctx_t");
      ++context;
    }
  EXPECT_EQ(context, 1u);
}

TEST(FuseAttention, ScaleOnQueryWithoutMask) {
  OnnxBuilder b = attention({.mask = false, .scale_on_q = true});
  auto g = import_model(b);
  EXPECT_TRUE(run_and_compare(*g, passes::fuse_attention));
  const ops::MatMul* mm = scores_matmul(*g);
  ASSERT_NE(mm, nullptr);
  EXPECT_FLOAT_EQ(mm->alpha, 0.35f);
  EXPECT_TRUE(mm->post.empty());
  EXPECT_EQ(count_type(*g, "Binary"), 0u) << ir::dump(*g);
}

TEST(FuseAttention, DivOnQueryWithMask) {
  OnnxBuilder b = attention({.div_on_q = true});
  auto g = import_model(b);
  EXPECT_TRUE(run_and_compare(*g, passes::fuse_attention));
  const ir::Node* n = nullptr;
  const ops::MatMul* mm = scores_matmul(*g, &n);
  ASSERT_NE(mm, nullptr);
  EXPECT_FLOAT_EQ(mm->alpha, 1.f / 0.35f);
  EXPECT_EQ(mm->post.sum_count(), 1u);
  EXPECT_EQ(count_type(*g, "Binary"), 0u) << ir::dump(*g);
}

TEST(FuseAttention, LeavesNonScalarScaleAndSharedScores) {
  for (Options o : {Options{.vector_scale = true}, Options{.scores_output = true}}) {
    SCOPED_TRACE(o.vector_scale ? "per-key scale" : "scores also an output");
    OnnxBuilder b = attention(o);
    auto g = import_model(b);
    run_and_compare(*g, passes::fuse_attention);  // the transposes may still fold
    const ops::MatMul* mm = scores_matmul(*g);
    EXPECT_EQ(mm, nullptr) << "the Div must stay between the MatMul and the Softmax\n" << ir::dump(*g);
    EXPECT_EQ(count_type(*g, "Binary"), 2u);
  }
}

// The whole pipeline, then the plan on the oneDNN kernels, against the unoptimised graph.
TEST(FuseAttention, ThroughThePlan) {
  OnnxBuilder b = attention({});
  auto g = import_model(b);
  auto in = random_inputs(*g, 11);
  auto want = evaluate(*g, in);
  passes::run_pipeline(*g, {});
  ASSERT_NE(scores_matmul(*g), nullptr) << ir::dump(*g);
  EXPECT_TRUE(all_close(evaluate(*g, in).at("y"), want.at("y"), 1e-4, 1e-5));

  auto e = Engine::load_memory(compile_onnx_file(b.save("attention.onnx"), {}).plan);
  auto ctx = e->create_context();
  for (const char* name : {"x", "mask"}) {
    const HostTensor& t = in.at(name);
    std::memcpy(ctx->input(name), t.bytes.data(), t.bytes.size());
  }
  ctx->run();
  HostTensor y(DType::Float32, {1, kSeq, kHidden});
  std::memcpy(y.bytes.data(), ctx->output(0), y.bytes.size());
  EXPECT_TRUE(all_close(y, want.at("y"), 1e-4, 1e-5));
}

}  // namespace
}  // namespace kiln::test
