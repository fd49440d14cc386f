// ONNX importer for ops/tensor/unique.h: Unique (opset 11). infer() reads the input when it is
// known and leaves the output length to the runtime otherwise.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/tensor/unique.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_unique(NodeContext& c) {
  auto op = std::make_unique<Unique>();
  op->has_axis = c.has_attr("axis") ? 1 : 0;
  op->axis = c.attr_int("axis", 0);
  op->sorted = c.attr_int("sorted", 1);
  if (op->sorted != 0 && op->sorted != 1) c.fail("sorted must be 0 or 1");
  if (c.num_outputs() < 1 || c.num_outputs() > 4)
    c.fail("Unique has one to four outputs (Y, indices, inverse_indices, counts)");
  c.emit(std::move(op), {c.required_input(0)});
}

KILN_REGISTER_IMPORTER("Unique", 11, kMaxOpset, import_unique);

}  // namespace
}  // namespace kiln::onnx_import
