// The assign-precision pass: which layers go bf16 and which stay fp32, where conversions go (and
// where they are fused into the layers' own output types), the pins and constraints, --fp16
// weight storage, and that the rewritten graph still computes the model within bf16's precision
// (evaluated with the reference kernels, which run bf16 layers through fp32 buffers).
#include <cmath>

#include <gtest/gtest.h>

#include "graph_build_util.h"
#include "graph_eval_util.h"
#include "kiln/compiler.hpp"
#include "ops/nn/conv.h"
#include "ops/math/gemm.h"
#include "ops/nn/pool.h"
#include "ops/tensor/shape.h"
#include "ops/math/softmax.h"
#include "passes/pass.h"

namespace kiln::test {
namespace {

bool native_bf16() {
  const auto isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

#define REQUIRE_BF16()                                                                  \
  if (!native_bf16()) GTEST_SKIP() << "this CPU has no native bf16: the pass keeps fp32"

ir::Value* weights(ir::Graph& g, const std::string& name, Dims s, uint32_t seed, double scale = 0.2) {
  HostTensor t = random_tensor(DType::Float32, std::move(s), seed, -scale, scale);
  return g.add_constant(name, t.view());
}

ir::Value* conv(ir::Graph& g, const std::string& name, ir::Value* x, int64_t cin, int64_t cout, uint32_t seed,
                bool relu = true) {
  auto c = std::make_unique<ops::Conv>();
  c->pads = {1, 1, 1, 1};
  if (relu) c->post.ops = {{ops::PostOp::Kind::Act, ops::Act::Relu, 0.f, 0.f}};
  return node(g, name, std::move(c),
              {x, weights(g, name + ".w", {cout, cin, 3, 3}, seed), weights(g, name + ".b", {cout}, seed + 1)});
}

// input -> conv1 -> conv2 -> Add(conv1) -> MaxPool -> GlobalAveragePool -> Flatten -> Gemm -> logits
std::unique_ptr<ir::Graph> small_cnn() {
  auto g = std::make_unique<ir::Graph>();
  ir::Value* x = input(*g, "input", {1, 3, 12, 12});
  ir::Value* c1 = conv(*g, "conv1", x, 3, 16, 1);
  ir::Value* c2 = conv(*g, "conv2", c1, 16, 16, 3);
  ir::Value* s = node(*g, "add", binary(ops::BinaryKind::Add), {c2, c1});
  auto mp = std::make_unique<ops::MaxPool>();
  mp->p.kernel_shape = {2, 2};
  mp->p.strides = {2, 2};
  ir::Value* p = node(*g, "pool", std::move(mp), {s});
  ir::Value* gp = node(*g, "gap", std::make_unique<ops::GlobalAveragePool>(), {p});
  ir::Value* f = node(*g, "flatten", std::make_unique<ops::Flatten>(), {gp});
  auto gemm = std::make_unique<ops::Gemm>();
  gemm->transB = true;
  ir::Value* y = node(*g, "fc", std::move(gemm), {f, weights(*g, "fc.w", {10, 16}, 5), weights(*g, "fc.b", {10}, 6)});
  y->name = "logits";
  g->outputs.push_back({"logits", y});
  return g;
}

const ir::Node* find(const ir::Graph& g, const std::string& name) {
  for (auto& n : g.nodes())
    if (n->op && n->name == name) return n.get();
  return nullptr;
}

size_t conversions(const ir::Graph& g) {
  size_t n = 0;
  for (auto& node : g.nodes()) n += node->op && node->name.find("/convert") != std::string::npos;
  return n;
}

double rel_l2(const HostTensor& a, const HostTensor& b) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.elements(); ++i) {
    const double x = reinterpret_cast<const float*>(a.bytes.data())[i], y = reinterpret_cast<const float*>(b.bytes.data())[i];
    num += (x - y) * (x - y);
    den += y * y;
  }
  return std::sqrt(num / den);
}

bool run_pass(ir::Graph& g, const PrecisionOptions& p, std::vector<std::string>* warnings = nullptr) {
  passes::PipelineOptions o;
  o.precision = &p;
  o.warnings = warnings;
  bool changed = passes::assign_precision(g, o);
  g.compact();
  g.topo_sort();
  ir::verify(g);
  return changed;
}

TEST(AssignPrecision, Bf16FlowsThroughTheCnnWithOneConversion) {
  REQUIRE_BF16();
  auto g = small_cnn();
  auto in = random_inputs(*g, 7);
  auto want = evaluate(*g, in);
  PrecisionOptions p;
  p.bf16 = true;
  ASSERT_TRUE(run_pass(*g, p));
  for (const char* n : {"conv1", "conv2", "add", "pool", "gap", "flatten", "fc"})
    EXPECT_EQ(find(*g, n)->precision, DType::BFloat16) << n;
  // Weights converted at build time; bias stays fp32.
  EXPECT_EQ(find(*g, "conv1")->inputs[1]->type.dtype, DType::BFloat16);
  EXPECT_EQ(find(*g, "conv1")->inputs[2]->type.dtype, DType::Float32);
  // Only the graph input is converted; the classifier writes fp32 logits itself.
  EXPECT_EQ(conversions(*g), 1u);
  EXPECT_EQ(find(*g, "fc")->outputs[0]->type.dtype, DType::Float32);
  EXPECT_EQ(g->outputs[0].value->name, "logits");
  EXPECT_EQ(g->outputs[0].value->type.dtype, DType::Float32);
  EXPECT_FALSE(run_pass(*g, p));  // assigned once
  auto got = evaluate(*g, in);
  const double err = rel_l2(got.at("logits"), want.at("logits"));
  EXPECT_LT(err, 2e-2) << "bf16 keeps 8 significant bits; a few layers deep that is ~1e-2 at most";
  EXPECT_GT(err, 0) << "the graph did not change its arithmetic at all";
}

TEST(AssignPrecision, PinnedLayerStaysFp32WithConversionsAroundIt) {
  REQUIRE_BF16();
  auto g = small_cnn();
  PrecisionOptions p;
  p.bf16 = true;
  p.layer_precisions = {{"conv2", "fp32"}};
  run_pass(*g, p);
  EXPECT_EQ(find(*g, "conv1")->precision, DType::BFloat16);
  EXPECT_EQ(find(*g, "conv2")->precision, DType::Float32);
  EXPECT_EQ(find(*g, "conv2")->inputs[1]->type.dtype, DType::Float32);
  // conv2 reads conv1's output as fp32 (a conversion), and the residual Add follows the bf16 conv1.
  EXPECT_GE(conversions(*g), 2u);
}

TEST(AssignPrecision, WildcardPinAndOutputType) {
  REQUIRE_BF16();
  auto g = small_cnn();
  PrecisionOptions p;
  p.bf16 = true;
  p.layer_precisions = {{"conv*", "fp32"}};
  p.layer_output_types = {{"fc", "bf16"}};
  std::vector<std::string> warnings;
  run_pass(*g, p, &warnings);
  EXPECT_EQ(find(*g, "conv1")->precision, DType::Float32);
  EXPECT_EQ(find(*g, "conv2")->precision, DType::Float32);
  EXPECT_EQ(find(*g, "fc")->precision, DType::BFloat16);
  EXPECT_EQ(find(*g, "fc")->outputs[0]->type.dtype, DType::BFloat16);
  EXPECT_EQ(g->outputs[0].value->type.dtype, DType::Float32);  // the graph output keeps its type
}

TEST(AssignPrecision, PinNamingNoLayerIsAnOptionError) {
  auto g = small_cnn();
  PrecisionOptions p;
  p.bf16 = true;
  p.layer_precisions = {{"nosuchlayer*", "fp32"}};
  passes::PipelineOptions o;
  o.precision = &p;
  EXPECT_THROW(passes::assign_precision(*g, o), OptionError);
}

TEST(AssignPrecision, ConstraintsNoneIgnoresPinsWithAWarning) {
  REQUIRE_BF16();
  auto g = small_cnn();
  PrecisionOptions p;
  p.bf16 = true;
  p.constraints = "none";
  p.layer_precisions = {{"conv2", "fp32"}};
  std::vector<std::string> warnings;
  run_pass(*g, p, &warnings);
  EXPECT_EQ(find(*g, "conv2")->precision, DType::BFloat16);
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings[0].find("ignored"), std::string::npos) << warnings[0];
}

