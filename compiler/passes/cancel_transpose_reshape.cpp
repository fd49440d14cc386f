// Transpose/Reshape cancellation: back-to-back permutations compose into one Transpose (or none
// when they undo each other), chains of reshaping views (Reshape, Flatten, Squeeze, Unsqueeze)
// collapse into one Reshape to the final shape, and a reshape that keeps the shape disappears.
// Exporters emit such chains around attention heads and flattening; each link is a full copy.
// Only intermediates read by nothing else and bound to no graph output are removed.
#include <algorithm>

#include "ops/tensor/identity.h"
#include "ops/tensor/shape.h"
#include "passes/pass.h"

namespace kiln::passes {
namespace {

bool is_reshape_like(const ir::Node& n) {
  return n.as<ops::Reshape>() || n.as<ops::Flatten>() || n.as<ops::Squeeze>() || n.as<ops::Unsqueeze>();
}

// Layouts are assigned last; a blocked value is not a plain row-major view, so leave it alone.
bool dense(const ir::Value* v) { return v && v->layout.empty(); }

// The producer of n's data input when n is its only reader and it is no graph output.
ir::Node* fusable_producer(const ir::Graph& g, ir::Node& n, const Uses& uses) {
  ir::Value* mid = n.input(0);
  if (!dense(mid) || !mid->producer || !mid->producer->op) return nullptr;
  if (sole_user(g, mid, uses) != &n) return nullptr;
  return mid->producer;
}

// Replaces n's op and inputs; keeps the change only when the output type re-infers unchanged
// (a rewrite must never change what consumers see).
bool replace_op(ir::Graph& g, ir::Node& n, std::unique_ptr<ops::Op> op, std::vector<ir::Value*> inputs) {
  ir::Value* out = n.outputs[0];
  ops::TensorType before = out->type;
  auto old_op = std::move(n.op);
  auto old_inputs = std::move(n.inputs);
  n.op = std::move(op);
  n.inputs = std::move(inputs);
  bool same = false;
  try {
    g.infer(&n);
    same = out->type.dtype == before.dtype && out->type.shape == before.shape;
  } catch (const Error&) {
  }
  if (!same) {
    n.op = std::move(old_op);
    n.inputs = std::move(old_inputs);
    out->type = before;
  }
  return same;
}

// Removes `first` after its consumer `second` took over its input.
void absorb(ir::Graph& g, ir::Node& second, ir::Node& first) {
  second.fused.insert(second.fused.begin(), first.fused.begin(), first.fused.end());
  g.remove_node(&first);
}

// Transpose(Transpose(x, p1), p2) = Transpose(x, q) with q[i] = p1[p2[i]].
bool compose_transposes(ir::Graph& g, ir::Node& n, const Uses& uses) {
  auto* t2 = n.as<ops::Transpose>();
  ir::Node* first = fusable_producer(g, n, uses);
  auto* t1 = first ? first->as<ops::Transpose>() : nullptr;
  if (!t2 || !t1 || !dense(n.outputs[0])) return false;
  ir::Value* x = first->input(0);
  if (!dense(x)) return false;
  size_t rank = x->type.shape.size();
  std::vector<int64_t> p1 = t1->effective_perm(rank), p2 = t2->effective_perm(rank);
  if (p1.size() != rank || p2.size() != rank) return false;
  std::vector<int64_t> q(rank);
  bool identity = true;
  for (size_t i = 0; i < rank; ++i) {
    q[i] = p1[static_cast<size_t>(p2[i])];
    identity &= q[i] == static_cast<int64_t>(i);
  }
  ir::Value* out = n.outputs[0];
  if (identity && !g.is_graph_output(out)) {
    g.replace_uses(out, x);
    g.remove_node(&n);
    g.remove_node(first);
    return true;
  }
  std::unique_ptr<ops::Op> op;
  if (identity) {
    // The output binding needs its own buffer and name: a copy, cheaper than a transpose.
    op = std::make_unique<ops::Identity>();
  } else {
    auto t = std::make_unique<ops::Transpose>();
    t->perm = q;
    op = std::move(t);
  }
  if (!replace_op(g, n, std::move(op), {x})) return false;
  absorb(g, n, *first);
  return true;
}

// A Reshape target for `s`: the static dims, with at most one unknown dim as -1 (inferred from
// the element count at run time). nullopt when that cannot express s exactly.
std::optional<std::vector<int64_t>> reshape_target(const Dims& s) {
  int unknown = 0;
  for (int64_t d : s) {
    if (d < 0) ++unknown;
    // -1 next to a zero dim is ambiguous (any count fits); allowzero keeps a static 0 literal.
    if (d == 0 && std::count(s.begin(), s.end(), -1) > 0) return std::nullopt;
  }
  if (unknown > 1) return std::nullopt;
  return std::vector<int64_t>(s.begin(), s.end());
}

bool collapse_reshapes(ir::Graph& g, ir::Node& n, const Uses& uses) {
  if (!is_reshape_like(n)) return false;
  ir::Value* in = n.input(0);
  ir::Value* out = n.outputs[0];
  if (!dense(in) || !dense(out)) return false;
  // Under a profile, dims this build sees may vary: a target computed at run time may make this
  // view the same shape here only, and a collapsed chain's literal target would fix them.
  const bool varies = g.shapes_vary && !in->is_constant();
  // A view to the same static shape is a plain copy.
  if (shape_static(in->type.shape) && in->type.shape == out->type.shape && in->type.dtype == out->type.dtype &&
      !g.is_graph_output(out) && (!varies || ir::params_constant(n.inputs))) {
    g.replace_uses(out, in);
    g.remove_node(&n);
    return true;
  }
  if (varies) return false;
  ir::Node* first = fusable_producer(g, n, uses);
  if (!first || !is_reshape_like(*first)) return false;
  ir::Value* x = first->input(0);
  if (!dense(x)) return false;
  auto target = reshape_target(out->type.shape);
  if (!target) return false;
  auto r = std::make_unique<ops::Reshape>();
  r->shape = *target;
  r->allowzero = std::count(target->begin(), target->end(), -1) == 0 ? 1 : 0;
  if (!replace_op(g, n, std::move(r), {x})) return false;
  absorb(g, n, *first);
  return true;
}

}  // namespace

bool cancel_transpose_reshape(ir::Graph& g) {
  return apply_rules(g, {PatternRule{{"Transpose"}, compose_transposes},
                         PatternRule{{"Reshape", "Flatten", "Squeeze", "Unsqueeze"}, collapse_reshapes}});
}

}  // namespace kiln::passes
