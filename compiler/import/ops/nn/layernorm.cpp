// ONNX importer for LayerNormalization (opset 17, ops/nn/layernorm.h). Mean and InvStdDev are
// produced only when the node names them; unnamed trailing outputs are dropped from the node.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/nn/layernorm.h"

namespace kiln::onnx_import {
namespace {

void import_layer_norm(NodeContext& ctx) {
  auto op = std::make_unique<ops::LayerNormalization>();
  op->axis = ctx.attr_int("axis", -1);
  op->epsilon = ctx.attr_float("epsilon", 1e-5f);
  op->stash_type = ctx.attr_int("stash_type", 1);
  if (op->stash_type != 1)
    ctx.fail("stash_type=" + std::to_string(op->stash_type) +
             " is not supported; kiln computes the statistics "
             "in float32 or better (stash_type=1)");
  std::vector<ir::Value*> in{ctx.required_input(0), ctx.required_input(1)};
  if (ir::Value* b = ctx.input(2)) in.push_back(b);
  // Outputs the model leaves unnamed at the end need not be computed at all.
  size_t used = 1;
  for (size_t i = 1; i < ctx.num_outputs(); ++i)
    if (!ctx.proto().output(static_cast<int>(i)).empty()) used = i + 1;
  if (used == ctx.num_outputs()) {
    ctx.emit(std::move(op), std::move(in));
    return;
  }
  std::vector<ir::Value*> outs;
  for (size_t i = 0; i < used; ++i) {
    const std::string& name = ctx.proto().output(static_cast<int>(i));
    outs.push_back(
        ctx.graph().add_value(name.empty() ? ctx.graph().unique_name(ctx.name() + ":unused") : name));
    ctx.alias_output(i, outs.back());
  }
  ir::Node* n = ctx.graph().add_node(ctx.name(), std::move(op), std::move(in), std::move(outs));
  n->fused.push_back(ctx.proto().op_type());
}

KILN_REGISTER_IMPORTER("LayerNormalization", 17, kMaxOpset, import_layer_norm);

}  // namespace
}  // namespace kiln::onnx_import
