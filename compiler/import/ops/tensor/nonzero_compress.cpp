// Importers of the value-dependent-size ops (oplib/ops/tensor/nonzero_compress.h).
#include "import/importer.h"
#include "ops/tensor/nonzero_compress.h"

namespace kiln::onnx_import {
namespace {

void import_nonzero(NodeContext& c) { c.emit(std::make_unique<ops::NonZero>(), {c.required_input(0)}); }

void import_compress(NodeContext& c) {
  auto op = std::make_unique<ops::Compress>();
  op->has_axis = c.has_attr("axis");
  op->axis = c.attr_int("axis", 0);
  c.emit(std::move(op), {c.required_input(0), c.required_input(1)});
}

KILN_REGISTER_IMPORTER("NonZero", 9, kMaxOpset, import_nonzero);
KILN_REGISTER_IMPORTER("Compress", 9, kMaxOpset, import_compress);

}  // namespace
}  // namespace kiln::onnx_import
