// ONNX importers for the normalisation family (ops/norm.h): BatchNormalization (inference form
// only), InstanceNormalization and LRN.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/norm.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

// BatchNormalization outputs beyond Y (running / saved mean and variance) exist for training
// only. Opsets 7-8 have the `spatial` attribute (0 = per-activation statistics, unsupported);
// opset 14 adds training_mode.
void import_batch_norm(NodeContext& ctx) {
  if (ctx.attr_int("training_mode", 0) != 0)
    ctx.fail("training_mode=1 is not supported; kiln runs inference graphs only (export the model in eval mode)");
  if (ctx.opset() <= 8 && ctx.attr_int("spatial", 1) != 1)
    ctx.fail("spatial=0 (per-activation statistics) is not supported; only spatial=1 is");
  for (size_t i = 1; i < ctx.num_outputs(); ++i)
    if (!ctx.proto().output(static_cast<int>(i)).empty())
      ctx.fail("output " + std::to_string(i) + " (running or saved statistics) is used; these exist for training "
               "only, kiln imports inference graphs (export the model in eval mode)");
  std::vector<ir::Value*> in;
  for (size_t i = 0; i < 5; ++i) in.push_back(ctx.required_input(i));
  auto op = std::make_unique<BatchNorm>();
  op->epsilon = ctx.attr_float("epsilon", 1e-5f);
  if (ctx.num_outputs() == 1) {
    ctx.emit(std::move(op), std::move(in));
    return;
  }
  ir::Value* y = ctx.graph().add_value(ctx.proto().output(0));
  ir::Node* n = ctx.graph().add_node(ctx.name(), std::move(op), std::move(in), std::vector<ir::Value*>{y});
  n->fused.push_back(ctx.proto().op_type());
  ctx.alias_output(0, y);
}

void import_instance_norm(NodeContext& ctx) {
  auto op = std::make_unique<InstanceNorm>();
  op->epsilon = ctx.attr_float("epsilon", 1e-5f);
  ctx.emit(std::move(op), {ctx.required_input(0), ctx.required_input(1), ctx.required_input(2)});
}

void import_lrn(NodeContext& ctx) {
  if (!ctx.has_attr("size")) ctx.fail("the size attribute is required");
  auto op = std::make_unique<LRN>();
  op->alpha = ctx.attr_float("alpha", 1e-4f);
  op->beta = ctx.attr_float("beta", 0.75f);
  op->bias = ctx.attr_float("bias", 1.f);
  op->size = ctx.attr_int("size", 1);
  ctx.emit(std::move(op), {ctx.required_input(0)});
}

KILN_REGISTER_IMPORTER("BatchNormalization", kMinOpset, kMaxOpset, import_batch_norm);
KILN_REGISTER_IMPORTER("InstanceNormalization", kMinOpset, kMaxOpset, import_instance_norm);
KILN_REGISTER_IMPORTER("LRN", kMinOpset, kMaxOpset, import_lrn);

}  // namespace
}  // namespace kiln::onnx_import
