// ONNX importers for Resize (opsets 10-17) and Upsample (7-9), both as ops::Resize. Constant
// roi/scales/sizes become attributes; inputs known only at run time stay inputs of the op (its
// output dims are then unknown until the values arrive).
//
// Upsample and Resize-10 predate coordinate_transformation_mode: their coordinates are
// x_out / scale (asymmetric), and nearest picks floor when upsampling, ceil when downsampling,
// as ONNX Runtime reads those specs.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/resize.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

ResizeMode parse_mode(NodeContext& ctx, bool allow_cubic) {
  const std::string m = ctx.attr_string("mode", "nearest");
  if (m == "nearest") return ResizeMode::Nearest;
  if (m == "linear" || (!allow_cubic && m == "bilinear")) return ResizeMode::Linear;
  if (m == "cubic" && allow_cubic) return ResizeMode::Cubic;
  ctx.fail("mode '" + m + "' is not supported; use " +
           (allow_cubic ? "nearest, linear or cubic" : "nearest or linear"));
}

ResizeCoord parse_coord(NodeContext& ctx) {
  const std::string c = ctx.attr_string("coordinate_transformation_mode", "half_pixel");
  if (c == "half_pixel") return ResizeCoord::HalfPixel;
  if (c == "asymmetric") return ResizeCoord::Asymmetric;
  if (c == "pytorch_half_pixel") return ResizeCoord::PytorchHalfPixel;
  if (c == "align_corners") return ResizeCoord::AlignCorners;
  if (c == "tf_crop_and_resize") return ResizeCoord::TfCropAndResize;
  if (c == "tf_half_pixel_for_nn" && ctx.opset() < 13) return ResizeCoord::TfHalfPixelForNn;
  ctx.fail("coordinate_transformation_mode '" + c + "' is not supported at opset " +
           std::to_string(ctx.opset()));
}

ResizeNearest parse_nearest(NodeContext& ctx) {
  const std::string n = ctx.attr_string("nearest_mode", "round_prefer_floor");
  if (n == "round_prefer_floor") return ResizeNearest::RoundPreferFloor;
  if (n == "round_prefer_ceil") return ResizeNearest::RoundPreferCeil;
  if (n == "floor") return ResizeNearest::Floor;
  if (n == "ceil") return ResizeNearest::Ceil;
  ctx.fail("nearest_mode '" + n +
           "' is not supported; use round_prefer_floor, round_prefer_ceil, floor or ceil");
}

std::vector<float> float_values(NodeContext& ctx, ir::Value* v, const char* what) {
  TensorView t = v->view();
  if (t.dtype != DType::Float32 && t.dtype != DType::Float64)
    ctx.fail(std::string(what) + " must be float32 or float64, got " + dtype_name(t.dtype));
  std::vector<float> r(static_cast<size_t>(t.elements()));
  for (size_t i = 0; i < r.size(); ++i)
    r[i] = static_cast<float>(element_as_double(t, static_cast<int64_t>(i)));
  return r;
}

// Emits the op with inputs X, roi, scales, sizes, where each parameter that is a constant has
// been moved into the op's attributes (and its input left out).
void emit_resize(NodeContext& ctx, std::unique_ptr<Resize> op, ir::Value* roi, ir::Value* scales,
                 ir::Value* sizes) {
  std::vector<ir::Value*> in{ctx.required_input(0), nullptr, nullptr, nullptr};
  if (roi && op->coord == ResizeCoord::TfCropAndResize) {
    if (roi->is_constant())
      op->roi = float_values(ctx, roi, "roi");
    else
      in[1] = roi;
  }
  if (scales) {
    if (scales->is_constant())
      op->scales = float_values(ctx, scales, "scales");
    else
      in[2] = scales;
  }
  if (sizes) {
    if (!sizes->is_constant()) {
      in[3] = sizes;
    } else {
      if (sizes->type.dtype != DType::Int64) ctx.fail("sizes must be int64");
      op->sizes = to_int_vector(sizes->view());
    }
  }
  while (in.size() > 1 && !in.back()) in.pop_back();
  ctx.emit(std::move(op), std::move(in));
}

void import_resize_11(NodeContext& ctx) {
  auto op = std::make_unique<Resize>();
  op->mode = parse_mode(ctx, true);
  op->coord = parse_coord(ctx);
  op->nearest = parse_nearest(ctx);
  op->cubic_coeff_a = ctx.attr_float("cubic_coeff_a", -0.75f);
  op->exclude_outside = ctx.attr_int("exclude_outside", 0) != 0;
  op->extrapolation_value = ctx.attr_float("extrapolation_value", 0.f);
  if (op->coord == ResizeCoord::TfCropAndResize && !ctx.input(1))
    ctx.fail("coordinate_transformation_mode tf_crop_and_resize needs the roi input");
  emit_resize(ctx, std::move(op), ctx.input(1), ctx.input(2), ctx.input(3));
}

std::unique_ptr<Resize> legacy_op(NodeContext& ctx) {
  auto op = std::make_unique<Resize>();
  op->mode = parse_mode(ctx, false);
  op->coord = ResizeCoord::Asymmetric;
  op->nearest = ResizeNearest::Simple;
  return op;
}

void import_resize_10(NodeContext& ctx) {
  emit_resize(ctx, legacy_op(ctx), nullptr, ctx.required_input(1), nullptr);
}

void import_upsample_7(NodeContext& ctx) {
  if (!ctx.has_attr("scales")) ctx.fail("the scales attribute is required");
  auto op = legacy_op(ctx);
  op->scales = ctx.attr_floats("scales");
  emit_resize(ctx, std::move(op), nullptr, nullptr, nullptr);
}

void import_upsample_9(NodeContext& ctx) {
  emit_resize(ctx, legacy_op(ctx), nullptr, ctx.required_input(1), nullptr);
}

KILN_REGISTER_IMPORTER("Upsample", kMinOpset, 8, import_upsample_7);
KILN_REGISTER_IMPORTER("Upsample", 9, 9, import_upsample_9);
KILN_REGISTER_IMPORTER("Resize", 10, 10, import_resize_10);
KILN_REGISTER_IMPORTER("Resize", 11, kMaxOpset, import_resize_11);

}  // namespace
}  // namespace kiln::onnx_import
