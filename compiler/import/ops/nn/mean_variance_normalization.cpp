// MeanVarianceNormalization, imported as the function ONNX defines it:
// (X - mean(X, axes)) / sqrt(mean((X - mean)^2, axes) + 1e-9).
#include "import/importer.h"
#include "ops/math/eltwise.h"
#include "ops/reduction/reduce.h"

namespace kiln::onnx_import {
namespace {

std::unique_ptr<ops::Op> mean_over(const std::vector<int64_t>& axes) {
  auto r = std::make_unique<ops::Reduce>();
  r->kind = ops::ReduceKind::Mean;
  r->axes = axes;
  r->keepdims = true;
  return r;
}

std::unique_ptr<ops::Op> binary(ops::BinaryKind k) {
  auto b = std::make_unique<ops::Binary>();
  b->kind = k;
  return b;
}

void import_mvn(NodeContext& c) {
  const std::vector<int64_t> axes = c.attr_ints("axes", {0, 2, 3});
  ir::Value* x = c.required_input(0);
  ir::Value* mean = c.emit_internal("mean", mean_over(axes), {x})->outputs[0];
  ir::Value* centered = c.emit_internal("centered", binary(ops::BinaryKind::Sub), {x, mean})->outputs[0];
  ir::Value* sq = c.emit_internal("square", binary(ops::BinaryKind::Mul), {centered, centered})->outputs[0];
  ir::Value* var = c.emit_internal("variance", mean_over(axes), {sq})->outputs[0];
  // The epsilon takes X's dtype so the Add stays homogeneous.
  ir::Value* eps = c.graph().add_constant(c.graph().unique_name(c.name() + "/epsilon"), x->type.dtype, {});
  if (x->type.dtype == DType::Float32) *static_cast<float*>(eps->constant->data()) = 1e-9f;
  else if (x->type.dtype == DType::Float64) *static_cast<double*>(eps->constant->data()) = 1e-9;
  else c.fail(std::string("input must be float32 or float64, got ") + dtype_name(x->type.dtype));
  ir::Value* var_eps = c.emit_internal("variance_eps", binary(ops::BinaryKind::Add), {var, eps})->outputs[0];
  auto sqrt = std::make_unique<ops::Unary>();
  sqrt->act = ops::Act::Sqrt;
  ir::Value* stddev = c.emit_internal("stddev", std::move(sqrt), {var_eps})->outputs[0];
  c.emit(binary(ops::BinaryKind::Div), {centered, stddev});
}

KILN_REGISTER_IMPORTER("MeanVarianceNormalization", 9, kMaxOpset, import_mvn);

}  // namespace
}  // namespace kiln::onnx_import
