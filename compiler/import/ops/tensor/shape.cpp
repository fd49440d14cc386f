// ONNX importers for the shape and data-movement family (ops/shape_ops.h) and for Constant.
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
#include "ops/tensor/identity.h"
#include "ops/tensor/shape.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

// A constant named after the ONNX output it stands for, so onnx's shape info still applies.
ir::Value* output_constant(NodeContext& ctx, size_t i, DType t, const Shape& s) {
  const std::string& name = ctx.proto().output(static_cast<int>(i));
  return ctx.graph().add_constant(name.empty() ? ctx.graph().unique_name(ctx.name() + ":unused") : name, t, s);
}

// The op's output types for the node's current inputs, constants' values visible.
std::vector<TensorType> infer_on(const Op& op, const std::vector<ir::Value*>& in, size_t num_outputs) {
  std::vector<TensorType> types;
  std::vector<TensorView> views;
  for (ir::Value* v : in) {
    types.push_back(v ? v->type : TensorType{});
    views.push_back(v ? v->view() : TensorView{});
  }
  std::vector<const TensorView*> consts;
  for (auto& v : views) consts.push_back(v.data ? &v : nullptr);
  InferContext ictx(types, consts, num_outputs);
  op.infer(ictx);  // errors name the node via the model importer
  return ictx.outputs();
}

// Whether an op, given its data input and inferred output types, leaves the data untouched.
using NoOpTest = std::function<bool(const TensorType& in, const TensorType& out)>;

// Pure views and broadcasts (Reshape, Expand, Tile...) that keep a static shape copy the data as is.
bool same_static_shape(const TensorType& in, const TensorType& out) {
  return in.dtype == out.dtype && shape_static(in.shape) && in.shape == out.shape;
}

// Emits the op; one that would not change its data input (a zero Pad, a Reshape to the same
// shape...) becomes an Identity, which the remove-identity pass deletes. Nodes on constants are
// folded right after import by the model importer (passes::fold_node), like every other op.
void emit_or_fold(NodeContext& ctx, std::unique_ptr<Op> op, std::vector<ir::Value*> in,
                  const NoOpTest& noop = {}) {
  if (noop && ctx.num_outputs() == 1 && !in.empty() && in[0] && noop(in[0]->type, infer_on(*op, in, 1)[0])) {
    ctx.emit(std::make_unique<Identity>(), {in[0]});
    return;
  }
  ctx.emit(std::move(op), std::move(in));
}

template <class T>
std::unique_ptr<T> make() {
  return std::make_unique<T>();
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

// ---- Constant --------------------------------------------------------------------------------

void import_constant(NodeContext& ctx) {
  for (const char* unsupported : {"sparse_value", "value_string", "value_strings"})
    if (ctx.has_attr(unsupported))
      ctx.fail(std::string("Constant with '") + unsupported +
               "' is not supported: kiln handles dense numeric tensors only (densify sparse constants, "
               "e.g. with onnx.numpy_helper, and remove string constants)");
  ir::Graph& g = ctx.graph();
  const std::string& name = ctx.proto().output(0);
  ir::Value* v = nullptr;
  if (ctx.has_attr("value")) {
    v = ctx.attr_tensor("value");
    v->name = name;
  } else if (ctx.has_attr("value_float")) {
    float f = ctx.attr_float("value_float", 0.f);
    v = g.add_constant(name, TensorView{DType::Float32, {}, &f});
  } else if (ctx.has_attr("value_floats")) {
    auto f = ctx.attr_floats("value_floats");
    v = g.add_constant(name, TensorView{DType::Float32, {static_cast<int64_t>(f.size())}, f.data()});
  } else if (ctx.has_attr("value_int")) {
    int64_t i = ctx.attr_int("value_int", 0);
    v = g.add_constant(name, TensorView{DType::Int64, {}, &i});
  } else if (ctx.has_attr("value_ints")) {
    auto i = ctx.attr_ints("value_ints");
    v = g.add_constant(name, TensorView{DType::Int64, {static_cast<int64_t>(i.size())}, i.data()});
  } else {
    ctx.fail("Constant has none of the attributes value, value_float(s), value_int(s)");
  }
  ctx.alias_output(0, v);
}

// ---- reshaping views --------------------------------------------------------------------------

void import_reshape(NodeContext& ctx) {
  ir::Value* x = ctx.required_input(0);
  ir::Value* s = ctx.required_input(1);
  auto op = make<Reshape>();
  op->allowzero = ctx.attr_int("allowzero", 0);
  if (op->allowzero != 0 && op->allowzero != 1) ctx.fail("allowzero must be 0 or 1");
  if (!s->is_constant()) return emit_or_fold(ctx, std::move(op), {x, s}, same_static_shape);
  op->shape = ctx.const_ints(1);
  // Fully resolved, the shape is literal: allowzero=1 keeps any 0 in it meaning 0.
  Shape out = resolve_reshape(x->type.shape, op->shape, op->allowzero != 0);
  if (shape_static(out)) op->shape = out, op->allowzero = 1;
  emit_or_fold(ctx, std::move(op), {x}, same_static_shape);
}

void import_flatten(NodeContext& ctx) {
  auto op = make<Flatten>();
  op->axis = ctx.attr_int("axis", 1);
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)}, same_static_shape);
}

