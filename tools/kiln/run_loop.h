// The measuring part of `kiln run`: N streams, each an ExecutionContext of one shared Engine driven
// by its own std::thread with its own OpenMP thread count; warm-up per stream; one stop rule for
// all streams (at least `iterations` queries in total AND at least `duration_s` seconds, as
// trtexec); optional per-layer profiling, during the timed queries or in a separate pass after them.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/runtime.hpp"
#include "stats.h"

namespace kiln::cli {

struct LoopConfig {
  int64_t iterations = 10;
  double duration_s = 3;
  int warmup_ms = 200;
  int threads = 1;       // OpenMP threads each stream uses
  bool profile = false;  // profile the timed queries themselves
};

struct LoopResult {
  std::vector<QueryTime> queries;  // every timed query of every stream
  double wall_ms = 0;              // from the common start to the end of the last query
  LayerProfile profile;            // filled when LoopConfig::profile
};

// Runs the contexts concurrently, one thread each; rethrows the first error a stream hit.
LoopResult run_streams(const std::vector<ExecutionContext*>& contexts, const LoopConfig& cfg);

// A profiling pass on one context in the calling thread, under the same stop rule, so per-layer
// synchronisation never touches the timed latencies (--separateProfileRun).
LayerProfile profile_pass(ExecutionContext& ctx, const LoopConfig& cfg);

}  // namespace kiln::cli
