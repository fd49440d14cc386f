// fold-preprocess: per-input-channel maps feeding a convolution are absorbed into its weights and
// bias. They come from baked-in input pre-processing (import/preprocess.cpp) and from models that
// normalise in-graph (torchvision's transform exported with the model):
//   Gather(x, perm, axis=1) -> Conv   W'[:, perm[c]] = W[:, c]                 (exact, group 1)
//   Mul/Div(x, s[c])        -> Conv   W'[o, c] = W[o, c] * s[c] (or / s[c])     (exact, any padding)
//   Sub/Add(x, m[c])        -> Conv   b'[o] = b[o] -/+ sum_{c,k} W[o, c, k] m[c] (only without padding)
// Why the mean needs no padding: the conv pads its input with zeros. Unfolded, the padded ring
// holds 0 = (x - m) at x = m; folded into the bias, the conv pads x itself with 0, so every output
// whose window overlaps the border is off by sum over the padded taps of W * m. A scale has no
// such problem (0 * s = 0), nor does a permutation. So a padded conv keeps an explicit Sub in
// front of it; the Sub then runs on the (small, 3-channel) input image only.
#include <algorithm>
#include <cstddef>

#include "ops/nn/conv.h"
#include "ops/math/eltwise.h"
#include "ops/tensor/shape.h"
#include "passes/pass.h"

namespace kiln::passes {

namespace {

// The per-channel values of a [C], [C, 1, ...] or [1, C, 1, ...] float constant that broadcasts
// along axis 1 of a rank-`rank` tensor with C channels, without changing its shape.
const float* channel_constant(const ir::Value* v, size_t rank, int64_t c) {
  if (!v || !v->is_constant() || v->type.dtype != DType::Float32) return nullptr;
  const Dims& s = v->type.shape;
  if (s.size() > rank || shape_elements(s) != c) return nullptr;
  // Right-aligned broadcasting: the constant's dim for axis 1 sits at index s.size() - (rank - 1).
  const ptrdiff_t axis = static_cast<ptrdiff_t>(s.size()) - static_cast<ptrdiff_t>(rank - 1);
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] != 1 && static_cast<ptrdiff_t>(i) != axis) return nullptr;
  if (c != 1 && (axis < 0 || s[static_cast<size_t>(axis)] != c)) return nullptr;
  return static_cast<const float*>(v->constant->data());
}

struct ConvParts {
  ops::Conv* conv;
  ir::Value *w, *b;
  int64_t m, cg, per_oc, k, groups;  // out channels, in channels per group, W elems per oc, taps
};

bool conv_parts(ir::Node& n, ConvParts& p) {
  p.conv = n.as<ops::Conv>();
  if (!p.conv || n.inputs.size() > 3) return false;  // Sum post-op operands: leave those alone
  p.w = n.input(1);
  p.b = n.input(2);
  if (!p.w || !p.w->is_constant() || p.w->type.dtype != DType::Float32) return false;
  if (p.b && (!p.b->is_constant() || p.b->type.dtype != DType::Float32)) return false;
  const Dims& ws = p.w->type.shape;
  if (ws.size() < 3 || !shape_static(ws)) return false;
  p.m = ws[0];
  p.cg = ws[1];
  p.per_oc = shape_elements(ws) / p.m;
  p.k = p.per_oc / p.cg;
  p.groups = p.conv->group;
  return p.groups >= 1 && p.m % p.groups == 0;
}

// Input channel that weight element [o, ci, ...] reads.
int64_t in_channel(const ConvParts& p, int64_t o, int64_t ci) { return (o / (p.m / p.groups)) * p.cg + ci; }

bool has_padding(const ops::Conv& c) {
  for (int64_t v : c.pads)
    if (v != 0) return true;
  return false;
}

// Replaces the conv's weights (and bias) with new constants: weights may be shared by other nodes.
void set_params(ir::Graph& g, ir::Node& conv, ConvParts& p, const std::vector<float>& w, const std::vector<float>* b) {
  ir::Value* nw = g.add_constant(g.unique_name(p.w->name + "_prefold"), TensorView{DType::Float32, p.w->type.shape,
                                                                                    const_cast<float*>(w.data())});
  conv.inputs[1] = nw;
  if (b) {
    ir::Value* nb = g.add_constant(g.unique_name(conv.name + "_prefold_bias"),
                                   TensorView{DType::Float32, {p.m}, const_cast<float*>(b->data())});
    conv.inputs.resize(std::max<size_t>(conv.inputs.size(), 3));
    conv.inputs[2] = nb;
  }
}

