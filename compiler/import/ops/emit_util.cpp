#include "import/ops/emit_util.h"

#include <algorithm>

#include <onnx/onnx_pb.h>

#include "ops/tensor/identity.h"

namespace kiln::onnx_import {

using namespace kiln::ops;

// A constant named after the ONNX output it stands for, so onnx's shape info still applies.
ir::Value* output_constant(NodeContext& ctx, size_t i, DType t, const Dims& s) {
  const std::string& name = ctx.proto().output(static_cast<int>(i));
  return ctx.graph().add_constant(name.empty() ? ctx.graph().unique_name(ctx.name() + ":unused") : name, t, s);
}

// The op's output types for the node's current inputs, constant and known values visible.
std::vector<TensorType> infer_on(const Op& op, const std::vector<ir::Value*>& in, size_t num_outputs) {
  std::vector<TensorType> types;
  std::vector<TensorView> views;
  for (ir::Value* v : in) {
    types.push_back(v ? v->type : TensorType{});
    views.push_back(v ? v->known_view() : TensorView{});
  }
  std::vector<const TensorView*> values;
  for (auto& v : views) values.push_back(v.data ? &v : nullptr);
  return infer_types(op, std::move(types), std::move(values), num_outputs);  // the model importer names the node
}

// Pure views and broadcasts (Reshape, Expand, Tile...) that keep a static shape copy the data as is.
bool same_static_shape(const TensorType& in, const TensorType& out) {
  return in.dtype == out.dtype && shape_static(in.shape) && in.shape == out.shape;
}

// Emits the op; one that would not change its data input (a zero Pad, a Reshape to the same
// shape...) becomes an Identity, which the remove-identity pass deletes. Nodes on constants are
// folded right after import by the model importer (passes::fold_node), like every other op.
void emit_or_fold(NodeContext& ctx, std::unique_ptr<Op> op, std::vector<ir::Value*> in,
                  const NoOpTest& noop) {
  // Under a profile, a parameter computed from shapes (Expand's shape) may make the op a no-op
  // at this build's shapes only.
  const bool params_fixed = !ctx.graph().shapes_vary || ir::params_constant(in);
  if (noop && params_fixed && ctx.num_outputs() == 1 && !in.empty() && in[0] &&
      noop(in[0]->type, infer_on(*op, in, 1)[0])) {
    ctx.emit(std::make_unique<Identity>(), {in[0]});
    return;
  }
  ctx.emit(std::move(op), std::move(in));
}

// Input i as an attribute list when it is a constant; otherwise it stays input i of the op.
void const_param(NodeContext& ctx, size_t i, std::vector<int64_t>& attr, std::vector<ir::Value*>& inputs) {
  ir::Value* v = ctx.input(i);
  if (v && !v->is_constant()) {
    inputs.resize(std::max(inputs.size(), i + 1), nullptr);
    inputs[i] = v;
  } else if (v) {
    attr = ctx.const_ints(i);
  }
}

}  // namespace kiln::onnx_import
