// ONNX importers for Cast (ops/tensor/shape.h) and CastLike, which is a Cast to the dtype of its
// second input.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "import/ops/emit_util.h"
#include "ops/tensor/shape.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_cast(NodeContext& ctx) {
  // Cast-19 adds 'saturate', which only changes casts to 8-bit floats (not supported).
  if (ctx.opset() > kOnnxLibOpset) ctx.expect_signature(1, 1, 1, 1, {"to", "saturate"});
  auto op = std::make_unique<Cast>();
  if (!ctx.has_attr("to")) ctx.fail("Cast needs the 'to' attribute");
  op->to = ctx.attr_int("to", 1);
  if (op->to < 0 || op->to > 127 || !dtype_onnx(static_cast<DType>(op->to)))
    ctx.fail("Cast to ONNX type " + std::to_string(op->to) + " is not supported (strings, complex and "
             "8-bit floats are out of scope)");
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)},
               [](const TensorType& a, const TensorType& b) { return a.dtype == b.dtype; });
}

void import_cast_like(NodeContext& ctx) {
  // CastLike-19 adds 'saturate', which only changes casts to 8-bit floats (not supported).
  if (ctx.opset() > kOnnxLibOpset) ctx.expect_signature(2, 2, 1, 1, {"saturate"});
  auto op = std::make_unique<Cast>();
  op->to = static_cast<int64_t>(ctx.required_input(1)->type.dtype);
  ctx.emit(std::move(op), {ctx.required_input(0)});
}

KILN_REGISTER_IMPORTER("Cast", kMinOpset, 18, import_cast);
KILN_REGISTER_IMPORTER("Cast", 19, kMaxOpset, import_cast);  // saturate
KILN_REGISTER_IMPORTER("CastLike", 15, 18, import_cast_like);
KILN_REGISTER_IMPORTER("CastLike", 19, kMaxOpset, import_cast_like);  // saturate

}  // namespace
}  // namespace kiln::onnx_import
