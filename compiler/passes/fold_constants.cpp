#include "passes/pass.h"

namespace kiln::passes {

// Folding must not turn a small graph into a huge plan (e.g. Expand of a scalar to an image);
// results beyond this stay as runtime nodes.
static constexpr int64_t kMaxFoldedBytes = 64ll << 20;

bool fold_node(ir::Graph& g, ir::Node& n) {
  if (!n.op || !n.op->foldable()) return false;
  for (ir::Value* v : n.inputs)
    if (v && !v->is_constant()) return false;
  for (ir::Value* v : n.outputs) {
    int64_t e = shape_elements(v->type.shape);
    if (e < 0 || e * static_cast<int64_t>(dtype_size(v->type.dtype)) > kMaxFoldedBytes) return false;
  }
  ops::KernelArgs args;
  for (ir::Value* v : n.inputs) args.in.push_back(v ? v->view() : TensorView{});
  std::vector<std::shared_ptr<ir::Constant>> results;
  for (ir::Value* v : n.outputs) {
    auto c = std::make_shared<ir::Constant>(static_cast<size_t>(shape_elements(v->type.shape)) *
                                            dtype_size(v->type.dtype));
    args.out.push_back(TensorView{v->type.dtype, v->type.shape, c->data()});
    results.push_back(std::move(c));
  }
  try {
    n.op->reference(args);
  } catch (const Error& e) {
    throw Error(ir::node_label(n) + ": constant folding failed: " + e.what());
  }
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    n.outputs[i]->constant = results[i];
    n.outputs[i]->producer = nullptr;
  }
  g.remove_node(&n);
  return true;
}

bool fold_constants(ir::Graph& g) {
  bool changed = false;
  for (auto& n : g.nodes()) changed |= fold_node(g, *n);
  // Consumers of a folded value may now infer more (a Reshape whose shape input just became
  // constant); nodes are in topological order here, so one sweep reaches a fixed point.
  if (changed)
    for (auto& n : g.nodes())
      if (n->op) g.infer(n.get());
  return changed;
}

}  // namespace kiln::passes
