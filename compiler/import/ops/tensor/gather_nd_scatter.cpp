// ONNX importers for ops/tensor/gather_nd_scatter.h: GatherND, ScatterElements (and the opset 9
// Scatter it replaced), ScatterND.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/tensor/gather_nd_scatter.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_gather_nd(NodeContext& ctx) {
  auto op = std::make_unique<GatherND>();
  op->batch_dims = ctx.opset() >= 12 ? ctx.attr_int("batch_dims", 0) : 0;
  ctx.emit(std::move(op), {ctx.required_input(0), ctx.required_input(1)});
}

ScatterReduce parse_reduction(NodeContext& ctx) {
  const std::string r = ctx.opset() >= 16 ? ctx.attr_string("reduction", "none") : "none";
  if (r == "none") return ScatterReduce::None;
  if (r == "add") return ScatterReduce::Add;
  if (r == "mul") return ScatterReduce::Mul;
  if (ctx.opset() >= 18 && r == "max") return ScatterReduce::Max;
  if (ctx.opset() >= 18 && r == "min") return ScatterReduce::Min;
  ctx.fail("reduction '" + r + "' is not supported; use none, add or mul" +
           (ctx.opset() >= 18 ? ", max or min" : " (max and min from opset 18)"));
}

void import_scatter_elements(NodeContext& ctx) {
  if (ctx.opset() > kOnnxLibOpset) ctx.expect_signature(3, 3, 1, 1, {"axis", "reduction"});
  auto op = std::make_unique<ScatterElements>();
  op->axis = ctx.attr_int("axis", 0);
  op->reduction = parse_reduction(ctx);
  ctx.emit(std::move(op), {ctx.required_input(0), ctx.required_input(1), ctx.required_input(2)});
}

void import_scatter_nd(NodeContext& ctx) {
  if (ctx.opset() > kOnnxLibOpset) ctx.expect_signature(3, 3, 1, 1, {"reduction"});
  auto op = std::make_unique<ScatterND>();
  op->reduction = parse_reduction(ctx);
  ctx.emit(std::move(op), {ctx.required_input(0), ctx.required_input(1), ctx.required_input(2)});
}

KILN_REGISTER_IMPORTER("GatherND", 11, kMaxOpset, import_gather_nd);
KILN_REGISTER_IMPORTER("Scatter", 9, 10, import_scatter_elements);
KILN_REGISTER_IMPORTER("ScatterElements", 11, 17, import_scatter_elements);
KILN_REGISTER_IMPORTER("ScatterElements", 18, kMaxOpset, import_scatter_elements);  // max, min
KILN_REGISTER_IMPORTER("ScatterND", 11, 17, import_scatter_nd);
KILN_REGISTER_IMPORTER("ScatterND", 18, kMaxOpset, import_scatter_nd);  // max, min

}  // namespace
}  // namespace kiln::onnx_import
