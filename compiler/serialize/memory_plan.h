// Activation memory planning: each non-constant tensor gets an offset in one arena per
// execution context, reusing space between tensors whose lifetimes do not overlap.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "ir/graph.h"

namespace kiln::serialize {

struct MemoryPlan {
  std::unordered_map<const ir::Value*, uint64_t> offset;
  uint64_t arena_bytes = 0;
  uint64_t activation_bytes = 0;  // sum of all planned tensors
};

// Lifetimes come from node order: a tensor lives from its producer to its last reader; graph
// inputs from the start and graph outputs to the end. Greedy best-fit by decreasing size.
MemoryPlan plan_memory(const ir::Graph& g);

}  // namespace kiln::serialize
