// ONNX importers for the reshaping views and shape queries of ops/tensor/shape.h: Reshape,
// Flatten, Squeeze, Unsqueeze, Shape, Size, Transpose, DepthToSpace, SpaceToDepth.
//
// Parameters that ONNX passes as inputs become attributes when they are constants. Nodes whose
// inputs are all constants are evaluated right here with the op's reference kernel (when the
// result is small), so the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains of exported
// models collapse into constants before the importers downstream need their values.
#include <algorithm>
#include <cstring>
#include <functional>

#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "import/ops/emit_util.h"
#include "ops/tensor/identity.h"
#include "ops/tensor/shape.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

// ---- reshaping views --------------------------------------------------------------------------

void import_reshape(NodeContext& ctx) {
  ir::Value* x = ctx.required_input(0);
  ir::Value* s = ctx.required_input(1);
  auto op = std::make_unique<Reshape>();
  op->allowzero = ctx.attr_int("allowzero", 0);
  if (op->allowzero != 0 && op->allowzero != 1) ctx.fail("allowzero must be 0 or 1");
  if (!s->is_constant()) return emit_or_fold(ctx, std::move(op), {x, s}, same_static_shape);
  op->shape = ctx.const_ints(1);
  // Fully resolved, the shape is literal: allowzero=1 keeps any 0 in it meaning 0.
  Dims out = resolve_reshape(x->type.shape, op->shape, op->allowzero != 0);
  // Under a profile the 0s and -1 stand for dims that vary: they stay.
  if (shape_static(out) && (!ctx.graph().shapes_vary || x->is_constant())) op->shape = out, op->allowzero = 1;
  emit_or_fold(ctx, std::move(op), {x}, same_static_shape);
}

void import_flatten(NodeContext& ctx) {
  auto op = std::make_unique<Flatten>();
  op->axis = ctx.attr_int("axis", 1);
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)}, same_static_shape);
}

template <class T>
void import_squeeze_attr(NodeContext& ctx) {  // opset < 13: axes attribute
  auto op = std::make_unique<T>();
  op->axes = ctx.attr_ints("axes");
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)}, same_static_shape);
}

template <class T>
void import_squeeze_input(NodeContext& ctx) {  // opset 13+: axes input; run-time axes stay an input
  auto op = std::make_unique<T>();
  ir::Value* axes = ctx.input(1);
  if (axes && !axes->is_constant()) {
    ctx.emit(std::move(op), {ctx.required_input(0), axes});
    return;
  }
  if (axes) op->axes = ctx.const_ints(1);
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)}, same_static_shape);
}

// ---- shape queries ----------------------------------------------------------------------------

void import_shape(NodeContext& ctx) {
  ir::Value* x = ctx.required_input(0);
  auto op = std::make_unique<Shape>();
  op->start = ctx.attr_int("start", 0);
  op->end = ctx.attr_int("end", INT64_MAX);
  // Under a profile the shape varies at run time: a shape program (ir::Value::known).
  if (!shape_static(x->type.shape) || (ctx.graph().shapes_vary && !x->is_constant())) {
    ctx.emit(std::move(op), {x});
    return;
  }
  // A static shape is a constant however the data is produced.
  const Dims& s = x->type.shape;
  int64_t r = static_cast<int64_t>(s.size());
  auto clampi = [r](int64_t v) { return std::clamp(v < 0 ? std::max(v, -r) + r : v, int64_t(0), r); };
  int64_t b = clampi(op->start), e = std::max(clampi(op->end), b);
  std::vector<int64_t> dims(s.begin() + b, s.begin() + e);
  ir::Value* v = output_constant(ctx, 0, DType::Int64, {e - b});
  if (!dims.empty()) std::memcpy(v->constant->data(), dims.data(), dims.size() * sizeof(int64_t));
  ctx.alias_output(0, v);
}

void import_size(NodeContext& ctx) {
  ir::Value* x = ctx.required_input(0);
  if (!shape_static(x->type.shape) || (ctx.graph().shapes_vary && !x->is_constant())) {
    ctx.emit(std::make_unique<Size>(), {x});
    return;
  }
  int64_t n = checked_elements(x->type.shape, "input");
  ir::Value* v = output_constant(ctx, 0, DType::Int64, {});
  std::memcpy(v->constant->data(), &n, sizeof n);
  ctx.alias_output(0, v);
}

// ---- permutations and copies ------------------------------------------------------------------

void import_transpose(NodeContext& ctx) {
  auto op = std::make_unique<Transpose>();
  op->perm = ctx.attr_ints("perm");
  const Transpose& t = *op;
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)}, [&t](const TensorType& in, const TensorType&) {
    auto p = t.effective_perm(in.shape.size());
    for (size_t i = 0; i < p.size(); ++i)
      if (p[i] != static_cast<int64_t>(i)) return false;
    return true;
  });
}

void import_depth_to_space(NodeContext& ctx) {
  auto op = std::make_unique<DepthToSpace>();
  if (!ctx.has_attr("blocksize")) ctx.fail("DepthToSpace needs the 'blocksize' attribute");
  op->blocksize = ctx.attr_int("blocksize", 1);
  op->mode = ctx.attr_string("mode", "DCR");
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)}, same_static_shape);
}

void import_space_to_depth(NodeContext& ctx) {
  auto op = std::make_unique<SpaceToDepth>();
  if (!ctx.has_attr("blocksize")) ctx.fail("SpaceToDepth needs the 'blocksize' attribute");
  op->blocksize = ctx.attr_int("blocksize", 1);
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)}, same_static_shape);
}

KILN_REGISTER_IMPORTER("Reshape", kMinOpset, kMaxOpset, import_reshape);  // allowzero from 14
KILN_REGISTER_IMPORTER("Flatten", kMinOpset, kMaxOpset, import_flatten);
KILN_REGISTER_IMPORTER("Squeeze", kMinOpset, 12, import_squeeze_attr<Squeeze>);
KILN_REGISTER_IMPORTER("Squeeze", 13, kMaxOpset, import_squeeze_input<Squeeze>);
KILN_REGISTER_IMPORTER("Unsqueeze", kMinOpset, 12, import_squeeze_attr<Unsqueeze>);
KILN_REGISTER_IMPORTER("Unsqueeze", 13, kMaxOpset, import_squeeze_input<Unsqueeze>);
KILN_REGISTER_IMPORTER("Shape", kMinOpset, kMaxOpset, import_shape);  // start/end from 15
KILN_REGISTER_IMPORTER("Size", kMinOpset, kMaxOpset, import_size);
KILN_REGISTER_IMPORTER("Transpose", kMinOpset, kMaxOpset, import_transpose);
KILN_REGISTER_IMPORTER("DepthToSpace", kMinOpset, kMaxOpset, import_depth_to_space);  // mode from 11
KILN_REGISTER_IMPORTER("SpaceToDepth", kMinOpset, kMaxOpset, import_space_to_depth);

}  // namespace
}  // namespace kiln::onnx_import
