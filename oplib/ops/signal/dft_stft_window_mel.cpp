#include "ops/signal/dft_stft_window_mel.h"

#include <cmath>
#include <cstring>
#include <numbers>
#include <string>

#include "ops/tensor/shape.h"

namespace kiln::ops {

bool is_float_dtype(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::Float16 || t == DType::BFloat16;
}

double load_double(const TensorView& t, int64_t i) {
  if (t.dtype == DType::Float16) return half_to_float(static_cast<const uint16_t*>(t.data)[i]);
  if (t.dtype == DType::BFloat16) return bf16_to_float(static_cast<const uint16_t*>(t.data)[i]);
  return element_as_double(t, i);
}

void store_double(const TensorView& t, int64_t i, double v) {
  const int64_t bits = pack_element(t.dtype, v);
  const size_t es = dtype_size(t.dtype);
  std::memcpy(static_cast<uint8_t*>(t.data) + static_cast<size_t>(i) * es, &bits, es);
}

namespace {

bool is_int_index(DType t) { return t == DType::Int32 || t == DType::Int64; }

// Input i must be a scalar (rank 0, or a single element of rank 1, which exporters also emit)
// of an allowed dtype. Returns its value when it is known.
std::optional<double> scalar_input(const InferContext& ctx, size_t i, bool integer, const std::string& what) {
  const TensorType& t = ctx.input(i);
  check(
      integer ? is_int_index(t.dtype) : is_float_dtype(t.dtype),
      what + " must be " + (integer ? "int32 or int64" : "a float scalar") + ", got " + dtype_name(t.dtype));
  check(t.shape.empty() || (t.shape.size() == 1 && t.shape[0] <= 1),
        what + " must be a scalar, got shape " + shape_str(t.shape));
  const TensorView* v = ctx.constant(i);
  if (!v) return std::nullopt;
  check(v->elements() == 1, what + " must hold exactly one value");
  return integer ? static_cast<double>(element_as_int(*v, 0)) : load_double(*v, 0);
}

std::optional<int64_t> int_input(const InferContext& ctx, size_t i, const std::string& what) {
  auto v = scalar_input(ctx, i, true, what);
  if (!v) return std::nullopt;
  return static_cast<int64_t>(*v);
}

// The value of an integer scalar input at run time.
int64_t int_arg(const KernelArgs& a, size_t i) { return element_as_int(a.in[i], 0); }

void check_output_dtype(DType t, const std::string& op) {
  check(dtype_valid(t) && t != DType::Bool,
        op + ": output_datatype must be a numeric type, got code " + std::to_string(static_cast<int>(t)));
}

// Twiddle factors cos/sin(2 pi m / n), m in [0, n): indexing them by (j * k) mod n keeps the
// phase exact for every product instead of accumulating rounding in the angle.
struct Twiddles {
  std::vector<double> c, s;
  explicit Twiddles(int64_t n) : c(static_cast<size_t>(n)), s(static_cast<size_t>(n)) {
    for (int64_t m = 0; m < n; ++m) {
      const double a = 2.0 * std::numbers::pi * static_cast<double>(m) / static_cast<double>(n);
      c[static_cast<size_t>(m)] = std::cos(a);
      s[static_cast<size_t>(m)] = std::sin(a);
    }
  }
};

// Naive DFT of (re, im) (length n, already truncated/zero-padded) into bins [0, out_len):
// X[k] = sum_j x[j] exp(-+2 pi i j k / n), scaled by 1/n for the inverse.
void dft_1d(const std::vector<double>& re, const std::vector<double>& im, int64_t n, int64_t out_len,
            bool inverse, const Twiddles& tw, std::vector<double>& out_re, std::vector<double>& out_im) {
  const double sign = inverse ? 1.0 : -1.0, scale = inverse ? 1.0 / static_cast<double>(n) : 1.0;
  for (int64_t k = 0; k < out_len; ++k) {
    double sr = 0, si = 0;
    const int64_t dk = k % n;
    int64_t m = 0;  // (j * k) mod n
    for (int64_t j = 0; j < n; ++j) {
      const double c = tw.c[static_cast<size_t>(m)], s = sign * tw.s[static_cast<size_t>(m)];
      const double a = re[static_cast<size_t>(j)], b = im[static_cast<size_t>(j)];
      sr += a * c - b * s;
      si += b * c + a * s;
      m += dk;
      if (m >= n) m -= n;
    }
    out_re[static_cast<size_t>(k)] = sr * scale;
    out_im[static_cast<size_t>(k)] = si * scale;
  }
}

// The trailing dim of a real (1) or complex (2) signal.
int64_t complex_dim(const TensorType& t, const std::string& what) {
  const int64_t c = t.shape.empty() ? -1 : t.shape.back();
  check(c == 1 || c == 2,
        what + " must end in a dim of 1 (real) or 2 (complex), got shape " + shape_str(t.shape));
  return c;
}

}  // namespace

// ---- SignalWindow ----

void SignalWindow::attrs(AttrVisitor& v) {
  visit_enum(v, "kind", kind);
  visit_bool(v, "periodic", periodic);
  visit_enum(v, "output_dtype", output_dtype);
}

void SignalWindow::infer(InferContext& ctx) const {
  check(kind >= WindowKind::Hann && kind <= WindowKind::Blackman,
        "SignalWindow: unknown window kind " + std::to_string(static_cast<int64_t>(kind)));
  check(ctx.num_inputs() == 1 && ctx.num_outputs() == 1,
        "SignalWindow takes one input (size) and one output");
  check_output_dtype(output_dtype, "SignalWindow");
  auto size = int_input(ctx, 0, "SignalWindow: size");
  if (size) check(*size >= 0, "SignalWindow: size must not be negative, got " + std::to_string(*size));
  Dims out{size.value_or(-1)};
  check_output_shape(out, "SignalWindow");
  ctx.set_output(0, output_dtype, out);
}

void SignalWindow::reference(const KernelArgs& a) const {
  const int64_t size = a.out[0].shape[0];
  const double n = static_cast<double>(periodic ? size : size - 1);
  double a0 = 0.5, a1 = 0.5, a2 = 0.0;
  if (kind == WindowKind::Hamming) a0 = 25.0 / 46.0, a1 = 21.0 / 46.0;
  if (kind == WindowKind::Blackman) a0 = 0.42, a1 = 0.5, a2 = 0.08;
  for (int64_t k = 0; k < size; ++k) {
    // A symmetric window of length 1 has no span to divide by; numpy and scipy give [1].
    const double t = n > 0 ? 2.0 * std::numbers::pi * static_cast<double>(k) / n : 0.0;
    const double w = n > 0 ? a0 - a1 * std::cos(t) + a2 * std::cos(2.0 * t) : 1.0;
    store_double(a.out[0], k, w);
  }
}

KILN_REGISTER_OP(SignalWindow);

// ---- MelWeightMatrix ----

void MelWeightMatrix::attrs(AttrVisitor& v) { visit_enum(v, "output_dtype", output_dtype); }

void MelWeightMatrix::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 5 && ctx.num_outputs() == 1,
        "MelWeightMatrix takes 5 inputs (num_mel_bins, dft_length, sample_rate, lower_edge_hertz, "
        "upper_edge_hertz) and one output");
  check_output_dtype(output_dtype, "MelWeightMatrix");
  auto bins = int_input(ctx, 0, "MelWeightMatrix: num_mel_bins");
  auto dft = int_input(ctx, 1, "MelWeightMatrix: dft_length");
  auto rate = int_input(ctx, 2, "MelWeightMatrix: sample_rate");
  auto lo = scalar_input(ctx, 3, false, "MelWeightMatrix: lower_edge_hertz");
  auto hi = scalar_input(ctx, 4, false, "MelWeightMatrix: upper_edge_hertz");
  if (bins) check(*bins >= 1, "MelWeightMatrix: num_mel_bins must be at least 1");
  if (dft) check(*dft >= 1, "MelWeightMatrix: dft_length must be at least 1");
  if (rate) check(*rate >= 1, "MelWeightMatrix: sample_rate must be at least 1");
  if (lo) check(*lo >= 0, "MelWeightMatrix: lower_edge_hertz must not be negative");
  if (lo && hi) check(*lo < *hi, "MelWeightMatrix: lower_edge_hertz must be below upper_edge_hertz");
  // Above the Nyquist frequency the filters would reach past the last spectrogram bin.
  if (hi && rate)
    check(*hi <= static_cast<double>(*rate) / 2,
          "MelWeightMatrix: upper_edge_hertz must not exceed sample_rate / 2 (the Nyquist frequency)");
  Dims out{dft ? *dft / 2 + 1 : -1, bins.value_or(-1)};
  check_output_shape(out, "MelWeightMatrix");
  ctx.set_output(0, output_dtype, out);
}

