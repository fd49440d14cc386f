#include "ops/tensor/identity.h"
#include "passes/pass.h"

namespace kiln::passes {

// An Identity whose output is a graph output stays when its input is itself a graph input or
// output, or a constant: the runtime needs a distinct buffer for each binding.
bool remove_identity(ir::Graph& g) {
  bool changed = false;
  for (auto& n : g.nodes()) {
    if (!n->op || !n->as<ops::Identity>()) continue;
    ir::Value* in = n->inputs[0];
    ir::Value* out = n->outputs[0];
    if (!in) continue;
    if (g.is_graph_output(out)) {
      if (in->is_constant() || g.is_graph_input(in) || g.is_graph_output(in)) continue;
      // Rename the producer's output into the graph output so the binding keeps its name.
      ir::Node* p = in->producer;
      if (!p) continue;
      for (auto& o : p->outputs)
        if (o == in) o = out;
      out->producer = p;
      out->type = in->type;
      g.replace_uses(in, out);
      g.remove_node(n.get());
      out->producer = p;
    } else {
      g.replace_uses(out, in);
      g.remove_node(n.get());
    }
    changed = true;
  }
  return changed;
}

}  // namespace kiln::passes
