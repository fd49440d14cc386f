// Signal-processing ops of opset 17: the window generators (Hann, Hamming, Blackman), the
// mel filter bank (MelWeightMatrix), DFT and STFT. Their sizes usually arrive as scalar inputs,
// so output lengths are known at compile time only when those inputs are constants; otherwise
// infer() leaves them at -1 and the runtime infers them per run from the actual values.
// Complex tensors are real tensors with a trailing dim of 2 (real, imaginary), as in ONNX.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

// ---- helpers shared with other float ops that compute in double (GridSample) ----

// float32/float64/float16/bfloat16.
bool is_float_dtype(DType t);
// Reads element i of a numeric tensor (including float16/bfloat16) as double.
double load_double(const TensorView& t, int64_t i);
// Writes v to element i, rounding to nearest even for narrow floats and saturating for integers.
void store_double(const TensorView& t, int64_t i, double v);

// ---- ops ----

enum class WindowKind : int64_t { Hann = 1, Hamming = 2, Blackman = 3 };

// Input: size (int32/int64 scalar). Output: [size] of output_dtype holding the window
// w[k] = a0 - a1 cos(2 pi k / N) + a2 cos(4 pi k / N), N = size (periodic) or size - 1
// (symmetric; a symmetric window of length 1 is [1]).
struct SignalWindow : OpBase<SignalWindow> {
  static constexpr const char* kType = "SignalWindow";
  WindowKind kind = WindowKind::Hann;
  bool periodic = true;
  DType output_dtype = DType::Float32;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs: num_mel_bins, dft_length, sample_rate (integer scalars), lower_edge_hertz,
// upper_edge_hertz (float scalars). Output: [dft_length / 2 + 1, num_mel_bins] of output_dtype,
// the triangular filters on the mel scale that ONNX's definition (and ONNX Runtime) builds: the
// mel range is split into num_mel_bins + 2 steps and each filter edge is floored to an FFT bin.
struct MelWeightMatrix : OpBase<MelWeightMatrix> {
  static constexpr const char* kType = "MelWeightMatrix";
  DType output_dtype = DType::Float32;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs: x [batch, ..., n, 1 or 2] (real or complex), optional dft_length (integer scalar: the
// signal is truncated or zero-padded to it). Output: x's shape with dim `axis` replaced by the
// transform length (dft_length / 2 + 1 when onesided) and a trailing 2. The inverse transform
// scales by 1 / dft_length (numpy's ifft). Onesided output needs a real forward transform.
struct DFT : OpBase<DFT> {
  static constexpr const char* kType = "DFT";
  int64_t axis = 1;
  bool inverse = false;
  bool onesided = false;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs: signal [batch, length, 1 or 2], frame_step (integer scalar), optional window [W],
// optional frame_length (integer scalar; equals W when both are given). Output:
// [batch, frames, bins, 2] with frames = (length - frame_length) / frame_step + 1 and bins =
// frame_length / 2 + 1 when onesided (real signals only), else frame_length: the DFT of each
// windowed frame.
struct STFT : OpBase<STFT> {
  static constexpr const char* kType = "STFT";
  bool onesided = true;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