void MelWeightMatrix::reference(const KernelArgs& a) const {
  const int64_t mels = int_arg(a, 0), dft = int_arg(a, 1), rate = int_arg(a, 2);
  const double lo = load_double(a.in[3], 0), hi = load_double(a.in[4], 0);
  const TensorView& y = a.out[0];
  const int64_t rows = y.shape[0];
  for (int64_t i = 0; i < y.elements(); ++i) store_double(y, i, 0.0);
  auto hz_to_mel = [](double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); };
  const double lo_mel = hz_to_mel(lo), step = (hz_to_mel(hi) - lo_mel) / static_cast<double>(mels + 2);
  std::vector<int64_t> edge(static_cast<size_t>(mels + 2));
  for (int64_t i = 0; i < mels + 2; ++i) {
    const double hz = 700.0 * (std::pow(10.0, (static_cast<double>(i) * step + lo_mel) / 2595.0) - 1.0);
    edge[static_cast<size_t>(i)] =
        static_cast<int64_t>(std::floor(static_cast<double>(dft + 1) * hz / static_cast<double>(rate)));
  }
  auto set = [&](int64_t row, int64_t col, double v) {
    if (row >= 0 && row < rows) store_double(y, row * mels + col, v);
  };
  for (int64_t i = 0; i < mels; ++i) {
    const int64_t left = edge[static_cast<size_t>(i)], center = edge[static_cast<size_t>(i) + 1],
                  right = edge[static_cast<size_t>(i) + 2];
    // A filter whose rising edge collapses to one bin is a spike of 1 there.
    if (center == left)
      set(center, i, 1.0);
    else
      for (int64_t j = left; j <= center; ++j)
        set(j, i, static_cast<double>(j - left) / static_cast<double>(center - left));
    for (int64_t j = center; j < right; ++j)
      set(j, i, static_cast<double>(right - j) / static_cast<double>(right - center));
  }
}

