// Memory planning: tensors with overlapping lifetimes never share bytes, dead tensors' space is
// reused, and a Conv's Sum operand shares its output's buffer when nothing reads it later, as do
// an activation's input and reshaping views.
#include <gtest/gtest.h>

#include "graph_eval_util.h"
#include "ops/nn/conv.h"
#include "ops/math/eltwise.h"
#include "ops/tensor/shape.h"
#include "passes/pass.h"
#include "serialize/memory_plan.h"

namespace kiln::test {
namespace {

ir::Value* conv_node(ir::Graph& g, const std::string& name, ir::Value* x, int64_t c, uint32_t seed) {
  auto op = std::make_unique<ops::Conv>();
  op->pads = {1, 1, 1, 1};
  HostTensor w = random_tensor(DType::Float32, {c, x->type.shape[1], 3, 3}, seed);
  ir::Node* n = g.add_node(name, std::move(op), {x, g.add_constant(name + "_w", w.view())}, 1);
  g.infer(n);
  return n->outputs[0];
}

// x -> a = conv(x); b = conv(x); y = relu(conv(b) + a)   (a dies at the fused conv)
std::unique_ptr<ir::Graph> residual_graph() {
  auto g = std::make_unique<ir::Graph>();
  ir::Value* x = g->add_value("x", {DType::Float32, {1, 8, 6, 6}});
  g->inputs.push_back({"x", x});
  ir::Value* a = conv_node(*g, "a", x, 8, 1);
  ir::Value* b = conv_node(*g, "b", x, 8, 2);
  ir::Value* c = conv_node(*g, "c", b, 8, 3);
  auto add = std::make_unique<ops::Binary>();
  add->kind = ops::BinaryKind::Add;
  ir::Node* s = g->add_node("add", std::move(add), {c, a}, 1);
  g->infer(s);
  g->outputs.push_back({"y", s->outputs[0]});
  return g;
}

bool overlaps(uint64_t o1, uint64_t b1, uint64_t o2, uint64_t b2) { return o1 < o2 + b2 && o2 < o1 + b1; }

TEST(MemoryPlan, LiveTensorsNeverOverlap) {
  auto g = residual_graph();
  auto plan = serialize::plan_memory(*g);
  // x (a graph input) is live for the whole run; a, b and c are live together while c is computed.
  const ir::Value *x = g->inputs[0].value, *a = g->nodes()[0]->outputs[0], *b = g->nodes()[1]->outputs[0],
                  *c = g->nodes()[2]->outputs[0];
  const uint64_t bytes = 8 * 6 * 6 * 4;
  std::vector<std::pair<const ir::Value*, const ir::Value*>> pairs = {{x, a}, {x, b}, {x, c}, {a, b}, {a, c}, {b, c}};
  for (auto [p, q] : pairs)
    EXPECT_FALSE(overlaps(plan.offset.at(p), bytes, plan.offset.at(q), bytes)) << p->name << " and " << q->name;
  EXPECT_LE(plan.arena_bytes, plan.activation_bytes);
}

TEST(MemoryPlan, SumOperandSharesTheFusedConvOutput) {
  auto g = residual_graph();
  auto in = random_inputs(*g, 3);
  auto want = evaluate(*g, in);
  ASSERT_TRUE(passes::fuse_post_ops(*g));
  g->compact();
  g->topo_sort();
  ir::verify(*g);
  auto plan = serialize::plan_memory(*g);
  const ir::Node* fused = g->outputs[0].value->producer;
  ASSERT_EQ(fused->inputs.size(), 4u);
  EXPECT_EQ(plan.offset.at(fused->inputs[3]), plan.offset.at(fused->outputs[0]));
}

// An int8 block: the downsample's s8 output (no ReLU) is the residual of a conv whose ReLU output
// is u8. oneDNN's sum post-op reads the operand as s8 whatever dst is, so they share a buffer
// instead of the operand being copied into dst before every run; a float operand never does.
TEST(MemoryPlan, Int8ResidualOfAnother8BitTypeSharesTheOutput) {
  auto g = residual_graph();
  ASSERT_TRUE(passes::fuse_post_ops(*g));
  g->compact();
  g->topo_sort();
  ir::Node* fused = g->outputs[0].value->producer;
  ASSERT_EQ(fused->inputs.size(), 4u);
  ir::Value* operand = fused->inputs[3];
  ir::Value* out = fused->outputs[0];
  operand->type.dtype = DType::QInt8;
  out->type.dtype = DType::QUInt8;
  auto plan = serialize::plan_memory(*g);
  EXPECT_EQ(plan.offset.at(operand), plan.offset.at(out));

  operand->type.dtype = DType::Float32;
  auto mixed = serialize::plan_memory(*g);
  EXPECT_NE(mixed.offset.at(operand), mixed.offset.at(out)) << "a float operand of a u8 output is copied";
}

ir::Value* unary(ir::Graph& g, const std::string& name, ir::Value* x, ops::Act act) {
  auto op = std::make_unique<ops::Unary>();
  op->act = act;
  ir::Node* n = g.add_node(name, std::move(op), {x}, 1);
  g.infer(n);
  return n->outputs[0];
}

ir::Value* reshape(ir::Graph& g, const std::string& name, ir::Value* x, std::vector<int64_t> shape) {
  auto op = std::make_unique<ops::Reshape>();
  op->shape = std::move(shape);
  ir::Node* n = g.add_node(name, std::move(op), {x}, 1);
  g.infer(n);
  return n->outputs[0];
}

// x -> relu -> sigmoid -> reshape -> tanh (output 1); sigmoid also -> reshape (output 2).
TEST(MemoryPlan, ActivationsAndViewsRunInPlace) {
  ir::Graph g;
  ir::Value* x = g.add_value("x", {DType::Float32, {2, 3, 4}});
  g.inputs.push_back({"x", x});
  ir::Value* r = unary(g, "relu", x, ops::Act::Relu);
  ir::Value* s = unary(g, "sigmoid", r, ops::Act::Sigmoid);
  ir::Value* v = reshape(g, "view", s, {6, 4});
  ir::Value* y = unary(g, "tanh", v, ops::Act::Tanh);
  g.outputs.push_back({"y", y});
  auto plan = serialize::plan_memory(g);
  // relu reads the graph input, which must survive: it gets its own buffer; the rest is a chain.
  EXPECT_NE(plan.offset.at(r), plan.offset.at(x));
  EXPECT_EQ(plan.offset.at(s), plan.offset.at(r));
  EXPECT_EQ(plan.offset.at(v), plan.offset.at(r));
  EXPECT_EQ(plan.offset.at(y), plan.offset.at(r));
  EXPECT_EQ(plan.arena_bytes, 2u * 128) << "x and one shared buffer (96 bytes each, 64-byte aligned slots)";
  EXPECT_EQ(plan.activation_bytes, 5u * 24 * 4) << "every tensor still counts as an activation";

  // A view that is a graph output, or whose input is read later, keeps its own buffer.
  ir::Graph h;
  ir::Value* hx = h.add_value("x", {DType::Float32, {2, 3, 4}});
  h.inputs.push_back({"x", hx});
  ir::Value* hr = unary(h, "relu", hx, ops::Act::Relu);
  ir::Value* hv = reshape(h, "view", hr, {24});
  ir::Value* hs = unary(h, "sigmoid", hr, ops::Act::Sigmoid);
  h.outputs.push_back({"v", hv});
  h.outputs.push_back({"s", hs});
  auto hp = serialize::plan_memory(h);
  EXPECT_NE(hp.offset.at(hv), hp.offset.at(hr));
  EXPECT_EQ(hp.offset.at(hs), hp.offset.at(hr)) << "sigmoid is relu's last reader";
}

// The runtime may fall back to the reference kernel, which must then be correct in place too.
TEST(MemoryPlan, ReferenceConvIsCorrectInPlace) {
  ops::Conv conv;
  conv.pads = {1, 1, 1, 1};
  conv.post.ops.push_back({ops::PostOp::Kind::Sum, ops::Act::Identity, 0.f, 0.f});
  conv.post.ops.push_back({ops::PostOp::Kind::Act, ops::Act::Relu, 0.f, 0.f});
  HostTensor x = random_tensor(DType::Float32, {1, 4, 5, 5}, 1);
  HostTensor w = random_tensor(DType::Float32, {4, 4, 3, 3}, 2, -1, 1, true);
  HostTensor operand = random_tensor(DType::Float32, {1, 4, 5, 5}, 3);
  std::vector<HostTensor> in = {x, w, HostTensor(DType::Undefined, {}), operand};
  in[2].bytes.clear();
  auto want = run_reference(conv, in);
  HostTensor shared = operand;  // output written over the operand's buffer
  ops::KernelArgs args;
  args.in = {x.view(), w.view(), TensorView{}, shared.view()};
  args.out = {shared.view()};
  conv.reference(args);
  EXPECT_TRUE(all_close(shared, want[0]));
}

}  // namespace
}  // namespace kiln::test
