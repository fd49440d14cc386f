// ONNX importers for the copies of ops/tensor/shape.h: Concat, Split, Slice, Expand, Tile, Pad and
// CenterCropPad (a Slice and a Pad).
// Parameters that ONNX passes as inputs become attributes when they are constants; nodes whose
// inputs are all constants are folded right after import (import/ops/emit_util.h).
#include <algorithm>

#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "import/ops/emit_util.h"
#include "ops/tensor/shape.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_concat(NodeContext& ctx) {
  if (!ctx.has_attr("axis")) ctx.fail("Concat needs the 'axis' attribute");
  auto op = std::make_unique<Concat>();
  op->axis = ctx.attr_int("axis", 0);
  std::vector<ir::Value*> in;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) in.push_back(ctx.required_input(i));
  bool single = in.size() == 1;
  emit_or_fold(ctx, std::move(op), in, [single](const TensorType&, const TensorType&) { return single; });
}

void import_split(NodeContext& ctx) {
  if (ctx.opset() > kOnnxLibOpset) ctx.expect_signature(1, 2, 1, SIZE_MAX, {"axis", "num_outputs"});
  auto op = std::make_unique<Split>();
  op->axis = ctx.attr_int("axis", 0);
  if (ctx.opset() < 13) op->split = ctx.attr_ints("split");
  ir::Value* sizes = ctx.opset() >= 13 ? ctx.input(1) : nullptr;
  if (sizes && !sizes->is_constant()) {  // sizes known at run time only: output shapes are dynamic
    ctx.emit(std::move(op), {ctx.required_input(0), sizes});
    return;
  }
  if (sizes) op->split = ctx.const_ints(1);
  if (ctx.opset() >= 18 && ctx.has_attr("num_outputs")) {
    // Split-18: chunks of ceil(d / n), the last one smaller when d is not a multiple of n.
    const int64_t n = ctx.attr_int("num_outputs", 0);
    if (sizes) ctx.fail("give either the 'split' input or the num_outputs attribute, not both");
    if (n < 1 || static_cast<size_t>(n) != ctx.num_outputs())
      ctx.fail("num_outputs is " + std::to_string(n) + " but the node has " + std::to_string(ctx.num_outputs()) +
               " outputs");
    const Dims& xs = ctx.required_input(0)->type.shape;
    const int64_t r = static_cast<int64_t>(xs.size());
    const int64_t d = xs[static_cast<size_t>(ctx.axis_in(op->axis, r))];
    // A dimension known at run time only splits evenly (the kernel refuses a remainder).
    if (d >= 0 && d % n != 0) {
      const int64_t chunk = (d + n - 1) / n;
      for (int64_t k = 0; k < n; ++k) op->split.push_back(std::clamp<int64_t>(d - k * chunk, 0, chunk));
    }
  }
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)}, same_static_shape);
}

void import_slice_attrs(NodeContext& ctx) {  // Slice-1: starts/ends/axes attributes, no steps
  auto op = std::make_unique<Slice>();
  if (!ctx.has_attr("starts") || !ctx.has_attr("ends")) ctx.fail("Slice needs 'starts' and 'ends'");
  op->starts = ctx.attr_ints("starts");
  op->ends = ctx.attr_ints("ends");
  op->axes = ctx.attr_ints("axes");
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)}, same_static_shape);
}

void import_slice(NodeContext& ctx) {  // Slice-10+: starts, ends, [axes], [steps] inputs
  auto op = std::make_unique<Slice>();
  (void)ctx.required_input(1);
  (void)ctx.required_input(2);
  bool all_const = true;
  for (size_t i = 1; i < 5; ++i)
    if (ctx.input(i) && !ctx.input(i)->is_constant()) all_const = false;
  std::vector<ir::Value*> in{ctx.required_input(0)};
  if (all_const) {
    op->starts = ctx.const_ints(1);
    op->ends = ctx.const_ints(2);
    if (ctx.input(3)) op->axes = ctx.const_ints(3);
    if (ctx.input(4)) op->steps = ctx.const_ints(4);
  } else {  // known at run time only: the op reads them as inputs
    for (size_t i = 1; i < 5; ++i) in.push_back(ctx.input(i));
    while (in.back() == nullptr) in.pop_back();
  }
  // With positive steps, keeping every dim means taking everything.
  bool forward = all_const && std::all_of(op->steps.begin(), op->steps.end(), [](int64_t s) { return s > 0; });
  emit_or_fold(ctx, std::move(op), in, [forward](const TensorType& a, const TensorType& b) {
    return forward && same_static_shape(a, b);
  });
}