KILN_REGISTER_OP(MelWeightMatrix);

// ---- DFT ----

void DFT::attrs(AttrVisitor& v) {
  v.visit("axis", axis);
  visit_bool(v, "inverse", inverse);
  visit_bool(v, "onesided", onesided);
}

void DFT::infer(InferContext& ctx) const {
  check(ctx.num_inputs() >= 1 && ctx.num_inputs() <= 2 && ctx.num_outputs() == 1,
        "DFT takes input and optional dft_length, and one output");
  const TensorType& x = ctx.input(0);
  check(is_float_dtype(x.dtype),
        std::string("DFT: input must be a float tensor, got ") + dtype_name(x.dtype));
  const int64_t r = static_cast<int64_t>(x.shape.size());
  check(r >= 2, "DFT: input must have rank 2 or more ([..., n, 1 or 2]), got shape " + shape_str(x.shape));
  const int64_t channels = complex_dim(x, "DFT: input");
  const int64_t ax = axis < 0 ? axis + r : axis;
  check(ax >= 0 && ax <= r - 2, "DFT: axis " + std::to_string(axis) + " is out of range for input " +
                                    shape_str(x.shape) + " (the last dim holds real/imaginary parts)");
  check(!(onesided && inverse), "DFT: onesided inverse transforms are not supported; set onesided=0");
  check(!(onesided && channels == 2), "DFT: onesided output needs a real input (last dim 1); set onesided=0");
  std::optional<int64_t> n;
  if (ctx.has_input(1)) {
    n = int_input(ctx, 1, "DFT: dft_length");
    if (n) check(*n >= 1, "DFT: dft_length must be at least 1, got " + std::to_string(*n));
  } else if (x.shape[static_cast<size_t>(ax)] >= 0) {
    n = x.shape[static_cast<size_t>(ax)];
    check(*n >= 1, "DFT: the transformed axis is empty");
  }
  Dims out = x.shape;
  out[static_cast<size_t>(ax)] = n ? (onesided ? *n / 2 + 1 : *n) : -1;
  out.back() = 2;
  check_output_shape(out, "DFT");
  ctx.set_output(0, x.dtype, out);
}

void DFT::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &y = a.out[0];
  const int64_t r = static_cast<int64_t>(x.shape.size()), ax = axis < 0 ? axis + r : axis;
  const int64_t n_in = x.shape[static_cast<size_t>(ax)], channels = x.shape.back();
  const int64_t n = a.in.size() > 1 && a.in[1].data ? int_arg(a, 1) : n_in;
  const int64_t out_len = y.shape[static_cast<size_t>(ax)];
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < ax; ++d) outer *= x.shape[static_cast<size_t>(d)];
  for (int64_t d = ax + 1; d < r - 1; ++d) inner *= x.shape[static_cast<size_t>(d)];
  const Twiddles tw(n);
  std::vector<double> re(static_cast<size_t>(n)), im(static_cast<size_t>(n));
  std::vector<double> ore(static_cast<size_t>(out_len)), oim(static_cast<size_t>(out_len));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t q = 0; q < inner; ++q) {
      for (int64_t j = 0; j < n; ++j) {  // truncate or zero-pad to n
        const int64_t base = ((o * n_in + j) * inner + q) * channels;
        re[static_cast<size_t>(j)] = j < n_in ? load_double(x, base) : 0.0;
        im[static_cast<size_t>(j)] = j < n_in && channels == 2 ? load_double(x, base + 1) : 0.0;
      }
      dft_1d(re, im, n, out_len, inverse, tw, ore, oim);
      for (int64_t k = 0; k < out_len; ++k) {
        const int64_t base = ((o * out_len + k) * inner + q) * 2;
        store_double(y, base, ore[static_cast<size_t>(k)]);
        store_double(y, base + 1, oim[static_cast<size_t>(k)]);
      }
    }
  }
}

