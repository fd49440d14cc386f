// ONNX importers for the normalisation family (ops/nn/norm.h): BatchNormalization (inference form,
// and training_mode=1 as BatchNormalizationTraining), InstanceNormalization, LRN, and
// GroupNormalization (lowered onto InstanceNormalization).
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/math/eltwise.h"
#include "ops/nn/norm.h"
#include "ops/tensor/shape.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

// BatchNormalization outputs beyond Y (running / saved mean and variance) exist for training
// only: opset 14's training_mode=1 computes them; before it (training implied by the outputs)
// they are refused. Opsets 7-8 have the `spatial` attribute (0 = per-activation statistics,
// unsupported).
void import_batch_norm(NodeContext& ctx) {
  if (ctx.attr_int("training_mode", 0) != 0) {
    // Deterministic: the batch's statistics and the updated running ones.
    if (ctx.opset() < 14) ctx.fail("training_mode exists from opset 14 on");
    if (ctx.num_outputs() > 3) ctx.fail("training mode has at most 3 outputs (Y, running_mean, running_var)");
    auto op = std::make_unique<BatchNormalizationTraining>();
    op->epsilon = ctx.attr_float("epsilon", 1e-5f);
    op->momentum = ctx.attr_float("momentum", 0.9f);
    std::vector<ir::Value*> in;
    for (size_t i = 0; i < 5; ++i) in.push_back(ctx.required_input(i));
    ctx.emit(std::move(op), std::move(in));
    return;
  }
  if (ctx.opset() <= 8 && ctx.attr_int("spatial", 1) != 1)
    ctx.fail("spatial=0 (per-activation statistics) is not supported; only spatial=1 is");
  for (size_t i = 1; i < ctx.num_outputs(); ++i)
    if (!ctx.proto().output(static_cast<int>(i)).empty())
      ctx.fail("output " + std::to_string(i) + " (running or saved statistics) is used; these exist for training "
               "only, kiln imports inference graphs (export the model in eval mode)");
  std::vector<ir::Value*> in;
  for (size_t i = 0; i < 5; ++i) in.push_back(ctx.required_input(i));
  auto op = std::make_unique<BatchNormalization>();
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
  auto op = std::make_unique<InstanceNormalization>();
  op->epsilon = ctx.attr_float("epsilon", 1e-5f);
  ctx.emit(std::move(op), {ctx.required_input(0), ctx.required_input(1), ctx.required_input(2)});
}

// GroupNormalization (opset 18, new): InstanceNormalization over [N, G, C/G * spatial] (the
// statistics of each group), reshaped back, then the affine part per channel. Opset 18 gives
// scale and bias per group (repeated over the group's channels here, so they must be constants);
// opset 21 per channel.
void import_group_norm(NodeContext& ctx) {
  ctx.expect_signature(3, 3, 1, 1, {"epsilon", "num_groups", "stash_type"});
  ir::Value* x = ctx.required_input(0);
  ir::Value *scale = ctx.required_input(1), *bias = ctx.required_input(2);
  const Dims& xs = x->type.shape;
  if (!ctx.has_attr("num_groups")) ctx.fail("the num_groups attribute is required");
  const int64_t g = ctx.attr_int("num_groups", 1);
  if (xs.size() < 3) ctx.fail("X must have rank >= 3 ([N, C, spatial...]), got shape " + shape_str(xs));
  const int64_t c = xs[1];
  if (c <= 0 || g <= 0 || c % g != 0)
    ctx.fail("num_groups " + std::to_string(g) + " must divide the channel count " + std::to_string(c) +
             (c <= 0 ? " (which must be known: give --shapes)" : ""));
  if (ctx.attr_int("stash_type", 1) != 1) ctx.fail("stash_type must be 1 (float32 statistics)");
  if (x->type.dtype != DType::Float32) ctx.fail(std::string("X must be float32, not ") + dtype_name(x->type.dtype));
  const bool per_group = ctx.opset() < 21;
  const int64_t n = per_group ? g : c;
  auto check_param = [&](ir::Value* v, const char* what) {
    if (v->type.dtype != DType::Float32 || v->type.shape != Dims{n})
      ctx.fail(std::string(what) + " must be float32 of shape [" + std::to_string(n) + "] (" +
               (per_group ? "one per group at opset 18-20" : "one per channel from opset 21") + "), got " +
               dtype_name(v->type.dtype) + " " + shape_str(v->type.shape));
  };
  check_param(scale, "scale");
  check_param(bias, "bias");
  auto per_channel = [&](ir::Value* v, const char* what) -> ir::Value* {
    if (!per_group) return v;
    if (!v->is_constant()) ctx.fail(std::string(what) + " must be a compile-time constant at opset 18-20");
    const TensorView t = v->view();
    std::vector<float> r(static_cast<size_t>(c));
    for (int64_t k = 0; k < c; ++k) r[static_cast<size_t>(k)] = t.as<const float>()[k / (c / g)];
    return ctx.constant_floats(std::string(what) + "_per_channel", r, {c});
  };
  auto reshape = [&](const char* suffix, ir::Value* v, std::vector<int64_t> shape) {
    auto op = std::make_unique<Reshape>();
    op->shape = std::move(shape);
    return ctx.emit_internal(suffix, std::move(op), {v})->outputs[0];
  };
  auto binary = [&](const char* suffix, BinaryKind k, ir::Value* a, ir::Value* b) {
    auto op = std::make_unique<Binary>();
    op->kind = k;
    return ctx.emit_internal(suffix, std::move(op), {a, b})->outputs[0];
  };
  ir::Value* grouped = reshape("grouped", x, {0, g, -1});
  auto in = std::make_unique<InstanceNormalization>();
  in->epsilon = ctx.attr_float("epsilon", 1e-5f);
  ir::Value* normed = ctx.emit_internal(
      "normalized", std::move(in),
      {grouped, ctx.constant_floats("ones", std::vector<float>(static_cast<size_t>(g), 1.f), {g}),
       ctx.constant_floats("zeros", std::vector<float>(static_cast<size_t>(g), 0.f), {g})})->outputs[0];
  ir::Value* shape = ctx.emit_internal("shape", std::make_unique<Shape>(), {x})->outputs[0];
  auto back = std::make_unique<Reshape>();
  ir::Value* y = ctx.emit_internal("ungrouped", std::move(back), {normed, shape})->outputs[0];
  std::vector<int64_t> bcast(xs.size() - 1, 1);  // [C, 1, ...]: per channel against [N, C, ...]
  bcast[0] = c;
  ir::Value* sc = reshape("scale", per_channel(scale, "scale"), bcast);
  ir::Value* bi = reshape("bias", per_channel(bias, "bias"), bcast);
  ir::Value* scaled = binary("scaled", BinaryKind::Mul, y, sc);
  auto add = std::make_unique<Binary>();
  add->kind = BinaryKind::Add;
  ctx.emit(std::move(add), {scaled, bi});
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
KILN_REGISTER_IMPORTER("GroupNormalization", 18, kMaxOpset, import_group_norm);  // per-channel affine from 21

}  // namespace
}  // namespace kiln::onnx_import
