#include <cmath>

#include "ops/nn/conv.h"
#include "ops/nn/norm.h"
#include "passes/pass.h"

namespace kiln::passes {

// Conv -> BatchNormalization (inference) becomes Conv with W' = W * s and b' = (b - mean) * s + B,
// where s = scale / sqrt(var + eps), per output channel. New constants are created, never edited
// in place, because a weight may be shared by several nodes.
static bool fold_one(ir::Graph& g, ir::Node& conv_node,
                     const Uses& uses) {
  auto* conv = conv_node.as<ops::Conv>();
  if (!conv || !conv->post.empty()) return false;
  ir::Node* bn_node = sole_user(g, conv_node.outputs[0], uses);
  if (!bn_node || !bn_node->as<ops::BatchNormalization>() || bn_node->inputs[0] != conv_node.outputs[0]) return false;
  ir::Value* w = conv_node.input(1);
  ir::Value* b = conv_node.input(2);
  if (!w || !w->is_constant() || w->type.dtype != DType::Float32) return false;
  if (b && (!b->is_constant() || b->type.dtype != DType::Float32)) return false;
  for (size_t i = 1; i < 5; ++i) {
    ir::Value* p = bn_node->input(i);
    if (!p || !p->is_constant() || p->type.dtype != DType::Float32) return false;
  }
  const int64_t oc = w->type.shape[0];
  const int64_t per_oc = shape_elements(w->type.shape) / oc;
  const float eps = bn_node->as<ops::BatchNormalization>()->epsilon;
  auto param = [&](size_t i) { return static_cast<const float*>(bn_node->inputs[i]->constant->data()); };
  const float *scale = param(1), *shift = param(2), *mean = param(3), *var = param(4);
  for (size_t i = 1; i < 5; ++i)
    if (shape_elements(bn_node->inputs[i]->type.shape) != oc) return false;

  ir::Value* nw = g.add_constant(g.unique_name(w->name + "_bnfold"), DType::Float32, w->type.shape);
  ir::Value* nb = g.add_constant(g.unique_name(bn_node->name + "_bias"), DType::Float32, {oc});
  const float* wsrc = static_cast<const float*>(w->constant->data());
  const float* bsrc = b ? static_cast<const float*>(b->constant->data()) : nullptr;
  float* wdst = static_cast<float*>(nw->constant->data());
  float* bdst = static_cast<float*>(nb->constant->data());
  for (int64_t o = 0; o < oc; ++o) {
    const double s = static_cast<double>(scale[o]) / std::sqrt(static_cast<double>(var[o]) + eps);
    for (int64_t k = 0; k < per_oc; ++k) wdst[o * per_oc + k] = static_cast<float>(wsrc[o * per_oc + k] * s);
    bdst[o] = static_cast<float>(((bsrc ? bsrc[o] : 0.0) - mean[o]) * s + shift[o]);
  }
  conv_node.inputs.resize(std::max<size_t>(conv_node.inputs.size(), 3));
  conv_node.inputs[1] = nw;
  conv_node.inputs[2] = nb;
  // The conv now produces the BN's output value, so names and graph outputs stay put.
  ir::Value* out = bn_node->outputs[0];
  conv_node.outputs[0] = out;
  out->producer = &conv_node;
  conv_node.fused.insert(conv_node.fused.end(), bn_node->fused.begin(), bn_node->fused.end());
  g.remove_node(bn_node);
  out->producer = &conv_node;
  return true;
}

bool fold_batchnorm(ir::Graph& g) {
  return apply_rules(g, {PatternRule{{"Conv"}, fold_one}});
}

}  // namespace kiln::passes
