// ONNX importers for ops/generator/constant_of_shape_range.h: ConstantOfShape (opset 9) and
// Range (11). A constant shape input becomes the attribute; a node on constants is folded right
// after import (import/ops/emit_util.h).
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "import/ops/emit_util.h"
#include "ops/generator/constant_of_shape_range.h"
#include "ops/tensor/shape.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_constant_of_shape(NodeContext& ctx) {
  auto op = std::make_unique<ConstantOfShape>();
  if (ctx.has_attr("value")) {
    ir::Value* v = ctx.attr_tensor("value");
    if (shape_elements(v->type.shape) != 1) ctx.fail("ConstantOfShape's value must hold exactly one element");
    op->dtype = static_cast<int64_t>(v->type.dtype);
    op->value_bits = pack_element_bits(v->view(), 0);
  }
  std::vector<ir::Value*> in;
  (void)ctx.required_input(0);
  const_param(ctx, 0, op->shape, in);
  emit_or_fold(ctx, std::move(op), in);
}

void import_range(NodeContext& ctx) {
  emit_or_fold(ctx, std::make_unique<Range>(), {ctx.required_input(0), ctx.required_input(1), ctx.required_input(2)});
}

KILN_REGISTER_IMPORTER("ConstantOfShape", 9, kMaxOpset, import_constant_of_shape);
KILN_REGISTER_IMPORTER("Range", 11, kMaxOpset, import_range);

}  // namespace
}  // namespace kiln::onnx_import
