// ONNX importer for ops/object_detection/non_max_suppression.h: NonMaxSuppression (opset 10; 11
// changed nothing kiln sees). Its optional inputs stay inputs, constant or not: infer() reads the
// values when they are known and leaves the output length to the runtime otherwise.
#include <algorithm>

#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/object_detection/non_max_suppression.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_nms(NodeContext& c) {
  auto op = std::make_unique<NonMaxSuppression>();
  op->center_point_box = c.attr_int("center_point_box", 0);
  if (op->center_point_box != 0 && op->center_point_box != 1)
    c.fail("center_point_box must be 0 ([y1, x1, y2, x2] boxes) or 1 ([x_center, y_center, width, height])");
  std::vector<ir::Value*> in{c.required_input(0), c.required_input(1)};
  // Trailing absent inputs are dropped so the op sees the same arity either way.
  size_t n = std::min<size_t>(c.num_inputs(), 5);
  while (n > 2 && !c.input(n - 1)) --n;
  for (size_t i = 2; i < n; ++i) in.push_back(c.input(i));
  c.emit(std::move(op), std::move(in));
}

KILN_REGISTER_IMPORTER("NonMaxSuppression", 10, kMaxOpset, import_nms);

}  // namespace
}  // namespace kiln::onnx_import
