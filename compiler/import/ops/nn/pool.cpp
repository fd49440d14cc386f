// ONNX importers for the pooling family (ops/nn/pool.h): MaxPool, AveragePool, GlobalAveragePool,
// GlobalMaxPool. auto_pad is resolved here into explicit pads.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/nn/pool.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

// Emits `op` bound to the node's first output only; the caller has checked that the other
// (optional) outputs are unused.
void emit_first_output(NodeContext& ctx, std::unique_ptr<Op> op, ir::Value* x) {
  if (ctx.num_outputs() == 1) {
    ctx.emit(std::move(op), {x});
    return;
  }
  ir::Value* y = ctx.graph().add_value(ctx.proto().output(0));
  ir::Node* n = ctx.graph().add_node(ctx.name(), std::move(op), {x}, std::vector<ir::Value*>{y});
  n->fused.push_back(ctx.proto().op_type());
  ctx.alias_output(0, y);
}

// Reads the attributes the windowed pools share. ceil_mode and dilations exist from opset 10
// (MaxPool) / 10 and 19 (AveragePool); earlier models simply do not carry them.
PoolAttrs pool_attrs(NodeContext& ctx, const ir::Value* x) {
  const Dims& xs = x->type.shape;
  if (xs.size() < 3) ctx.fail("X must have rank >= 3 ([N, C, spatial...]), got shape " + shape_str(xs));
  if (!ctx.has_attr("kernel_shape")) ctx.fail("the kernel_shape attribute is required");
  PoolAttrs p;
  p.kernel_shape = ctx.attr_ints("kernel_shape");
  if (p.kernel_shape.size() != xs.size() - 2)
    ctx.fail("kernel_shape has " + std::to_string(p.kernel_shape.size()) + " values but X (shape " + shape_str(xs) +
             ") has " + std::to_string(xs.size() - 2) + " spatial dims");
  p.strides = ctx.attr_ints("strides");
  p.dilations = ctx.attr_ints("dilations");
  p.ceil_mode = ctx.attr_int("ceil_mode", 0) != 0;
  p.pads = resolve_auto_pad(ctx.attr_string("auto_pad", "NOTSET"), p.window(ctx.proto().op_type()),
                            Dims(xs.begin() + 2, xs.end()), ctx.attr_ints("pads"));
  return p;
}

void import_max_pool(NodeContext& ctx) {
  ir::Value* x = ctx.required_input(0);
  if (ctx.num_outputs() > 2) ctx.fail("MaxPool has at most two outputs (Y and Indices)");
  auto op = std::make_unique<MaxPool>();
  op->p = pool_attrs(ctx, x);
  op->storage_order = ctx.attr_int("storage_order", 0);
  if (op->storage_order != 0 && op->storage_order != 1)
    ctx.fail("storage_order must be 0 (row-major) or 1 (column-major)");
  // Without a used Indices output the op keeps one output, which the oneDNN kernel handles.
  if (ctx.num_outputs() == 2 && !ctx.proto().output(1).empty()) ctx.emit(std::move(op), {x});
  else emit_first_output(ctx, std::move(op), x);
}

void import_average_pool(NodeContext& ctx) {
  if (ctx.opset() > kOnnxLibOpset)
    ctx.expect_signature(1, 1, 1, 1,
                         {"auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides"});
  ir::Value* x = ctx.required_input(0);
  auto op = std::make_unique<AveragePool>();
  op->p = pool_attrs(ctx, x);
  op->count_include_pad = ctx.attr_int("count_include_pad", 0) != 0;
  ctx.emit(std::move(op), {x});
}

template <class T>
void import_global(NodeContext& ctx) {
  ctx.emit(std::make_unique<T>(), {ctx.required_input(0)});
}

// MaxPool: opset 8 added Indices and storage_order, 10 ceil_mode and dilations, 12 int8/uint8 —
// all optional extensions read by the one importer. AveragePool likewise (ceil_mode at 10).
KILN_REGISTER_IMPORTER("MaxPool", kMinOpset, kMaxOpset, import_max_pool);
KILN_REGISTER_IMPORTER("AveragePool", kMinOpset, 18, import_average_pool);
KILN_REGISTER_IMPORTER("AveragePool", 19, kMaxOpset, import_average_pool);  // dilations
KILN_REGISTER_IMPORTER("GlobalAveragePool", kMinOpset, kMaxOpset, import_global<GlobalAveragePool>);
KILN_REGISTER_IMPORTER("GlobalMaxPool", kMinOpset, kMaxOpset, import_global<GlobalMaxPool>);

}  // namespace
}  // namespace kiln::onnx_import
