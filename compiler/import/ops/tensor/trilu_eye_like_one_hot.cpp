// ONNX importers for ops/tensor/trilu_eye_like_one_hot.h: Trilu, EyeLike, OneHot. Scalar
// parameters passed as inputs (Trilu's k, OneHot's depth) become attributes when they are
// constants and stay inputs otherwise.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
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

KILN_REGISTER_IMPORTER("Trilu", 14, kMaxOpset, import_trilu);
KILN_REGISTER_IMPORTER("EyeLike", 9, kMaxOpset, import_eye_like);
KILN_REGISTER_IMPORTER("OneHot", 9, kMaxOpset, import_one_hot);

}  // namespace
}  // namespace kiln::onnx_import