KILN_REGISTER_OP(DFT);

// ---- STFT ----

void STFT::attrs(AttrVisitor& v) { visit_bool(v, "onesided", onesided); }

void STFT::infer(InferContext& ctx) const {
  check(ctx.num_inputs() >= 2 && ctx.num_inputs() <= 4 && ctx.num_outputs() == 1,
        "STFT takes signal, frame_step, optional window and optional frame_length, and one output");
  const TensorType& x = ctx.input(0);
  check(is_float_dtype(x.dtype),
        std::string("STFT: signal must be a float tensor, got ") + dtype_name(x.dtype));
  check(x.shape.size() == 3, "STFT: signal must be [batch, length, 1 or 2], got shape " + shape_str(x.shape));
  const int64_t channels = complex_dim(x, "STFT: signal");
  check(!(onesided && channels == 2),
        "STFT: onesided output needs a real signal (last dim 1); set onesided=0");
  auto step = int_input(ctx, 1, "STFT: frame_step");
  if (step) check(*step >= 1, "STFT: frame_step must be at least 1, got " + std::to_string(*step));
  std::optional<int64_t> frame;
  if (ctx.has_input(2)) {
    const TensorType& w = ctx.input(2);
    check(is_float_dtype(w.dtype),
          std::string("STFT: window must be a float tensor, got ") + dtype_name(w.dtype));
    check(w.shape.size() == 1, "STFT: window must be 1-D, got shape " + shape_str(w.shape));
    if (w.shape[0] >= 0) frame = w.shape[0];
  }
  if (ctx.has_input(3)) {
    auto fl = int_input(ctx, 3, "STFT: frame_length");
    if (fl) {
      check(!frame || *frame == *fl, "STFT: frame_length " + std::to_string(*fl) +
                                         " differs from the window's length " + std::to_string(*frame));
      frame = fl;
    }
  } else {
    check(ctx.has_input(2), "STFT needs a window or a frame_length to know the frame size");
  }
  if (frame) check(*frame >= 1, "STFT: frame_length must be at least 1");
  const int64_t len = x.shape[1];
  if (frame && len >= 0)
    check(*frame <= len, "STFT: frame length " + std::to_string(*frame) + " exceeds the signal length " +
                             std::to_string(len));
  const int64_t frames = frame && step && len >= 0 ? (len - *frame) / *step + 1 : -1;
  const int64_t bins = frame ? (onesided ? *frame / 2 + 1 : *frame) : -1;
  Dims out{x.shape[0], frames, bins, 2};
  check_output_shape(out, "STFT");
  ctx.set_output(0, x.dtype, out);
}

void STFT::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &y = a.out[0];
  const bool has_window = a.in.size() > 2 && a.in[2].data;
  const int64_t frame = a.in.size() > 3 && a.in[3].data ? int_arg(a, 3) : a.in[2].shape[0];
  const int64_t batch = x.shape[0], len = x.shape[1], channels = x.shape[2], step = int_arg(a, 1);
  const int64_t frames = y.shape[1], bins = y.shape[2];
  const Twiddles tw(frame);
  std::vector<double> re(static_cast<size_t>(frame)), im(static_cast<size_t>(frame));
  std::vector<double> ore(static_cast<size_t>(bins)), oim(static_cast<size_t>(bins));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t f = 0; f < frames; ++f) {
      for (int64_t j = 0; j < frame; ++j) {
        const int64_t base = (b * len + f * step + j) * channels;
        const double w = has_window ? load_double(a.in[2], j) : 1.0;
        re[static_cast<size_t>(j)] = w * load_double(x, base);
        im[static_cast<size_t>(j)] = channels == 2 ? w * load_double(x, base + 1) : 0.0;
      }
      dft_1d(re, im, frame, bins, false, tw, ore, oim);
      for (int64_t k = 0; k < bins; ++k) {
        const int64_t base = ((b * frames + f) * bins + k) * 2;
        store_double(y, base, ore[static_cast<size_t>(k)]);
        store_double(y, base + 1, oim[static_cast<size_t>(k)]);
      }
    }
  }
}

KILN_REGISTER_OP(STFT);

}  // namespace kiln::ops
