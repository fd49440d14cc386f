// fuse-attention: scaled dot-product attention as torch exports it (BERT, ViT),
//   MatMul(Q, Transpose(K)) -> Mul/Div by a scalar -> [Add mask] -> Softmax -> MatMul(., V),
// becomes MatMul[alpha, perms, +mask] -> Softmax -> MatMul[perm_b, perm_y]. The scale is the matmul's
// output scale and the mask a broadcast binary post-op, so neither costs a pass over the scores;
// the Transposes of Q, K and V (the head split and K^T) are read in place through strides instead
// of being copied, and the head-merge Transpose after the context MatMul is written in place
// (perm_y). A scalar Mul/Div on Q (timm's q * scale, torch MultiheadAttention's q / sqrt(d))
// folds into alpha the same way.
#include <optional>

#include "ops/math/eltwise.h"
#include "ops/math/gemm.h"
#include "ops/tensor/shape.h"
#include "ops/math/softmax.h"
#include "passes/pass.h"

namespace kiln::passes {
namespace {

ir::Node* producer_if(const ir::Value* v, ops::BinaryKind k) {
  ir::Node* n = v ? v->producer : nullptr;
  auto* b = n && n->op ? n->as<ops::Binary>() : nullptr;
  return b && b->kind == k && b->post.empty() && n->inputs.size() == 2 ? n : nullptr;
}

// x * c, c * x or x / c with a non-zero scalar constant c: the factor and x, else nullopt.
std::optional<std::pair<double, ir::Value*>> scaling(ir::Node* n) {
  if (!n) return std::nullopt;
  auto* b = n->as<ops::Binary>();
  if (b->kind == ops::BinaryKind::Div) {
    auto c = scalar_constant(n->inputs[1]);
    if (c && *c != 0) return std::make_pair(1.0 / *c, n->inputs[0]);
  } else if (b->kind == ops::BinaryKind::Mul) {
    for (int i = 0; i < 2; ++i)
      if (auto c = scalar_constant(n->inputs[i])) return std::make_pair(*c, n->inputs[1 - i]);
  }
  return std::nullopt;
}

// Whether the last two logical dims of transpose(x, perm) include x's contiguous one: only then
// does the strided read stay a plain GEMM for oneDNN.
bool gemm_friendly(const std::vector<int64_t>& perm) {
  int64_t r = static_cast<int64_t>(perm.size());
  return r >= 2 && (perm[r - 1] == r - 1 || perm[r - 2] == r - 1);
}

bool float_mm(const ir::Node* n) {
  return n->outputs[0]->type.dtype == DType::Float32 && n->inputs[0]->type.dtype == DType::Float32;
}

// Reads input `i` of MatMul `n` through its producing Transpose, if that is one.
bool fold_transpose(ir::Node& n, int i) {
  auto* mm = n.as<ops::MatMul>();
  std::vector<int64_t>& perm = i == 0 ? mm->perm_a : mm->perm_b;
  ir::Node* t = n.inputs[i]->producer;
  auto* tr = t && t->op ? t->as<ops::Transpose>() : nullptr;
  if (!perm.empty() || !tr) return false;
  auto p = tr->effective_perm(t->inputs[0]->type.shape.size());
  if (p.size() < 2 || !gemm_friendly(p)) return false;
  perm = p;
  n.inputs[i] = t->inputs[0];
  n.fused.insert(n.fused.end(), t->fused.begin(), t->fused.end());
  return true;
}

// Writes MatMul `n`'s result through its sole consumer, a Transpose that keeps the last dim
// last (attention's head merge), so the output is stored transposed in place.
bool fold_output_transpose(ir::Graph& g, ir::Node& n, const Uses& uses) {
  auto* mm = n.as<ops::MatMul>();
  ir::Node* t = sole_user(g, n.outputs[0], uses);
  auto* tr = t ? t->as<ops::Transpose>() : nullptr;
  if (!tr || !mm->perm_y.empty() || mm->post.sum_count() != 0) return false;
  const size_t r = n.outputs[0]->type.shape.size();
  auto p = tr->effective_perm(r);
  if (r < 2 || p.size() != r || p[r - 1] != static_cast<int64_t>(r - 1)) return false;
  mm->perm_y = p;
  ir::Value* out = t->outputs[0];
  n.fused.insert(n.fused.end(), t->fused.begin(), t->fused.end());
  g.remove_node(t);
  n.outputs[0] = out;
  out->producer = &n;
  return true;
}

// The scores MatMul behind x: x itself or a scalar scaling of it, each link read only by `next`.
struct Scores {
  ir::Node* mm = nullptr;
  ir::Node* scale = nullptr;  // the Mul/Div, if any
  double alpha = 1.0;
};
std::optional<Scores> scores_behind(ir::Graph& g, ir::Value* x, const ir::Node* next, const Uses& uses) {
  Scores r;
  if (sole_user(g, x, uses) != next) return std::nullopt;
  ir::Node* p = x->producer;
  if (!p || !p->op) return std::nullopt;
  if (p->as<ops::Binary>() && p->as<ops::Binary>()->post.empty() && p->inputs.size() == 2) {
    auto s = scaling(p);
    if (!s || sole_user(g, s->second, uses) != p) return std::nullopt;
    r.scale = p;
    r.alpha = s->first;
    p = s->second->producer;
    if (!p || !p->op) return std::nullopt;
  }
  auto* mm = p->as<ops::MatMul>();
  if (!mm || !float_mm(p) || !mm->post.empty() || p->inputs.size() != 2 || mm->alpha != 1.f) return std::nullopt;
  r.mm = p;
  return r;
}

bool rewrite(ir::Graph& g, ir::Node& softmax, const Uses& uses) {
  // Walk back from the Softmax to the scores MatMul: [mask Add] <- [scale] <- MatMul.
  ir::Value* x = softmax.inputs[0];
  std::optional<Scores> sc = scores_behind(g, x, &softmax, uses);
  ir::Node* mask_add = nullptr;
  ir::Value* mask = nullptr;
  if (!sc) {
    mask_add = producer_if(x, ops::BinaryKind::Add);
    if (!mask_add || sole_user(g, x, uses) != &softmax) return false;
    for (int i = 0; i < 2 && !sc; ++i)
      if ((sc = scores_behind(g, mask_add->inputs[i], mask_add, uses))) mask = mask_add->inputs[1 - i];
    if (!sc) return false;
  }
  ir::Node* m1 = sc->mm;
  auto* mm1 = m1->as<ops::MatMul>();
  double alpha = sc->alpha;
  std::vector<ir::Node*> chain;  // absorbed into the scores MatMul, nearest to the Softmax first
  if (mask_add) chain.push_back(mask_add);
  if (sc->scale) chain.push_back(sc->scale);
  const Dims& scores = m1->outputs[0]->type.shape;
  if (mask) {
    const Dims& ms = mask->type.shape;
    bool ok = mask != m1->outputs[0] && mask->type.dtype == DType::Float32 && ms.size() <= scores.size() &&
              mask_add->outputs[0]->type.shape == scores;
    for (size_t d = 0, off = scores.size() - ms.size(); ok && d < ms.size(); ++d)
      ok = ms[d] == 1 || ms[d] == scores[off + d];
    if (!ok) return false;
  }
  // The context MatMul reads the probabilities as A.
  ir::Node* m2 = sole_user(g, softmax.outputs[0], uses);
  auto* mm2 = m2 ? m2->as<ops::MatMul>() : nullptr;
  if (!mm2 || m2->inputs[0] != softmax.outputs[0] || !float_mm(m2)) return false;

  bool changed = false;
  // A scalar Mul or Div on Q (timm's q * scale, torch MultiheadAttention's q / sqrt(d)) is a
  // factor of the scores too.
  ir::Node* qscale = m1->inputs[0]->producer;
  auto qs = qscale && qscale->op &&
                    (producer_if(m1->inputs[0], ops::BinaryKind::Mul) ||
                     producer_if(m1->inputs[0], ops::BinaryKind::Div)) &&
                    sole_user(g, m1->inputs[0], uses) == m1
                ? scaling(qscale)
                : std::nullopt;
  if (qs) {
    alpha *= qs->first;
    m1->inputs[0] = qs->second;
    m1->fused.insert(m1->fused.end(), qscale->fused.begin(), qscale->fused.end());
    g.remove_node(qscale);
    changed = true;
  }
  if (alpha != 1.0) mm1->alpha = static_cast<float>(alpha);
  if (mask) {
    mm1->post.ops.push_back({ops::PostOp::Kind::Sum, ops::Act::Identity, 0.f, 0.f});
    m1->inputs.resize(3);  // no bias
    m1->inputs.push_back(mask);
  }
  if (!chain.empty()) {
    // The MatMul takes over the last link's value (its name and consumers).
    ir::Value* out = chain.front()->outputs[0];
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      m1->fused.insert(m1->fused.end(), (*it)->fused.begin(), (*it)->fused.end());
      g.remove_node(*it);
    }
    m1->outputs[0] = out;
    out->producer = m1;
    changed = true;
  }
  changed |= fold_transpose(*m1, 0);
  changed |= fold_transpose(*m1, 1);
  changed |= fold_transpose(*m2, 1);
  changed |= fold_output_transpose(g, *m2, uses);
  if (changed) {
    g.infer(m1);
    g.infer(m2);
  }
  return changed;
}

}  // namespace

bool fuse_attention(ir::Graph& g) {
  return apply_rules(g, {PatternRule{{"Softmax"}, rewrite}});
}

}  // namespace kiln::passes
