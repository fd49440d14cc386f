// kiln compiler public API: ONNX model in, serialized plan out. Links protobuf and ONNX; a
// deployed application needs only the runtime (kiln/runtime.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kiln {

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
};

struct CompileResult {
  std::vector<uint8_t> plan;
  std::vector<std::string> warnings;
  std::vector<std::string> log;  // verbose build log lines
  size_t layers = 0;
  size_t onnx_nodes = 0;
};

// Throws kiln::Error whose message names the file, node or tensor at fault.
CompileResult compile_onnx_file(const std::string& path, const CompileOptions& opts);

// Names and one-line reasons of the optimisation passes, in pipeline order.
std::vector<std::pair<std::string, std::string>> pass_list();

// The operator support matrix as Markdown (docs/operators.md is generated from it and a test
// keeps the two equal): ONNX ops with opset ranges, and kiln ops with their kernels.
std::string operator_matrix_markdown();

}  // namespace kiln
