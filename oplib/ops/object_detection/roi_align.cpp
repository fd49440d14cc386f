// RoiAlign: shape checks and the reference kernel (see roi_align.h).
#include "ops/object_detection/roi_align.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "ops/tensor/shape.h"

namespace kiln::ops {

namespace {

constexpr int64_t kMaxAttr = int64_t(1) << 31;

bool is_float(DType t) { return t == DType::Float32 || t == DType::Float64; }
bool is_index(DType t) { return t == DType::Int64 || t == DType::Int32; }

template <class T>
T* out_ptr(const KernelArgs& a) {
  return a.out[0].as<T>();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// RoiAlign

void RoiAlign::attrs(AttrVisitor& v) {
  visit_enum(v, "mode", mode);
  v.visit("output_height", output_height);
  v.visit("output_width", output_width);
  v.visit("sampling_ratio", sampling_ratio);
  v.visit("spatial_scale", spatial_scale);
  visit_bool(v, "half_pixel", half_pixel);
}

void RoiAlign::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 3 && ctx.num_outputs() == 1,
        "RoiAlign takes X, rois and batch_indices, and has one output");
  const TensorType &x = ctx.input(0), &rois = ctx.input(1), &bi = ctx.input(2);
  check(is_float(x.dtype), "RoiAlign takes float32 or float64 X, not " + std::string(dtype_name(x.dtype)));
  check(rois.dtype == x.dtype, "RoiAlign: rois must have X's dtype");
  check(is_index(bi.dtype), "RoiAlign: batch_indices must be int64, not " + std::string(dtype_name(bi.dtype)));
  check(x.shape.size() == 4, "RoiAlign: X must be [N, C, H, W], got shape " + shape_str(x.shape));
  check(rois.shape.size() == 2 && (rois.shape[1] < 0 || rois.shape[1] == 4),
        "RoiAlign: rois must be [num_rois, 4], got shape " + shape_str(rois.shape));
  check(bi.shape.size() == 1 && (bi.shape[0] < 0 || rois.shape[0] < 0 || bi.shape[0] == rois.shape[0]),
        "RoiAlign: batch_indices must be [num_rois], got shape " + shape_str(bi.shape));
  check(output_height >= 1 && output_height < kMaxAttr && output_width >= 1 && output_width < kMaxAttr,
        "RoiAlign: output_height and output_width must be >= 1");
  check(sampling_ratio >= 0 && sampling_ratio <= 4096, "RoiAlign: sampling_ratio must be in [0, 4096]");
  check(mode == Mode::Avg || mode == Mode::Max, "RoiAlign: unknown mode");
  check(std::isfinite(spatial_scale), "RoiAlign: spatial_scale must be finite");
  const Dims y{rois.shape[0], x.shape[1], output_height, output_width};
  check_output_shape(y, "RoiAlign output");
  ctx.set_output(0, x.dtype, y);
}

namespace {

// One bilinear sample: four input offsets in a [H, W] plane and their weights.
struct Sample {
  int64_t pos[4] = {0, 0, 0, 0};
  double w[4] = {0, 0, 0, 0};
};

// ONNX Runtime's sample rule: points beyond one pixel outside the map contribute nothing,
// the rest clamp to the border.
Sample bilinear(double y, double x, int64_t h, int64_t w) {
  Sample s;
  if (y < -1.0 || y > static_cast<double>(h) || x < -1.0 || x > static_cast<double>(w)) return s;
  y = std::max(y, 0.0);
  x = std::max(x, 0.0);
  auto y_lo = static_cast<int64_t>(y), x_lo = static_cast<int64_t>(x), y_hi = y_lo + 1, x_hi = x_lo + 1;
  if (y_lo >= h - 1) y = static_cast<double>(y_hi = y_lo = h - 1);
  if (x_lo >= w - 1) x = static_cast<double>(x_hi = x_lo = w - 1);
  const double ly = y - static_cast<double>(y_lo), lx = x - static_cast<double>(x_lo), hy = 1 - ly, hx = 1 - lx;
  s.pos[0] = y_lo * w + x_lo;
  s.pos[1] = y_lo * w + x_hi;
  s.pos[2] = y_hi * w + x_lo;
  s.pos[3] = y_hi * w + x_hi;
  s.w[0] = hy * hx;
  s.w[1] = hy * lx;
  s.w[2] = ly * hx;
  s.w[3] = ly * lx;
  return s;
}

// sampling_ratio 0: ceil(roi extent / bins) samples per bin side. ROIs come from data, so an
// absurd (or NaN) extent is bounded rather than trusted.
int64_t adaptive_grid(double extent, int64_t bins) {
  const double g = std::ceil(extent / static_cast<double>(bins));
  return g >= 1 ? static_cast<int64_t>(std::min(g, 4096.0)) : 0;
}

template <class T>
void roi_align(const RoiAlign& op, const KernelArgs& a) {
  const TensorView& xv = a.in[0];
  const int64_t n_batch = xv.shape[0], c = xv.shape[1], h = xv.shape[2], w = xv.shape[3];
  const int64_t n_rois = a.in[1].shape[0], oh = op.output_height, ow = op.output_width;
  const T* x = xv.as<const T>();
  const T* rois = a.in[1].as<const T>();
  T* y = out_ptr<T>(a);
  const double offset = op.half_pixel ? 0.5 : 0.0, scale = op.spatial_scale;
  for (int64_t r = 0; r < n_rois; ++r) {
    const int64_t b = element_as_int(a.in[2], r);
    if (b < 0 || b >= n_batch)
      fail("RoiAlign: batch index " + std::to_string(b) + " is out of range for batch size " + std::to_string(n_batch));
    const double x0 = rois[r * 4] * scale - offset, y0 = rois[r * 4 + 1] * scale - offset;
    double rw = rois[r * 4 + 2] * scale - offset - x0, rh = rois[r * 4 + 3] * scale - offset - y0;
    if (!op.half_pixel) rw = std::max(rw, 1.0), rh = std::max(rh, 1.0);
    const double bh = rh / static_cast<double>(oh), bw = rw / static_cast<double>(ow);
    const int64_t gh = op.sampling_ratio > 0 ? op.sampling_ratio : adaptive_grid(rh, oh);
    const int64_t gw = op.sampling_ratio > 0 ? op.sampling_ratio : adaptive_grid(rw, ow);
    const double count = static_cast<double>(std::max<int64_t>(gh * gw, 1));
    for (int64_t ch = 0; ch < c; ++ch) {
      const T* plane = x + (b * c + ch) * h * w;
      for (int64_t ph = 0; ph < oh; ++ph)
        for (int64_t pw = 0; pw < ow; ++pw) {
          double acc = op.mode == RoiAlign::Mode::Avg ? 0.0 : std::numeric_limits<double>::lowest();
          for (int64_t iy = 0; iy < gh; ++iy)
            for (int64_t ix = 0; ix < gw; ++ix) {
              const Sample s = bilinear(y0 + ph * bh + (iy + 0.5) * bh / static_cast<double>(gh),
                                        x0 + pw * bw + (ix + 0.5) * bw / static_cast<double>(gw), h, w);
              for (int k = 0; k < 4; ++k) {
                const double v = s.w[k] * plane[s.pos[k]];
                // ONNX Runtime's max mode: the largest weighted corner, not the interpolated value.
                acc = op.mode == RoiAlign::Mode::Avg ? acc + v : std::max(acc, v);
              }
            }
          if (op.mode == RoiAlign::Mode::Avg) acc /= count;
          else if (gh * gw == 0) acc = 0;
          y[((r * c + ch) * oh + ph) * ow + pw] = static_cast<T>(acc);
        }
    }
  }
}

}  // namespace

void RoiAlign::reference(const KernelArgs& a) const {
  if (a.in[0].dtype == DType::Float64) roi_align<double>(*this, a);
  else roi_align<float>(*this, a);
}

KILN_REGISTER_OP(RoiAlign);

}  // namespace kiln::ops
