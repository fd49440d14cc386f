// ONNX importer for ops/math/einsum.h: Einsum (opset 12).
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/math/einsum.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_einsum(NodeContext& ctx) {
  if (!ctx.has_attr("equation")) ctx.fail("the equation attribute is required");
  auto op = std::make_unique<Einsum>();
  op->equation = ctx.attr_string("equation", "");
  std::vector<ir::Value*> in;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) in.push_back(ctx.required_input(i));
  if (in.empty()) ctx.fail("Einsum needs at least one input");
  ctx.emit(std::move(op), std::move(in));
}

KILN_REGISTER_IMPORTER("Einsum", 12, kMaxOpset, import_einsum);

}  // namespace
}  // namespace kiln::onnx_import
