// Shape folding through Shape -> Gather -> Unsqueeze -> Concat -> Reshape (the x.view(x.size(0),
// -1) idiom): with a static input shape, import-time folding plus the pipeline leave one Reshape
// with a constant shape and no shape arithmetic; with an unknown batch the sub-graph stays.
// Expected outputs are computed independently (a reshape moves relu(x) unchanged).
#include <algorithm>
#include <cstring>

#include <gtest/gtest.h>

#include "graph_build_util.h"
#include "graph_eval_util.h"
#include "import/importer.h"
#include "kiln/compiler.hpp"
#include "onnx_builder_util.h"
#include "ops/math/eltwise.h"
#include "ops/tensor/shape.h"
#include "passes/pass.h"

namespace kiln::test {
namespace {

using ir::Graph;
using ir::Value;

// x -> Relu -> r; y = Reshape(r, Concat(Unsqueeze(Gather(Shape(r), 0)), [-1])).
OnnxBuilder flatten_model(std::vector<int64_t> x_dims) {
  OnnxBuilder b(13);
  b.input("x", x_dims);
  b.init_i64("zero", {}, {0});
  b.init_i64("axes0", {1}, {0});
  b.init_i64("minus1", {1}, {-1});
  b.node("Relu", {"x"}, {"r"});
  b.node("Shape", {"r"}, {"s"});
  OnnxBuilder::attr(b.node("Gather", {"s", "zero"}, {"n"}), "axis", int64_t{0});
  b.node("Unsqueeze", {"n", "axes0"}, {"n1"});
  OnnxBuilder::attr(b.node("Concat", {"n1", "minus1"}, {"shape"}), "axis", int64_t{0});
  b.node("Reshape", {"r", "shape"}, {"y"});
  b.output("y", {x_dims[0], -1});
  return b;
}

void run(Graph& g) {
  passes::PipelineOptions po;
  po.disabled = {"assign-layouts"};  // layouts are not what this checks; keep the graph row-major
  passes::run_pipeline(g, po);
}

void expect_no_shape_arithmetic(const Graph& g) {
  for (const char* t : {"Shape", "Gather", "Unsqueeze", "Concat"}) EXPECT_EQ(count_type(g, t), 0u) << t;
  ASSERT_EQ(count_type(g, "Reshape"), 1u);
  for (auto& n : g.nodes()) {
    if (n->type() != "Reshape") continue;
    // The target is an attribute, or a constant input.
    if (n->inputs.size() > 1) {
      EXPECT_TRUE(n->input(1) && n->input(1)->is_constant());
    }
  }
}

// y must be relu(x) with shape {batch, rest}.
void expect_flattened_relu(const Graph& g, const HostTensor& x) {
  auto out = evaluate(g, {{"x", x}});
  const HostTensor& y = out.at("y");
  EXPECT_EQ(y.shape, (Dims{x.shape[0], x.elements() / x.shape[0]}));
  HostTensor want = x;
  for (int64_t i = 0; i < want.elements(); ++i) want.as<float>()[i] = std::max(want.as<float>()[i], 0.f);
  want.shape = y.shape;
  EXPECT_TRUE(all_close(y, want, 0, 0));
}

TEST(ShapeFold, ImportWithFixedShapesFoldsTheChain) {
  OnnxBuilder b = flatten_model({-1, 3, 4, 4});
  onnx_import::ImportOptions io;
  io.shapes["x"] = {2, 3, 4, 4};
  auto g = onnx_import::import_onnx_bytes(b.bytes(), "flatten.onnx", io);
  run(*g);
  expect_no_shape_arithmetic(*g);
  EXPECT_EQ(g->outputs[0].value->type.shape, (Dims{2, 48}));
  expect_flattened_relu(*g, random_tensor(DType::Float32, {2, 3, 4, 4}, 4));
}

// A graph built without the importer (or a shape that only became static inside the pipeline):
// the fold-constants pass itself must turn Shape of a static value into a constant.
TEST(ShapeFold, PipelineFoldsShapeOfStaticValue) {
  Graph g;
  Value* x = g.add_value("x", {DType::Float32, {2, 3, 4, 4}});
  g.inputs.push_back({"x", x});
  auto add = [&](const char* name, std::unique_ptr<ops::Op> op, std::vector<Value*> ins) {
    ir::Node* n = g.add_node(name, std::move(op), std::move(ins), 1);
    g.infer(n);
    return n->outputs[0];
  };
  auto relu = std::make_unique<ops::Unary>();
  relu->act = ops::Act::Relu;
  Value* r = add("relu", std::move(relu), {x});
  Value* s = add("shape", std::make_unique<ops::Shape>(), {r});
  HostTensor zero(DType::Int64, {});
  zero.as<int64_t>()[0] = 0;
  Value* n = add("gather", std::make_unique<ops::Gather>(), {s, g.add_constant("zero", zero.view())});
  auto unsq = std::make_unique<ops::Unsqueeze>();
  unsq->axes = {0};
  Value* n1 = add("unsq", std::move(unsq), {n});
  HostTensor minus1(DType::Int64, {1});
  minus1.as<int64_t>()[0] = -1;
  Value* shape = add("concat", std::make_unique<ops::Concat>(), {n1, g.add_constant("minus1", minus1.view())});
  Value* y = add("reshape", std::make_unique<ops::Reshape>(), {r, shape});
  g.outputs.push_back({"y", y});
  ASSERT_EQ(y->type.shape, (Dims{-1, -1}));  // unknown until the shape is folded
  run(g);
  expect_no_shape_arithmetic(g);
  EXPECT_EQ(g.outputs[0].value->type.shape, (Dims{2, 48}));
  expect_flattened_relu(g, random_tensor(DType::Float32, {2, 3, 4, 4}, 5));
}

TEST(ShapeFold, UnknownBatchKeepsTheShapeSubgraph) {
  OnnxBuilder b = flatten_model({-1, 3, 4, 4});
  auto g = onnx_import::import_onnx_bytes(b.bytes(), "flatten.onnx", {});
  run(*g);
  EXPECT_EQ(count_type(*g, "Shape"), 1u);
  EXPECT_EQ(g->outputs[0].value->type.shape.size(), 2u);
  EXPECT_EQ(g->outputs[0].value->type.shape[0], -1);
}

// The public compile path with --shapes: the graph after the last pass has no shape arithmetic.
TEST(ShapeFold, CompileWithShapesLeavesNoShapeArithmetic) {
  OnnxBuilder b = flatten_model({-1, 3, 4, 4});
  std::string path = b.save("shape_fold_flatten.onnx");
  CompileOptions opts;
  opts.shapes["x"] = {2, 3, 4, 4};
  opts.dump_after = {"dead-code-final"};
  CompileResult res = compile_onnx_file(path, opts);
  std::string dump;
  for (auto& line : res.log)
    if (line.find(" = ") != std::string::npos && line.find("output y") != std::string::npos) dump = line;
  ASSERT_FALSE(dump.empty()) << "no graph dump in the build log";
  for (const char* t : {"= Shape(", "= Gather(", "= Unsqueeze(", "= Concat("})
    EXPECT_EQ(dump.find(t), std::string::npos) << t << " left in:\n" << dump;
  EXPECT_NE(dump.find("= Reshape("), std::string::npos) << dump;
  EXPECT_NE(dump.find("output y = y:float32[2x48]"), std::string::npos) << dump;
}

}  // namespace
}  // namespace kiln::test
