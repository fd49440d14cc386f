// Signal ops (SignalWindow, MelWeightMatrix, DFT, STFT), GridSample and the float16 path of Binary
// Max/Min/Mod/FMod: reference kernels against hand-computed values and the values onnx's case
// generators document, infer() errors and value-dependent shapes, and the importers.
#include <gmock/gmock.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <complex>
#include <numbers>

#include "import/importer.h"
#include "ops/math/eltwise.h"
#include "ops/tensor/gridsample.h"
#include "ops/literal_test_util.h"
#include "ops/tensor/shape.h"
#include "ops/signal/dft_stft_window_mel.h"

namespace kiln::test {
namespace {

using namespace nn2;
using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;
using V = std::vector<float>;

std::vector<float> run1(const ops::Op& op, std::vector<HostTensor> in) {
  return vals<float>(ref_n(op, std::move(in)).at(0));
}
HostTensor i64s(int64_t v, bool c = true) { return I64({}, {v}, c); }

// ---- SignalWindow ----

ops::SignalWindow window(ops::WindowKind k, bool periodic, DType t = DType::Float32) {
  ops::SignalWindow w;
  w.kind = k;
  w.periodic = periodic;
  w.output_dtype = t;
  return w;
}

TEST(SigWindowRef, HandComputedValues) {
  EXPECT_THAT(run1(window(ops::WindowKind::Hann, true), {i64s(4)}),
              Pointwise(FloatNear(1e-6f), V{0, 0.5f, 1, 0.5f}));
  EXPECT_THAT(run1(window(ops::WindowKind::Hann, false), {I32({}, {5}, true)}),
              Pointwise(FloatNear(1e-6f), V{0, 0.5f, 1, 0.5f, 0}));
  // Hamming: 25/46 - 21/46 cos(2 pi k / 4).
  EXPECT_THAT(run1(window(ops::WindowKind::Hamming, true), {i64s(4)}),
              Pointwise(FloatNear(1e-6f), V{4.f / 46, 25.f / 46, 1, 25.f / 46}));
  // Blackman symmetric, N = 4: 0.42 - 0.5 cos(pi k / 2) + 0.08 cos(pi k).
  EXPECT_THAT(run1(window(ops::WindowKind::Blackman, false), {i64s(5)}),
              Pointwise(FloatNear(1e-6f), V{0, 0.34f, 1, 0.34f, 0}));
  EXPECT_THAT(run1(window(ops::WindowKind::Hann, false), {i64s(1)}), ElementsAre(1.f));
  EXPECT_TRUE(run1(window(ops::WindowKind::Hann, true), {i64s(0)}).empty());
}

TEST(SigWindowRef, OutputDtypes) {
  auto d = ref_n(window(ops::WindowKind::Hann, true, DType::Float64), {i64s(8)}).at(0);
  ASSERT_EQ(d.dtype, DType::Float64);
  EXPECT_NEAR(vals<double>(d)[1], 0.5 - 0.5 * std::cos(std::numbers::pi / 4), 1e-15);
  auto h = ref_n(window(ops::WindowKind::Hann, true, DType::Float16), {i64s(4)}).at(0);
  ASSERT_EQ(h.dtype, DType::Float16);
  EXPECT_EQ(vals<uint16_t>(h), (std::vector<uint16_t>{0, 0x3800, 0x3c00, 0x3800}));  // 0, 0.5, 1, 0.5
}

TEST(SigWindowInfer, ValueDependentSizeAndErrors) {
  auto w = window(ops::WindowKind::Blackman, true);
  std::vector<HostTensor> in{i64s(10, false)};
  EXPECT_EQ(infer_n(w, in, 1)[0].shape, Shape{-1});
  in = {i64s(10)};
  EXPECT_EQ(infer_n(w, in, 1)[0].shape, Shape{10});
  EXPECT_THAT(infer_err(w, {i64s(-3)}), HasSubstr("must not be negative"));
  EXPECT_THAT(infer_err(w, {F({}, {4}, true)}), HasSubstr("int32 or int64"));
  EXPECT_THAT(infer_err(w, {I64({2}, {4, 4}, true)}), HasSubstr("scalar"));
  EXPECT_THAT(infer_err(window(ops::WindowKind::Hann, true, DType::Bool), {i64s(4)}),
              HasSubstr("output_datatype"));
  EXPECT_NE(infer_err(w, {i64s(int64_t(1) << 50)}), "");  // fails rather than allocating
}

// ---- MelWeightMatrix ----

std::vector<HostTensor> mel_args(int32_t bins, int32_t dft, int32_t rate, float lo, float hi, bool c = true) {
  return {I32({}, {bins}, c), I32({}, {dft}, c), I32({}, {rate}, c), F({}, {lo}, c), F({}, {hi}, c)};
}

TEST(SigMelRef, OnnxCaseAndRamps) {
  ops::MelWeightMatrix m;
  // onnx's case: 8 bins over 16-point DFTs at 8192 Hz; every filter collapses to 1-bin spikes.
  auto y = run1(m, mel_args(8, 16, 8192, 0, 4096));
  ASSERT_EQ(y.size(), 9u * 8u);
  std::vector<float> want(72, 0.f);
  for (auto [r, c] :
       std::vector<std::pair<int, int>>{{0, 0}, {0, 1}, {1, 2}, {1, 3}, {2, 4}, {3, 5}, {4, 6}, {5, 7}})
    want[static_cast<size_t>(r * 8 + c)] = 1;
  EXPECT_EQ(y, want);
  // Edges at FFT bins 0, 1, 2, 5, 9 (mel 100..8000 Hz in 5 steps at 33 / 16000): ramps of 1/3, 1/4.
  y = run1(m, mel_args(3, 32, 16000, 100, 8000));
  ASSERT_EQ(y.size(), 17u * 3u);
  std::vector<float> rows(y.begin(), y.begin() + 30);
  EXPECT_THAT(rows, Pointwise(FloatNear(1e-6f),
                              V{0, 0, 0, 1, 0, 0,     0, 1, 0,    0, 2.f / 3, 1.f / 3, 0, 1.f / 3, 2.f / 3,
                                0, 0, 1, 0, 0, 0.75f, 0, 0, 0.5f, 0, 0,       0.25f,   0, 0,       0}));
  for (size_t i = 30; i < y.size(); ++i) EXPECT_EQ(y[i], 0.f) << i;
}

TEST(SigMelInfer, ShapesAndErrors) {
  ops::MelWeightMatrix m;
  auto in = mel_args(8, 16, 8192, 0, 4096, false);
  EXPECT_EQ(infer_n(m, in, 1)[0].shape, (Shape{-1, -1}));
  in = mel_args(8, 16, 8192, 0, 4096);
  EXPECT_EQ(infer_n(m, in, 1)[0].shape, (Shape{9, 8}));
  EXPECT_THAT(infer_err(m, mel_args(0, 16, 8192, 0, 4096)), HasSubstr("num_mel_bins"));
  EXPECT_THAT(infer_err(m, mel_args(8, 16, 8192, 0, 5000)), HasSubstr("Nyquist"));
  EXPECT_THAT(infer_err(m, mel_args(8, 16, 8192, 300, 200)), HasSubstr("below"));
  EXPECT_THAT(infer_err(m, mel_args(8, 16, 0, 0, 1)), HasSubstr("sample_rate"));
}

// ---- DFT ----

ops::DFT dft(int64_t axis, bool inverse = false, bool onesided = false) {
  ops::DFT d;
  d.axis = axis;
  d.inverse = inverse;
  d.onesided = onesided;
  return d;
}

TEST(SigDftRef, HandComputed) {
  // [1, 2, 3, 4] -> [10, -2+2i, -2, -2-2i].
  HostTensor x = F({1, 4, 1}, {1, 2, 3, 4});
  EXPECT_THAT(run1(dft(1), {x}), Pointwise(FloatNear(1e-5f), V{10, 0, -2, 2, -2, 0, -2, -2}));
  EXPECT_THAT(run1(dft(1, false, true), {x}), Pointwise(FloatNear(1e-5f), V{10, 0, -2, 2, -2, 0}));
  EXPECT_THAT(run1(dft(-2), {x}), Pointwise(FloatNear(1e-5f), V{10, 0, -2, 2, -2, 0, -2, -2}));
  // Inverse of the spectrum gives the signal back (scaled by 1/n).
  EXPECT_THAT(run1(dft(1, true), {F({1, 4, 2}, {10, 0, -2, 2, -2, 0, -2, -2})}),
              Pointwise(FloatNear(1e-5f), V{1, 0, 2, 0, 3, 0, 4, 0}));
  // dft_length truncates ([1, 2] -> [3, -1]) or zero-pads ([1, 2, 3, 4, 0, 0]: X[3] = -2).
  EXPECT_THAT(run1(dft(1), {x, i64s(2)}), Pointwise(FloatNear(1e-5f), V{3, 0, -1, 0}));
  auto padded = run1(dft(1), {x, i64s(6)});
  ASSERT_EQ(padded.size(), 12u);
  EXPECT_NEAR(padded[6], -2.f, 1e-5f);
  EXPECT_NEAR(padded[7], 0.f, 1e-5f);
  EXPECT_NEAR(padded[0], 10.f, 1e-5f);
}

TEST(SigDftRef, AxesMatchDirectSums) {
  // [2, 3, 5, 1]: transform along axis 1 (length 3) and axis 2 (length 5) of a random signal.
  HostTensor x = random_tensor(DType::Float32, {2, 3, 5, 2}, 7);
  const float* xp = x.as<float>();
  for (int64_t ax : {1, 2}) {
    auto y = run1(dft(ax), {x});
    const int64_t n = ax == 1 ? 3 : 5;
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 5; ++j) {
          std::complex<double> s = 0;
          for (int64_t t = 0; t < n; ++t) {
            const int64_t ii = ax == 1 ? t : i, jj = ax == 1 ? j : t, k = ax == 1 ? i : j;
            const float* p = xp + ((b * 3 + ii) * 5 + jj) * 2;
            s += std::complex<double>(p[0], p[1]) *
                 std::polar(1.0, -2 * std::numbers::pi * double(t * k) / double(n));
          }
          const size_t o = static_cast<size_t>(((b * 3 + i) * 5 + j) * 2);
          EXPECT_NEAR(y[o], s.real(), 1e-5) << ax;
          EXPECT_NEAR(y[o + 1], s.imag(), 1e-5) << ax;
        }
  }
}

TEST(SigDftRef, Float64AndRoundTrip) {
  HostTensor x = random_tensor(DType::Float64, {3, 7, 2}, 3);
  auto spec = ref_n(dft(1), {x}).at(0);
  auto back = vals<double>(ref_n(dft(1, true), {spec}).at(0));
  auto orig = vals<double>(x);
  ASSERT_EQ(back.size(), orig.size());
  for (size_t i = 0; i < orig.size(); ++i) EXPECT_NEAR(back[i], orig[i], 1e-12);
}

TEST(SigDftInfer, ShapesAndErrors) {
  std::vector<HostTensor> in{F({1, 10, 10, 1}, std::vector<float>(100)), i64s(16, false)};
  EXPECT_EQ(infer_n(dft(2), in, 1)[0].shape, (Shape{1, 10, -1, 2}));
  in[1] = i64s(16);
  EXPECT_EQ(infer_n(dft(2, false, true), in, 1)[0].shape, (Shape{1, 10, 9, 2}));
  HostTensor x = F({1, 6, 1}, std::vector<float>(6));
  EXPECT_THAT(infer_err(dft(2), {x}), HasSubstr("axis 2 is out of range"));
  EXPECT_THAT(infer_err(dft(1), {F({1, 6, 3}, std::vector<float>(18))}),
              HasSubstr("1 (real) or 2 (complex)"));
  EXPECT_THAT(infer_err(dft(1, false, true), {F({1, 3, 2}, std::vector<float>(6))}), HasSubstr("real input"));
  EXPECT_THAT(infer_err(dft(1, true, true), {x}), HasSubstr("onesided inverse"));
  EXPECT_THAT(infer_err(dft(1), {x, i64s(0)}), HasSubstr("at least 1"));
  EXPECT_THAT(infer_err(dft(1), {I64({1, 2, 1}, {1, 2})}), HasSubstr("float"));
}

// ---- STFT ----

TEST(SigStftRef, FramesWithAndWithoutWindow) {
  ops::STFT s;
  HostTensor x = F({1, 8, 1}, {0, 1, 2, 3, 4, 5, 6, 7});
  // Frames [0..3], [2..5], [4..7]; each DFT is [sum, -2+2i, -2].
  auto y = ref_n(s, {x, i64s(2), absent(), i64s(4)}).at(0);
  EXPECT_EQ(y.shape, (Shape{1, 3, 3, 2}));
  EXPECT_THAT(vals<float>(y),
              Pointwise(FloatNear(1e-5f), V{6, 0, -2, 2, -2, 0, 14, 0, -2, 2, -2, 0, 22, 0, -2, 2, -2, 0}));
  // Window [0, 1, 1, 0]: frame 0 becomes [0, 1, 2, 0] -> [3, -2-i, 1].
  y = ref_n(s, {x, i64s(2), F({4}, {0, 1, 1, 0})}).at(0);
  EXPECT_EQ(y.shape, (Shape{1, 3, 3, 2}));
  auto yv = vals<float>(y);
  EXPECT_THAT(std::vector<float>(yv.begin(), yv.begin() + 6),
              Pointwise(FloatNear(1e-5f), V{3, 0, -2, -1, 1, 0}));
  // Two-sided on a complex signal: frame [i, 1] of length 2 -> [1+i, -1+i].
  s.onesided = false;
  y = ref_n(s, {F({1, 2, 2}, {0, 1, 1, 0}), i64s(1), absent(), i64s(2)}).at(0);
  EXPECT_EQ(y.shape, (Shape{1, 1, 2, 2}));
  EXPECT_THAT(vals<float>(y), Pointwise(FloatNear(1e-6f), V{1, 1, -1, 1}));
}

TEST(SigStftInfer, ShapesAndErrors) {
  ops::STFT s;
  HostTensor x = F({2, 128, 1}, std::vector<float>(256));
  std::vector<HostTensor> in{x, i64s(8, false), absent(), i64s(16, false)};
  EXPECT_EQ(infer_n(s, in, 1)[0].shape, (Shape{2, -1, -1, 2}));
  in = {x, i64s(8, false), F({16}, std::vector<float>(16), false)};
  EXPECT_EQ(infer_n(s, in, 1)[0].shape, (Shape{2, -1, 9, 2}));
  in = {x, i64s(8), absent(), i64s(16)};
  EXPECT_EQ(infer_n(s, in, 1)[0].shape, (Shape{2, 15, 9, 2}));
  EXPECT_THAT(infer_err(s, {x, i64s(8), F({16}, std::vector<float>(16)), i64s(15)}), HasSubstr("differs"));
  EXPECT_THAT(infer_err(s, {x, i64s(0), absent(), i64s(16)}), HasSubstr("frame_step"));
  EXPECT_THAT(infer_err(s, {x, i64s(8), absent(), i64s(200)}), HasSubstr("exceeds the signal length"));
  EXPECT_THAT(infer_err(s, {x, i64s(8), absent()}), HasSubstr("window or a frame_length"));
  EXPECT_THAT(infer_err(s, {F({2, 4, 2}, std::vector<float>(16)), i64s(1), absent(), i64s(2)}),
              HasSubstr("real signal"));
}

// ---- GridSample (values from onnx's gridsample.py) ----

ops::GridSample gs(ops::GridSampleMode m, ops::GridSamplePadding p, bool align = false) {
  ops::GridSample g;
  g.mode = m;
  g.padding = p;
  g.align_corners = align;
  return g;
}

HostTensor x32() { return F({1, 1, 3, 2}, {0, 1, 2, 3, 4, 5}); }
HostTensor grid_a() {
  return F({1, 2, 4, 2}, {-1, -1, -0.5f, -0.5f, -0.2f, -0.2f, 0, 0, 0, 0, -0.2f, -0.2f, 0.5f, 0.5f, 1, 1});
}
HostTensor grid_p() {
  return F({1, 2, 4, 2}, {-10, -10, -5, -5, -0.2f, -0.2f, 10, 10, 10, 10, -0.2f, -0.2f, 5, 5, 10, 10});
}

TEST(SigGridSampleRef, OnnxDocumentedModes) {
  using M = ops::GridSampleMode;
  using P = ops::GridSamplePadding;
  EXPECT_THAT(run1(gs(M::Bilinear, P::Zeros), {x32(), grid_a()}),
              Pointwise(FloatNear(1e-4f), V{0, 0.5f, 1.7f, 2.5f, 2.5f, 1.7f, 4.5f, 1.25f}));
  EXPECT_THAT(run1(gs(M::Bilinear, P::Zeros, true), {x32(), grid_a()}),
              Pointwise(FloatNear(1e-4f), V{0, 1.25f, 2, 2.5f, 2.5f, 2, 3.75f, 5}));
  EXPECT_THAT(run1(gs(M::Nearest, P::Zeros), {x32(), grid_a()}),
              Pointwise(FloatNear(0), V{0, 0, 2, 2, 2, 2, 5, 0}));
  EXPECT_THAT(run1(gs(M::Bicubic, P::Zeros), {x32(), grid_a()}),
              Pointwise(FloatNear(1e-4f),
                        V{-0.1406f, 0.3828f, 1.7556f, 2.9688f, 2.9688f, 1.7556f, 5.1445f, 1.3906f}));
}

TEST(SigGridSampleRef, OnnxDocumentedPadding) {
  using M = ops::GridSampleMode;
  using P = ops::GridSamplePadding;
  EXPECT_THAT(run1(gs(M::Bilinear, P::Zeros), {x32(), grid_p()}),
              Pointwise(FloatNear(1e-4f), V{0, 0, 1.7f, 0, 0, 1.7f, 0, 0}));
  EXPECT_THAT(run1(gs(M::Bilinear, P::Border), {x32(), grid_p()}),
              Pointwise(FloatNear(1e-4f), V{0, 0, 1.7f, 5, 5, 1.7f, 5, 5}));
  EXPECT_THAT(run1(gs(M::Bilinear, P::Reflection), {x32(), grid_p()}),
              Pointwise(FloatNear(1e-4f), V{2.5f, 0, 1.7f, 2.5f, 2.5f, 1.7f, 5, 2.5f}));
}

TEST(SigGridSampleRef, IdentityGridAndHostileValues) {
  // With align_corners, the grid of pixel centres reproduces the image in every mode.
  HostTensor x = random_tensor(DType::Float32, {2, 3, 4, 5}, 11);
  HostTensor g(DType::Float32, {2, 4, 5, 2});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 5; ++j) {
        g.as<float>()[((b * 4 + i) * 5 + j) * 2] = -1.f + 2.f * float(j) / 4.f;
        g.as<float>()[((b * 4 + i) * 5 + j) * 2 + 1] = -1.f + 2.f * float(i) / 3.f;
      }
  for (auto m : {ops::GridSampleMode::Bilinear, ops::GridSampleMode::Nearest, ops::GridSampleMode::Bicubic})
    for (auto p :
         {ops::GridSamplePadding::Zeros, ops::GridSamplePadding::Border, ops::GridSamplePadding::Reflection})
      EXPECT_THAT(run1(gs(m, p, true), {x, g}), Pointwise(FloatNear(1e-5f), vals<float>(x)));
  // Infinite, NaN and huge coordinates must not crash; off-image zeros padding reads 0.
  HostTensor bad = F({1, 1, 3, 2}, {INFINITY, 0, -INFINITY, 1e30f, NAN, 0});
  for (auto m : {ops::GridSampleMode::Bilinear, ops::GridSampleMode::Nearest, ops::GridSampleMode::Bicubic})
    for (auto p : {ops::GridSamplePadding::Zeros, ops::GridSamplePadding::Border,
                   ops::GridSamplePadding::Reflection}) {
      auto y = run1(gs(m, p), {x32(), bad});
      ASSERT_EQ(y.size(), 3u);
      if (p == ops::GridSamplePadding::Zeros) {
        EXPECT_EQ(y[0], 0.f);
      }
    }
}

