// ONNX importer for ops/object_detection/roi_align.h: RoiAlign (opset 10; 16 added
// coordinate_transformation_mode, defaulting to half_pixel).
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/object_detection/roi_align.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_roi_align(NodeContext& c, bool opset16) {
  auto op = std::make_unique<RoiAlign>();
  const std::string mode = c.attr_string("mode", "avg");
  if (mode == "avg") op->mode = RoiAlign::Mode::Avg;
  else if (mode == "max") op->mode = RoiAlign::Mode::Max;
  else c.fail("unknown mode '" + mode + "' (expected avg or max)");
  op->output_height = c.attr_int("output_height", 1);
  op->output_width = c.attr_int("output_width", 1);
  op->sampling_ratio = c.attr_int("sampling_ratio", 0);
  op->spatial_scale = c.attr_float("spatial_scale", 1.f);
  if (opset16) {
    const std::string ctm = c.attr_string("coordinate_transformation_mode", "half_pixel");
    if (ctm != "half_pixel" && ctm != "output_half_pixel")
      c.fail("unknown coordinate_transformation_mode '" + ctm + "' (expected half_pixel or output_half_pixel)");
    op->half_pixel = ctm == "half_pixel";
  }
  c.emit(std::move(op), {c.required_input(0), c.required_input(1), c.required_input(2)});
}

KILN_REGISTER_IMPORTER("RoiAlign", 10, 15, [](NodeContext& c) { import_roi_align(c, false); });
KILN_REGISTER_IMPORTER("RoiAlign", 16, kMaxOpset, [](NodeContext& c) { import_roi_align(c, true); });

}  // namespace
}  // namespace kiln::onnx_import
