// Pre-packed constants (plan schema v7): which weights the plan stores in the layout their
// kernel reads, so that the runtime maps them instead of reordering them at every load.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"
#include "kernels/kernel.h"

namespace kiln::serialize {

struct Packing {
  const ir::Node* reader = nullptr;  // the one layer that reads the constant
  size_t node = 0;                   // its index in the graph's node order
  size_t input = 0;                  // at this input
  std::vector<int64_t> layout;       // dnn::desc_key of the packed bytes
  std::vector<int64_t> plain;        // dnn::desc_key of the row-major constant in the same dims
  uint64_t bytes = 0;                // the packed size
  bool keep_plain = false;           // a one-way packing (Winograd): the row-major bytes follow it
  // Where the row-major bytes start, from the constant's start (0 = not stored), and all it stores.
  uint64_t plain_offset() const { return keep_plain ? (bytes + 63) / 64 * 64 : 0; }
  uint64_t stored_bytes(uint64_t plain_bytes) const { return keep_plain ? plain_offset() + plain_bytes : bytes; }
};

// Each constant that exactly one layer reads, at one input, whose chosen kernel keeps it in a
// layout a plan can store (dnn::desc_key): how it packs. Kernels are created here as the runtime
// creates them at load (implementation and tactic included), so on a like CPU the runtime's
// kernel wants exactly this layout. `kernels` and `tactics` are per node, in node order.
std::unordered_map<const ir::Value*, Packing> plan_packing(const ir::Graph& g, const std::vector<std::string>& kernels,
                                                           const std::vector<const Tactic*>& tactics);

// Writes the packed bytes of `v` into dst (p.bytes long), creating its reader's kernel again
// rather than keeping every packed copy alive at once: a large model's weights are held once.
void write_packed(const ir::Value& v, const Packing& p, const std::string& kernel, const Tactic* tactic,
                  uint8_t* dst);

}  // namespace kiln::serialize
