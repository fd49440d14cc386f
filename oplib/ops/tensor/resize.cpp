// Resize: attributes, shape inference, the per-axis tap tables and the reference kernel.
#include "ops/tensor/resize.h"

#include <cmath>
#include <cstring>

#include "ops/tensor/shape.h"

namespace kiln::ops {

namespace {

bool is_float_type(DType t) { return t == DType::Float32 || t == DType::Float64; }

template <class E>
bool enum_in(E e, E lo, E hi) {
  return static_cast<int64_t>(e) >= static_cast<int64_t>(lo) &&
         static_cast<int64_t>(e) <= static_cast<int64_t>(hi);
}

// cubic_coeffs(ratio, A) of the onnx reference: weights of the taps at base-1 .. base+2.
void cubic_coeffs(double r, double a, double* c) {
  c[0] = ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a;
  c[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
  c[2] = ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1;
  c[3] = ((a * ((1 - r) + 1) - 5 * a) * ((1 - r) + 1) + 8 * a) * ((1 - r) + 1) - 4 * a;
}

// The onnx reference's antialiasing filters (Resize-18 antialias=1, downscaling, scale < 1): the
// linear (triangle) or cubic kernel stretched by 1 / scale over `taps` = 2 - 2 * first taps at
// relative offsets first .. first + taps - 1 from the base index, normalised to sum to 1.
int64_t antialias_first_tap(ResizeMode mode, double scale) {
  return static_cast<int64_t>(std::floor((mode == ResizeMode::Linear ? -1.0 : -2.0) / scale)) + 1;
}

void antialias_coeffs(ResizeMode mode, double r, double scale, double a, int64_t first, std::vector<double>& c) {
  double sum = 0;
  for (size_t t = 0; t < c.size(); ++t) {
    const double x = std::fabs((static_cast<double>(first + static_cast<int64_t>(t)) - r) * scale);
    double w = 0;
    if (mode == ResizeMode::Linear) {
      w = std::clamp(1 - x, 0.0, 1.0);
    } else if (x <= 1) {
      w = (a + 2) * x * x * x - (a + 3) * x * x + 1;
    } else if (x < 2) {
      w = a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
    }
    c[t] = w;
    sum += w;
  }
  for (double& w : c) w /= sum;
}

// Writes `v` converted to dtype t into element i of a dense buffer.
void store_value(void* base, DType t, int64_t i, double v) {
  const int64_t bits = pack_element(t, v);
  std::memcpy(static_cast<char*>(base) + i * static_cast<int64_t>(dtype_size(t)), &bits, dtype_size(t));
}

template <class T>
void interpolate(const Resize& op, const KernelArgs& a) {
  const TensorView& x = a.in[0];
  const Dims& out_shape = a.out[0].shape;
  const auto tables = op.axis_tables(x.shape, out_shape);
  Dims cur = x.shape;
  std::vector<double> buf(static_cast<size_t>(x.elements()));
  for (int64_t i = 0; i < x.elements(); ++i)
    buf[static_cast<size_t>(i)] = static_cast<double>(x.as<const T>()[i]);
  // Innermost axis first, as the nested 1-D interpolation of the onnx reference.
  for (int64_t d = static_cast<int64_t>(cur.size()) - 1; d >= 0; --d) {
    const ResizeAxis& ax = tables[static_cast<size_t>(d)];
    int64_t outer = 1, inner = 1;
    for (int64_t k = 0; k < d; ++k) outer *= cur[static_cast<size_t>(k)];
    for (size_t k = static_cast<size_t>(d) + 1; k < cur.size(); ++k) inner *= cur[k];
    std::vector<double> next(static_cast<size_t>(outer * ax.out * inner));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < ax.out; ++j)
        for (int64_t i = 0; i < inner; ++i) {
          double s = op.extrapolation_value;
          if (!ax.outside[static_cast<size_t>(j)]) {
            s = 0;
            for (int64_t t = 0; t < ax.taps; ++t) {
              const size_t k = static_cast<size_t>(j * ax.taps + t);
              s += ax.weight[k] * buf[static_cast<size_t>((o * ax.in + ax.index[k]) * inner + i)];
            }
          }
          next[static_cast<size_t>((o * ax.out + j) * inner + i)] = s;
        }
    buf.swap(next);
    cur[static_cast<size_t>(d)] = ax.out;
  }
  T* y = a.out[0].as<T>();
  for (size_t i = 0; i < buf.size(); ++i) y[i] = static_cast<T>(buf[i]);
}

// Nearest: every output element copies one input element (any dtype).
void nearest_copy(const Resize& op, const KernelArgs& a) {
  const TensorView &x = a.in[0], &y = a.out[0];
  const auto tables = op.axis_tables(x.shape, y.shape);
  const auto in_strides = shape_strides(x.shape);
  const size_t es = dtype_size(x.dtype), rank = x.shape.size();
  std::vector<int64_t> idx(rank, 0);
  const char* src = static_cast<const char*>(x.data);
  char* dst = static_cast<char*>(y.data);
  for (int64_t e = 0, n = y.elements(); e < n; ++e) {
    int64_t off = 0;
    bool outside = false;
    for (size_t d = 0; d < rank; ++d) {
      const ResizeAxis& ax = tables[d];
      outside = outside || ax.outside[static_cast<size_t>(idx[d])];
      off += ax.index[static_cast<size_t>(idx[d])] * in_strides[d];
    }
    if (outside)
      store_value(dst, y.dtype, e, op.extrapolation_value);
    else
      std::memcpy(dst + e * static_cast<int64_t>(es), src + off * static_cast<int64_t>(es), es);
    for (int64_t d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
      if (++idx[static_cast<size_t>(d)] < y.shape[static_cast<size_t>(d)]) break;
      idx[static_cast<size_t>(d)] = 0;
    }
  }
}

}  // namespace

bool ResizeAxis::identity() const {
  if (in != out) return false;
  for (int64_t o = 0; o < out; ++o) {
    if (outside[static_cast<size_t>(o)]) return false;
    // Clamping can map several taps onto index o; their weights must add up to 1.
    double self = 0;
    for (int64_t t = 0; t < taps; ++t) {
      const size_t k = static_cast<size_t>(o * taps + t);
      if (index[k] == o)
        self += weight[k];
      else if (weight[k] != 0.0)
        return false;
    }
    if (self != 1.0) return false;
  }
  return true;
}

void Resize::attrs(AttrVisitor& v) {
  visit_enum(v, "mode", mode);
  visit_enum(v, "coord", coord);
  visit_enum(v, "nearest", nearest);
  v.visit("cubic_coeff_a", cubic_coeff_a);
  visit_bool(v, "exclude_outside", exclude_outside);
  v.visit("extrapolation_value", extrapolation_value);
  v.visit("scales", scales);
  v.visit("sizes", sizes);
  v.visit("roi", roi);
  visit_bool(v, "antialias", antialias);
  if (!enum_in(mode, ResizeMode::Nearest, ResizeMode::Cubic) ||
      !enum_in(coord, ResizeCoord::HalfPixel, ResizeCoord::HalfPixelSymmetric) ||
      !enum_in(nearest, ResizeNearest::RoundPreferFloor, ResizeNearest::Simple))
    fail("Resize: unknown mode, coordinate transformation or nearest mode code");
}

Dims Resize::output_shape(const Dims& in) const {
  if (!sizes.empty()) return sizes;
  Dims out(in.size());
  for (size_t d = 0; d < in.size(); ++d) {
    if (in[d] < 0) {
      out[d] = -1;
      continue;
    }
    const double n = static_cast<double>(scales[d]) * static_cast<double>(in[d]);
    if (!(n < static_cast<double>(kMaxElements)))
      fail("Resize: output dimension " + std::to_string(d) + " would have " + std::to_string(n) + " elements");
    out[d] = static_cast<int64_t>(std::floor(n));
  }
  return out;
}

bool Resize::resolved(const std::vector<const TensorView*>& params, Resize& out) const {
  out = *this;
  auto get = [&](size_t i) { return i < params.size() ? params[i] : nullptr; };
  for (size_t i = 0; i < 3; ++i) {
    const TensorView* t = get(i);
    if (!t) continue;
    if (!t->data) return false;
    const char* name = i == 0 ? "roi" : i == 1 ? "scales" : "sizes";
    check(t->shape.size() == 1,
          std::string("Resize: ") + name + " must be 1-D, got shape " + shape_str(t->shape));
    if (i == 2) {
      check(t->dtype == DType::Int64, std::string("Resize: sizes must be int64, got ") + dtype_name(t->dtype));
      out.sizes = to_int_vector(*t);
      continue;
    }
    check(t->dtype == DType::Float32 || t->dtype == DType::Float64,
          std::string("Resize: ") + name + " must be float32 or float64, got " + dtype_name(t->dtype));
    std::vector<float> v(static_cast<size_t>(t->elements()));
    for (size_t k = 0; k < v.size(); ++k)
      v[k] = static_cast<float>(element_as_double(*t, static_cast<int64_t>(k)));
    (i == 0 ? out.roi : out.scales) = std::move(v);
  }
  return true;
}

void Resize::infer(InferContext& ctx) const {
  check(ctx.num_inputs() >= 1 && ctx.num_inputs() <= 4 && ctx.num_outputs() == 1,
        "Resize takes inputs X, [roi], [scales], [sizes] and has one output");
  const TensorType& x = ctx.input(0);
  const size_t rank = x.shape.size();
  check(rank >= 1, "Resize: X must have rank >= 1");
  check(dtype_size(x.dtype) > 0, std::string("Resize: unsupported X type ") + dtype_name(x.dtype));
  check(mode == ResizeMode::Nearest || is_float_type(x.dtype),
        std::string("Resize: linear and cubic modes take float32 or float64 X, got ") + dtype_name(x.dtype));
  check(std::isfinite(cubic_coeff_a), "Resize: cubic_coeff_a must be finite");
  std::vector<const TensorView*> params;
  std::vector<TensorView> unknown(3);  // stand-ins (data == nullptr) for run-time inputs
  for (size_t i = 1; i < 4; ++i) {
    if (!ctx.has_input(i)) {
      params.push_back(nullptr);
      continue;
    }
    const TensorView* c = ctx.constant(i);
    unknown[i - 1] = TensorView{ctx.input(i).dtype, ctx.input(i).shape, nullptr};
    params.push_back(c ? c : &unknown[i - 1]);
  }
  Resize r;
  if (!resolved(params, r)) {
    // The output rank is known; its dims wait for the run-time values.
    ctx.set_output(0, x.dtype, Dims(rank, -1));
    return;
  }
  // Both only as attributes (the importer's keep_aspect_ratio_policy); inputs give one.
  const bool both_attrs = !scales.empty() && !sizes.empty();
  check(r.scales.empty() != r.sizes.empty() || both_attrs, "Resize needs exactly one of scales and sizes");
  if (!r.sizes.empty()) {
    check(r.sizes.size() == rank, "Resize: sizes has " + std::to_string(r.sizes.size()) +
                                      " values but X has rank " + std::to_string(rank));
    for (int64_t s : r.sizes) check(s >= 0, "Resize: sizes must be >= 0");
  }
  if (!r.scales.empty()) {
    check(r.scales.size() == rank, "Resize: scales has " + std::to_string(r.scales.size()) +
                                       " values but X has rank " + std::to_string(rank));
    for (float s : r.scales) check(std::isfinite(s) && s > 0.f, "Resize: scales must be finite and > 0");
  }
  if (coord == ResizeCoord::TfCropAndResize) {
    check(r.roi.size() == 2 * rank,
          "Resize: tf_crop_and_resize needs roi with 2 * rank = " + std::to_string(2 * rank) + " values, got " +
              std::to_string(r.roi.size()));
    for (float v : r.roi) check(std::isfinite(v), "Resize: roi values must be finite");
  }
  Dims out = r.output_shape(x.shape);
  for (size_t d = 0; d < rank; ++d)
    check(x.shape[d] != 0 || out[d] == 0,
          "Resize: axis " + std::to_string(d) + " is empty and cannot be resized to " + std::to_string(out[d]));
  check_output_shape(out, "Resize output");
  ctx.set_output(0, x.dtype, out);
}

std::vector<ResizeAxis> Resize::axis_tables(const Dims& in_shape, const Dims& out_shape) const {
  const size_t rank = in_shape.size();
  std::vector<ResizeAxis> tables(rank);
  for (size_t d = 0; d < rank; ++d) {
    ResizeAxis& ax = tables[d];
    ax.in = in_shape[d];
    ax.out = out_shape[d];
    const double in = static_cast<double>(ax.in);
    // scale and "output width" exactly as the onnx reference computes them (in double).
    const double scale = ax.in == 0 ? 1.0
                         : !scales.empty() ? static_cast<double>(scales[d])
                                           : static_cast<double>(ax.out) / in;
    const bool wide = antialias && mode != ResizeMode::Nearest && scale < 1;
    const int64_t first = wide ? antialias_first_tap(mode, scale) : mode == ResizeMode::Cubic ? -1 : 0;
    const int64_t taps = mode == ResizeMode::Nearest ? 1 : wide ? 2 - 2 * first : mode == ResizeMode::Linear ? 2 : 4;
    ax.taps = taps;
    ax.index.assign(static_cast<size_t>(ax.out * taps), 0);
    ax.weight.assign(static_cast<size_t>(ax.out * taps), 0.0);
    ax.outside.assign(static_cast<size_t>(ax.out), 0);
    if (ax.in == 0) continue;
    std::vector<double> c(static_cast<size_t>(taps));  // one output index's weights, every entry rewritten
    const double width = scale * in;
    const double sym_offset = in / 2 * (1 - static_cast<double>(ax.out) / width);  // HalfPixelSymmetric
    for (int64_t o = 0; o < ax.out; ++o) {
      const double x = static_cast<double>(o);
      double xo = 0;
      switch (coord) {
        case ResizeCoord::AlignCorners:
          xo = width == 1 ? 0.0 : x * (in - 1) / (width - 1);  // exact as numpy's int product
          break;
        case ResizeCoord::Asymmetric: xo = x / scale; break;
        case ResizeCoord::TfCropAndResize: {
          const float start = roi[d], span = roi[rank + d] - roi[d];  // float32, as numpy does
          xo = width == 1 ? static_cast<double>(span) * (in - 1) / 2
                          : x * static_cast<double>(span) * (in - 1) / (width - 1);
          xo += static_cast<double>(start) * (in - 1);
          break;
        }
        case ResizeCoord::PytorchHalfPixel: xo = width == 1 ? -0.5 : (x + 0.5) / scale - 0.5; break;
        case ResizeCoord::HalfPixel: xo = (x + 0.5) / scale - 0.5; break;
        case ResizeCoord::TfHalfPixelForNn: xo = (x + 0.5) / scale; break;
        case ResizeCoord::HalfPixelSymmetric: xo = sym_offset + (x + 0.5) / scale - 0.5; break;
      }
      if (coord == ResizeCoord::TfCropAndResize && (xo < 0 || xo > in - 1)) {
        ax.outside[static_cast<size_t>(o)] = 1;
        continue;
      }
      int64_t* idx = &ax.index[static_cast<size_t>(o * taps)];
      double* w = &ax.weight[static_cast<size_t>(o * taps)];
      auto clamp = [&](int64_t i) { return i < 0 ? int64_t{0} : i >= ax.in ? ax.in - 1 : i; };
      if (!std::isfinite(xo)) xo = 0;  // only from absurd scales; keeps the tables in range
      xo = std::fmax(-1e15, std::fmin(1e15, xo));
      if (mode == ResizeMode::Nearest && nearest == ResizeNearest::Simple) {
        idx[0] = clamp(static_cast<int64_t>(scale < 1 ? std::ceil(xo) : std::floor(xo)));
        w[0] = 1;
        continue;
      }
      // The taps are the `taps` nearest indices of the edge-padded axis, smaller ones winning
      // ties: base-1 .. base+2 (cubic) or base .. base+1, with ratio = xo - base in (0, 1].
      const int64_t base = static_cast<int64_t>(std::ceil(xo)) - 1;
      const double ratio = std::floor(xo) == xo ? 1.0 : xo - static_cast<double>(base);
      const int64_t pad = (taps + 1) / 2;
      int64_t start = base + first;
      start = std::max(-pad, std::min(start, ax.in - 1 + pad - (taps == 1 ? 1 : taps - 1)));
      if (mode == ResizeMode::Nearest) {
        bool up = true;  // take start + 1
        if (ratio != 1.0) {
          switch (nearest) {
            case ResizeNearest::RoundPreferFloor: up = ratio > 0.5; break;
            case ResizeNearest::RoundPreferCeil: up = ratio >= 0.5; break;
            case ResizeNearest::Floor: up = false; break;
            default: up = true; break;
          }
        }
        idx[0] = clamp(start + (up ? 1 : 0));
        w[0] = 1;
        continue;
      }
      if (wide) {
        antialias_coeffs(mode, ratio, scale, cubic_coeff_a, first, c);
      } else if (mode == ResizeMode::Linear) {
        c[0] = 1 - ratio;
        c[1] = ratio;
      } else {
        cubic_coeffs(ratio, cubic_coeff_a, c.data());
      }
      if (exclude_outside) {
        double sum = 0;
        for (int64_t t = 0; t < taps; ++t) {
          if (start + t < 0 || start + t >= ax.in) c[t] = 0;
          sum += c[t];
        }
        if (sum != 0)
          for (int64_t t = 0; t < taps; ++t) c[t] /= sum;
      }
      for (int64_t t = 0; t < taps; ++t) {
        idx[t] = clamp(start + t);
        w[t] = c[t];
      }
    }
  }
  return tables;
}

void Resize::reference(const KernelArgs& args) const {
  std::vector<const TensorView*> params;
  for (size_t i = 1; i < 4; ++i)
    params.push_back(i < args.in.size() && args.in[i].data ? &args.in[i] : nullptr);
  Resize r;
  if (!resolved(params, r)) fail("Resize: a parameter input has no data");
  if (mode == ResizeMode::Nearest) return nearest_copy(r, args);
  if (args.in[0].dtype == DType::Float64) return interpolate<double>(r, args);
  interpolate<float>(r, args);
}

KILN_REGISTER_OP(Resize);

}  // namespace kiln::ops
