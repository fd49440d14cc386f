// ONNX importers for ops/math/cumsum_top_k.h: CumSum (opset 11+) and TopK (k an attribute before
// opset 10, an input from 10; largest/sorted from 11). Constant axis and k inputs become
// attributes; run-time ones stay inputs (TopK's output shape then becomes dynamic: inferred on
// every run).
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/math/cumsum_top_k.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

// The axis may stay a run-time input: the output shape does not depend on it.
void import_cumsum(NodeContext& c) {
  ir::Value* x = c.required_input(0);
  ir::Value* axis = c.required_input(1);
  auto op = std::make_unique<CumSum>();
  op->exclusive = c.attr_int("exclusive", 0) != 0;
  op->reverse = c.attr_int("reverse", 0) != 0;
  std::vector<ir::Value*> ins{x};
  if (axis->is_constant()) {
    auto v = c.const_ints(1);
    if (v.size() != 1) c.fail("the axis input must hold one value, it holds " + std::to_string(v.size()));
    op->axis = v[0];
  } else {
    ins.push_back(axis);
  }
  c.emit(std::move(op), std::move(ins));
}

void import_topk(NodeContext& c) {
  auto op = std::make_unique<TopK>();
  op->axis = c.attr_int("axis", -1);
  if (c.opset() >= 11) {
    op->largest = c.attr_int("largest", 1) != 0;
    op->sorted = c.attr_int("sorted", 1) != 0;
  }
  std::vector<ir::Value*> ins{c.required_input(0)};
  if (c.opset() < 10) {
    if (!c.has_attr("k")) c.fail("TopK before opset 10 needs the attribute k");
    op->k = c.attr_int("k", 1);
  } else if (ir::Value* k = c.required_input(1); k->is_constant()) {
    auto v = c.const_ints(1);
    if (v.size() != 1) c.fail("the k input must hold one value, it holds " + std::to_string(v.size()));
    op->k = v[0];
  } else {
    ins.push_back(k);  // known at run time only, and so is the outputs' size along the axis
  }
  c.emit(std::move(op), std::move(ins));
}

KILN_REGISTER_IMPORTER("CumSum", 11, kMaxOpset, import_cumsum);
KILN_REGISTER_IMPORTER("TopK", kMinOpset, kMaxOpset, import_topk);

}  // namespace
}  // namespace kiln::onnx_import
