// RoiAlign, MaxUnpool, ReverseSequence and Det: shape checks and reference kernels (see
// detect_ops.h).
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
  const Shape y{rois.shape[0], x.shape[1], output_height, output_width};
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

// ---------------------------------------------------------------------------------------------
// MaxUnpool

void MaxUnpool::attrs(AttrVisitor& v) {
  v.visit("kernel_shape", kernel_shape);
  v.visit("strides", strides);
  v.visit("pads", pads);
  v.visit("output_shape", output_shape);
}

namespace {

// The unpooled size before any requested output_shape: (in - 1) * stride + kernel - pads,
// with the pads ignored when an output shape is given. -1 for unknown input dims.
Shape unpool_shape(const MaxUnpool& op, const Shape& x, bool ignore_pads) {
  const size_t r = x.size() - 2;
  check(op.kernel_shape.size() == r,
        "MaxUnpool: kernel_shape needs one value per spatial dim (" + std::to_string(r) + ")");
  check(op.strides.empty() || op.strides.size() == r, "MaxUnpool: strides needs one value per spatial dim");
  check(op.pads.empty() || op.pads.size() == 2 * r, "MaxUnpool: pads needs two values per spatial dim");
  Shape y{x[0], x[1]};
  for (size_t i = 0; i < r; ++i) {
    const int64_t k = op.kernel_shape[i], s = op.strides.empty() ? 1 : op.strides[i];
    const int64_t pb = op.pads.empty() ? 0 : op.pads[i], pe = op.pads.empty() ? 0 : op.pads[r + i];
    check(k >= 1 && k < kMaxAttr && s >= 1 && s < kMaxAttr && pb >= 0 && pb < kMaxAttr && pe >= 0 && pe < kMaxAttr,
          "MaxUnpool: kernel_shape and strides must be >= 1 and pads >= 0");
    const int64_t in = x[2 + i], pads = ignore_pads ? 0 : pb + pe;
    const int64_t o = in < 0 ? -1 : mul_or_unknown(std::max<int64_t>(in - 1, 0), s, "MaxUnpool output") + k - pads;
    check(in < 0 || o >= 1, "MaxUnpool: the pads leave an empty output along spatial dim " + std::to_string(i));
    y.push_back(o);
  }
  return y;
}

bool has_output_shape(const MaxUnpool& op, size_t num_inputs, bool third_input) {
  return !op.output_shape.empty() || (num_inputs > 2 && third_input);
}

}  // namespace

void MaxUnpool::infer(InferContext& ctx) const {
  check(ctx.num_inputs() >= 2 && ctx.num_inputs() <= 3 && ctx.num_outputs() == 1,
        "MaxUnpool takes X, I and an optional output_shape, and has one output");
  const TensorType &x = ctx.input(0), &idx = ctx.input(1);
  check(is_float(x.dtype), "MaxUnpool takes float32 or float64 X, not " + std::string(dtype_name(x.dtype)));
  check(idx.dtype == DType::Int64, "MaxUnpool: I must be int64, not " + std::string(dtype_name(idx.dtype)));
  check(x.shape.size() >= 3, "MaxUnpool: X must be [N, C, spatial...], got shape " + shape_str(x.shape));
  check(idx.shape == x.shape, "MaxUnpool: I has shape " + shape_str(idx.shape) + " but X has " + shape_str(x.shape));
  const bool shape_input = ctx.has_input(2);
  check(!shape_input || output_shape.empty(), "MaxUnpool: output_shape is given both as attribute and input");
  const Shape base = unpool_shape(*this, x.shape, has_output_shape(*this, ctx.num_inputs(), shape_input));
  std::vector<int64_t> requested = output_shape;
  if (shape_input) {
    const TensorType& s = ctx.input(2);
    check(s.dtype == DType::Int64, "MaxUnpool: output_shape must be int64, not " + std::string(dtype_name(s.dtype)));
    check(s.shape.size() == 1 && (s.shape[0] < 0 || s.shape[0] == static_cast<int64_t>(base.size())),
          "MaxUnpool: output_shape must be [" + std::to_string(base.size()) + "], got shape " + shape_str(s.shape));
    if (const TensorView* v = ctx.constant(2)) requested = to_int_vector(*v);
  }
  Shape y = base;
  if (!requested.empty()) {
    check(requested.size() == y.size(), "MaxUnpool: output_shape " + shape_str(requested) + " must have rank " +
                                            std::to_string(y.size()));
    for (size_t i = 0; i < y.size(); ++i) {
      const bool ok = i < 2 ? (y[i] < 0 || requested[i] == y[i]) : (requested[i] >= 0 && requested[i] >= y[i]);
      check(ok, "MaxUnpool: output_shape " + shape_str(requested) + " must keep X's batch and channels and not be "
                "smaller than the unpooled shape " + shape_str(base));
    }
    y = requested;
  } else if (shape_input) {
    for (size_t i = 2; i < y.size(); ++i) y[i] = -1;  // known only when the run supplies output_shape
  }
  check_output_shape(y, "MaxUnpool output");
  ctx.set_output(0, x.dtype, y);
}

