// ONNX importers for Gather and GatherElements (ops/tensor/shape.h).
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "import/ops/emit_util.h"
#include "ops/tensor/shape.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_gather(NodeContext& ctx) {
  auto op = std::make_unique<Gather>();
  op->axis = ctx.attr_int("axis", 0);
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0), ctx.required_input(1)});
}

void import_gather_elements(NodeContext& ctx) {
  auto op = std::make_unique<GatherElements>();
  op->axis = ctx.attr_int("axis", 0);
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0), ctx.required_input(1)});
}

KILN_REGISTER_IMPORTER("Gather", kMinOpset, kMaxOpset, import_gather);
KILN_REGISTER_IMPORTER("GatherElements", 11, kMaxOpset, import_gather_elements);

}  // namespace
}  // namespace kiln::onnx_import