TEST(SigGridSampleInfer, ShapesAndErrors) {
  using M = ops::GridSampleMode;
  using P = ops::GridSamplePadding;
  auto g = gs(M::Bilinear, P::Zeros);
  std::vector<HostTensor> in{F({2, 3, 4, 5}, std::vector<float>(120)),
                             F({2, 6, 7, 2}, std::vector<float>(168))};
  EXPECT_EQ(infer_n(g, in, 1)[0].shape, (Shape{2, 3, 6, 7}));
  EXPECT_THAT(infer_err(g, {in[0], F({1, 6, 7, 2}, std::vector<float>(84))}), HasSubstr("batch size"));
  EXPECT_THAT(infer_err(g, {in[0], F({2, 6, 7, 3}, std::vector<float>(252))}), HasSubstr("grid must be"));
  EXPECT_THAT(infer_err(g, {F({3, 4, 5}, std::vector<float>(60)), in[1]}), HasSubstr("4-D"));
  EXPECT_THAT(infer_err(g, {I64({1, 1, 1, 1}, {1}), F({1, 1, 1, 2}, {0, 0})}), HasSubstr("float"));
  auto bad = g;
  bad.mode = static_cast<M>(7);
  EXPECT_THAT(infer_err(bad, in), HasSubstr("unknown mode"));
}

