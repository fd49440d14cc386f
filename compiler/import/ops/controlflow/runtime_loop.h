// The run-time Loop: what the Loop importer emits when it cannot unroll (if_loop_scan.cpp).
#pragma once

#include <string>

#include "import/importer.h"

namespace onnx {
class GraphProto;
}

namespace kiln::onnx_import {

// Emits the node's Loop as one kiln Loop layer whose body is compiled to a plan of its own (the
// whole pipeline: passes, fast kernels, memory plan) and run by the runtime once per iteration.
// `why` says why it was not unrolled, for the errors of what it cannot do either.
void import_runtime_loop(NodeContext& c, const onnx::GraphProto& body, const std::string& why);

}  // namespace kiln::onnx_import
