// ONNX importer for ops/tensor/reverse_sequence.h: ReverseSequence (opset 10).
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/tensor/reverse_sequence.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_reverse_sequence(NodeContext& c) {
  auto op = std::make_unique<ReverseSequence>();
  op->time_axis = c.attr_int("time_axis", 0);
  op->batch_axis = c.attr_int("batch_axis", 1);
  c.emit(std::move(op), {c.required_input(0), c.required_input(1)});
}

KILN_REGISTER_IMPORTER("ReverseSequence", 10, kMaxOpset, import_reverse_sequence);

}  // namespace
}  // namespace kiln::onnx_import
