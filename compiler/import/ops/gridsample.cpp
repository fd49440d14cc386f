// Importer of GridSample (runtime/src/ops/gridsample.h). Opset 16 defines it for 4-D inputs,
// which is what the op implements; opset 17 did not change it.
#include "ops/gridsample.h"

#include "import/importer.h"

namespace kiln::onnx_import {
namespace {

void import_gridsample(NodeContext& c) {
  auto op = std::make_unique<ops::GridSample>();
  const std::string mode = c.attr_string("mode", "bilinear");
  if (mode == "bilinear")
    op->mode = ops::GridSampleMode::Bilinear;
  else if (mode == "nearest")
    op->mode = ops::GridSampleMode::Nearest;
  else if (mode == "bicubic")
    op->mode = ops::GridSampleMode::Bicubic;
  else
    c.fail("unknown mode '" + mode + "'; expected bilinear, nearest or bicubic");
  const std::string pad = c.attr_string("padding_mode", "zeros");
  if (pad == "zeros")
    op->padding = ops::GridSamplePadding::Zeros;
  else if (pad == "border")
    op->padding = ops::GridSamplePadding::Border;
  else if (pad == "reflection")
    op->padding = ops::GridSamplePadding::Reflection;
  else
    c.fail("unknown padding_mode '" + pad + "'; expected zeros, border or reflection");
  op->align_corners = c.attr_int("align_corners", 0) != 0;
  c.emit(std::move(op), {c.required_input(0), c.required_input(1)});
}

KILN_REGISTER_IMPORTER("GridSample", 16, kMaxOpset, import_gridsample);

}  // namespace
}  // namespace kiln::onnx_import
