// Graphs whose nodes are not in topological order (compiler/import/topo_sort.cpp): ONNX Runtime
// runs them, so kiln imports them, with the same result as the sorted graph; sorted graphs keep
// their order exactly; cycles are refused naming their nodes.
#include <algorithm>

#include <gtest/gtest.h>

#include "graph_eval_util.h"
#include "import/importer.h"
#include "import/model_rewrites.h"
#include "onnx_builder_util.h"

namespace kiln::test {
namespace {

using onnx_import::import_onnx;

// x -> Conv -> Relu -> (Add with x-branch Sigmoid) -> Mul -> y, a small diamond.
OnnxBuilder diamond() {
  OnnxBuilder b;
  b.input("x", {1, 3, 6, 6});
  b.init_random("w", {3, 3, 3, 3}, 3);
  b.init_random("bias", {3}, 4);
  auto& c = b.node("Conv", {"x", "w", "bias"}, {"c"}, "conv");
  OnnxBuilder::attr(c, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c"}, {"r"}, "relu");
  b.node("Sigmoid", {"x"}, {"s"}, "sigmoid");
  b.node("Add", {"r", "s"}, {"a"}, "add");
  b.node("Mul", {"a", "r"}, {"y"}, "mul");
  b.output("y", {1, 3, 6, 6});
  return b;
}

std::vector<std::string> names(const onnx::GraphProto& g) {
  std::vector<std::string> r;
  for (const auto& n : g.node()) r.push_back(n.name());
  return r;
}

void reorder(OnnxBuilder& b, const std::vector<int>& order) {
  auto* g = b.model().mutable_graph();
  std::vector<onnx::NodeProto> nodes(g->node().begin(), g->node().end());
  g->clear_node();
  for (int i : order) *g->add_node() = nodes[static_cast<size_t>(i)];
}

TEST(ImportTopoSort, SortedGraphIsLeftAsIs) {
  OnnxBuilder b = diamond();
  auto before = names(b.model().graph());
  EXPECT_FALSE(onnx_import::sort_topologically(*b.model().mutable_graph()));
  EXPECT_EQ(names(b.model().graph()), before);
}

TEST(ImportTopoSort, SortIsStable) {
  // Reversed: mul, add, sigmoid, relu, conv. Ready first in file order: sigmoid (reads x), then
  // conv; relu, add, mul follow their producers.
  OnnxBuilder b = diamond();
  reorder(b, {4, 3, 2, 1, 0});
  EXPECT_TRUE(onnx_import::sort_topologically(*b.model().mutable_graph()));
  EXPECT_EQ(names(b.model().graph()), (std::vector<std::string>{"sigmoid", "conv", "relu", "add", "mul"}));
}

TEST(ImportTopoSort, UnsortedGraphImportsAndMatchesTheSortedOne) {
  OnnxBuilder sorted = diamond(), unsorted = diamond();
  reorder(unsorted, {3, 4, 1, 2, 0});
  std::vector<std::string> warnings;
  onnx_import::ImportOptions o;
  o.warnings = &warnings;
  auto gu = import_onnx(unsorted.save("unsorted.onnx"), o);
  auto gs = import_onnx(sorted.save("sorted.onnx"), {});
  ASSERT_NO_THROW(ir::verify(*gu));
  EXPECT_TRUE(std::any_of(warnings.begin(), warnings.end(),
                          [](const std::string& w) { return w.find("not in topological order") != std::string::npos; }))
      << ::testing::PrintToString(warnings);
  auto in = random_inputs(*gs, 5);
  HostTensor want = evaluate(*gs, in).at("y"), got = evaluate(*gu, in).at("y");
  EXPECT_TRUE(all_close(got, want, 0, 0));
}

TEST(ImportTopoSort, NodesReadingFromSubgraphsWaitForTheirCaptures) {
  // An If whose branches read 'r' from the outer graph must come after relu, though it reads
  // 'r' only inside its bodies.
  OnnxBuilder b;
  b.input("x", {2});
  b.input("cond", {}, onnx::TensorProto::BOOL);
  auto& iff = b.node("If", {"cond"}, {"y"}, "if");
  for (const char* branch : {"then_branch", "else_branch"}) {
    auto* a = iff.add_attribute();
    a->set_name(branch);
    a->set_type(onnx::AttributeProto::GRAPH);
    auto* body = a->mutable_g();
    body->set_name(branch);
    auto* n = body->add_node();
    n->set_op_type(std::string(branch) == "then_branch" ? "Neg" : "Abs");
    n->add_input("r");
    n->add_output(std::string(branch) + "_out");
    auto* out = body->add_output();
    out->set_name(std::string(branch) + "_out");
    out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    out->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(2);
  }
  b.node("Relu", {"x"}, {"r"}, "relu");
  b.output("y", {2});
  EXPECT_TRUE(onnx_import::sort_topologically(*b.model().mutable_graph()));
  EXPECT_EQ(names(b.model().graph()), (std::vector<std::string>{"relu", "if"}));
}

TEST(ImportTopoSort, CycleIsRefusedNamingItsNodes) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.node("Add", {"x", "q"}, {"p"}, "first");
  b.node("Relu", {"p"}, {"q"}, "second");
  b.node("Relu", {"p"}, {"y"}, "third");
  b.output("y", {1, 4});
  std::string path = b.save("cycle.onnx");
  try {
    import_onnx(path, {});
    FAIL() << "a cyclic graph was accepted";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_EQ(m.rfind(path + ": the graph has a cycle: ", 0), 0u) << m;
    EXPECT_NE(m.find("node 'first' (Add)"), std::string::npos) << m;
    EXPECT_NE(m.find("node 'second' (Relu)"), std::string::npos) << m;
    EXPECT_EQ(m.find("'third'"), std::string::npos) << m;
  }
}

TEST(ImportTopoSort, NodeReadingItsOwnOutputIsACycle) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.node("Add", {"x", "y"}, {"y"}, "self");
  b.output("y", {1, 4});
  try {
    import_onnx(b.save("self_cycle.onnx"), {});
    FAIL() << "a node reading its own output was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("node 'self' (Add) reads its own output 'y'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::test
