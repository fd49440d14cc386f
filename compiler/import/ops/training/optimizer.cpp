// ONNX importers for ops/training/optimizer.h: Adagrad, Adam and Momentum of the
// ai.onnx.preview.training domain (version 1), registered under their domain-qualified keys.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/training/optimizer.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

std::vector<ir::Value*> all_inputs(NodeContext& c) {
  std::vector<ir::Value*> in;
  for (size_t i = 0; i < c.num_inputs(); ++i) in.push_back(c.required_input(i));
  return in;
}

void import_adagrad(NodeContext& c) {
  auto op = std::make_unique<Adagrad>();
  op->decay_factor = c.attr_float("decay_factor", 0.f);
  op->epsilon = c.attr_float("epsilon", 1e-6f);
  op->norm_coefficient = c.attr_float("norm_coefficient", 0.f);
  c.emit(std::move(op), all_inputs(c));
}

void import_adam(NodeContext& c) {
  auto op = std::make_unique<Adam>();
  op->alpha = c.attr_float("alpha", 0.9f);
  op->beta = c.attr_float("beta", 0.999f);
  op->epsilon = c.attr_float("epsilon", 1e-6f);
  op->norm_coefficient = c.attr_float("norm_coefficient", 0.f);
  op->norm_coefficient_post = c.attr_float("norm_coefficient_post", 0.f);
  c.emit(std::move(op), all_inputs(c));
}

// The spec makes every attribute of Momentum required.
void import_momentum(NodeContext& c) {
  for (const char* a : {"alpha", "beta", "mode", "norm_coefficient"})
    if (!c.has_attr(a)) c.fail(std::string("the ") + a + " attribute is required");
  auto op = std::make_unique<Momentum>();
  op->alpha = c.attr_float("alpha", 0.f);
  op->beta = c.attr_float("beta", 0.f);
  op->norm_coefficient = c.attr_float("norm_coefficient", 0.f);
  op->mode = c.attr_string("mode", "standard");
  c.emit(std::move(op), all_inputs(c));
}

KILN_REGISTER_IMPORTER(domain_key(kTrainingDomain, "Adagrad"), 1, 1, import_adagrad);
KILN_REGISTER_IMPORTER(domain_key(kTrainingDomain, "Adam"), 1, 1, import_adam);
KILN_REGISTER_IMPORTER(domain_key(kTrainingDomain, "Momentum"), 1, 1, import_momentum);

}  // namespace
}  // namespace kiln::onnx_import