TEST(AssignPrecision, Fp16StoresLargeFiniteWeightsAsHalf) {
  auto g = small_cnn();
  PrecisionOptions p;
  p.fp16 = true;
  run_pass(*g, p);
  for (auto& n : g->nodes())
    if (n->op) EXPECT_NE(n->precision, DType::BFloat16) << n->name << ": --fp16 alone computes in fp32";
  EXPECT_EQ(find(*g, "conv1")->inputs[1]->stored_dtype, DType::Float16);   // 432 weights
  EXPECT_EQ(find(*g, "conv1")->inputs[2]->stored_dtype, DType::Float16);   // 16 biases
  EXPECT_EQ(find(*g, "fc")->inputs[2]->stored_dtype, DType::Undefined);    // 10 values: kept exact
  EXPECT_EQ(conversions(*g), 0u);
}

TEST(AssignPrecision, Fp16KeepsValuesOutsideHalfRange) {
  auto g = small_cnn();
  ir::Node* c1 = const_cast<ir::Node*>(find(*g, "conv1"));
  static_cast<float*>(c1->inputs[1]->constant->data())[0] = 1e6f;
  PrecisionOptions p;
  p.fp16 = true;
  run_pass(*g, p);
  EXPECT_EQ(c1->inputs[1]->stored_dtype, DType::Undefined);
  EXPECT_EQ(find(*g, "conv2")->inputs[1]->stored_dtype, DType::Float16);
}