// ---- Binary on float16 ----

HostTensor H(Shape s, const std::vector<uint16_t>& bits) { return lit(DType::Float16, std::move(s), bits); }

TEST(SigBinaryHalf, MaxMinModFModRoundToNearestEven) {
  auto bin = [](ops::BinaryKind k) {
    ops::Binary b;
    b.kind = k;
    return b;
  };
  auto half = [](std::vector<float> v) {
    std::vector<uint16_t> r;
    for (float f : v) r.push_back(ops::float_to_half(f));
    return r;
  };
  // a = [5, -4, 2050, -7.5, 3.25, -0.3], b = [3, 3, -0.3, 2, -1.5, 0.7] as float16 bits; the
  // expected bits are numpy's float16 np.mod / np.fmod (2050 mod -0.3 needs the rounding).
  HostTensor a = H({6}, {17664, 50176, 26625, 51072, 17024, 46285});
  HostTensor b = H({6}, {16896, 16896, 46285, 16384, 48640, 14746});
  EXPECT_EQ(vals<uint16_t>(ref_n(bin(ops::BinaryKind::Mod), {a, b}).at(0)),
            (std::vector<uint16_t>{16384, 16384, 45946, 14336, 48384, 13927}));
  EXPECT_EQ(vals<uint16_t>(ref_n(bin(ops::BinaryKind::FMod), {a, b}).at(0)),
            (std::vector<uint16_t>{16384, 48128, 11328, 48640, 13312, 46285}));
  // Broadcasting a scalar.
  HostTensor m = H({3}, half({1, -2, 3.5f})), s = H({}, half({0.5f}));
  auto mx = ref_n(bin(ops::BinaryKind::Max), {m, s}).at(0);
  EXPECT_EQ(mx.dtype, DType::Float16);
  EXPECT_EQ(vals<uint16_t>(mx), half({1, 0.5f, 3.5f}));
  EXPECT_EQ(vals<uint16_t>(ref_n(bin(ops::BinaryKind::Min), {m, s}).at(0)), half({0.5f, -2, 0.5f}));
  // Other kinds still refuse float16, and mixed types are still rejected.
  EXPECT_THAT(infer_err(bin(ops::BinaryKind::Add), {m, s}), HasSubstr("does not support"));
  EXPECT_THAT(infer_err(bin(ops::BinaryKind::Max), {m, F({}, {1})}), HasSubstr("same type"));
}

