#include "ops/math/eltwise.h"
#include "passes/pass.h"

namespace kiln::passes {

// Mul(x, Sigmoid(x)) -> Unary Swish(x): the form torch exports SiLU in.
static bool rewrite(ir::Graph& g, ir::Node& mul, const Uses& uses) {
  auto* b = mul.as<ops::Binary>();
  if (!b || b->kind != ops::BinaryKind::Mul || !b->post.empty()) return false;
  for (int side = 0; side < 2; ++side) {
    ir::Value* s = mul.inputs[side];
    ir::Value* x = mul.inputs[1 - side];
    ir::Node* sig = s ? s->producer : nullptr;
    auto* u = sig ? sig->as<ops::Unary>() : nullptr;
    if (!u || u->act != ops::Act::Sigmoid || sig->inputs[0] != x) continue;
    if (x->type.shape != mul.outputs[0]->type.shape || x->type.dtype != DType::Float32) continue;
    auto swish = std::make_unique<ops::Unary>();
    swish->act = ops::Act::Swish;
    swish->alpha = 1.f;
    mul.op = std::move(swish);
    mul.inputs = {x};
    mul.fused.insert(mul.fused.begin(), sig->fused.begin(), sig->fused.end());
    // The sigmoid stays if something else reads it; dead-code removes it otherwise.
    (void)uses;
    (void)g;
    return true;
  }
  return false;
}

bool fuse_swish(ir::Graph& g) { return apply_rules(g, {PatternRule{{"Binary"}, rewrite}}); }

}  // namespace kiln::passes
