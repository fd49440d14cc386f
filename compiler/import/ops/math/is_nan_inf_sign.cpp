// ONNX importers for IsNaN, IsInf and Sign, whose output types differ from a Unary's, so they
// have their own ops (ops/math/is_nan_inf_sign.h).
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/math/is_nan_inf_sign.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_isnan(NodeContext& c) { c.emit(std::make_unique<IsNaN>(), {c.required_input(0)}); }
void import_isinf(NodeContext& c) {
  auto op = std::make_unique<IsInf>();
  op->detect_positive = c.attr_int("detect_positive", 1) != 0;
  op->detect_negative = c.attr_int("detect_negative", 1) != 0;
  c.emit(std::move(op), {c.required_input(0)});
}
void import_sign(NodeContext& c) { c.emit(std::make_unique<Sign>(), {c.required_input(0)}); }

KILN_REGISTER_IMPORTER("IsNaN", 9, kMaxOpset, import_isnan);
KILN_REGISTER_IMPORTER("IsInf", 10, kMaxOpset, import_isinf);
KILN_REGISTER_IMPORTER("Sign", 9, kMaxOpset, import_sign);

}  // namespace
}  // namespace kiln::onnx_import
