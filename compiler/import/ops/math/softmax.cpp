// ONNX importers for the softmax family (ops/math/softmax.h): Softmax, LogSoftmax, Hardmax. Before
// opset 13 they flatten the input to 2-D at axis (default 1) and normalise each row; from 13 they
// normalise along axis (default -1).
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/math/softmax.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

template <class T>
void import_softmax(NodeContext& c) {
  ir::Value* x = c.required_input(0);
  auto op = std::make_unique<T>();
  bool legacy = c.opset() < 13;
  op->axis = c.attr_int("axis", legacy ? 1 : -1);
  op->coerce_2d = legacy;
  // Flattening at the last axis is normalising along it: record the simpler form, which kernels
  // and later passes handle more directly.
  int64_t r = static_cast<int64_t>(x->type.shape.size());
  if (legacy && (op->axis == r - 1 || op->axis == -1)) op->coerce_2d = false;
  c.emit(std::move(op), {x});
}

KILN_REGISTER_IMPORTER("Softmax", kMinOpset, kMaxOpset, import_softmax<Softmax>);
KILN_REGISTER_IMPORTER("LogSoftmax", kMinOpset, kMaxOpset, import_softmax<LogSoftmax>);
KILN_REGISTER_IMPORTER("Hardmax", kMinOpset, kMaxOpset, import_softmax<Hardmax>);

}  // namespace
}  // namespace kiln::onnx_import