void MaxUnpool::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &idx = a.in[1], &y = a.out[0];
  const bool third = a.in.size() > 2 && a.in[2].data;
  const Shape base = unpool_shape(*this, x.shape, has_output_shape(*this, a.in.size(), third));
  const size_t es = dtype_size(x.dtype);
  const int64_t total = shape_elements(base);
  check(y.shape.size() == base.size(), "MaxUnpool: the output has the wrong rank");
  for (size_t i = 0; i < base.size(); ++i)
    check(y.shape[i] >= base[i], "MaxUnpool: the output is smaller than the unpooled shape " + shape_str(base));
  std::memset(y.data, 0, y.bytes());
  // Scatter position p of the unpooled shape to the same coordinates of Y.
  const auto bs = shape_strides(base), ys = shape_strides(y.shape);
  const int64_t* ip = idx.as<const int64_t>();
  for (int64_t i = 0, n = x.elements(); i < n; ++i) {
    if (ip[i] < 0 || ip[i] >= total)
      fail("MaxUnpool: index " + std::to_string(ip[i]) + " is out of range for an output of " + std::to_string(total) +
           " elements");
    int64_t rem = ip[i], dst = 0;
    for (size_t d = 0; d < base.size(); ++d) {
      dst += rem / bs[d] * ys[d];
      rem %= bs[d];
    }
    std::memcpy(static_cast<char*>(y.data) + dst * es, static_cast<const char*>(x.data) + i * es, es);
  }
}

// ---------------------------------------------------------------------------------------------
// ReverseSequence

void ReverseSequence::attrs(AttrVisitor& v) {
  v.visit("time_axis", time_axis);
  v.visit("batch_axis", batch_axis);
}

void ReverseSequence::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 2 && ctx.num_outputs() == 1, "ReverseSequence takes input and sequence_lens");
  const TensorType &x = ctx.input(0), &lens = ctx.input(1);
  check(dtype_size(x.dtype) > 0, "ReverseSequence: unsupported dtype " + std::string(dtype_name(x.dtype)));
  check(x.shape.size() >= 2, "ReverseSequence: input must have rank >= 2, got shape " + shape_str(x.shape));
  check((time_axis == 0 && batch_axis == 1) || (time_axis == 1 && batch_axis == 0),
        "ReverseSequence: time_axis and batch_axis must be 0 and 1 in some order");
  check(lens.dtype == DType::Int64 || lens.dtype == DType::Int32, "ReverseSequence: sequence_lens must be int64");
  const int64_t b = x.shape[batch_axis];
  check(lens.shape.size() == 1 && (lens.shape[0] < 0 || b < 0 || lens.shape[0] == b),
        "ReverseSequence: sequence_lens must be [batch] = [" + std::to_string(b) + "], got shape " +
            shape_str(lens.shape));
  ctx.set_output(0, x.dtype, x.shape);
}

void ReverseSequence::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &y = a.out[0];
  const int64_t nt = x.shape[time_axis], nb = x.shape[batch_axis];
  int64_t inner = 1;
  for (size_t i = 2; i < x.shape.size(); ++i) inner *= x.shape[i];
  const size_t row = static_cast<size_t>(inner) * dtype_size(x.dtype);
  // Offset of the (t, b) row of `inner` elements in either axis order.
  auto at = [&](int64_t t, int64_t b) { return static_cast<size_t>(time_axis == 0 ? t * nb + b : b * nt + t) * row; };
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t len = element_as_int(a.in[1], b);
    if (len < 0 || len > nt)
      fail("ReverseSequence: sequence_lens[" + std::to_string(b) + "] = " + std::to_string(len) + " is outside [0, " +
           std::to_string(nt) + "]");
    for (int64_t t = 0; t < nt; ++t) {
      const int64_t src = t < len ? len - 1 - t : t;
      std::memcpy(static_cast<char*>(y.data) + at(t, b), static_cast<const char*>(x.data) + at(src, b), row);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Det

void Det::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 1 && ctx.num_outputs() == 1, "Det takes one input and has one output");
  const TensorType& x = ctx.input(0);
  check(is_float(x.dtype), "Det takes float32 or float64, not " + std::string(dtype_name(x.dtype)));
  const size_t r = x.shape.size();
  check(r >= 2, "Det: input must be [*, M, M], got shape " + shape_str(x.shape));
  check(x.shape[r - 1] < 0 || x.shape[r - 2] < 0 || x.shape[r - 1] == x.shape[r - 2],
        "Det: the last two dims must be equal (square matrices), got shape " + shape_str(x.shape));
  ctx.set_output(0, x.dtype, Shape(x.shape.begin(), x.shape.end() - 2));
}

namespace {

// LU decomposition with partial pivoting, in double.
template <class T>
void det(const KernelArgs& a) {
  const TensorView& x = a.in[0];
  const int64_t m = x.shape.back(), mm = m * m, count = m ? x.elements() / mm : a.out[0].elements();
  std::vector<double> lu(static_cast<size_t>(mm));
  for (int64_t b = 0; b < count; ++b) {
    for (int64_t i = 0; i < mm; ++i) lu[i] = x.as<const T>()[b * mm + i];
    double d = 1;
    for (int64_t col = 0; col < m && d != 0; ++col) {
      int64_t piv = col;
      for (int64_t r = col + 1; r < m; ++r)
        if (std::fabs(lu[r * m + col]) > std::fabs(lu[piv * m + col])) piv = r;
      if (lu[piv * m + col] == 0) {
        d = 0;
        break;
      }
      if (piv != col) {
        for (int64_t k = 0; k < m; ++k) std::swap(lu[col * m + k], lu[piv * m + k]);
        d = -d;
      }
      d *= lu[col * m + col];
      for (int64_t r = col + 1; r < m; ++r) {
        const double f = lu[r * m + col] / lu[col * m + col];
        for (int64_t k = col; k < m; ++k) lu[r * m + k] -= f * lu[col * m + k];
      }
    }
    out_ptr<T>(a)[b] = static_cast<T>(d);
  }
}

}  // namespace

void Det::reference(const KernelArgs& a) const {
  if (a.in[0].dtype == DType::Float64) det<double>(a);
  else det<float>(a);
}

KILN_REGISTER_OP(RoiAlign);
KILN_REGISTER_OP(MaxUnpool);
KILN_REGISTER_OP(ReverseSequence);
KILN_REGISTER_OP(Det);

}  // namespace kiln::ops
