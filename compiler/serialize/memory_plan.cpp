#include "serialize/memory_plan.h"

#include <algorithm>
#include <vector>

#include "kernels/kernel.h"
#include "plan/plan_format.h"

namespace kiln::serialize {

MemoryPlan plan_memory(const ir::Graph& g) {
  struct Interval {
    const ir::Value* v;
    int64_t start, end;
    uint64_t bytes;
  };
  std::unordered_map<const ir::Value*, Interval> live;
  const int64_t last = static_cast<int64_t>(g.nodes().size());
  auto touch = [&](const ir::Value* v, int64_t t) {
    // Dynamic tensors get per-run buffers from the context, not arena space.
    if (!v || v->is_constant() || !shape_static(v->type.shape)) return;
    auto [it, fresh] = live.try_emplace(v, Interval{v, t, t, 0});
    if (!fresh) {
      it->second.start = std::min(it->second.start, t);
      it->second.end = std::max(it->second.end, t);
    }
  };
  // Graph inputs are written once by the caller and may be run on many times, so they keep
  // their bytes for the whole run, like outputs.
  for (auto& io : g.inputs) {
    touch(io.value, -1);
    touch(io.value, last);
  }
  for (int64_t i = 0; i < last; ++i) {
    for (const ir::Value* v : g.nodes()[i]->inputs) touch(v, i);
    if (g.nodes()[i]->when) touch(g.nodes()[i]->when, i);  // read to decide whether to run
    for (const ir::Value* v : g.nodes()[i]->outputs) touch(v, i);
  }
  for (auto& io : g.outputs) touch(io.value, last);

  // In-place pairs: a node's output shares its inplace_input()'s buffer when that input dies at
  // the node, is no graph input or output, is read by no other input slot, and is as large.
  std::unordered_map<const ir::Value*, const ir::Value*> alias;  // output -> operand
  for (int64_t i = 0; i < last; ++i) {
    const ir::Node& n = *g.nodes()[i];
    int k = n.op->inplace_input();
    if (k < 0 || static_cast<size_t>(k) >= n.inputs.size() || n.outputs.empty()) continue;
    const ir::Value* in = n.inputs[k];
    const ir::Value* out = n.outputs[0];
    if (!in || in->is_constant() || !live.count(in) || live.at(in).end != i || g.is_graph_input(in) ||
        g.is_graph_output(in) || in->layout != out->layout)
      continue;
    const bool retyped = n.op->inplace_any_8bit() && dtype_quantized(in->type.dtype) &&
                         dtype_quantized(out->type.dtype) && dtype_size(in->type.dtype) == 1 &&
                         dtype_size(out->type.dtype) == 1;
    if (in->type.dtype != out->type.dtype && !retyped) continue;
    // Equal shapes, or (reshaping views) equal element counts in the plain layout, where the
    // bytes are the same whatever the shape says. A view that is a graph output keeps its own
    // buffer: bound to caller memory (set_output_buffer) it is copied there anyway, and its
    // input's producer should not leave the result in the context's memory.
    if (in->type.shape != out->type.shape &&
        (!in->layout.empty() || shape_elements(in->type.shape) != shape_elements(out->type.shape) ||
         g.is_graph_output(out)))
      continue;
    bool read_twice = false;
    for (size_t j = 0; j < n.inputs.size(); ++j) read_twice |= j != static_cast<size_t>(k) && n.inputs[j] == in;
    if (read_twice) continue;
    // Chains (a residual stream through several blocks) share one root buffer, whose interval
    // stretches over every member's life; members take no space of their own.
    const ir::Value* root = alias.count(in) ? alias.at(in) : in;
    alias[out] = root;
    live.at(root).end = std::max(live.at(root).end, live.at(out).end);
  }

  std::vector<Interval> order;
  MemoryPlan plan;
  for (auto& [v, iv] : live) {
    if (alias.count(v)) continue;
    uint64_t b = dnn::physical_bytes(v->type.dtype, v->type.shape, v->layout);
    iv.bytes = std::max<uint64_t>(plan::kArenaAlignment, (b + plan::kArenaAlignment - 1) / plan::kArenaAlignment *
                                                             plan::kArenaAlignment);
    plan.activation_bytes += b;
    order.push_back(iv);
  }
  // Largest first, ties broken by name so the plan is deterministic.
  std::sort(order.begin(), order.end(), [](const Interval& a, const Interval& b) {
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    if (a.start != b.start) return a.start < b.start;
    return a.v->name < b.v->name;
  });
  std::vector<std::pair<Interval, uint64_t>> placed;
  for (const Interval& iv : order) {
    std::vector<std::pair<uint64_t, uint64_t>> busy;  // [offset, offset+bytes) overlapping in time
    for (auto& [p, off] : placed)
      if (p.start <= iv.end && iv.start <= p.end) busy.push_back({off, off + p.bytes});
    std::sort(busy.begin(), busy.end());
    uint64_t best = UINT64_MAX, best_gap = UINT64_MAX, cursor = 0;
    for (auto& [b, e] : busy) {
      if (b >= cursor && b - cursor >= iv.bytes && b - cursor < best_gap) {
        best = cursor;
        best_gap = b - cursor;
      }
      cursor = std::max(cursor, e);
    }
    if (best == UINT64_MAX) best = cursor;
    placed.push_back({iv, best});
    plan.offset[iv.v] = best;
    plan.arena_bytes = std::max(plan.arena_bytes, best + iv.bytes);
  }
  for (auto& [out, in] : alias) {
    plan.offset[out] = plan.offset.at(in);
    plan.activation_bytes += dnn::physical_bytes(out->type.dtype, out->type.shape, out->layout);
  }
  return plan;
}

}  // namespace kiln::serialize
