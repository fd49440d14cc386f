#include <unordered_set>

#include "passes/pass.h"

namespace kiln::passes {

bool dead_code(ir::Graph& g) {
  std::unordered_set<const ir::Value*> needed;
  for (auto& o : g.outputs) needed.insert(o.value);
  bool changed = false;
  auto& nodes = g.nodes();
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    ir::Node* n = it->get();
    if (!n->op) continue;
    bool live = false;
    for (ir::Value* v : n->outputs) live |= needed.count(v) != 0;
    if (!live) {
      g.remove_node(n);
      changed = true;
      continue;
    }
    for (ir::Value* v : n->inputs)
      if (v) needed.insert(v);
    if (n->when) needed.insert(n->when);  // its predicate is read too
  }
  return changed;
}

}  // namespace kiln::passes
