// Importer of GridSample (oplib/ops/tensor/gridsample.h). Opset 16 defines it for 4-D inputs,
// which is what the op implements; opset 20 extends it to N-D (kiln: still 4-D) and renames the
// modes bilinear -> linear and bicubic -> cubic.
#include "ops/tensor/gridsample.h"

#include "import/importer.h"

namespace kiln::onnx_import {
namespace {

void import_gridsample(NodeContext& c) {
  auto op = std::make_unique<ops::GridSample>();
  const bool v20 = c.opset() >= 20;
  if (c.opset() > kOnnxLibOpset) c.expect_signature(2, 2, 1, 1, {"align_corners", "mode", "padding_mode"});
  const std::string mode = c.attr_string("mode", v20 ? "linear" : "bilinear");
  if (mode == (v20 ? "linear" : "bilinear"))
    op->mode = ops::GridSampleMode::Bilinear;
  else if (mode == "nearest")
    op->mode = ops::GridSampleMode::Nearest;
  else if (mode == (v20 ? "cubic" : "bicubic"))
    op->mode = ops::GridSampleMode::Bicubic;
  else
    c.fail("unknown mode '" + mode + "'; expected " + (v20 ? "linear, nearest or cubic" : "bilinear, nearest or bicubic"));
  if (v20 && c.required_input(0)->type.shape.size() != 4)
    c.fail("kiln implements GridSample for 4-D inputs ([N, C, H, W]); this one has shape " +
           shape_str(c.required_input(0)->type.shape));
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

KILN_REGISTER_IMPORTER("GridSample", 16, 19, import_gridsample);
KILN_REGISTER_IMPORTER("GridSample", 20, kMaxOpset, import_gridsample);  // modes renamed, N-D

}  // namespace
}  // namespace kiln::onnx_import