TEST(AssignPrecision, AttentionMatMulsAndSoftmaxRunInBf16) {
  REQUIRE_BF16();
  ir::Graph g;
  ir::Value* q = input(g, "q", {1, 4, 8, 16});
  ir::Value* k = input(g, "kt", {1, 4, 16, 8});
  ir::Value* v = input(g, "v", {1, 4, 8, 16});
  ir::Value* s = node(g, "scores", std::make_unique<ops::MatMul>(), {q, k});
  ir::Value* pr = node(g, "softmax", std::make_unique<ops::Softmax>(), {s});
  ir::Value* ctx = node(g, "context", std::make_unique<ops::MatMul>(), {pr, v});
  ctx->name = "ctx";
  g.outputs.push_back({"ctx", ctx});
  auto in = random_inputs(g, 11);
  auto want = evaluate(g, in);
  PrecisionOptions p;
  p.bf16 = true;
  run_pass(g, p);
  EXPECT_EQ(find(g, "scores")->precision, DType::BFloat16);
  EXPECT_EQ(find(g, "softmax")->precision, DType::BFloat16);
  EXPECT_EQ(find(g, "softmax")->outputs[0]->type.dtype, DType::BFloat16);
  EXPECT_EQ(find(g, "context")->outputs[0]->type.dtype, DType::Float32);
  EXPECT_EQ(conversions(g), 3u);  // the three fp32 graph inputs
  EXPECT_LT(rel_l2(evaluate(g, in).at("ctx"), want.at("ctx")), 2e-2);
}

TEST(AssignPrecision, NothingAskedNothingChanged) {
  auto g = small_cnn();
  PrecisionOptions p;
  EXPECT_FALSE(run_pass(*g, p));
  for (auto& n : g->nodes()) EXPECT_EQ(n->precision, DType::Undefined);
}

}  // namespace
}  // namespace kiln::test
