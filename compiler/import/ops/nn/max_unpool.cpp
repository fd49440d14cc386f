// ONNX importer for ops/nn/max_unpool.h: MaxUnpool (opset 9; 11 only clarified it).
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/nn/max_unpool.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_max_unpool(NodeContext& c) {
  auto op = std::make_unique<MaxUnpool>();
  if (!c.has_attr("kernel_shape")) c.fail("kernel_shape is required");
  op->kernel_shape = c.attr_ints("kernel_shape");
  op->strides = c.attr_ints("strides");
  op->pads = c.attr_ints("pads");
  // A constant output_shape becomes the attribute (a static output); otherwise it stays an
  // input and the runtime sizes Y from its value on each run.
  std::vector<ir::Value*> in{c.required_input(0), c.required_input(1)};
  if (ir::Value* s = c.input(2)) {
    if (s->is_constant()) op->output_shape = c.const_ints(2);
    else in.push_back(s);
  }
  c.emit(std::move(op), std::move(in));
}

KILN_REGISTER_IMPORTER("MaxUnpool", 9, kMaxOpset, import_max_unpool);

}  // namespace
}  // namespace kiln::onnx_import