template <class T>
void import_squeeze_attr(NodeContext& ctx) {  // opset < 13: axes attribute
  auto op = make<T>();
  op->axes = ctx.attr_ints("axes");
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)}, same_static_shape);
}

template <class T>
void import_squeeze_input(NodeContext& ctx) {  // opset 13+: axes input; run-time axes stay an input
  auto op = make<T>();
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
  auto op = make<ShapeOf>();
  op->start = ctx.attr_int("start", 0);
  op->end = ctx.attr_int("end", INT64_MAX);
  if (!shape_static(x->type.shape)) {
    ctx.emit(std::move(op), {x});
    return;
  }
  // A static shape is a constant however the data is produced.
  const Shape& s = x->type.shape;
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
  if (!shape_static(x->type.shape)) {
    ctx.emit(make<SizeOf>(), {x});
    return;
  }
  int64_t n = checked_elements(x->type.shape, "input");
  ir::Value* v = output_constant(ctx, 0, DType::Int64, {});
  std::memcpy(v->constant->data(), &n, sizeof n);
  ctx.alias_output(0, v);
}

// ---- permutations and copies ------------------------------------------------------------------

void import_transpose(NodeContext& ctx) {
  auto op = make<Transpose>();
  op->perm = ctx.attr_ints("perm");
  const Transpose& t = *op;
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)}, [&t](const TensorType& in, const TensorType&) {
    auto p = t.effective_perm(in.shape.size());
    for (size_t i = 0; i < p.size(); ++i)
      if (p[i] != static_cast<int64_t>(i)) return false;
    return true;
  });
}

void import_concat(NodeContext& ctx) {
  if (!ctx.has_attr("axis")) ctx.fail("Concat needs the 'axis' attribute");
  auto op = make<Concat>();
  op->axis = ctx.attr_int("axis", 0);
  std::vector<ir::Value*> in;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) in.push_back(ctx.required_input(i));
  bool single = in.size() == 1;
  emit_or_fold(ctx, std::move(op), in, [single](const TensorType&, const TensorType&) { return single; });
}

void import_split(NodeContext& ctx) {
  if (ctx.opset() > kOnnxLibOpset) ctx.expect_signature(1, 2, 1, SIZE_MAX, {"axis", "num_outputs"});
  auto op = make<Split>();
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
    const Shape& xs = ctx.required_input(0)->type.shape;
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
  auto op = make<Slice>();
  if (!ctx.has_attr("starts") || !ctx.has_attr("ends")) ctx.fail("Slice needs 'starts' and 'ends'");
  op->starts = ctx.attr_ints("starts");
  op->ends = ctx.attr_ints("ends");
  op->axes = ctx.attr_ints("axes");
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)}, same_static_shape);
}

void import_slice(NodeContext& ctx) {  // Slice-10+: starts, ends, [axes], [steps] inputs
  auto op = make<Slice>();
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
  auto op = make<Expand>();
  std::vector<ir::Value*> in{ctx.required_input(0)};
  (void)ctx.required_input(1);
  const_param(ctx, 1, op->shape, in);
  emit_or_fold(ctx, std::move(op), in, same_static_shape);
}

void import_tile(NodeContext& ctx) {
  auto op = make<Tile>();
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
  auto op = make<Pad>();
  op->mode = pad_mode(ctx);
  if (!ctx.has_attr("pads")) ctx.fail("Pad needs the 'pads' attribute");
  op->pads = ctx.attr_ints("pads");
  op->value_bits = pack_element(x->type.dtype, ctx.attr_float("value", 0.f));
  bool zero = zero_pads(*op, {x});
  emit_or_fold(ctx, std::move(op), {x}, [zero](const TensorType&, const TensorType&) { return zero; });
}

void import_pad(NodeContext& ctx) {  // Pad-11+: pads and constant_value inputs
  ir::Value* x = ctx.required_input(0);
  auto op = make<Pad>();
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
  const Shape& xs = x->type.shape;
  const auto r = static_cast<int64_t>(xs.size());
  std::vector<int64_t> axes = ctx.attr_ints("axes");
  if (axes.empty())
    for (int64_t a = 0; a < r; ++a) axes.push_back(a);
  if (target.size() != axes.size())
    ctx.fail("the shape input has " + std::to_string(target.size()) + " values for " + std::to_string(axes.size()) +
             " axes");
  auto op = make<Pad>();
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

void import_gather(NodeContext& ctx) {
  auto op = make<Gather>();
  op->axis = ctx.attr_int("axis", 0);
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0), ctx.required_input(1)});
}

