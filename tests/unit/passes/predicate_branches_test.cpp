// predicate-branches: the two branches of an If on a run-time condition (both imported, a Where
// selecting) run only when taken. Seeds spread to nodes the passes add; only Where reads both
// branches; anything inconsistent loses its predicates (both branches then run, as without the
// pass); CSE keeps the branches apart.
#include <gtest/gtest.h>

#include "graph_build_util.h"
#include "ops/math/eltwise.h"
#include "passes/pass.h"

namespace kiln::test {
namespace {

using ir::Graph;
using ir::Node;
using ir::Value;

Value* bool_input(Graph& g, const std::string& name) {
  Value* v = g.add_value(name, {DType::Bool, {}});
  g.inputs.push_back({name, v});
  return v;
}

void seed(Node* n, Value* c, bool t) {
  n->when = c;
  n->when_true = t;
}

struct If {
  Graph g;
  Value *x = nullptr, *cond = nullptr;
  Node *then_relu = nullptr, *then_exp = nullptr, *else_relu = nullptr, *else_exp = nullptr, *select = nullptr;
  If() {
    x = input(g, "x", {2, 3});
    cond = bool_input(g, "cond");
    then_relu = add(g, "then/relu", unary(ops::Act::Relu), {x});
    then_exp = add(g, "then/exp", unary(ops::Act::Exp), {then_relu->outputs[0]});  // added by a pass: no seed
    else_relu = add(g, "else/relu", unary(ops::Act::Relu), {x});                    // same op as then/relu
    else_exp = add(g, "else/neg", unary(ops::Act::Neg), {else_relu->outputs[0]});
    select = add(g, "select", std::make_unique<ops::Where>(), {cond, then_exp->outputs[0], else_exp->outputs[0]});
    g.outputs.push_back({"y", select->outputs[0]});
    seed(then_relu, cond, true);
    seed(else_relu, cond, false);
    seed(else_exp, cond, false);
  }
};

TEST(PredicateBranches, SpreadsToUnseededNodesAndLeavesTheSelectUnpredicated) {
  If f;
  EXPECT_TRUE(passes::predicate_branches(f.g));
  EXPECT_EQ(f.then_exp->when, f.cond);
  EXPECT_TRUE(f.then_exp->when_true);
  EXPECT_EQ(f.else_exp->when, f.cond);
  EXPECT_FALSE(f.else_exp->when_true);
  EXPECT_EQ(f.select->when, nullptr);
  EXPECT_FALSE(passes::predicate_branches(f.g)) << "not at a fixed point";
}

TEST(PredicateBranches, CseKeepsTheBranchesApart) {
  If f;
  passes::predicate_branches(f.g);
  passes::cse(f.g);  // then/relu and else/relu compute the same thing under opposite predicates
  f.g.compact();
  EXPECT_EQ(count_type(f.g, "Unary"), 4u);
}

TEST(PredicateBranches, APredicatedValueReadOutsideItsBranchDropsThePredicates) {
  If f;
  Node* leak = add(f.g, "leak", unary(ops::Act::Abs), {f.then_relu->outputs[0]});
  f.g.outputs.push_back({"leak", leak->outputs[0]});  // a graph output from inside a branch
  passes::predicate_branches(f.g);
  for (auto& n : f.g.nodes()) EXPECT_EQ(n->when, nullptr) << n->name;
}

TEST(PredicateBranches, OnlyAWhereMayReadBothBranches) {
  If f;
  Node* mix = add(f.g, "mix", binary(ops::BinaryKind::Add), {f.then_exp->outputs[0], f.else_exp->outputs[0]});
  f.g.outputs.push_back({"mix", mix->outputs[0]});
  passes::predicate_branches(f.g);
  for (auto& n : f.g.nodes()) EXPECT_EQ(n->when, nullptr) << n->name;
}

TEST(PredicateBranches, AConditionComputedInsideABranchIsRefused) {
  If f;
  f.then_relu->when = f.then_relu->outputs[0];  // not bool, not one element, predicated itself
  passes::verify_predicates(f.g);
  EXPECT_EQ(f.then_relu->when, nullptr);
}

}  // namespace
}  // namespace kiln::test
