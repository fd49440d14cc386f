// Each pass: the rewritten graph has the expected structure and computes the same values as
// before (reference-kernel evaluation of both).
#include <gtest/gtest.h>

#include "graph_build_util.h"
#include "graph_eval_util.h"
#include "ops/nn/conv.h"
#include "ops/math/eltwise.h"
#include "ops/tensor/identity.h"
#include "ops/nn/norm.h"
#include "passes/pass.h"

namespace kiln::test {
namespace {

using ir::Graph;
using ir::Value;

Value* random_const(Graph& g, const std::string& name, Dims s, uint32_t seed, double lo = -1, double hi = 1) {
  HostTensor h = random_tensor(DType::Float32, std::move(s), seed, lo, hi);
  return g.add_constant(name, h.view());
}

std::unique_ptr<ops::Conv> conv3x3() {
  auto c = std::make_unique<ops::Conv>();
  c->pads = {1, 1, 1, 1};
  return c;
}

// Runs one pass to a fixed point like the pipeline does and checks numerics are unchanged.
void run_and_compare(Graph& g, passes::PassFn pass, double rtol = 1e-4) {
  auto in = random_inputs(g, 5);
  auto before = evaluate(g, in);
  int rounds = 0;
  while (pass(g) && rounds++ < 16) {
    g.compact();
    g.topo_sort();
    ir::verify(g);
  }
  auto after = evaluate(g, in);
  for (auto& [name, t] : before) EXPECT_TRUE(all_close(after.at(name), t, rtol, 1e-5)) << name;
}

TEST(Passes, RemoveIdentityKeepsOutputNames) {
  Graph g;
  Value* x = input(g, "x", {2, 3});
  Value* a = node(g, "relu", unary(ops::Act::Relu), {x});
  Value* b = node(g, "id1", std::make_unique<ops::Identity>(), {a});
  Value* c = node(g, "id2", std::make_unique<ops::Identity>(), {b});
  g.outputs.push_back({"y", c});
  run_and_compare(g, passes::remove_identity);
  EXPECT_EQ(count_type(g, "Identity"), 0u);
  EXPECT_EQ(g.outputs[0].name, "y");
  EXPECT_EQ(g.outputs[0].value->producer->type(), "Unary");
}

TEST(Passes, RemoveIdentityKeepsCopyOfGraphInput) {
  Graph g;
  Value* x = input(g, "x", {2, 3});
  Value* y = node(g, "id", std::make_unique<ops::Identity>(), {x});
  g.outputs.push_back({"y", y});
  EXPECT_FALSE(passes::remove_identity(g));
}

TEST(Passes, DeadCodeDropsUnreadNodes) {
  Graph g;
  Value* x = input(g, "x", {4});
  node(g, "unused", unary(ops::Act::Exp), {x});
  Value* y = node(g, "used", unary(ops::Act::Relu), {x});
  g.outputs.push_back({"y", y});
  run_and_compare(g, passes::dead_code);
  EXPECT_EQ(g.nodes().size(), 1u);
  EXPECT_EQ(g.nodes()[0]->name, "used");
}

TEST(Passes, FoldConstantsEvaluatesConstantSubgraphs) {
  Graph g;
  Value* x = input(g, "x", {2, 3});
  Value* c1 = random_const(g, "c1", {2, 3}, 1);
  Value* c2 = random_const(g, "c2", {3}, 2);
  Value* s = node(g, "const_add", binary(ops::BinaryKind::Add), {c1, c2});
  Value* e = node(g, "const_exp", unary(ops::Act::Exp), {s});
  Value* y = node(g, "mul", binary(ops::BinaryKind::Mul), {x, e});
  g.outputs.push_back({"y", y});
  run_and_compare(g, passes::fold_constants);
  ASSERT_EQ(g.nodes().size(), 1u);
  EXPECT_TRUE(g.nodes()[0]->inputs[1]->is_constant());
}

TEST(Passes, FoldBatchNormIntoConv) {
  Graph g;
  Value* x = input(g, "x", {1, 3, 7, 7});
  Value* c = node(g, "conv", conv3x3(), {x, random_const(g, "w", {5, 3, 3, 3}, 1), random_const(g, "b", {5}, 2)});
  auto bn = std::make_unique<ops::BatchNormalization>();
  bn->epsilon = 1e-3f;
  Value* y = node(g, "bn", std::move(bn),
                  {c, random_const(g, "s", {5}, 3, 0.5, 1.5), random_const(g, "sh", {5}, 4),
                   random_const(g, "m", {5}, 5), random_const(g, "v", {5}, 6, 0.5, 2.0)});
  g.outputs.push_back({"y", y});
  run_and_compare(g, passes::fold_batchnorm);
  EXPECT_EQ(count_type(g, "BatchNormalization"), 0u);
  EXPECT_EQ(count_type(g, "Conv"), 1u);
  EXPECT_EQ(g.outputs[0].value->producer->type(), "Conv");
}

TEST(Passes, FoldBatchNormLeavesSharedConvOutputAlone) {
  Graph g;
  Value* x = input(g, "x", {1, 3, 5, 5});
  Value* c = node(g, "conv", conv3x3(), {x, random_const(g, "w", {4, 3, 3, 3}, 1)});
  Value* y = node(g, "bn", std::make_unique<ops::BatchNormalization>(),
                  {c, random_const(g, "s", {4}, 3), random_const(g, "sh", {4}, 4), random_const(g, "m", {4}, 5),
                   random_const(g, "v", {4}, 6, 0.5, 2.0)});
  g.outputs.push_back({"y", y});
  g.outputs.push_back({"c", c});
  EXPECT_FALSE(passes::fold_batchnorm(g));
}

TEST(Passes, FusePostOpsConvAddRelu) {
  Graph g;
  Value* x = input(g, "x", {1, 4, 6, 6});
  Value* c1 = node(g, "conv1", conv3x3(), {x, random_const(g, "w1", {4, 4, 3, 3}, 1)});
  Value* r1 = node(g, "relu1", unary(ops::Act::Relu), {c1});
  Value* c2 = node(g, "conv2", conv3x3(), {r1, random_const(g, "w2", {4, 4, 3, 3}, 2), random_const(g, "b2", {4}, 3)});
  Value* s = node(g, "add", binary(ops::BinaryKind::Add), {x, c2});
  Value* y = node(g, "clip", unary(ops::Act::Clip, 0.f, 0.5f), {s});
  g.outputs.push_back({"y", y});
  run_and_compare(g, passes::fuse_post_ops);
  ASSERT_EQ(g.nodes().size(), 2u);
  auto* second = g.outputs[0].value->producer->as<ops::Conv>();
  ASSERT_NE(second, nullptr);
  ASSERT_EQ(second->post.ops.size(), 2u);
  EXPECT_EQ(second->post.ops[0].kind, ops::PostOp::Kind::Sum);
  EXPECT_EQ(second->post.ops[1].act, ops::Act::Clip);
  EXPECT_EQ(g.outputs[0].value->producer->inputs.size(), 4u);
  EXPECT_EQ(g.nodes()[0]->as<ops::Conv>()->post.ops.size(), 1u);
}

TEST(Passes, FusePostOpsSkipsBroadcastAdd) {
  Graph g;
  Value* x = input(g, "x", {1, 4, 6, 6});
  Value* bias = input(g, "bias", {1, 4, 1, 1});
  Value* c = node(g, "conv", conv3x3(), {x, random_const(g, "w", {4, 4, 3, 3}, 1)});
  Value* y = node(g, "add", binary(ops::BinaryKind::Add), {c, bias});
  g.outputs.push_back({"y", y});
  EXPECT_FALSE(passes::fuse_post_ops(g));
}

TEST(Passes, FuseSwishFromSigmoidMul) {
  Graph g;
  Value* x = input(g, "x", {2, 8});
  Value* s = node(g, "sig", unary(ops::Act::Sigmoid), {x});
  Value* y = node(g, "mul", binary(ops::BinaryKind::Mul), {s, x});
  g.outputs.push_back({"y", y});
  run_and_compare(g, [](Graph& gr) -> bool { return passes::fuse_swish(gr) | passes::dead_code(gr); });
  ASSERT_EQ(g.nodes().size(), 1u);
  EXPECT_EQ(g.nodes()[0]->as<ops::Unary>()->act, ops::Act::Swish);
}

TEST(Passes, PipelineListsEveryPassWithAReason) {
  for (auto& p : passes::pipeline()) {
    EXPECT_GT(std::string(p.why).size(), 20u) << p.name;
    EXPECT_TRUE(p.run != nullptr || p.run_with_options != nullptr) << p.name;
  }
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

TEST(Passes, AssignLayoutsBlocksConvRegionAndReordersAtBoundaries) {
  ir::Graph g;
  ir::Value* x = input(g, "x", {1, 8, 10, 10});
  ir::Value* c1 = node(g, "conv1", conv3x3(), {x, random_const(g, "w1", {16, 8, 3, 3}, 1)});
  ir::Value* c2 = node(g, "conv2", conv3x3(), {c1, random_const(g, "w2", {16, 16, 3, 3}, 2)});
  g.outputs.push_back({"y", c2});
  ASSERT_TRUE(passes::assign_layouts(g));
  g.topo_sort();
  ir::verify(g);
  // Both convs write blocked data; one Reorder brings the result back to row-major for the output.
  EXPECT_EQ(count_type(g, "Reorder"), 1u);
  EXPECT_FALSE(c1->layout.empty());
  EXPECT_TRUE(g.outputs[0].value->layout.empty());
  EXPECT_EQ(g.outputs[0].value->name, "conv2");  // the output keeps its tensor name
  EXPECT_FALSE(passes::assign_layouts(g));        // runs once
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

// A Reshape whose shape input only becomes constant through folding must re-infer its output.
TEST(Passes, FoldConstantsReinfersConsumers) {
  ir::Graph g;
  ir::Value* x = input(g, "x", {2, 8});
  HostTensor a(DType::Int64, {2});
  a.as<int64_t>()[0] = 4;
  a.as<int64_t>()[1] = 2;
  HostTensor b(DType::Int64, {2});
  b.as<int64_t>()[0] = 0;
  b.as<int64_t>()[1] = 2;
  ir::Value* ca = g.add_constant("a", a.view());
  ir::Value* cb = g.add_constant("b", b.view());
  ir::Value* shape = node(g, "shape_add", binary(ops::BinaryKind::Add), {ca, cb});
  auto reshape = ops::OpRegistry::instance().create("Reshape");
  ASSERT_NE(reshape, nullptr);
  ir::Value* y = node(g, "reshape", std::move(reshape), {x, shape});
  g.outputs.push_back({"y", y});
  ASSERT_TRUE(passes::fold_constants(g));
  g.compact();
  ir::verify(g);
  EXPECT_EQ(g.outputs[0].value->type.shape, (Dims{4, 4}));
}

}  // namespace
}  // namespace kiln::test
