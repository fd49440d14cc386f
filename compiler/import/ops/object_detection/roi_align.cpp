// ONNX importers for ops/detect_ops.h: RoiAlign (opset 10; 16 added
// coordinate_transformation_mode, defaulting to half_pixel), MaxUnpool (9; 11 only clarified
// it), ReverseSequence (10) and Det (11).
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

void import_max_unpool(NodeContext& c) {
  auto op = std::make_unique<MaxUnpool>();
  if (!c.has_attr("kernel_shape")) c.fail("kernel_shape is required");
  op->kernel_shape = c.attr_ints("kernel_shape");
  op->strides = c.attr_ints("strides");
  op->pads = c.attr_ints("pads");
  // A constant output_shape becomes the attribute (a static output); otherwise it stays an
  // input and the runtime sizes Y from its value on each run.
  std::vector<ir::Value*> in{c.required_input(0), c.required_input(1)};
  if (ir::Value* s = c.input(2)) {
    if (s->is_constant()) op->output_shape = c.const_ints(2);
    else in.push_back(s);
  }
  c.emit(std::move(op), std::move(in));
}

void import_reverse_sequence(NodeContext& c) {
  auto op = std::make_unique<ReverseSequence>();
  op->time_axis = c.attr_int("time_axis", 0);
  op->batch_axis = c.attr_int("batch_axis", 1);
  c.emit(std::move(op), {c.required_input(0), c.required_input(1)});
}

void import_det(NodeContext& c) { c.emit(std::make_unique<Det>(), {c.required_input(0)}); }

KILN_REGISTER_IMPORTER("RoiAlign", 10, 15, [](NodeContext& c) { import_roi_align(c, false); });
KILN_REGISTER_IMPORTER("RoiAlign", 16, kMaxOpset, [](NodeContext& c) { import_roi_align(c, true); });
KILN_REGISTER_IMPORTER("MaxUnpool", 9, kMaxOpset, import_max_unpool);
KILN_REGISTER_IMPORTER("ReverseSequence", 10, kMaxOpset, import_reverse_sequence);
KILN_REGISTER_IMPORTER("Det", 11, kMaxOpset, import_det);

}  // namespace
}  // namespace kiln::onnx_import
