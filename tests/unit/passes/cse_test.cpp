// Common-subexpression elimination: duplicated nodes and constants are merged, different
// attributes or inputs are not, graph-output bindings survive, and the rewritten graph computes
// the same values as before (reference-kernel evaluation of both).
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

// Runs CSE to a fixed point like the pipeline does and checks numerics are unchanged.
void run_and_compare(Graph& g) {
  auto in = random_inputs(g, 7);
  auto before = evaluate(g, in);
  int rounds = 0;
  while (passes::cse(g) && rounds++ < 16) {
    g.compact();
    g.topo_sort();
    ir::verify(g);
  }
  EXPECT_LT(rounds, 16) << "cse did not reach a fixed point";
  auto after = evaluate(g, in);
  ASSERT_EQ(after.size(), before.size());
  for (auto& [name, t] : before) EXPECT_TRUE(all_close(after.at(name), t, 0, 0)) << name;
}

TEST(Cse, MergesDuplicatedChains) {
  Graph g;
  Value* x = input(g, "x", {2, 5});
  Value* ra = node(g, "relu_a", unary(ops::Act::Relu), {x});
  Value* rb = node(g, "relu_b", unary(ops::Act::Relu), {x});
  Value* ea = node(g, "exp_a", unary(ops::Act::Exp), {ra});
  Value* eb = node(g, "exp_b", unary(ops::Act::Exp), {rb});
  Value* y = node(g, "sum", binary(ops::BinaryKind::Add), {ea, eb});
  g.outputs.push_back({"y", y});
  run_and_compare(g);
  EXPECT_EQ(count_type(g, "Unary"), 2u);
  ASSERT_EQ(g.nodes().size(), 3u);
  // The first node in topological order is the one kept, whatever the pointer order.
  EXPECT_EQ(g.nodes()[0]->name, "relu_a");
  EXPECT_EQ(g.nodes()[1]->name, "exp_a");
  const ir::Node* sum = g.outputs[0].value->producer;
  EXPECT_EQ(sum->inputs[0], sum->inputs[1]);
}

TEST(Cse, MergesIdenticalConstantsButNotDifferentOnes) {
  Graph g;
  Value* x = input(g, "x", {4, 3});
  HostTensor a = random_tensor(DType::Float32, {3}, 11);
  HostTensor b = random_tensor(DType::Float32, {3}, 12);
  Value* c1 = g.add_constant("c1", a.view());
  Value* c2 = g.add_constant("c2", a.view());  // same bytes as c1
  Value* c3 = g.add_constant("c3", b.view());
  HostTensor a13 = a;
  a13.shape = {1, 3};
  Value* c4 = g.add_constant("c4", a13.view());  // same bytes, different shape
  Value* m1 = node(g, "m1", binary(ops::BinaryKind::Mul), {x, c1});
  Value* m2 = node(g, "m2", binary(ops::BinaryKind::Mul), {x, c2});
  Value* m3 = node(g, "m3", binary(ops::BinaryKind::Mul), {x, c3});
  Value* m4 = node(g, "m4", binary(ops::BinaryKind::Mul), {x, c4});
  Value* s1 = node(g, "s1", binary(ops::BinaryKind::Add), {m1, m2});
  Value* s2 = node(g, "s2", binary(ops::BinaryKind::Add), {m3, m4});
  Value* y = node(g, "y", binary(ops::BinaryKind::Sub), {s1, s2});
  g.outputs.push_back({"y", y});
  run_and_compare(g);
  EXPECT_EQ(count_type(g, "Binary"), 6u);  // m1 = m2 merged; m3, m4 stay
  for (auto& n : g.nodes())
    for (Value* v : n->inputs) EXPECT_NE(v, c2) << n->name << " still reads the duplicate constant";
}