void import_expand(NodeContext& ctx) {
  auto op = std::make_unique<Expand>();
  std::vector<ir::Value*> in{ctx.required_input(0)};
  (void)ctx.required_input(1);
  const_param(ctx, 1, op->shape, in);
  emit_or_fold(ctx, std::move(op), in, same_static_shape);
}

void import_tile(NodeContext& ctx) {
  auto op = std::make_unique<Tile>();
  std::vector<ir::Value*> in{ctx.required_input(0)};
  (void)ctx.required_input(1);
  const_param(ctx, 1, op->repeats, in);
  emit_or_fold(ctx, std::move(op), in, same_static_shape);
}

// Pads known at build time and all zero: the Pad copies its input.
bool zero_pads(const Pad& op, const std::vector<ir::Value*>& in) {
  if (in.size() > 1 && in[1]) return false;
  return std::all_of(op.pads.begin(), op.pads.end(), [](int64_t p) { return p == 0; });
}

std::string pad_mode(NodeContext& ctx) {
  std::string mode = ctx.attr_string("mode", "constant");
  const bool wrap = ctx.opset() >= 19 && mode == "wrap";
  if (mode != "constant" && mode != "reflect" && mode != "edge" && !wrap)
    ctx.fail("Pad mode '" + mode + "' is not supported; use constant, reflect, edge" +
             (ctx.opset() >= 19 ? " or wrap" : " (and wrap from opset 19)"));
  return mode;
}

void import_pad_attrs(NodeContext& ctx) {  // Pad-2: pads and value attributes
  ir::Value* x = ctx.required_input(0);
  auto op = std::make_unique<Pad>();
  op->mode = pad_mode(ctx);
  if (!ctx.has_attr("pads")) ctx.fail("Pad needs the 'pads' attribute");
  op->pads = ctx.attr_ints("pads");
  op->value_bits = pack_element(x->type.dtype, ctx.attr_float("value", 0.f));
  bool zero = zero_pads(*op, {x});
  emit_or_fold(ctx, std::move(op), {x}, [zero](const TensorType&, const TensorType&) { return zero; });
}

void import_pad(NodeContext& ctx) {  // Pad-11+: pads and constant_value inputs
  ir::Value* x = ctx.required_input(0);
  auto op = std::make_unique<Pad>();
  op->mode = pad_mode(ctx);
  std::vector<ir::Value*> in{x};
  (void)ctx.required_input(1);
  const_param(ctx, 1, op->pads, in);
  if (ir::Value* c = ctx.input(2)) {
    if (c->type.dtype != x->type.dtype || shape_elements(c->type.shape) != 1)
      ctx.fail("the pad value must be one element of the data's dtype");
    if (c->is_constant()) {
      op->value_bits = pack_element_bits(c->view(), 0);
    } else {  // read at run time
      in.resize(3, nullptr);
      in[2] = c;
    }
  }
  if (ir::Value* axes = ctx.input(3)) {
    // Pad-18: pads list only these axes ([begins..., ends...] in their order); the op takes pads
    // for every axis.
    if (!axes->is_constant() || (in.size() > 1 && in[1]))
      ctx.fail("the pads and axes inputs must be compile-time constants when axes is given");
    const std::vector<int64_t> ax = ctx.const_ints(3);
    const int64_t r = static_cast<int64_t>(x->type.shape.size());
    if (op->pads.size() != 2 * ax.size())
      ctx.fail("pads has " + std::to_string(op->pads.size()) + " entries; " + std::to_string(ax.size()) +
               " axes need " + std::to_string(2 * ax.size()));
    std::vector<int64_t> full(2 * static_cast<size_t>(r), 0);
    std::vector<bool> seen(static_cast<size_t>(r), false);
    for (size_t k = 0; k < ax.size(); ++k) {
      const size_t a = static_cast<size_t>(ctx.axis_in(ax[k], r));
      if (seen[a]) ctx.fail("axis " + std::to_string(ax[k]) + " is listed twice");
      seen[a] = true;
      full[a] = op->pads[k];
      full[a + static_cast<size_t>(r)] = op->pads[k + ax.size()];
    }
    op->pads = std::move(full);
  }
  if (ctx.opset() > kOnnxLibOpset) ctx.expect_signature(2, 4, 1, 1, {"mode"});
  bool zero = zero_pads(*op, in);
  emit_or_fold(ctx, std::move(op), in, [zero](const TensorType&, const TensorType&) { return zero; });
}