bool fold_into_conv(ir::Graph& g, ir::Node& conv_node, const Uses& uses) {
  ConvParts p;
  if (!conv_parts(conv_node, p)) return false;
  ir::Value* x = conv_node.input(0);
  ir::Node* prod = x ? x->producer : nullptr;
  if (!prod || !prod->op || sole_user(g, x, uses) != &conv_node) return false;
  const size_t rank = x->type.shape.size();
  const int64_t c = p.cg * p.groups;
  if (rank < 3 || x->type.shape[1] != c) return false;
  ir::Value* src = prod->input(0);
  if (!src || src->type.shape != x->type.shape || src->type.dtype != DType::Float32) return false;

  const float* wsrc = static_cast<const float*>(p.w->constant->data());
  std::vector<float> w(wsrc, wsrc + p.m * p.per_oc);
  if (auto* ga = prod->as<ops::Gather>()) {
    ir::Value* idx = prod->input(1);
    if (p.groups != 1 || (ga->axis != 1 && ga->axis != 1 - static_cast<int64_t>(rank))) return false;
    if (!idx || !idx->is_constant() || idx->type.shape != Dims{c}) return false;
    std::vector<int64_t> perm = to_int_vector(idx->view());
    std::vector<bool> seen(static_cast<size_t>(c), false);
    for (int64_t& v : perm) {
      if (v < 0) v += c;
      if (v < 0 || v >= c || seen[static_cast<size_t>(v)]) return false;  // not a permutation
      seen[static_cast<size_t>(v)] = true;
    }
    // conv(W, x[perm]) = sum_c W[:, c] x[perm[c]]: weight channel c moves to perm[c].
    for (int64_t o = 0; o < p.m; ++o)
      for (int64_t ci = 0; ci < c; ++ci)
        for (int64_t t = 0; t < p.k; ++t)
          w[(o * c + perm[ci]) * p.k + t] = wsrc[(o * c + ci) * p.k + t];
    set_params(g, conv_node, p, w, nullptr);
  } else if (auto* bin = prod->as<ops::Binary>()) {
    if (!bin->post.empty() || prod->inputs.size() != 2) return false;
    const float* v = channel_constant(prod->input(1), rank, c);
    if (!v) return false;
    using K = ops::BinaryKind;
    if (bin->kind == K::Mul || bin->kind == K::Div) {
      for (int64_t o = 0; o < p.m; ++o)
        for (int64_t ci = 0; ci < p.cg; ++ci) {
          const float s = v[c == 1 ? 0 : in_channel(p, o, ci)];
          if (bin->kind == K::Div && s == 0.f) return false;
          for (int64_t t = 0; t < p.k; ++t) {
            float& e = w[(o * p.cg + ci) * p.k + t];
            e = bin->kind == K::Mul ? e * s : e / s;
          }
        }
      set_params(g, conv_node, p, w, nullptr);
    } else if (bin->kind == K::Sub || bin->kind == K::Add) {
      if (has_padding(*p.conv)) return false;  // inexact at the borders: see the top of the file
      std::vector<float> b(static_cast<size_t>(p.m), 0.f);
      if (p.b) std::copy_n(static_cast<const float*>(p.b->constant->data()), p.m, b.begin());
      const double sign = bin->kind == K::Sub ? -1.0 : 1.0;
      for (int64_t o = 0; o < p.m; ++o) {
        double acc = 0;
        for (int64_t ci = 0; ci < p.cg; ++ci) {
          const double m = v[c == 1 ? 0 : in_channel(p, o, ci)];
          for (int64_t t = 0; t < p.k; ++t) acc += static_cast<double>(w[(o * p.cg + ci) * p.k + t]) * m;
        }
        b[static_cast<size_t>(o)] = static_cast<float>(b[static_cast<size_t>(o)] + sign * acc);
      }
      set_params(g, conv_node, p, w, &b);
    } else {
      return false;
    }
  } else {
    return false;
  }
  conv_node.inputs[0] = src;
  conv_node.fused.insert(conv_node.fused.end(), prod->fused.begin(), prod->fused.end());
  g.remove_node(prod);
  return true;
}

}  // namespace

bool fold_preprocess(ir::Graph& g) {
  return apply_rules(g, {PatternRule{{"Conv"}, fold_into_conv}});
}

}  // namespace kiln::passes
