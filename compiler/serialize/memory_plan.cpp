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
    if (!v || v->is_constant()) return;
    auto [it, fresh] = live.try_emplace(v, Interval{v, t, t, 0});
    if (!fresh) {
      it->second.start = std::min(it->second.start, t);
      it->second.end = std::max(it->second.end, t);
    }
  };
  for (auto& io : g.inputs) touch(io.value, -1);
  for (int64_t i = 0; i < last; ++i) {
    for (const ir::Value* v : g.nodes()[i]->inputs) touch(v, i);
    for (const ir::Value* v : g.nodes()[i]->outputs) touch(v, i);
  }
  for (auto& io : g.outputs) touch(io.value, last);

  std::vector<Interval> order;
  MemoryPlan plan;
  for (auto& [v, iv] : live) {
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
  return plan;
}

}  // namespace kiln::serialize
