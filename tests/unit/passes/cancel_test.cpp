// Transpose/Reshape cancellation: composed and cancelled permutations, collapsed reshape chains,
// removed no-op reshapes, and the cases that must be left alone (an intermediate with another
// reader or bound to a graph output). Numerics are checked by evaluating before and after.
#include <gtest/gtest.h>

#include "graph_build_util.h"
#include "graph_eval_util.h"
#include "ops/math/eltwise.h"
#include "ops/tensor/shape.h"
#include "passes/pass.h"

namespace kiln::test {
namespace {

using ir::Graph;
using ir::Value;
using I = std::vector<int64_t>;

std::unique_ptr<ops::Op> transpose(I perm) {
  auto t = std::make_unique<ops::Transpose>();
  t->perm = std::move(perm);
  return t;
}
std::unique_ptr<ops::Op> reshape(I shape) {
  auto r = std::make_unique<ops::Reshape>();
  r->shape = std::move(shape);
  return r;
}
std::unique_ptr<ops::Op> flatten(int64_t axis) {
  auto f = std::make_unique<ops::Flatten>();
  f->axis = axis;
  return f;
}
std::unique_ptr<ops::Op> unsqueeze(I axes) {
  auto u = std::make_unique<ops::Unsqueeze>();
  u->axes = std::move(axes);
  return u;
}
std::unique_ptr<ops::Op> squeeze(I axes) {
  auto s = std::make_unique<ops::Squeeze>();
  s->axes = std::move(axes);
  return s;
}
std::unique_ptr<ops::Op> relu() {
  auto u = std::make_unique<ops::Unary>();
  u->act = ops::Act::Relu;
  return u;
}

// Runs the pass to a fixed point like the pipeline does (plus dead-code, which follows it there)
// and checks the outputs are bit-identical: these rewrites only move data.
void run_and_compare(Graph& g) {
  auto in = random_inputs(g, 3);
  auto before = evaluate(g, in);
  int rounds = 0;
  while (passes::cancel_transpose_reshape(g) && rounds++ < 16) {
    g.compact();
    g.topo_sort();
    ir::verify(g);
  }
  EXPECT_LT(rounds, 16) << "the pass did not reach a fixed point";
  auto after = evaluate(g, in);
  ASSERT_EQ(after.size(), before.size());
  for (auto& [name, t] : before) {
    EXPECT_EQ(after.at(name).shape, t.shape) << name;
    EXPECT_TRUE(all_close(after.at(name), t, 0, 0)) << name;
  }
}

TEST(CancelTransposeReshape, InverseTransposesDisappear) {
  Graph g;
  Value* x = input(g, "x", {2, 3, 4});
  Value* t1 = node(g, "t1", transpose({1, 2, 0}), {x});
  Value* t2 = node(g, "t2", transpose({2, 0, 1}), {t1});
  Value* y = node(g, "relu", relu(), {t2});
  g.outputs.push_back({"y", y});
  run_and_compare(g);
  EXPECT_EQ(count_type(g, "Transpose"), 0u);
  ASSERT_EQ(g.nodes().size(), 1u);
  EXPECT_EQ(g.nodes()[0]->inputs[0], x);
}

TEST(CancelTransposeReshape, TransposesComposeIntoOne) {
  Graph g;
  Value* x = input(g, "x", {2, 3, 4, 5});
  Value* t1 = node(g, "t1", transpose({0, 2, 1, 3}), {x});
  Value* t2 = node(g, "t2", transpose({}), {t1});  // empty perm reverses the axes
  g.outputs.push_back({"y", t2});
  run_and_compare(g);
  ASSERT_EQ(count_type(g, "Transpose"), 1u);
  const ir::Node* t = g.outputs[0].value->producer;
  EXPECT_EQ(t->inputs[0], x);
  // reverse then p1: q[i] = p1[3 - i]
  EXPECT_EQ(t->as<ops::Transpose>()->perm, (I{3, 1, 2, 0}));
  EXPECT_EQ(g.outputs[0].name, "y");
  EXPECT_EQ(g.outputs[0].value->name, "t2");
}

TEST(CancelTransposeReshape, CancellingPairAtGraphOutputBecomesCopy) {
  Graph g;
  Value* x = input(g, "x", {3, 4});
  Value* r = node(g, "relu", relu(), {x});
  Value* t1 = node(g, "t1", transpose({1, 0}), {r});
  Value* t2 = node(g, "t2", transpose({1, 0}), {t1});
  g.outputs.push_back({"y", t2});
  run_and_compare(g);
  EXPECT_EQ(count_type(g, "Transpose"), 0u);
  EXPECT_EQ(g.outputs[0].value->name, "t2");
  EXPECT_EQ(g.outputs[0].value->producer->type(), "Identity");
}

TEST(CancelTransposeReshape, TransposeWithAnotherReaderStays) {
  Graph g;
  Value* x = input(g, "x", {2, 3, 4});
  Value* t1 = node(g, "t1", transpose({1, 2, 0}), {x});
  Value* t2 = node(g, "t2", transpose({2, 0, 1}), {t1});
  Value* other = node(g, "other", relu(), {t1});
  g.outputs.push_back({"y", t2});
  g.outputs.push_back({"z", other});
  EXPECT_FALSE(passes::cancel_transpose_reshape(g));
  EXPECT_EQ(count_type(g, "Transpose"), 2u);
}

TEST(CancelTransposeReshape, TransposeBoundToGraphOutputStays) {
  Graph g;
  Value* x = input(g, "x", {2, 3});
  Value* t1 = node(g, "t1", transpose({1, 0}), {x});
  Value* t2 = node(g, "t2", transpose({1, 0}), {t1});
  g.outputs.push_back({"t1", t1});
  g.outputs.push_back({"t2", t2});
  EXPECT_FALSE(passes::cancel_transpose_reshape(g));
  EXPECT_EQ(count_type(g, "Transpose"), 2u);
}

TEST(CancelTransposeReshape, ViewChainCollapsesIntoOneReshape) {
  Graph g;
  Value* x = input(g, "x", {2, 3, 4});
  Value* a = node(g, "unsq", unsqueeze({0}), {x});  // 1x2x3x4
  Value* b = node(g, "flat", flatten(2), {a});      // 2x12
  Value* c = node(g, "resh", reshape({4, -1}), {b});  // 4x6
  Value* y = node(g, "relu", relu(), {c});
  g.outputs.push_back({"y", y});
  run_and_compare(g);
  EXPECT_EQ(count_type(g, "Unsqueeze") + count_type(g, "Flatten"), 0u);
  ASSERT_EQ(count_type(g, "Reshape"), 1u);
  const ir::Node* r = g.outputs[0].value->producer->inputs[0]->producer;
  EXPECT_EQ(r->inputs.size(), 1u);
  EXPECT_EQ(r->inputs[0], x);
  EXPECT_EQ(r->as<ops::Reshape>()->shape, (I{4, 6}));
}

TEST(CancelTransposeReshape, UnsqueezeSqueezeAndSameShapeReshapeDisappear) {
  Graph g;
  Value* x = input(g, "x", {2, 3});
  Value* a = node(g, "unsq", unsqueeze({1}), {x});  // 2x1x3
  Value* b = node(g, "sq", squeeze({1}), {a});      // 2x3
  Value* c = node(g, "relu", relu(), {b});
  Value* d = node(g, "same", reshape({2, 3}), {c});
  Value* y = node(g, "relu2", relu(), {d});
  g.outputs.push_back({"y", y});
  run_and_compare(g);
  EXPECT_EQ(count_type(g, "Unsqueeze") + count_type(g, "Squeeze") + count_type(g, "Reshape"), 0u);
  EXPECT_EQ(g.nodes().size(), 2u);
}

TEST(CancelTransposeReshape, ReshapeWithAnotherReaderStays) {
  Graph g;
  Value* x = input(g, "x", {2, 3, 4});
  Value* a = node(g, "r1", reshape({6, 4}), {x});
  Value* b = node(g, "r2", reshape({24}), {a});
  Value* other = node(g, "other", relu(), {a});
  g.outputs.push_back({"y", b});
  g.outputs.push_back({"z", other});
  EXPECT_FALSE(passes::cancel_transpose_reshape(g));
  EXPECT_EQ(count_type(g, "Reshape"), 2u);
}

TEST(CancelTransposeReshape, SameShapeReshapeAtGraphOutputStays) {
  Graph g;
  Value* x = input(g, "x", {2, 3});
  Value* r = node(g, "relu", relu(), {x});
  Value* y = node(g, "same", reshape({2, 3}), {r});
  g.outputs.push_back({"y", y});
  EXPECT_FALSE(passes::cancel_transpose_reshape(g));
}

// With an unknown batch the collapsed Reshape keeps it as -1 (resolved from the element count).
TEST(CancelTransposeReshape, DynamicBatchChainKeepsUnknownDim) {
  Graph g;
  Value* x = input(g, "x", {-1, 3, 4});
  Value* a = node(g, "flat", flatten(1), {x});      // ?x12
  Value* b = node(g, "unsq", unsqueeze({2}), {a});  // ?x12x1
  g.outputs.push_back({"y", b});
  EXPECT_TRUE(passes::cancel_transpose_reshape(g));
  g.compact();
  g.topo_sort();
  ir::verify(g);
  ASSERT_EQ(g.nodes().size(), 1u);
  EXPECT_EQ(g.nodes()[0]->as<ops::Reshape>()->shape, (I{-1, 12, 1}));
  EXPECT_EQ(g.outputs[0].value->type.shape, (Dims{-1, 12, 1}));

  // Evaluated at a concrete batch, the collapsed graph still moves the data unchanged.
  Graph h;
  Value* hx = input(h, "x", {5, 3, 4});
  h.outputs.push_back({"y", node(h, "r", g.nodes()[0]->op->clone(), {hx})});
  auto in = random_inputs(h, 9);
  auto out = evaluate(h, in);
  EXPECT_EQ(out.at("y").shape, (Dims{5, 12, 1}));
  EXPECT_EQ(out.at("y").bytes, in.at("x").bytes);
}

TEST(CancelTransposeReshape, ListedInPipeline) {
  bool found = false;
  for (auto& p : passes::pipeline()) found |= std::string(p.name) == "cancel-transpose-reshape";
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace kiln::test