// ---- importers ----

struct SigModel {
  onnx::ModelProto m;
  onnx::GraphProto* g;
  onnx::NodeProto* n;
  SigModel(const std::string& op, std::vector<std::string> in, int opset = 17,
           int out_elem = onnx::TensorProto::FLOAT) {
    m.set_ir_version(8);
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    g = m.mutable_graph();
    g->set_name("g");
    n = g->add_node();
    n->set_op_type(op);
    n->set_name("n");
    for (auto& s : in) n->add_input(s);
    n->add_output("y");
    auto* y = g->add_output();
    y->set_name("y");
    y->mutable_type()->mutable_tensor_type()->set_elem_type(out_elem);
    y->mutable_type()->mutable_tensor_type()->mutable_shape();  // the checker wants one, even empty
  }
  void input(const std::string& name, int elem, Shape dims) {
    auto* vi = g->add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* s = tt->mutable_shape();
    for (int64_t d : dims) s->add_dim()->set_dim_value(d);
  }
  void init_int(const std::string& name, int64_t v) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_int64_data(v);
  }
  void attr_i(const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  void attr_s(const std::string& name, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }
  std::unique_ptr<ir::Graph> import() const {
    return onnx_import::import_onnx_bytes(m.SerializeAsString(), "sig.onnx", {});
  }
  const ops::TensorType& out_type(ir::Graph& gr) const { return gr.outputs.at(0).value->type; }
};

