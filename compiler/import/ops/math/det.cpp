// ONNX importer for ops/math/det.h: Det (opset 11).
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/math/det.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_det(NodeContext& c) { c.emit(std::make_unique<Det>(), {c.required_input(0)}); }

KILN_REGISTER_IMPORTER("Det", 11, kMaxOpset, import_det);

}  // namespace
}  // namespace kiln::onnx_import