TEST(Cse, DifferentAttributesOrInputOrderAreNotMerged) {
  Graph g;
  Value* x = input(g, "x", {3, 4});
  Value* z = input(g, "z", {3, 4});
  Value* l1 = node(g, "leaky1", unary(ops::Act::LeakyRelu, 0.1f), {x});
  Value* l2 = node(g, "leaky2", unary(ops::Act::LeakyRelu, 0.2f), {x});
  Value* c1 = node(g, "clip1", unary(ops::Act::Clip, 0.f, 0.5f), {x});
  Value* c2 = node(g, "clip2", unary(ops::Act::Clip, 0.f, 0.25f), {x});
  Value* d1 = node(g, "sub1", binary(ops::BinaryKind::Sub), {x, z});
  Value* d2 = node(g, "sub2", binary(ops::BinaryKind::Sub), {z, x});
  auto t1 = std::make_unique<ops::Transpose>();
  t1->perm = {1, 0};
  Value* tr1 = node(g, "tr1", std::move(t1), {x});
  Value* tr2 = node(g, "tr2", std::make_unique<ops::Transpose>(), {x});  // empty perm: same result, other attrs
  for (Value* v : {l1, l2, c1, c2, d1, d2, tr1, tr2}) g.outputs.push_back({v->name, v});
  EXPECT_FALSE(passes::cse(g));
  EXPECT_EQ(g.nodes().size(), 8u);
}

TEST(Cse, TwoGraphOutputsStayDistinctBindings) {
  Graph g;
  Value* x = input(g, "x", {6});
  Value* a = node(g, "relu_a", unary(ops::Act::Relu), {x});
  Value* b = node(g, "relu_b", unary(ops::Act::Relu), {x});
  g.outputs.push_back({"a", a});
  g.outputs.push_back({"b", b});
  EXPECT_FALSE(passes::cse(g));
  EXPECT_EQ(count_type(g, "Unary"), 2u);
  EXPECT_NE(g.outputs[0].value, g.outputs[1].value);
}

TEST(Cse, GraphOutputKeepsItsValueWhenMerged) {
  Graph g;
  Value* x = input(g, "x", {6});
  Value* a = node(g, "relu_a", unary(ops::Act::Relu), {x});
  Value* b = node(g, "relu_b", unary(ops::Act::Relu), {x});  // graph output, duplicate of relu_a
  Value* e = node(g, "exp", unary(ops::Act::Exp), {a});
  g.outputs.push_back({"e", e});
  g.outputs.push_back({"b", b});
  run_and_compare(g);
  EXPECT_EQ(count_type(g, "Unary"), 2u);
  // The binding keeps its value and name; the surviving relu now produces it and exp reads it.
  EXPECT_EQ(g.outputs[1].value, b);
  EXPECT_EQ(b->name, "relu_b");
  ASSERT_NE(b->producer, nullptr);
  EXPECT_EQ(g.outputs[0].value->producer->inputs[0], b);
}

TEST(Cse, MergesMultiOutputNodes) {
  Graph g;
  Value* x = input(g, "x", {4, 6});
  auto split = [] {
    auto s = std::make_unique<ops::Split>();
    s->axis = 1;
    s->split = {2, 4};
    return s;
  };
  ir::Node* s1 = add(g, "split1", split(), {x}, 2);
  ir::Node* s2 = add(g, "split2", split(), {x}, 2);
  Value* p = node(g, "p", binary(ops::BinaryKind::Mul), {s1->outputs[0], s2->outputs[0]});
  Value* q = node(g, "q", binary(ops::BinaryKind::Mul), {s2->outputs[1], s1->outputs[1]});
  g.outputs.push_back({"p", p});
  g.outputs.push_back({"q", q});
  run_and_compare(g);
  EXPECT_EQ(count_type(g, "Split"), 1u);
}

TEST(Cse, ListedInPipelineBeforeDeadCode) {
  std::vector<std::string> names;
  for (auto& p : passes::pipeline()) names.emplace_back(p.name);
  auto at = [&](const char* n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
  ASSERT_LT(at("cse"), static_cast<long>(names.size()));
  EXPECT_LT(at("fold-constants"), at("cse"));
  EXPECT_LT(at("cse"), at("dead-code"));
}

}  // namespace
}  // namespace kiln::test