TEST(SigImport, WindowSizeConstantOrRuntime) {
  SigModel runtime("HammingWindow", {"size"}, 17, onnx::TensorProto::DOUBLE);
  runtime.input("size", onnx::TensorProto::INT32, {});
  runtime.attr_i("periodic", 0);
  runtime.attr_i("output_datatype", onnx::TensorProto::DOUBLE);
  auto g = runtime.import();
  EXPECT_EQ(runtime.out_type(*g).shape, Shape{-1});
  EXPECT_EQ(runtime.out_type(*g).dtype, DType::Float64);
  ir::Node* n = nullptr;
  for (auto& node : g->nodes())
    if (node->type() == "SignalWindow") n = node.get();
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->as<ops::SignalWindow>()->kind, ops::WindowKind::Hamming);
  EXPECT_FALSE(n->as<ops::SignalWindow>()->periodic);

  SigModel constant("BlackmanWindow", {"size"});
  constant.init_int("size", 12);
  EXPECT_EQ(constant.out_type(*constant.import()).shape, Shape{12});

  SigModel old("HannWindow", {"size"}, 16);
  old.init_int("size", 12);
  EXPECT_ANY_THROW(old.import());
}

TEST(SigImport, DftStftGridSample) {
  SigModel d("DFT", {"x"});
  d.input("x", onnx::TensorProto::FLOAT, {1, 10, 10, 1});
  d.attr_i("axis", 2);
  d.attr_i("onesided", 1);
  auto g = d.import();
  EXPECT_EQ(d.out_type(*g).shape, (Shape{1, 10, 6, 2}));

  SigModel s("STFT", {"sig", "step", "", "len"});
  s.input("sig", onnx::TensorProto::FLOAT, {1, 128, 1});
  s.init_int("step", 8);
  s.init_int("len", 16);
  EXPECT_EQ(s.out_type(*s.import()).shape, (Shape{1, 15, 9, 2}));

  SigModel gsm("GridSample", {"x", "grid"}, 16);
  gsm.input("x", onnx::TensorProto::FLOAT, {1, 2, 3, 4});
  gsm.input("grid", onnx::TensorProto::FLOAT, {1, 5, 6, 2});
  gsm.attr_s("mode", "bicubic");
  gsm.attr_s("padding_mode", "reflection");
  gsm.attr_i("align_corners", 1);
  g = gsm.import();
  EXPECT_EQ(gsm.out_type(*g).shape, (Shape{1, 2, 5, 6}));
  auto* op = g->nodes().at(0)->as<ops::GridSample>();
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(op->mode, ops::GridSampleMode::Bicubic);
  EXPECT_EQ(op->padding, ops::GridSamplePadding::Reflection);
  EXPECT_TRUE(op->align_corners);

  SigModel bad("GridSample", {"x", "grid"}, 16);
  bad.input("x", onnx::TensorProto::FLOAT, {1, 2, 3, 4});
  bad.input("grid", onnx::TensorProto::FLOAT, {1, 5, 6, 2});
  bad.attr_s("mode", "area");
  try {
    bad.import();
    ADD_FAILURE() << "mode 'area' was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown mode 'area'"));
  }
}

}  // namespace
}  // namespace kiln::test
