// Signal ops (SignalWindow, MelWeightMatrix, DFT, STFT): reference kernels against hand-computed
// values and the values onnx's case generators document, infer() errors and value-dependent
// shapes, and the importers.
#include <gmock/gmock.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <complex>
#include <numbers>

#include "import/importer.h"
#include "ops/onnx_node_model.h"
#include "ops/literal_test_util.h"
#include "ops/tensor/shape.h"
#include "ops/signal/dft_stft_window_mel.h"

namespace kiln::test {
namespace {

using namespace literal;
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

TEST(SignalWindowRef, HandComputedValues) {
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

TEST(SignalWindowRef, OutputDtypes) {
  auto d = ref_n(window(ops::WindowKind::Hann, true, DType::Float64), {i64s(8)}).at(0);
  ASSERT_EQ(d.dtype, DType::Float64);
  EXPECT_NEAR(vals<double>(d)[1], 0.5 - 0.5 * std::cos(std::numbers::pi / 4), 1e-15);
  auto h = ref_n(window(ops::WindowKind::Hann, true, DType::Float16), {i64s(4)}).at(0);
  ASSERT_EQ(h.dtype, DType::Float16);
  EXPECT_EQ(vals<uint16_t>(h), (std::vector<uint16_t>{0, 0x3800, 0x3c00, 0x3800}));  // 0, 0.5, 1, 0.5
}

TEST(SignalWindowInfer, ValueDependentSizeAndErrors) {
  auto w = window(ops::WindowKind::Blackman, true);
  std::vector<HostTensor> in{i64s(10, false)};
  EXPECT_EQ(infer_n(w, in, 1)[0].shape, Dims{-1});
  in = {i64s(10)};
  EXPECT_EQ(infer_n(w, in, 1)[0].shape, Dims{10});
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

TEST(MelWeightMatrixRef, OnnxCaseAndRamps) {
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

TEST(MelWeightMatrixInfer, ShapesAndErrors) {
  ops::MelWeightMatrix m;
  auto in = mel_args(8, 16, 8192, 0, 4096, false);
  EXPECT_EQ(infer_n(m, in, 1)[0].shape, (Dims{-1, -1}));
  in = mel_args(8, 16, 8192, 0, 4096);
  EXPECT_EQ(infer_n(m, in, 1)[0].shape, (Dims{9, 8}));
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

TEST(DftRef, HandComputed) {
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

TEST(DftRef, AxesMatchDirectSums) {
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

TEST(DftRef, Float64AndRoundTrip) {
  HostTensor x = random_tensor(DType::Float64, {3, 7, 2}, 3);
  auto spec = ref_n(dft(1), {x}).at(0);
  auto back = vals<double>(ref_n(dft(1, true), {spec}).at(0));
  auto orig = vals<double>(x);
  ASSERT_EQ(back.size(), orig.size());
  for (size_t i = 0; i < orig.size(); ++i) EXPECT_NEAR(back[i], orig[i], 1e-12);
}

TEST(DftInfer, ShapesAndErrors) {
  std::vector<HostTensor> in{F({1, 10, 10, 1}, std::vector<float>(100)), i64s(16, false)};
  EXPECT_EQ(infer_n(dft(2), in, 1)[0].shape, (Dims{1, 10, -1, 2}));
  in[1] = i64s(16);
  EXPECT_EQ(infer_n(dft(2, false, true), in, 1)[0].shape, (Dims{1, 10, 9, 2}));
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

TEST(StftRef, FramesWithAndWithoutWindow) {
  ops::STFT s;
  HostTensor x = F({1, 8, 1}, {0, 1, 2, 3, 4, 5, 6, 7});
  // Frames [0..3], [2..5], [4..7]; each DFT is [sum, -2+2i, -2].
  auto y = ref_n(s, {x, i64s(2), absent(), i64s(4)}).at(0);
  EXPECT_EQ(y.shape, (Dims{1, 3, 3, 2}));
  EXPECT_THAT(vals<float>(y),
              Pointwise(FloatNear(1e-5f), V{6, 0, -2, 2, -2, 0, 14, 0, -2, 2, -2, 0, 22, 0, -2, 2, -2, 0}));
  // Window [0, 1, 1, 0]: frame 0 becomes [0, 1, 2, 0] -> [3, -2-i, 1].
  y = ref_n(s, {x, i64s(2), F({4}, {0, 1, 1, 0})}).at(0);
  EXPECT_EQ(y.shape, (Dims{1, 3, 3, 2}));
  auto yv = vals<float>(y);
  EXPECT_THAT(std::vector<float>(yv.begin(), yv.begin() + 6),
              Pointwise(FloatNear(1e-5f), V{3, 0, -2, -1, 1, 0}));
  // Two-sided on a complex signal: frame [i, 1] of length 2 -> [1+i, -1+i].
  s.onesided = false;
  y = ref_n(s, {F({1, 2, 2}, {0, 1, 1, 0}), i64s(1), absent(), i64s(2)}).at(0);
  EXPECT_EQ(y.shape, (Dims{1, 1, 2, 2}));
  EXPECT_THAT(vals<float>(y), Pointwise(FloatNear(1e-6f), V{1, 1, -1, 1}));
}

TEST(StftInfer, ShapesAndErrors) {
  ops::STFT s;
  HostTensor x = F({2, 128, 1}, std::vector<float>(256));
  std::vector<HostTensor> in{x, i64s(8, false), absent(), i64s(16, false)};
  EXPECT_EQ(infer_n(s, in, 1)[0].shape, (Dims{2, -1, -1, 2}));
  in = {x, i64s(8, false), F({16}, std::vector<float>(16), false)};
  EXPECT_EQ(infer_n(s, in, 1)[0].shape, (Dims{2, -1, 9, 2}));
  in = {x, i64s(8), absent(), i64s(16)};
  EXPECT_EQ(infer_n(s, in, 1)[0].shape, (Dims{2, 15, 9, 2}));
  EXPECT_THAT(infer_err(s, {x, i64s(8), F({16}, std::vector<float>(16)), i64s(15)}), HasSubstr("differs"));
  EXPECT_THAT(infer_err(s, {x, i64s(0), absent(), i64s(16)}), HasSubstr("frame_step"));
  EXPECT_THAT(infer_err(s, {x, i64s(8), absent(), i64s(200)}), HasSubstr("exceeds the signal length"));
  EXPECT_THAT(infer_err(s, {x, i64s(8), absent()}), HasSubstr("window or a frame_length"));
  EXPECT_THAT(infer_err(s, {F({2, 4, 2}, std::vector<float>(16)), i64s(1), absent(), i64s(2)}),
              HasSubstr("real signal"));
}

// ---- importers ----

TEST(SignalImport, DftStft) {
  OnnxTypedNodeModel d("DFT", {"x"});
  d.input("x", onnx::TensorProto::FLOAT, {1, 10, 10, 1});
  d.attr_i("axis", 2);
  d.attr_i("onesided", 1);
  auto g = d.import();
  EXPECT_EQ(d.out_type(*g).shape, (Dims{1, 10, 6, 2}));

  OnnxTypedNodeModel s("STFT", {"sig", "step", "", "len"});
  s.input("sig", onnx::TensorProto::FLOAT, {1, 128, 1});
  s.init_int("step", 8);
  s.init_int("len", 16);
  EXPECT_EQ(s.out_type(*s.import()).shape, (Dims{1, 15, 9, 2}));
}

TEST(SignalImport, WindowSizeConstantOrRuntime) {
  OnnxTypedNodeModel runtime("HammingWindow", {"size"}, 17, onnx::TensorProto::DOUBLE);
  runtime.input("size", onnx::TensorProto::INT32, {});
  runtime.attr_i("periodic", 0);
  runtime.attr_i("output_datatype", onnx::TensorProto::DOUBLE);
  auto g = runtime.import();
  EXPECT_EQ(runtime.out_type(*g).shape, Dims{-1});
  EXPECT_EQ(runtime.out_type(*g).dtype, DType::Float64);
  ir::Node* n = nullptr;
  for (auto& node : g->nodes())
    if (node->type() == "SignalWindow") n = node.get();
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->as<ops::SignalWindow>()->kind, ops::WindowKind::Hamming);
  EXPECT_FALSE(n->as<ops::SignalWindow>()->periodic);

  OnnxTypedNodeModel constant("BlackmanWindow", {"size"});
  constant.init_int("size", 12);
  EXPECT_EQ(constant.out_type(*constant.import()).shape, Dims{12});

  OnnxTypedNodeModel old("HannWindow", {"size"}, 16);
  old.init_int("size", 12);
  EXPECT_ANY_THROW(old.import());
}

}  // namespace
}  // namespace kiln::test
