// IR -> plan file bytes (schemas/plan.fbs): tensors, layers with their typed attributes, the
// memory plan, 64-byte-aligned weights (pre-packed where their kernel allows), the build machine
// and the checksum.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kernels/kernel.h"
#include "kiln/runtime.hpp"
#include "serialize/memory_plan.h"

namespace kiln::serialize {

// The tactic recorded for one layer, with what the tuner measured.
struct TunedTactic {
  Tactic tactic;       // empty for kernels without variants
  double time_us = 0;  // 0 = not timed
  std::vector<std::pair<std::string, double>> runner_ups;  // tactic id and time, fastest first
};

struct PlanInput {
  const ir::Graph& graph;
  const std::vector<std::string>& kernels;  // chosen implementation per node, in node order
  const MemoryPlan& memory;
  MachineInfo machine;
  // Optimisation profile: arena bytes reserved per tensor (its size at the max shapes) and the
  // [min, max] of every graph input, in graph-input order. Empty for static plans.
  std::unordered_map<const ir::Value*, uint64_t> capacity;
  std::vector<std::pair<Dims, Dims>> ranges;
  std::vector<TunedTactic> tactics;  // per node, in node order; empty = none recorded
  int builder_level = 0;
  // The sidecar weights file's name to record when the weights go there: always when
  // external_weights, else when they pass plan::kMaxInlineWeights. "" = never (an error then).
  std::string weights_file;
  bool external_weights = false;
  // Store constants pre-packed in their kernels' layouts (serialize/prepack.h). Off for the
  // plans the builder only times.
  bool prepack = false;
  // Free each constant's bytes (ir::Constant::release) as soon as they are in the plan: for the
  // final plan of a build, whose graph is not used again. A large model is then held about once.
  bool release_constants = false;
};

struct PlanFiles {
  std::vector<uint8_t> plan;
  std::vector<uint8_t> weights;  // the sidecar's bytes, empty when the weights are inline
};

PlanFiles write_plan_files(const PlanInput& in);
// A plan with its weights inline (tuning, in-memory builds), from a PlanInput naming no weights
// file: refuses weights past kMaxInlineWeights.
std::vector<uint8_t> write_plan(const PlanInput& in);

}  // namespace kiln::serialize
