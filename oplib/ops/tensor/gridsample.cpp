#include "ops/tensor/gridsample.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "ops/tensor/shape.h"
#include "ops/signal/dft_stft_window_mel.h"

namespace kiln::ops {

namespace {

// Coordinates this far out are off the image whatever the padding; clamping to it keeps the
// conversions to int64 defined for huge or infinite grid values.
constexpr double kFar = 1e15;

// Grid value in [-1, 1] to a pixel coordinate along an axis of `size` pixels.
double unnormalize(double c, int64_t size, bool align) {
  const double s = static_cast<double>(size);
  return align ? (c + 1) / 2 * (s - 1) : ((c + 1) * s - 1) / 2;
}

// Reflects c into [twice_low / 2, twice_high / 2] like a mirror at both ends (PyTorch's
// reflect_coordinates; the bounds are doubled so that half-pixel edges stay integral).
double reflect(double c, double twice_low, double twice_high) {
  if (twice_low == twice_high) return 0;
  const double lo = twice_low / 2, span = (twice_high - twice_low) / 2;
  c = std::fabs(c - lo);
  const double extra = std::fmod(c, span);
  const double flips = std::floor(c / span);
  return std::fmod(flips, 2.0) == 0 ? extra + lo : span - extra + lo;
}

// Applies border/reflection padding to a pixel coordinate (zeros padding leaves it alone; the
// out-of-range taps then read 0).
double pad_coord(double c, int64_t size, GridSamplePadding p, bool align) {
  // NaN propagates; an empty axis has nothing to pad to (every tap reads 0).
  if (std::isnan(c) || size <= 0) return c;
  const double hi = static_cast<double>(size - 1);
  if (p == GridSamplePadding::Border) return std::clamp(c, 0.0, hi);
  if (p == GridSamplePadding::Reflection) {
    const double s = static_cast<double>(size);
    c = align ? reflect(c, 0, 2 * hi) : reflect(c, -1, 2 * s - 1);
    return std::clamp(c, 0.0, hi);
  }
  return c;
}

int64_t floor_index(double c) {
  if (!(c > -kFar)) return static_cast<int64_t>(-kFar);  // also NaN: lands off the image
  return static_cast<int64_t>(std::floor(std::min(c, kFar)));
}

// Cubic convolution weights for the taps at offsets -1, 0, 1, 2 from floor(c), t = c - floor(c).
std::array<double, 4> cubic_weights(double t) {
  constexpr double A = -0.75;
  auto near = [](double x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };       // |x| <= 1
  auto far = [](double x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };  // 1 < |x| < 2
  return {far(t + 1), near(t), near(1 - t), far(2 - t)};
}

struct Plane {
  const std::vector<double>* x;
  int64_t offset, h, w;
  // The pixel at (iy, ix), 0 off the image.
  double at(int64_t iy, int64_t ix) const {
    if (iy < 0 || iy >= h || ix < 0 || ix >= w) return 0.0;
    return (*x)[static_cast<size_t>(offset + iy * w + ix)];
  }
};

}  // namespace

void GridSample::attrs(AttrVisitor& v) {
  visit_enum(v, "mode", mode);
  visit_enum(v, "padding_mode", padding);
  visit_bool(v, "align_corners", align_corners);
}

void GridSample::infer(InferContext& ctx) const {
  check(mode >= GridSampleMode::Bilinear && mode <= GridSampleMode::Bicubic,
        "GridSample: unknown mode " + std::to_string(static_cast<int64_t>(mode)));
  check(padding >= GridSamplePadding::Zeros && padding <= GridSamplePadding::Reflection,
        "GridSample: unknown padding mode " + std::to_string(static_cast<int64_t>(padding)));
  check(ctx.num_inputs() == 2 && ctx.num_outputs() == 1,
        "GridSample takes inputs X and grid, and one output");
  const TensorType &x = ctx.input(0), &g = ctx.input(1);
  check(is_float_dtype(x.dtype),
        std::string("GridSample: X must be a float tensor, got ") + dtype_name(x.dtype));
  check(is_float_dtype(g.dtype),
        std::string("GridSample: grid must be a float tensor, got ") + dtype_name(g.dtype));
  check(x.shape.size() == 4, "GridSample: X must be 4-D [N, C, H, W], got shape " + shape_str(x.shape));
  check(g.shape.size() == 4 && (g.shape[3] == 2 || g.shape[3] < 0),
        "GridSample: grid must be [N, H_out, W_out, 2], got shape " + shape_str(g.shape));
  check(x.shape[0] < 0 || g.shape[0] < 0 || x.shape[0] == g.shape[0],
        "GridSample: X " + shape_str(x.shape) + " and grid " + shape_str(g.shape) + " differ in batch size");
  Dims out{x.shape[0] >= 0 ? x.shape[0] : g.shape[0], x.shape[1], g.shape[1], g.shape[2]};
  check_output_shape(out, "GridSample");
  ctx.set_output(0, x.dtype, out);
}

void GridSample::reference(const KernelArgs& a) const {
  const TensorView &xt = a.in[0], &gt = a.in[1], &y = a.out[0];
  const int64_t n = xt.shape[0], c = xt.shape[1], h = xt.shape[2], w = xt.shape[3];
  const int64_t ho = gt.shape[1], wo = gt.shape[2];
  std::vector<double> x(static_cast<size_t>(xt.elements()));
  for (size_t i = 0; i < x.size(); ++i) x[i] = load_double(xt, static_cast<int64_t>(i));
  const bool align = align_corners;
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t oy = 0; oy < ho; ++oy) {
      for (int64_t ox = 0; ox < wo; ++ox) {
        const int64_t gi = ((b * ho + oy) * wo + ox) * 2;
        // Far-off coordinates are pulled in to kFar (still off the image, with integral
        // fractions), so every later floor and int64 conversion stays defined; NaN stays NaN.
        const double ix = std::clamp(unnormalize(load_double(gt, gi), w, align), -kFar, kFar);
        const double iy = std::clamp(unnormalize(load_double(gt, gi + 1), h, align), -kFar, kFar);
        for (int64_t ch = 0; ch < c; ++ch) {
          const Plane p{&x, (b * c + ch) * h * w, h, w};
          double v = 0;
          if (mode == GridSampleMode::Bicubic) {
            // The taps sit around the unpadded coordinate; each tap is padded on its own.
            const int64_t x0 = floor_index(ix), y0 = floor_index(iy);
            const auto wx = cubic_weights(ix - static_cast<double>(x0));
            const auto wy = cubic_weights(iy - static_cast<double>(y0));
            for (int j = 0; j < 4; ++j) {
              const int64_t ty = floor_index(pad_coord(static_cast<double>(y0 - 1 + j), h, padding, align));
              for (int i = 0; i < 4; ++i) {
                const int64_t tx = floor_index(pad_coord(static_cast<double>(x0 - 1 + i), w, padding, align));
                v += wy[static_cast<size_t>(j)] * wx[static_cast<size_t>(i)] * p.at(ty, tx);
              }
            }
          } else {
            const double px = pad_coord(ix, w, padding, align), py = pad_coord(iy, h, padding, align);
            if (mode == GridSampleMode::Nearest) {
              // nearbyint rounds half to even, as PyTorch and ONNX Runtime do.
              v = p.at(floor_index(std::nearbyint(py)), floor_index(std::nearbyint(px)));
            } else {
              const int64_t x0 = floor_index(px), y0 = floor_index(py);
              const double fx = px - static_cast<double>(x0), fy = py - static_cast<double>(y0);
              v = (1 - fy) * ((1 - fx) * p.at(y0, x0) + fx * p.at(y0, x0 + 1)) +
                  fy * ((1 - fx) * p.at(y0 + 1, x0) + fx * p.at(y0 + 1, x0 + 1));
            }
          }
          store_double(y, ((b * c + ch) * ho + oy) * wo + ox, v);
        }
      }
    }
  }
}

KILN_REGISTER_OP(GridSample);

}  // namespace kiln::ops
