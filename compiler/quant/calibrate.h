// int8 calibration runs: measures the range of every float activation of a model by running its
// fp32 plan on calibration samples (two passes, so the result does not depend on their order),
// or takes the ranges from a calibration cache made for the same model and method. The
// arithmetic is quant/calibrator.h's; what is done with the ranges is passes/assign_int8.cpp's.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/accuracy.hpp"
#include "kiln/compiler.hpp"
#include "quant/calibrator.h"

namespace kiln::quant {

// --calibMethod when none is given.
constexpr const char* kDefaultCalibMethod = "percentile:99.99";

// Builds a plan from a graph (the compile driver's plan preparation, kernel choice at level 0 and
// serialization).
using PlanMaker = std::function<std::vector<uint8_t>(ir::Graph&)>;

// The calibration table for `onnx_path` under `opts` (its calib_dir, calib_method and
// calib_cache). `fp32_graph` builds the model's optimised fp32 graph with plain layouts: the
// tensors the int8 build will see, by name. `summary` receives one line saying where the ranges
// came from. Throws OptionError when neither data nor a cache is given, and kiln::Error naming
// the file on unreadable data or a cache made for another model or method.
CalibTable calibration_table(const std::string& onnx_path, const CompileOptions& opts,
                             const std::function<std::unique_ptr<ir::Graph>()>& fp32_graph, const PlanMaker& make_plan,
                             std::string& summary);

}  // namespace kiln::quant
