#include <algorithm>

#include "ops/tensor/shape.h"
#include "passes/pass.h"

namespace kiln::passes {

// Folding must not turn a small graph into a huge plan (Expand of a scalar to an image): a result
// is folded when it is small or no larger than the constants it is computed from (a weight
// transpose); anything else stays a node that runs at inference time.
static constexpr int64_t kSmallFoldBytes = 64 << 10;

// Shape and Size read only their input's dims, so a static input shape makes them constant
// however the data is produced (the importer does the same; this catches shapes that become
// static only after a pass re-infers them, and graphs built without the importer).
// Under a profile the shape varies at run time: the node stays, a shape program (Value::known).
static bool reads_only_shape(const ir::Graph& g, const ir::Node& n) {
  return !g.shapes_vary && (n.as<ops::Shape>() || n.as<ops::Size>()) && n.inputs.size() == 1 && n.inputs[0] &&
         shape_static(n.inputs[0]->type.shape);
}

bool fold_node(ir::Graph& g, ir::Node& n, bool any_size) {
  if (!n.op || !n.op->foldable()) return false;
  const bool shape_only = reads_only_shape(g, n);
  for (ir::Value* v : n.inputs)
    if (v && !v->is_constant() && !shape_only) return false;
  int64_t in_bytes = 0, out_bytes = 0;
  for (ir::Value* v : n.inputs)
    if (v && v->is_constant()) in_bytes += static_cast<int64_t>(v->constant->size());
  for (ir::Value* v : n.outputs) {
    int64_t e = shape_elements(v->type.shape);
    if (e < 0) return false;
    out_bytes += e * static_cast<int64_t>(dtype_size(v->type.dtype));
  }
  if (!any_size && out_bytes > std::max<int64_t>(kSmallFoldBytes, in_bytes)) return false;
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
