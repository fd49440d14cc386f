// Tactic selection: for every layer, the candidates the kernel registry can run (each registered
// implementation and each variant it reports: oneDNN implementations, Winograd), timed on this
// machine with the layer's real shapes, layouts and fused post-ops, the fastest recorded with the
// runner-ups. --builderOptimizationLevel sets how wide the search is (docs/cli-guide.md#tuning).
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/runtime.hpp"
#include "serialize/plan_writer.h"
#include "tune/timing_cache.h"

namespace kiln::tune {

constexpr int kMaxLevel = 5;

struct TuneOptions {
  int level = 0;                  // 0 = heuristic pick, nothing timed
  MachineInfo machine;            // the timing cache's machine signature (threads included)
  TimingCache* cache = nullptr;   // read and extended when set
};

struct TuneStats {
  size_t layers_timed = 0;        // layers that had a choice and were timed (or found cached)
  size_t measured = 0;            // candidates timed in this build
  size_t cached = 0;              // candidates whose time came from the timing cache
  double seconds = 0;             // wall time of the tactic selection
};

struct LayerPick {
  std::string impl;               // registry implementation ("onednn", "reference", ...)
  serialize::TunedTactic tuned;
};

// What a measurement depends on besides the machine: op type, every attribute (fused post-ops
// included), and each tensor's dtype, shape, layout and constness, plus the implementation.
std::string layer_signature(const ir::Node& n, const std::string& impl);
// ISA, CPU model, cores and the build's thread count.
std::string machine_signature(const MachineInfo& m);

// One pick per node, in node order. Throws kiln::Error naming a node no kernel can run.
std::vector<LayerPick> choose_tactics(const ir::Graph& g, const TuneOptions& o, TuneStats& stats,
                                      std::vector<std::string>* log);

// The --verbose table: layer, op, winner, its time, the runner-up and its time.
std::vector<std::string> tactic_table(const ir::Graph& g, const std::vector<LayerPick>& picks);

}  // namespace kiln::tune
