// fuse-gelu: GELU spelled out in elementwise ops, as torch's F.gelu exports below opset 20 and as
// BERT/GPT code writes it by hand, becomes one Gelu (erf) or GeluTanh activation: one pass over
// memory instead of five to nine, and fusable into the producing MatMul as a oneDNN post-op.
//   f = Erf(Div(x, sqrt 2) | Mul(x, 1/sqrt 2))                              -> Gelu
//   f = Tanh(sqrt(2/pi) * (x + 0.044715 * (Pow(x, 3) | x * (x * x))))      -> GeluTanh
//   a = Add(f, 1), then one of Mul(Mul(x, a), 0.5) (torch), Mul(Mul(x, 0.5), a) (0.5 * x first)
//   or Mul(x, Mul(a, 0.5)).
// Operands of commutative ops may come in either order.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>

#include "ops/math/eltwise.h"
#include "passes/pass.h"

namespace kiln::passes {
namespace {

// Exported constants are float32 roundings of the exact values.
bool near(const ir::Value* v, double want) {
  auto c = scalar_constant(v);
  return c && std::fabs(*c - want) <= 1e-6 * std::fabs(want);
}

ir::Node* binary(ir::Node* n, ops::BinaryKind k) {
  auto* b = n ? n->as<ops::Binary>() : nullptr;
  return b && b->kind == k && b->post.empty() && n->inputs.size() == 2 ? n : nullptr;
}

// For a two-input node with a scalar-constant operand equal to `want`, the other operand.
ir::Value* operand_beside(ir::Node* n, double want) {
  if (!n) return nullptr;
  if (near(n->inputs[1], want)) return n->inputs[0];
  if (near(n->inputs[0], want)) return n->inputs[1];
  return nullptr;
}

ir::Value* other(const ir::Node* n, const ir::Value* v) {
  return n->inputs[0] == v ? n->inputs[1] : n->inputs[1] == v ? n->inputs[0] : nullptr;
}

// The shared tail 0.5 * x * a in its three orderings, where a = Add(f, 1) with f (the Erf or
// Tanh output) read only by it. Rewrites the last Mul into `act` of x and retires `dead` plus the
// tail; false if the tail does not match.
bool rewrite_tail(ir::Graph& g, const Uses& uses, ir::Value* x, ir::Value* f, std::vector<ir::Node*> dead,
                  ops::Act act) {
  const Dims& xs = x->type.shape;
  if (!sole_user(g, f, uses) || f->type.shape != xs) return false;
  ir::Node* plus = binary(sole_user(g, f, uses), ops::BinaryKind::Add);
  if (!plus || operand_beside(plus, 1.0) != f || plus->outputs[0]->type.shape != xs) return false;
  ir::Value* a = plus->outputs[0];
  ir::Node* m1 = binary(sole_user(g, a, uses), ops::BinaryKind::Mul);
  if (!m1 || m1->outputs[0]->type.shape != xs) return false;
  ir::Value* b = other(m1, a);
  dead.push_back(plus);
  dead.push_back(m1);
  ir::Node* last = nullptr;
  if (b == x) {  // Mul(Mul(x, a), 0.5)
    ir::Node* m2 = binary(sole_user(g, m1->outputs[0], uses), ops::BinaryKind::Mul);
    if (m2 && operand_beside(m2, 0.5) == m1->outputs[0]) last = m2;
  } else if (near(b, 0.5)) {  // Mul(x, Mul(a, 0.5))
    ir::Node* m2 = binary(sole_user(g, m1->outputs[0], uses), ops::BinaryKind::Mul);
    if (m2 && other(m2, m1->outputs[0]) == x) last = m2;
  } else if (ir::Node* h = binary(b ? b->producer : nullptr, ops::BinaryKind::Mul)) {  // Mul(Mul(x, 0.5), a)
    if (operand_beside(h, 0.5) == x && sole_user(g, b, uses) == m1) {
      dead.push_back(h);
      last = m1;
    }
  }
  if (!last || last->outputs[0]->type.shape != xs) return false;

  std::vector<std::string> fused;
  for (ir::Node* n : dead)
    if (n != last) fused.insert(fused.end(), n->fused.begin(), n->fused.end());
  fused.insert(fused.end(), last->fused.begin(), last->fused.end());
  auto gelu = std::make_unique<ops::Unary>();
  gelu->act = act;
  for (ir::Node* n : dead)
    if (n != last) g.remove_node(n);
  last->op = std::move(gelu);
  last->inputs = {x};
  last->fused = std::move(fused);
  return true;
}

bool float_input(const ir::Value* x) {
  return x && (x->type.dtype == DType::Float32 || x->type.dtype == DType::Float64);
}

// Erf(Div(x, sqrt 2) | Mul(x, 1/sqrt 2)), rooted at the Erf.
bool rewrite_erf(ir::Graph& g, ir::Node& erf, const Uses& uses) {
  auto* u = erf.as<ops::Unary>();
  if (!u || u->act != ops::Act::Erf) return false;
  ir::Node* scale = erf.inputs[0]->producer;
  ir::Value* x = nullptr;
  if (binary(scale, ops::BinaryKind::Div))
    x = near(scale->inputs[1], std::sqrt(2.0)) ? scale->inputs[0] : nullptr;
  else if (binary(scale, ops::BinaryKind::Mul)) x = operand_beside(scale, std::sqrt(0.5));
  if (!float_input(x) || !sole_user(g, erf.inputs[0], uses) || erf.inputs[0]->type.shape != x->type.shape)
    return false;
  return rewrite_tail(g, uses, x, erf.outputs[0], {scale, &erf}, ops::Act::Gelu);
}

// Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)), x^3 as Pow(x, 3) or Mul(x, Mul(x, x)); rooted at the Tanh.
bool rewrite_tanh(ir::Graph& g, ir::Node& tanh, const Uses& uses) {
  auto* u = tanh.as<ops::Unary>();
  if (!u || u->act != ops::Act::Tanh) return false;
  ir::Node* scale = binary(tanh.inputs[0]->producer, ops::BinaryKind::Mul);
  ir::Value* s = operand_beside(scale, std::sqrt(2.0 / std::numbers::pi));
  ir::Node* sum = binary(s ? s->producer : nullptr, ops::BinaryKind::Add);
  if (!sum || !sole_user(g, tanh.inputs[0], uses) || !sole_user(g, s, uses)) return false;
  for (int side = 0; side < 2; ++side) {
    ir::Value* x = sum->inputs[1 - side];
    ir::Value* k = sum->inputs[side];
    ir::Node* km = binary(k->producer, ops::BinaryKind::Mul);
    ir::Value* cube = operand_beside(km, 0.044715);
    if (!float_input(x) || !cube || !sole_user(g, k, uses) || !sole_user(g, cube, uses)) continue;
    std::vector<ir::Node*> dead;  // in graph order, for the fused-op list inspect shows
    ir::Node* c = cube->producer;
    bool cubed = false;
    if (binary(c, ops::BinaryKind::Pow)) {
      cubed = c->inputs[0] == x && near(c->inputs[1], 3.0);
    } else if (binary(c, ops::BinaryKind::Mul)) {
      ir::Value* sq = other(c, x);
      ir::Node* sqn = binary(sq ? sq->producer : nullptr, ops::BinaryKind::Mul);
      cubed = sqn && sqn->inputs[0] == x && sqn->inputs[1] == x && sole_user(g, sq, uses) == c;
      dead.push_back(sqn);
    }
    for (ir::Node* n : {c, km, sum, scale}) {
      cubed = cubed && n->outputs[0]->type.shape == x->type.shape;
      dead.push_back(n);
    }
    dead.push_back(&tanh);
    if (cubed) return rewrite_tail(g, uses, x, tanh.outputs[0], dead, ops::Act::GeluTanh);
  }
  return false;
}

}  // namespace

bool fuse_gelu(ir::Graph& g) {
  return apply_rules(g, {PatternRule{{"Unary"}, rewrite_erf}, PatternRule{{"Unary"}, rewrite_tanh}});
}

}  // namespace kiln::passes