void import_gather_elements(NodeContext& ctx) {
  auto op = make<GatherElements>();
  op->axis = ctx.attr_int("axis", 0);
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0), ctx.required_input(1)});
}

void import_depth_to_space(NodeContext& ctx) {
  auto op = make<DepthToSpace>();
  if (!ctx.has_attr("blocksize")) ctx.fail("DepthToSpace needs the 'blocksize' attribute");
  op->blocksize = ctx.attr_int("blocksize", 1);
  op->mode = ctx.attr_string("mode", "DCR");
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)}, same_static_shape);
}

void import_space_to_depth(NodeContext& ctx) {
  auto op = make<SpaceToDepth>();
  if (!ctx.has_attr("blocksize")) ctx.fail("SpaceToDepth needs the 'blocksize' attribute");
  op->blocksize = ctx.attr_int("blocksize", 1);
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)}, same_static_shape);
}

// ---- conversion and generators ----------------------------------------------------------------

void import_cast(NodeContext& ctx) {
  // Cast-19 adds 'saturate', which only changes casts to 8-bit floats (not supported).
  if (ctx.opset() > kOnnxLibOpset) ctx.expect_signature(1, 1, 1, 1, {"to", "saturate"});
  auto op = make<Cast>();
  if (!ctx.has_attr("to")) ctx.fail("Cast needs the 'to' attribute");
  op->to = ctx.attr_int("to", 1);
  if (op->to < 0 || op->to > 127 || !dtype_onnx(static_cast<DType>(op->to)))
    ctx.fail("Cast to ONNX type " + std::to_string(op->to) + " is not supported (strings, complex and "
             "8-bit floats are out of scope)");
  emit_or_fold(ctx, std::move(op), {ctx.required_input(0)},
               [](const TensorType& a, const TensorType& b) { return a.dtype == b.dtype; });
}

void import_constant_of_shape(NodeContext& ctx) {
  auto op = make<ConstantOfShape>();
  if (ctx.has_attr("value")) {
    ir::Value* v = ctx.attr_tensor("value");
    if (shape_elements(v->type.shape) != 1) ctx.fail("ConstantOfShape's value must hold exactly one element");
    op->dtype = static_cast<int64_t>(v->type.dtype);
    op->value_bits = pack_element_bits(v->view(), 0);
  }
  std::vector<ir::Value*> in;
  (void)ctx.required_input(0);
  const_param(ctx, 0, op->shape, in);
  emit_or_fold(ctx, std::move(op), in);
}

void import_range(NodeContext& ctx) {
  emit_or_fold(ctx, make<Range>(), {ctx.required_input(0), ctx.required_input(1), ctx.required_input(2)});
}

KILN_REGISTER_IMPORTER("Constant", kMinOpset, kMaxOpset, import_constant);
KILN_REGISTER_IMPORTER("Reshape", kMinOpset, kMaxOpset, import_reshape);  // allowzero from 14
KILN_REGISTER_IMPORTER("Flatten", kMinOpset, kMaxOpset, import_flatten);
KILN_REGISTER_IMPORTER("Squeeze", kMinOpset, 12, import_squeeze_attr<Squeeze>);
KILN_REGISTER_IMPORTER("Squeeze", 13, kMaxOpset, import_squeeze_input<Squeeze>);
KILN_REGISTER_IMPORTER("Unsqueeze", kMinOpset, 12, import_squeeze_attr<Unsqueeze>);
KILN_REGISTER_IMPORTER("Unsqueeze", 13, kMaxOpset, import_squeeze_input<Unsqueeze>);
KILN_REGISTER_IMPORTER("Shape", kMinOpset, kMaxOpset, import_shape);  // start/end from 15
KILN_REGISTER_IMPORTER("Size", kMinOpset, kMaxOpset, import_size);
KILN_REGISTER_IMPORTER("Transpose", kMinOpset, kMaxOpset, import_transpose);
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
KILN_REGISTER_IMPORTER("Gather", kMinOpset, kMaxOpset, import_gather);
KILN_REGISTER_IMPORTER("GatherElements", 11, kMaxOpset, import_gather_elements);
KILN_REGISTER_IMPORTER("DepthToSpace", kMinOpset, kMaxOpset, import_depth_to_space);  // mode from 11
KILN_REGISTER_IMPORTER("SpaceToDepth", kMinOpset, kMaxOpset, import_space_to_depth);
KILN_REGISTER_IMPORTER("Cast", kMinOpset, 18, import_cast);
KILN_REGISTER_IMPORTER("Cast", 19, kMaxOpset, import_cast);  // saturate
KILN_REGISTER_IMPORTER("ConstantOfShape", 9, kMaxOpset, import_constant_of_shape);
KILN_REGISTER_IMPORTER("Range", 11, kMaxOpset, import_range);

}  // namespace
}  // namespace kiln::onnx_import
