// ONNX importers for the extra elementwise math: trigonometric/hyperbolic functions and the
// parameterised activations ThresholdedRelu, Shrink and Celu become a Unary (ops/eltwise.h);
// IsNaN, IsInf and Sign, whose output types differ, have their own ops (ops/math2_ops.h).
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/math/eltwise.h"
#include "import/ops/math/unary_import.h"
#include "ops/math/is_nan_inf_sign.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

const SimpleUnary kPlain[] = {
    {"Tan", kMinOpset, Act::Tan},   {"Asin", kMinOpset, Act::Asin}, {"Acos", kMinOpset, Act::Acos},
    {"Atan", kMinOpset, Act::Atan}, {"Sinh", 9, Act::Sinh},         {"Cosh", 9, Act::Cosh},
    {"Asinh", 9, Act::Asinh},       {"Acosh", 9, Act::Acosh},       {"Atanh", 9, Act::Atanh},
};

void import_thresholded_relu(NodeContext& c) {
  emit_unary(c, Act::ThresholdedRelu, c.attr_float("alpha", 1.f));
}
void import_shrink(NodeContext& c) {
  const float lambd = c.attr_float("lambd", 0.5f);
  if (!(lambd >= 0.f)) c.fail("lambd must be >= 0");
  emit_unary(c, Act::Shrink, lambd, c.attr_float("bias", 0.f));
}
void import_celu(NodeContext& c) {
  const float alpha = c.attr_float("alpha", 1.f);
  if (alpha == 0.f) c.fail("alpha must not be 0");
  emit_unary(c, Act::Celu, alpha);
}

void import_isnan(NodeContext& c) { c.emit(std::make_unique<IsNaN>(), {c.required_input(0)}); }
void import_isinf(NodeContext& c) {
  auto op = std::make_unique<IsInf>();
  op->detect_positive = c.attr_int("detect_positive", 1) != 0;
  op->detect_negative = c.attr_int("detect_negative", 1) != 0;
  c.emit(std::move(op), {c.required_input(0)});
}
void import_sign(NodeContext& c) { c.emit(std::make_unique<Sign>(), {c.required_input(0)}); }

KILN_REGISTER_IMPORTER("ThresholdedRelu", 10, kMaxOpset, import_thresholded_relu);
KILN_REGISTER_IMPORTER("Shrink", 9, kMaxOpset, import_shrink);
KILN_REGISTER_IMPORTER("Celu", 12, kMaxOpset, import_celu);
KILN_REGISTER_IMPORTER("IsNaN", 9, kMaxOpset, import_isnan);
KILN_REGISTER_IMPORTER("IsInf", 10, kMaxOpset, import_isinf);
KILN_REGISTER_IMPORTER("Sign", 9, kMaxOpset, import_sign);

}  // namespace
}  // namespace kiln::onnx_import
