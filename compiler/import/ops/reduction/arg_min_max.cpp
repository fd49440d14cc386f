// ONNX importers for ops/reduction/arg_min_max.h: ArgMax and ArgMin, one op with a flag.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/reduction/arg_min_max.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

template <bool Max>
void import_arg(NodeContext& c) {
  auto op = std::make_unique<ArgMinMax>();
  op->max = Max;
  op->axis = c.attr_int("axis", 0);
  op->keepdims = c.attr_int("keepdims", 1) != 0;
  op->select_last_index = c.attr_int("select_last_index", 0) != 0;  // exists from opset 12
  c.emit(std::move(op), {c.required_input(0)});
}

KILN_REGISTER_IMPORTER("ArgMax", kMinOpset, kMaxOpset, import_arg<true>);
KILN_REGISTER_IMPORTER("ArgMin", kMinOpset, kMaxOpset, import_arg<false>);

}  // namespace
}  // namespace kiln::onnx_import