// CenterCropPad (opset 18): each listed axis cropped or zero-padded to its target length about its
// centre (the smaller half before it), which is a constant Pad with negative pads where it crops.
void import_center_crop_pad(NodeContext& ctx) {
  ctx.expect_signature(2, 2, 1, 1, {"axes"});
  ir::Value* x = ctx.required_input(0);
  (void)ctx.required_input(1);
  if (!ctx.required_input(1)->is_constant()) ctx.fail("the shape input must be a compile-time constant");
  const std::vector<int64_t> target = ctx.const_ints(1);
  const Dims& xs = x->type.shape;
  const auto r = static_cast<int64_t>(xs.size());
  std::vector<int64_t> axes = ctx.attr_ints("axes");
  if (axes.empty())
    for (int64_t a = 0; a < r; ++a) axes.push_back(a);
  if (target.size() != axes.size())
    ctx.fail("the shape input has " + std::to_string(target.size()) + " values for " + std::to_string(axes.size()) +
             " axes");
  auto op = std::make_unique<Pad>();
  op->pads.assign(2 * static_cast<size_t>(r), 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    const auto a = static_cast<size_t>(ctx.axis_in(axes[k], r));
    if (xs[a] < 0) ctx.fail("input dim " + std::to_string(a) + " must be known (give --shapes)");
    if (target[k] < 0) ctx.fail("the target lengths must be >= 0");
    const int64_t diff = target[k] - xs[a];  // > 0 pads, < 0 crops
    const int64_t before = diff >= 0 ? diff / 2 : -((-diff) / 2);
    op->pads[a] = before;
    op->pads[a + static_cast<size_t>(r)] = diff - before;
  }
  op->value_bits = pack_element(x->type.dtype, 0.f);
  emit_or_fold(ctx, std::move(op), {x});
}


KILN_REGISTER_IMPORTER("Concat", kMinOpset, kMaxOpset, import_concat);
KILN_REGISTER_IMPORTER("Split", kMinOpset, 17, import_split);  // split input from 13
KILN_REGISTER_IMPORTER("Split", 18, kMaxOpset, import_split);  // num_outputs
KILN_REGISTER_IMPORTER("Slice", kMinOpset, 9, import_slice_attrs);
KILN_REGISTER_IMPORTER("Slice", 10, kMaxOpset, import_slice);
KILN_REGISTER_IMPORTER("Expand", 8, kMaxOpset, import_expand);
KILN_REGISTER_IMPORTER("Tile", kMinOpset, kMaxOpset, import_tile);
KILN_REGISTER_IMPORTER("Pad", kMinOpset, 10, import_pad_attrs);
KILN_REGISTER_IMPORTER("Pad", 11, 17, import_pad);
KILN_REGISTER_IMPORTER("Pad", 18, kMaxOpset, import_pad);  // axes input; wrap from 19
KILN_REGISTER_IMPORTER("CenterCropPad", 18, kMaxOpset, import_center_crop_pad);

}  // namespace
}  // namespace kiln::onnx_import
