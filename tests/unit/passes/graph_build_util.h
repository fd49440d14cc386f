// Builds small IR graphs by hand for the pass tests: graph inputs, nodes with their shapes
// inferred, the common Unary/Binary ops, and a count of live nodes of a type.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"
#include "ops/math/eltwise.h"

namespace kiln::test {

inline ir::Value* input(ir::Graph& g, const std::string& name, Dims s) {
  ir::Value* v = g.add_value(name, {DType::Float32, std::move(s)});
  g.inputs.push_back({name, v});
  return v;
}

inline ir::Node* add(ir::Graph& g, const std::string& name, std::unique_ptr<ops::Op> op,
                     std::vector<ir::Value*> ins, size_t outs = 1) {
  ir::Node* n = g.add_node(name, std::move(op), std::move(ins), outs);
  g.infer(n);
  return n;
}

inline ir::Value* node(ir::Graph& g, const std::string& name, std::unique_ptr<ops::Op> op,
                       std::vector<ir::Value*> ins) {
  return add(g, name, std::move(op), std::move(ins))->outputs[0];
}

inline std::unique_ptr<ops::Unary> unary(ops::Act a, float alpha = 0, float beta = 0) {
  auto u = std::make_unique<ops::Unary>();
  u->act = a;
  u->alpha = alpha;
  u->beta = beta;
  return u;
}

inline std::unique_ptr<ops::Binary> binary(ops::BinaryKind k) {
  auto b = std::make_unique<ops::Binary>();
  b->kind = k;
  return b;
}

inline size_t count_type(const ir::Graph& g, std::string_view type) {
  size_t n = 0;
  for (auto& node : g.nodes()) n += node->op && node->type() == type;
  return n;
}

}  // namespace kiln::test
