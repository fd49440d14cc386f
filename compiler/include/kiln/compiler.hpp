// kiln compiler public API: ONNX model in, serialized plan out. Links protobuf and ONNX; a
// deployed application needs only the runtime (kiln/runtime.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kiln {

// Pre-processing baked into the plan for one graph input, as OpenVINO's mo offers: the application
// feeds raw images and the plan's first layers normalise them. The model's input is assumed to be
// (N)CHW float32 with the channel on axis 1. kiln inserts, in front of the model: Cast (uint8 ->
// float32), Transpose (NHWC -> NCHW), channel reversal, subtract mean, divide by scale; the
// fold-preprocess pass then absorbs what it exactly can into the first convolution.
struct InputPreprocess {
  std::vector<float> mean;   // one per channel, in the model's channel order; empty = none
  std::vector<float> scale;  // one non-zero divisor per channel, in the model's channel order; empty = none
  // The application's channel order is the reverse of the model's (RGB data for a BGR model); the
  // reversal is applied first, so mean and scale stay in the model's order.
  bool reverse_channels = false;
  std::string layout;  // layout the application feeds: "" or "NCHW" (the model's), or "NHWC" (4-D inputs)
  std::string dtype;   // element type the application feeds: "" or "float32" (the model's), or "uint8"
  bool empty() const { return mean.empty() && scale.empty() && !reverse_channels && layout.empty() && dtype.empty(); }
};

struct CompileOptions {
  // Input name -> fixed shape, replacing symbolic dims (trtexec's --shapes).
  std::map<std::string, std::vector<int64_t>> shapes;
  // An optimisation profile (trtexec's --minShapes/--optShapes/--maxShapes): input name -> dims.
  // Each input named must be named in all three, with min <= opt <= max. The graph is optimised,
  // laid out and its kernels chosen at opt; the memory plan covers max; the plan runs any shape
  // in [min, max] (ExecutionContext::set_input_shape).
  std::map<std::string, std::vector<int64_t>> min_shapes, opt_shapes, max_shapes;
  int threads = 0;  // threads used while building (0 = runtime default)
  std::vector<std::string> disable_passes;  // pass names from passes/pipeline.cpp
  std::vector<std::string> dump_after;      // pass names: log the graph after them
  bool verbose = false;
  // Input name -> pre-processing to bake in; the name "" means the model's only input.
  std::map<std::string, InputPreprocess> preprocess;
  // Tactic search breadth, 0..5 (trtexec's --builderOptimizationLevel): 0 picks each layer's
  // kernel by heuristic and times nothing; higher levels time more candidates, more often
  // (docs/cli-guide.md#tuning). The API default is 0: builds are fast and reproducible without a
  // timing cache.
  int builder_level = 0;
  // Timing cache file: read if present (a damaged one is ignored with a warning), rewritten
  // atomically with the new measurements. "" = no cache.
  std::string timing_cache_file;
};

// What the tactic search did.
struct TuneSummary {
  int level = 0;
  size_t layers_timed = 0;   // layers with a choice that was timed (or found in the cache)
  size_t measured = 0;       // candidates timed in this build
  size_t cached = 0;         // candidate times taken from the timing cache
  double seconds = 0;        // wall time of the search, kernel creation included
  size_t graph_variants = 0; // whole-graph layout variants timed end to end (level >= 3)
  std::string layout_choice; // "blocked" or "plain" when the layouts were timed, else ""
};

struct CompileResult {
  std::vector<uint8_t> plan;
  std::vector<std::string> warnings;
  std::vector<std::string> log;  // verbose build log lines
  size_t layers = 0;
  size_t onnx_nodes = 0;
  TuneSummary tune;
  std::vector<std::string> tactic_table;  // layer, op, winning tactic, time, runner-up (text rows)
};

// Throws kiln::Error whose message names the file, node or tensor at fault.
CompileResult compile_onnx_file(const std::string& path, const CompileOptions& opts);

// Names and one-line reasons of the optimisation passes, in pipeline order.
std::vector<std::pair<std::string, std::string>> pass_list();

// The operator support matrix as Markdown (docs/operators.md is generated from it and a test
// keeps the two equal): ONNX ops with opset ranges, and kiln ops with their kernels.
std::string operator_matrix_markdown();

}  // namespace kiln
