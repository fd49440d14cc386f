// fuse-layernorm: the decomposed layer normalisation that torch exports below opset 17 (and that
// hand-written BERT/GPT code produces at any opset) becomes one LayerNormalization node, which runs
// as a single oneDNN primitive instead of nine elementwise/reduction passes over the activations:
//   mean = ReduceMean(x, axes=[last]); d = Sub(x, mean)
//   v = ReduceMean(Pow(d, 2) | Mul(d, d), axes=[last])
//   y = Div(d, Sqrt(Add(v, eps)))  |  Mul(d, Reciprocal(Sqrt(Add(v, eps))))
//   [y = Mul(y, gamma)] [y = Add(y, beta)]
// gamma/beta are absorbed when they are constants broadcasting along the last axis only; missing
// ones become constant ones/zeros, since the oneDNN kernel wants a full [C] scale.
#include <cmath>
#include <algorithm>
#include <optional>

#include "ops/math/eltwise.h"
#include "ops/nn/layernorm.h"
#include "ops/reduction/reduce.h"
#include "passes/pass.h"

namespace kiln::passes {
namespace {

ops::Binary* binary(const ir::Node* n, ops::BinaryKind k) {
  auto* b = n ? n->as<ops::Binary>() : nullptr;
  return b && b->kind == k && b->post.empty() && n->inputs.size() == 2 ? b : nullptr;
}

const ir::Node* producer_of(const ir::Value* v) { return v ? v->producer : nullptr; }

// Every consumer of v is one of `allowed` (and v is not a graph output).
bool only_used_by(const ir::Graph& g, const ir::Value* v, const Uses& uses,
                  const std::vector<const ir::Node*>& allowed) {
  if (g.is_graph_output(v)) return false;
  auto it = uses.find(v);
  if (it == uses.end()) return true;
  for (const ir::Node* u : it->second)
    if (std::find(allowed.begin(), allowed.end(), u) == allowed.end()) return false;
  return true;
}

// ReduceMean over exactly the last axis of `x`, keeping dims.
bool mean_over_last(const ir::Node* n, const ir::Value* x) {
  auto* r = n ? n->as<ops::Reduce>() : nullptr;
  if (!r || r->kind != ops::ReduceKind::Mean || !r->keepdims || n->inputs.size() != 1 || n->inputs[0] != x)
    return false;
  const auto rank = static_cast<int64_t>(x->type.shape.size());
  return rank >= 1 && r->axes.size() == 1 && (r->axes[0] == -1 || r->axes[0] == rank - 1);
}

// The other operand of a two-input node, given one of them.
ir::Value* other(const ir::Node* n, const ir::Value* v) {
  return n->inputs[0] == v ? n->inputs[1] : n->inputs[1] == v ? n->inputs[0] : nullptr;
}

// A constant gamma/beta usable as LayerNormalization's [C] Scale/B: of x's dtype and broadcasting
// along the last axis only (so multiplying by it cannot change the output's shape).
std::optional<std::vector<double>> last_axis_param(const ir::Value* p, const ir::Value* x) {
  if (!p || !p->is_constant() || p->type.dtype != x->type.dtype) return std::nullopt;
  const Dims& s = p->type.shape;
  const int64_t c = x->type.shape.back();
  if (s.size() > x->type.shape.size()) return std::nullopt;
  for (size_t i = 0; i + 1 < s.size(); ++i)
    if (s[i] != 1) return std::nullopt;
  const int64_t n = s.empty() ? 1 : s.back();
  if (n != 1 && n != c) return std::nullopt;
  std::vector<double> out(static_cast<size_t>(c));
  for (int64_t i = 0; i < c; ++i) out[static_cast<size_t>(i)] = element_as_double(p->view(), n == 1 ? 0 : i);
  return out;
}

ir::Value* make_param(ir::Graph& g, const std::string& base, DType t, const std::vector<double>& v) {
  ir::Value* p = g.add_constant(g.unique_name(base), t, {static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::Float64) static_cast<double*>(p->constant->data())[i] = v[i];
    else static_cast<float*>(p->constant->data())[i] = static_cast<float>(v[i]);
  }
  return p;
}

// Rooted at the normalising Div (or Mul by a reciprocal).
bool rewrite(ir::Graph& g, ir::Node& root, const Uses& uses) {
  ir::Value *d = nullptr, *s = nullptr;
  const ir::Node* recip = nullptr;
  if (binary(&root, ops::BinaryKind::Div)) {
    d = root.inputs[0];
    s = root.inputs[1];
  } else if (binary(&root, ops::BinaryKind::Mul)) {
    for (int side = 0; side < 2 && !recip; ++side) {
      const ir::Node* r = producer_of(root.inputs[side]);
      auto* u = r ? r->as<ops::Unary>() : nullptr;
      if (u && u->act == ops::Act::Reciprocal) {
        recip = r;
        d = root.inputs[1 - side];
        s = r->inputs[0];
      }
    }
    if (!recip || !sole_user(g, root.inputs[0] == d ? root.inputs[1] : root.inputs[0], uses)) return false;
  } else {
    return false;
  }
  // d = Sub(x, mean), mean = ReduceMean(x).
  const ir::Node* sub = producer_of(d);
  if (!binary(sub, ops::BinaryKind::Sub)) return false;
  ir::Value* x = sub->inputs[0];
  const ir::Node* mean = producer_of(sub->inputs[1]);
  if (!x || (x->type.dtype != DType::Float32 && x->type.dtype != DType::Float64)) return false;
  const Dims& xs = x->type.shape;
  if (xs.empty() || xs.back() <= 0 || !mean_over_last(mean, x)) return false;
  if (d->type.shape != xs || root.outputs[0]->type.shape != xs || !sole_user(g, mean->outputs[0], uses))
    return false;
  // s = Sqrt(Add(v, eps)).
  const ir::Node* sqrt = producer_of(s);
  auto* su = sqrt ? sqrt->as<ops::Unary>() : nullptr;
  if (!su || su->act != ops::Act::Sqrt || !sole_user(g, s, uses)) return false;
  const ir::Node* add = producer_of(sqrt->inputs[0]);
  if (!binary(add, ops::BinaryKind::Add) || !sole_user(g, add->outputs[0], uses)) return false;
  ir::Value* v = nullptr;
  std::optional<double> eps;
  for (int side = 0; side < 2 && !eps; ++side) {
    eps = scalar_constant(add->inputs[side]);
    v = add->inputs[1 - side];
  }
  if (!eps || !std::isfinite(*eps) || *eps < 0 || add->outputs[0]->type.shape != v->type.shape) return false;
  // v = ReduceMean(Pow(d, 2) | Mul(d, d)).
  const ir::Node* var = producer_of(v);
  if (!var || !var->as<ops::Reduce>() || !sole_user(g, v, uses)) return false;
  const ir::Node* sq = producer_of(var->inputs[0]);
  if (!mean_over_last(var, sq ? sq->outputs[0] : nullptr) || !sole_user(g, sq->outputs[0], uses)) return false;
  bool squares = false;
  if (binary(sq, ops::BinaryKind::Pow)) {
    auto e = scalar_constant(sq->inputs[1]);
    squares = sq->inputs[0] == d && e && *e == 2.0;
  } else if (binary(sq, ops::BinaryKind::Mul)) {
    squares = sq->inputs[0] == d && sq->inputs[1] == d;
  }
  if (!squares || !only_used_by(g, d, uses, {sq, &root})) return false;

  // Optional affine tail: Mul(y, gamma), then Add(., beta).
  const DType t = x->type.dtype;
  std::vector<double> gamma(static_cast<size_t>(xs.back()), 1.0), beta;
  std::vector<ir::Node*> tail;
  ir::Value* y = root.outputs[0];
  if (ir::Node* m = sole_user(g, y, uses); binary(m, ops::BinaryKind::Mul) && m->outputs[0]->type.shape == xs) {
    if (auto p = last_axis_param(other(m, y), x)) {
      gamma = *p;
      tail.push_back(m);
      y = m->outputs[0];
    }
  }
  if (ir::Node* a = sole_user(g, y, uses); binary(a, ops::BinaryKind::Add) && a->outputs[0]->type.shape == xs) {
    if (auto p = last_axis_param(other(a, y), x)) {
      beta = *p;
      tail.push_back(a);
      y = a->outputs[0];
    }
  }

  auto ln = std::make_unique<ops::LayerNormalization>();
  ln->axis = -1;
  ln->epsilon = static_cast<float>(*eps);
  std::vector<std::string> fused;
  for (const ir::Node* n : {mean, sub, sq, var, add, sqrt, recip})
    if (n) fused.insert(fused.end(), n->fused.begin(), n->fused.end());
  fused.insert(fused.end(), root.fused.begin(), root.fused.end());
  for (const ir::Node* n : tail) fused.insert(fused.end(), n->fused.begin(), n->fused.end());
  std::vector<ir::Value*> inputs{x, make_param(g, root.name + "_scale", t, gamma)};
  if (!beta.empty()) inputs.push_back(make_param(g, root.name + "_bias", t, beta));

  for (const ir::Node* n : {mean, sub, sq, var, add, sqrt, recip})
    if (n) g.remove_node(const_cast<ir::Node*>(n));
  for (ir::Node* n : tail) g.remove_node(n);
  root.op = std::move(ln);
  root.inputs = std::move(inputs);
  root.outputs = {y};
  y->producer = &root;
  root.fused = std::move(fused);
  return true;
}

}  // namespace

bool fuse_layernorm(ir::Graph& g) { return apply_rules(g, {PatternRule{{"Binary"}, rewrite}}); }

}  // namespace kiln::passes
