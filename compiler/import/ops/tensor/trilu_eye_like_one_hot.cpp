// ONNX importers for Trilu, EyeLike, OneHot, GatherND, ScatterElements / Scatter, ScatterND
// (ops/tensor2_ops.h), Einsum (ops/einsum.h) and CastLike, which is a Cast to the dtype of its
// second input. Scalar parameters passed as inputs (Trilu's k, OneHot's depth) become
// attributes when they are constants and stay inputs otherwise.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/math/einsum.h"
#include "ops/tensor/shape.h"
#include "ops/tensor/trilu_eye_like_one_hot.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

// The value of a one-element constant input.
double scalar_value(NodeContext& ctx, ir::Value* v, const char* what) {
  TensorView t = v->view();
  if (t.elements() != 1)
    ctx.fail(std::string(what) + " must hold exactly one value, got shape " + shape_str(t.shape));
  return element_as_double(t, 0);
}

void import_trilu(NodeContext& ctx) {
  auto op = std::make_unique<Trilu>();
  op->upper = ctx.attr_int("upper", 1) != 0;
  std::vector<ir::Value*> in{ctx.required_input(0)};
  if (ir::Value* k = ctx.input(1)) {
    if (k->type.dtype != DType::Int64) ctx.fail("k must be int64");
    if (k->is_constant()) {
      scalar_value(ctx, k, "k");  // checks there is exactly one value
      op->k = element_as_int(k->view(), 0);
    } else {
      in.push_back(k);
    }
  }
  ctx.emit(std::move(op), std::move(in));
}

void import_eye_like(NodeContext& ctx) {
  auto op = std::make_unique<EyeLike>();
  ir::Value* x = ctx.required_input(0);
  op->k = ctx.attr_int("k", 0);
  op->dtype = ctx.attr_int("dtype", static_cast<int64_t>(x->type.dtype));
  if (op->dtype < 0 || op->dtype > 127 || !dtype_onnx(static_cast<DType>(op->dtype)))
    ctx.fail("dtype " + std::to_string(op->dtype) + " is not supported");
  ctx.emit(std::move(op), {x});
}

void import_one_hot(NodeContext& ctx) {
  auto op = std::make_unique<OneHot>();
  op->axis = ctx.attr_int("axis", -1);
  ir::Value* depth = ctx.required_input(1);
  std::vector<ir::Value*> in{ctx.required_input(0), nullptr, ctx.required_input(2)};
  if (depth->is_constant()) {
    const double d = scalar_value(ctx, depth, "depth");
    if (!(d >= 1 && d <= static_cast<double>(kMaxElements)))
      ctx.fail("depth must be >= 1, got " + std::to_string(d));
    op->depth = static_cast<int64_t>(d);
  } else {
    in[1] = depth;
  }
  ctx.emit(std::move(op), std::move(in));
}

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

void import_cast_like(NodeContext& ctx) {
  // CastLike-19 adds 'saturate', which only changes casts to 8-bit floats (not supported).
  if (ctx.opset() > kOnnxLibOpset) ctx.expect_signature(2, 2, 1, 1, {"saturate"});
  auto op = std::make_unique<Cast>();
  op->to = static_cast<int64_t>(ctx.required_input(1)->type.dtype);
  ctx.emit(std::move(op), {ctx.required_input(0)});
}

void import_einsum(NodeContext& ctx) {
  if (!ctx.has_attr("equation")) ctx.fail("the equation attribute is required");
  auto op = std::make_unique<Einsum>();
  op->equation = ctx.attr_string("equation", "");
  std::vector<ir::Value*> in;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) in.push_back(ctx.required_input(i));
  if (in.empty()) ctx.fail("Einsum needs at least one input");
  ctx.emit(std::move(op), std::move(in));
}

KILN_REGISTER_IMPORTER("Trilu", 14, kMaxOpset, import_trilu);
KILN_REGISTER_IMPORTER("EyeLike", 9, kMaxOpset, import_eye_like);
KILN_REGISTER_IMPORTER("OneHot", 9, kMaxOpset, import_one_hot);
KILN_REGISTER_IMPORTER("GatherND", 11, kMaxOpset, import_gather_nd);
KILN_REGISTER_IMPORTER("Scatter", 9, 10, import_scatter_elements);
KILN_REGISTER_IMPORTER("ScatterElements", 11, 17, import_scatter_elements);
KILN_REGISTER_IMPORTER("ScatterElements", 18, kMaxOpset, import_scatter_elements);  // max, min
KILN_REGISTER_IMPORTER("ScatterND", 11, 17, import_scatter_nd);
KILN_REGISTER_IMPORTER("ScatterND", 18, kMaxOpset, import_scatter_nd);  // max, min
KILN_REGISTER_IMPORTER("CastLike", 15, 18, import_cast_like);
KILN_REGISTER_IMPORTER("CastLike", 19, kMaxOpset, import_cast_like);  // saturate
KILN_REGISTER_IMPORTER("Einsum", 12, kMaxOpset, import_einsum);

}  // namespace
}  // namespace kiln::onnx_import
