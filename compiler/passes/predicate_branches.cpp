// predicate-branches: an If on a run-time condition is imported as both branches and a Where
// per output (import/ops/controlflow/if_loop_scan.cpp), each branch's nodes seeded with the condition they
// need. This pass makes the predicates whole again after the other passes have added nodes
// (reorders, conversions, fusions replace nodes): a node that reads a value computed under a
// predicate runs under it too. Only Where may read both branches (it selects, so the skipped
// branch's unwritten buffers never reach a result). Whatever cannot be made consistent -- a
// predicated value read by anything else, reaching a graph output, or with a shape known only at
// run time (a skipped layer would leave it unsized) -- loses its predicates: both branches then
// run, which is correct, only slower.
#include <map>
#include <set>

#include "ops/math/eltwise.h"
#include "passes/pass.h"

namespace kiln::passes {

namespace {

using Pred = std::pair<ir::Value*, bool>;

std::optional<Pred> pred_of(const ir::Node* n) {
  if (!n || !n->when) return std::nullopt;
  return Pred{n->when, n->when_true};
}

}  // namespace

bool verify_predicates(ir::Graph& g) {
  std::set<const ir::Value*> broken;
  std::set<const ir::Value*> conds;
  for (auto& n : g.nodes())
    if (n->op && n->when) conds.insert(n->when);
  for (const ir::Value* c : conds) {
    const bool ok = c->type.dtype == DType::Bool && shape_static(c->type.shape) && shape_elements(c->type.shape) == 1 &&
                    !c->is_constant() && (!c->producer || !c->producer->when);
    if (!ok) broken.insert(c);
  }
  for (auto& n : g.nodes()) {
    if (!n->op) continue;
    const auto mine = pred_of(n.get());
    const bool selector = n->as<ops::Where>() != nullptr && !n->when;
    for (const ir::Value* v : n->inputs) {
      const auto theirs = v ? pred_of(v->producer) : std::nullopt;
      if (!theirs || theirs == mine) continue;
      if (selector && shape_static(v->type.shape)) continue;
      broken.insert(theirs->first);
      if (mine) broken.insert(mine->first);
    }
  }
  for (auto& o : g.outputs)
    if (const auto p = pred_of(o.value->producer)) broken.insert(p->first);
  bool changed = false;
  for (auto& n : g.nodes())
    if (n->when && broken.count(n->when)) {
      n->when = nullptr;
      changed = true;
    }
  return changed;
}

bool predicate_branches(ir::Graph& g) {
  bool changed = false;
  for (auto& n : g.nodes()) {  // topological order: producers first
    if (!n->op) continue;
    std::optional<Pred> p = pred_of(n.get());
    bool both = false;
    for (const ir::Value* v : n->inputs) {
      const auto q = v ? pred_of(v->producer) : std::nullopt;
      if (!q) continue;
      if (!p) p = q;
      else if (p->first == q->first && p->second != q->second) both = true;
    }
    // Reading both branches: a selector runs always; anything else is left for verify to reject.
    if (both && n->as<ops::Where>()) {
      changed |= n->when != nullptr;
      n->when = nullptr;
      continue;
    }
    if (p && (n->when != p->first || n->when_true != p->second)) {
      n->when = p->first;
      n->when_true = p->second;
      changed = true;
    }
  }
  changed |= verify_predicates(g);
  return changed;
}

}  // namespace kiln::passes
