// `kiln compile --report=FILE`: the machine-readable build record (JSON) of one compile, for CI
// dashboards and build systems. docs/cli-guide.md lists its keys.
#pragma once

#include <string>

#include "kiln/accuracy.hpp"

namespace kiln::cli {

struct CompileReportInput {
  std::string model;  // as given on the command line
  std::string plan;   // where the plan was written
  const CompileOptions* options = nullptr;
  const CompileResult* result = nullptr;
  double build_seconds = 0;
  const AccuracyReport* check = nullptr;  // --check/--checkTolerance: the report's "check" object
  bool plan_written = true;               // false when --checkTolerance failed the build
};

// Describes the plan as the runtime sees it (loaded from the compiled bytes, so layer counts,
// precision and fusions are what the plan really holds) plus what only the build knows: ONNX node
// count, build time, warnings, options.
std::string compile_report_json(const CompileReportInput& in);

}  // namespace kiln::cli
