// ONNX importers for Resize (opsets 10-21) and Upsample (7-9), both as ops::Resize. Constant
// roi/scales/sizes become attributes; inputs known only at run time stay inputs of the op (its
// output dims are then unknown until the values arrive).
//
// Upsample and Resize-10 predate coordinate_transformation_mode: their coordinates are
// x_out / scale (asymmetric), and nearest picks floor when upsampling, ceil when downsampling,
// as ONNX Runtime reads those specs.
#include <algorithm>
#include <cmath>
#include <limits>

#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/tensor/resize.h"

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
  if (c == "half_pixel_symmetric" && ctx.opset() >= 19) return ResizeCoord::HalfPixelSymmetric;
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

// The attributes Resize-11 and later share.
std::unique_ptr<Resize> resize_11_op(NodeContext& ctx) {
  auto op = std::make_unique<Resize>();
  op->mode = parse_mode(ctx, true);
  op->coord = parse_coord(ctx);
  op->nearest = parse_nearest(ctx);
  op->cubic_coeff_a = ctx.attr_float("cubic_coeff_a", -0.75f);
  op->exclude_outside = ctx.attr_int("exclude_outside", 0) != 0;
  op->extrapolation_value = ctx.attr_float("extrapolation_value", 0.f);
  if (op->coord == ResizeCoord::TfCropAndResize && !ctx.input(1))
    ctx.fail("coordinate_transformation_mode tf_crop_and_resize needs the roi input");
  return op;
}

void import_resize_11(NodeContext& ctx) {
  emit_resize(ctx, resize_11_op(ctx), ctx.input(1), ctx.input(2), ctx.input(3));
}

// Resize-18 adds `axes` (roi/scales/sizes list only those axes), keep_aspect_ratio_policy (sizes
// as bounds: one scale for all the axes, the smaller or larger of sizes / in), both resolved here
// into the full-rank form, which needs the parameters as constants, and antialias (the op's).
void import_resize_18(NodeContext& ctx) {
  ctx.expect_signature(1, 4, 1, 1,
                       {"antialias", "axes", "coordinate_transformation_mode", "cubic_coeff_a", "exclude_outside",
                        "extrapolation_value", "keep_aspect_ratio_policy", "mode", "nearest_mode"});
  ir::Value* x = ctx.required_input(0);
  const auto rank = static_cast<int64_t>(x->type.shape.size());
  auto op = resize_11_op(ctx);
  const std::string policy = ctx.attr_string("keep_aspect_ratio_policy", "stretch");
  if (policy != "stretch" && policy != "not_larger" && policy != "not_smaller")
    ctx.fail("keep_aspect_ratio_policy '" + policy + "' is unknown; use stretch, not_larger or not_smaller");
  std::vector<int64_t> axes;
  for (int64_t a : ctx.attr_ints("axes")) {
    a = ctx.axis_in(a, rank);
    if (std::find(axes.begin(), axes.end(), a) != axes.end()) ctx.fail("axis " + std::to_string(a) + " is listed twice");
    axes.push_back(a);
  }
  ir::Value *roi = ctx.input(1), *scales = ctx.input(2), *sizes = ctx.input(3);
  const bool partial = !axes.empty();
  const bool aspect = policy != "stretch" && sizes;
  op->antialias = ctx.attr_int("antialias", 0) != 0;
  if (!partial && !aspect) {
    emit_resize(ctx, std::move(op), roi, scales, sizes);
    return;
  }
  for (ir::Value* p : {roi, scales, sizes})
    if (p && !p->is_constant())
      ctx.fail("roi, scales and sizes must be compile-time constants with axes or keep_aspect_ratio_policy");
  if (axes.empty())
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  const size_t k = axes.size();
  const Dims& xs = x->type.shape;
  if (scales && sizes) ctx.fail("give either scales or sizes, not both");
  if (scales) {
    const std::vector<float> v = float_values(ctx, scales, "scales");
    if (v.size() != k) ctx.fail("scales has " + std::to_string(v.size()) + " values for " + std::to_string(k) + " axes");
    op->scales.assign(static_cast<size_t>(rank), 1.f);
    for (size_t i = 0; i < k; ++i) op->scales[static_cast<size_t>(axes[i])] = v[i];
  } else if (sizes) {
    if (sizes->type.dtype != DType::Int64) ctx.fail("sizes must be int64");
    const std::vector<int64_t> v = to_int_vector(sizes->view());
    if (v.size() != k) ctx.fail("sizes has " + std::to_string(v.size()) + " values for " + std::to_string(k) + " axes");
    for (int64_t a : axes)
      if (xs[static_cast<size_t>(a)] <= 0)
        ctx.fail("input dim " + std::to_string(a) + " must be known and non-empty (give --shapes)");
    op->sizes.assign(xs.begin(), xs.end());
    if (!aspect) {
      for (size_t i = 0; i < k; ++i) op->sizes[static_cast<size_t>(axes[i])] = v[i];
    } else {
      // As ONNX Runtime: one scale for every listed axis, which also maps the coordinates.
      double s = policy == "not_larger" ? std::numeric_limits<double>::infinity() : 0.0;
      for (size_t i = 0; i < k; ++i) {
        const double r = static_cast<double>(v[i]) / static_cast<double>(xs[static_cast<size_t>(axes[i])]);
        s = policy == "not_larger" ? std::min(s, r) : std::max(s, r);
      }
      op->scales.assign(static_cast<size_t>(rank), 1.f);
      for (int64_t a : axes) {
        op->scales[static_cast<size_t>(a)] = static_cast<float>(s);
        op->sizes[static_cast<size_t>(a)] =
            static_cast<int64_t>(std::round(s * static_cast<double>(xs[static_cast<size_t>(a)])));
      }
    }
  } else {
    ctx.fail("Resize needs the scales or the sizes input");
  }
  if (roi && op->coord == ResizeCoord::TfCropAndResize) {
    const std::vector<float> v = float_values(ctx, roi, "roi");
    if (v.size() != 2 * k) ctx.fail("roi has " + std::to_string(v.size()) + " values for " + std::to_string(k) + " axes");
    op->roi.assign(static_cast<size_t>(rank), 0.f);
    op->roi.resize(2 * static_cast<size_t>(rank), 1.f);
    for (size_t i = 0; i < k; ++i) {
      op->roi[static_cast<size_t>(axes[i])] = v[i];
      op->roi[static_cast<size_t>(axes[i] + rank)] = v[i + k];
    }
  }
  ctx.emit(std::move(op), {x});
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
KILN_REGISTER_IMPORTER("Resize", 11, 17, import_resize_11);
KILN_REGISTER_IMPORTER("Resize", 18, kMaxOpset, import_resize_18);  // axes, keep_aspect_ratio_policy, antialias

}  // namespace
}  // namespace kiln::onnx_import
