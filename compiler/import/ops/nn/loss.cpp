// ONNX importers for the loss family (ops/nn/loss.h): NegativeLogLikelihoodLoss and
// SoftmaxCrossEntropyLoss, both since opset 12 (13 only widened their type constraints).
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/nn/loss.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

template <class T>
void import_loss(NodeContext& c) {
  auto op = std::make_unique<T>();
  const std::string red = c.attr_string("reduction", "mean");
  if (red == "none") op->reduction = LossReduction::None;
  else if (red == "sum") op->reduction = LossReduction::Sum;
  else if (red == "mean") op->reduction = LossReduction::Mean;
  else c.fail("unknown reduction '" + red + "' (expected none, sum or mean)");
  op->has_ignore_index = c.has_attr("ignore_index");
  op->ignore_index = c.attr_int("ignore_index", 0);
  std::vector<ir::Value*> in{c.required_input(0), c.required_input(1)};
  if (ir::Value* w = c.input(2)) in.push_back(w);
  c.emit(std::move(op), std::move(in));
}

KILN_REGISTER_IMPORTER("NegativeLogLikelihoodLoss", 12, kMaxOpset, import_loss<NegativeLogLikelihoodLoss>);
KILN_REGISTER_IMPORTER("SoftmaxCrossEntropyLoss", 12, kMaxOpset, import_loss<SoftmaxCrossEntropyLoss>);

}  // namespace
}  // namespace kiln::onnx_import
