// fuse-sibling-convs: horizontal fusion of 1x1 convolutions that read the same input (GoogLeNet's
// Inception blocks: the 1x1 branch and the 1x1 "reduce" convs in front of the 3x3 and 5x5 ones).
// They become one Conv with their output channels concatenated (weights and biases joined at
// build time) followed by a channel Split into the original values, so the input is read once
// and one larger GEMM replaces several thin ones. Only siblings with identical post-ops (e.g. all
// Relu) and no fused Sum merge; the Split is a block copy in the blocked layout (kernels/tensor/split.cpp)
// because every channel offset is a multiple of the block (checked here: 16 covers 8 too).
#include <algorithm>
#include <cstring>

#include "ops/nn/conv.h"
#include "ops/tensor/shape.h"
#include "passes/pass.h"

namespace kiln::passes {
namespace {

constexpr int64_t kChannelAlign = 16;

bool same_post(const ops::PostOps& a, const ops::PostOps& b) {
  if (a.ops.size() != b.ops.size()) return false;
  for (size_t i = 0; i < a.ops.size(); ++i) {
    const ops::PostOp &x = a.ops[i], &y = b.ops[i];
    if (x.kind != y.kind || x.act != y.act || x.alpha != y.alpha || x.beta != y.beta) return false;
  }
  return true;
}

bool all_equal(const std::vector<int64_t>& v, int64_t want) {
  for (int64_t x : v)
    if (x != want) return false;
  return true;
}

// A pointwise (1x1, stride 1, unpadded, ungrouped) float conv with constant weights and bias.
bool pointwise(const ir::Node& n) {
  auto* c = n.as<ops::Conv>();
  if (!c || c->group != 1 || !all_equal(c->strides, 1) || !all_equal(c->pads, 0) || c->post.sum_count() != 0)
    return false;
  const ir::Value *x = n.input(0), *w = n.input(1), *b = n.input(2);
  if (!x || x->is_constant() || !w || !w->is_constant() || w->type.dtype != DType::Float32) return false;
  const Dims& ws = w->type.shape;
  if (ws.size() != 4 || ws[2] != 1 || ws[3] != 1) return false;
  if (b && (!b->is_constant() || b->type.dtype != DType::Float32 || b->type.shape != Dims{ws[0]})) return false;
  const ir::Value* y = n.outputs[0];
  return n.inputs.size() <= 3 && y->type.dtype == DType::Float32 && y->type.shape.size() == 4 &&
         shape_static(y->type.shape) && y->layout.empty();
}

void merge(ir::Graph& g, const std::vector<ir::Node*>& group) {
  ir::Node& first = *group.front();
  const Dims& ws = first.inputs[1]->type.shape;
  int64_t total = 0;
  for (ir::Node* n : group) total += n->inputs[1]->type.shape[0];
  const int64_t cin = ws[1];
  ir::Value* w = g.add_constant(g.unique_name(first.name + "/merged_weight"), DType::Float32, {total, cin, 1, 1});
  ir::Value* b = g.add_constant(g.unique_name(first.name + "/merged_bias"), DType::Float32, {total});
  auto* wp = static_cast<float*>(w->constant->data());
  auto* bp = static_cast<float*>(b->constant->data());  // zero-filled where a sibling has no bias
  std::vector<int64_t> sizes;
  std::vector<ir::Value*> outs;
  std::vector<std::string> fused;
  int64_t row = 0;
  for (ir::Node* n : group) {
    const int64_t o = n->inputs[1]->type.shape[0];
    std::memcpy(wp + row * cin, n->inputs[1]->constant->data(), static_cast<size_t>(o * cin) * sizeof(float));
    if (n->input(2)) std::memcpy(bp + row, n->inputs[2]->constant->data(), static_cast<size_t>(o) * sizeof(float));
    row += o;
    sizes.push_back(o);
    outs.push_back(n->outputs[0]);
    fused.insert(fused.end(), n->fused.begin(), n->fused.end());
  }
  Dims ys = first.outputs[0]->type.shape;
  ys[1] = total;
  const std::string name = g.unique_name(first.name + "/merged");  // the node and its value
  ir::Value* merged = g.add_value(name, {DType::Float32, ys});
  ir::Node* conv = g.add_node(name, first.op->clone(), {first.inputs[0], w, b}, {merged});
  conv->fused = std::move(fused);
  for (ir::Node* n : group) g.remove_node(n);
  auto split = std::make_unique<ops::Split>();
  split->axis = 1;
  split->split = sizes;
  g.add_node(g.unique_name(name + "/split"), std::move(split), {merged}, outs);
  g.infer(conv);
}

}  // namespace

bool fuse_sibling_convs(ir::Graph& g) {
  // Candidates grouped by input, in graph order so the plan is deterministic.
  std::vector<std::pair<const ir::Value*, std::vector<ir::Node*>>> by_input;
  for (auto& n : g.nodes()) {
    if (!n->op || !pointwise(*n)) continue;
    auto it = std::find_if(by_input.begin(), by_input.end(), [&](auto& e) { return e.first == n->inputs[0]; });
    if (it == by_input.end()) by_input.push_back({n->inputs[0], {n.get()}});
    else it->second.push_back(n.get());
  }
  bool changed = false;
  for (auto& [x, convs] : by_input) {
    std::vector<bool> taken(convs.size(), false);
    for (size_t i = 0; i < convs.size(); ++i) {
      if (taken[i]) continue;
      std::vector<ir::Node*> group{convs[i]};
      const ops::PostOps& post = convs[i]->as<ops::Conv>()->post;
      int64_t offset = convs[i]->inputs[1]->type.shape[0];
      for (size_t j = i + 1; j < convs.size(); ++j) {
        // Every part but the last must end on a block boundary for the blocked Split.
        if (taken[j] || !same_post(post, convs[j]->as<ops::Conv>()->post) || offset % kChannelAlign != 0) continue;
        group.push_back(convs[j]);
        taken[j] = true;
        offset += convs[j]->inputs[1]->type.shape[0];
      }
      if (group.size() < 2) continue;
      merge(g, group);
      changed = true;
    }
  }
  return changed;
}

}  // namespace kiln::passes
