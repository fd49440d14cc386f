// Every int8 kernel (oneDNN-backed) against the reference kernel on the same quantized tensors.
// The reference widens quantized inputs to float32 (scale * (q - zero point)), runs the op's
// float32 reference, and quantizes the result (round half to even, saturate): ONNX's
// DequantizeLinear -> op -> QuantizeLinear, which is what an int8 layer means.
//
// How the tolerance is derived. Both sides see identical integers, so the products are exact in
// the kernel's s32 accumulator; the reference sums the same products in fp32, with relative
// error about K * 2^-24 (K <= 600 here: < 4e-5). The one real difference is where the result is
// rounded: oneDNN scales the accumulator by (x scale * w scale / y scale) in fp32 and rounds,
// the reference divides the fp32 sum by y scale and rounds. Values within 4e-5 of a rounding
// boundary can round either way, so a quantized output may differ by one level (1 unit), never
// more; we also require that at most 2% of elements differ at all. A float output is compared
// with rtol 1e-4 plus an atol of 1e-4 x the output's magnitude. A wrong scale, zero point, bias
// rescale, layout or post-op errs by many units on most elements.
#include <algorithm>
#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "kernel_test_util.h"
#include "kernels/quant_util.h"
#include "kernels/simd/simd.h"
#include "ops/math/activation.h"
#include "ops/nn/conv.h"
#include "ops/math/gemm.h"
#include "ops/math/softmax.h"
#include "ops/nn/pool.h"
#include "ops/tensor/reorder.h"
#include "ops/tensor/shape.h"

namespace kiln::test {
namespace {

struct QTensor {
  HostTensor t;
  ops::QuantParams q;
  std::string layout;
};

// Random integers of a quantized type with these parameters.
QTensor random_q(DType dt, Dims s, uint32_t seed, std::vector<float> scale, int axis = -1, bool constant = false) {
  const bool u = dt == DType::QUInt8;
  HostTensor r = random_tensor(u ? DType::UInt8 : DType::Int8, std::move(s), seed, u ? 0 : -127, u ? 255 : 127, constant);
  r.dtype = dt;
  QTensor q{std::move(r), {}, ""};
  q.q.scale = std::move(scale);
  q.q.axis = axis;
  return q;
}

QTensor plain(HostTensor t) { return {std::move(t), {}, ""}; }

std::vector<float> channel_scales(size_t n, uint32_t seed) {
  std::vector<float> s;
  for (size_t i = 0; i < n; ++i) s.push_back(0.002f + 0.001f * static_cast<float>((i * 7 + seed) % 13));
  return s;
}

// The kernel spec of op on these tensors, the output's shape inferred.
KernelSpec spec_of(const ops::Op& op, const std::vector<QTensor>& in, const QTensor& out_desc) {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  std::vector<ops::TensorType> types;
  for (auto& t : in) types.push_back({t.t.dtype, t.t.shape});
  auto inferred = ops::infer_types(op, types, std::vector<const TensorView*>(in.size(), nullptr), 1);
  EXPECT_TRUE(ops::stored_type_ok(inferred[0].dtype, out_desc.t.dtype));
  KernelSpec spec{op, {}, {}, eng};
  for (auto& t : in) spec.in.push_back({t.t.dtype, t.t.shape, t.layout, t.t.constant ? t.t.bytes.data() : nullptr, t.q});
  spec.out.push_back({out_desc.t.dtype, inferred[0].shape, out_desc.layout, nullptr, out_desc.q});
  return spec;
}

bool run(const ops::Op& op, const std::string& impl, std::vector<QTensor>& in, const QTensor& out_desc,
         HostTensor& out, const Tactic* tactic = nullptr, size_t* scratch_bytes = nullptr) {
  KernelSpec spec = spec_of(op, in, out_desc);
  spec.tactic = tactic;
  auto k = KernelRegistry::instance().create(std::string(op.type()), impl, spec);
  if (!k) return false;
  if (tactic) EXPECT_EQ(k->tactic().algorithm, tactic->algorithm);
  if (scratch_bytes) *scratch_bytes = k->scratchpad_bytes();
  out = HostTensor(out_desc.t.dtype, spec.out[0].shape);
  out.bytes.resize(dnn::physical_bytes(out.dtype, out.shape, out_desc.layout));
  std::fill(out.bytes.begin(), out.bytes.end(), uint8_t{0x5a});
  std::vector<uint8_t> scratch(k->scratchpad_bytes() + 64);
  KernelBinding b;
  for (auto& t : in) b.in.push_back(t.t.bytes.data());
  b.out.push_back(out.bytes.data());
  b.scratchpad = scratch.data();
  dnnl::stream s(spec.engine);
  k->bind(b)(s);
  s.wait();
  return true;
}

void expect_close(const HostTensor& got, const HostTensor& want) {
  ASSERT_EQ(got.bytes.size(), want.bytes.size());
  const int64_t n = want.elements();
  if (got.dtype == DType::Float32) {
    double mag = 0;
    for (int64_t i = 0; i < n; ++i) mag = std::max(mag, std::fabs(double(reinterpret_cast<const float*>(want.bytes.data())[i])));
    HostTensor g = got, w = want;
    EXPECT_TRUE(all_close(g, w, 1e-4, 1e-4 * std::max(mag, 1e-3)));
    return;
  }
  const bool u = got.dtype == DType::QUInt8;
  int64_t differ = 0, worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int a = u ? got.bytes[i] : int(int8_t(got.bytes[i])), b = u ? want.bytes[i] : int(int8_t(want.bytes[i]));
    differ += a != b;
    worst = std::max<int64_t>(worst, std::abs(a - b));
  }
  EXPECT_LE(worst, 1) << "a quantized output differs by more than one level";
  EXPECT_LE(differ, std::max<int64_t>(2, n / 50)) << differ << " of " << n << " elements differ by one level";
  // The test means something only if the output is not saturated or constant.
  int64_t distinct = 0;
  std::vector<bool> seen(256, false);
  for (int64_t i = 0; i < n; ++i) distinct += !seen[want.bytes[i]], seen[want.bytes[i]] = true;
  EXPECT_GE(distinct, 16) << "degenerate test data: the reference output has few distinct levels";
}

// NCHW <-> NHWC copies of a 4-D tensor's bytes (the reference kernel runs row-major only).
HostTensor permute_nhwc(const HostTensor& t, bool to_nhwc) {
  HostTensor r = t;
  const int64_t N = t.shape[0], C = t.shape[1], H = t.shape[2], W = t.shape[3], e = dtype_size(t.dtype);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < H * W; ++i) {
        const int64_t nchw = (n * C + c) * H * W + i, nhwc = (n * H * W + i) * C + c;
        std::memcpy(&r.bytes[(to_nhwc ? nhwc : nchw) * e], &t.bytes[(to_nhwc ? nchw : nhwc) * e], e);
      }
  return r;
}

// The reference on row-major tensors against the oneDNN (or `impl`) kernel on the tensors as laid out.
void expect_int8_matches(const ops::Op& op, std::vector<QTensor> in, QTensor out_desc, const Tactic* tactic = nullptr,
                         const std::string& impl = "onednn") {
  std::vector<QTensor> plain_in = in, laid_in = in;
  for (auto& t : plain_in) t.layout = "";
  for (auto& t : laid_in)
    if (t.layout == "nhwc") t.t = permute_nhwc(t.t, true);
  QTensor plain_out = out_desc;
  plain_out.layout = "";
  HostTensor want, got;
  ASSERT_TRUE(run(op, "reference", plain_in, plain_out, want));
  ASSERT_TRUE(run(op, impl, laid_in, out_desc, got, tactic)) << "the " << impl << " kernel declined int8 " << op.type();
  if (out_desc.layout == "nhwc") got = permute_nhwc(got, false);
  expect_close(got, want);
}

QTensor out_q(DType dt, float scale) {
  QTensor q{HostTensor(dt, {}), {}, ""};
  q.q.scale = {scale};
  return q;
}

QTensor out_f32() { return {HostTensor(DType::Float32, {}), {}, ""}; }

ops::Conv conv3x3() {
  ops::Conv c;
  c.pads = {1, 1, 1, 1};
  return c;
}

TEST(Int8Kernels, ConvPerChannelWithBiasAndReluToUint8) {
  ops::Conv c = conv3x3();
  c.post.ops.push_back({ops::PostOp::Kind::Act, ops::Act::Relu});
  std::vector<QTensor> in{random_q(DType::QUInt8, {1, 32, 10, 10}, 1, {0.02f}),
                          random_q(DType::QInt8, {48, 32, 3, 3}, 2, channel_scales(48, 2), 0, true),
                          plain(random_tensor(DType::Float32, {48}, 3, -2, 2, true))};
  in[0].layout = "nhwc";  // what oneDNN's int8 convolutions read (row-major NCHW has only its reference)
  QTensor y = out_q(DType::QUInt8, 0.5f), f = out_f32();
  y.layout = f.layout = "nhwc";
  expect_int8_matches(c, in, y);
  expect_int8_matches(c, in, f);
}

TEST(Int8Kernels, ConvNhwcSignedSourceGroupsStrides) {
  ops::Conv c = conv3x3();
  c.group = 4;
  c.strides = {2, 2};
  std::vector<QTensor> in{random_q(DType::QInt8, {1, 32, 12, 12}, 4, {0.05f}),
                          random_q(DType::QInt8, {64, 8, 3, 3}, 5, channel_scales(64, 5), 0, true),
                          plain(random_tensor(DType::Float32, {64}, 6, -1, 1, true))};
  in[0].layout = "nhwc";
  QTensor y = out_q(DType::QInt8, 0.2f);
  y.layout = "nhwc";
  expect_int8_matches(c, in, y);
}

TEST(Int8Kernels, ConvResidualSumOfAnotherScaleThenRelu) {
  ops::Conv c;
  c.post.ops.push_back({ops::PostOp::Kind::Sum});
  c.post.ops.push_back({ops::PostOp::Kind::Act, ops::Act::Relu});
  std::vector<QTensor> in{random_q(DType::QUInt8, {1, 64, 7, 7}, 7, {0.03f}),
                          random_q(DType::QInt8, {64, 64, 1, 1}, 8, channel_scales(64, 8), 0, true),
                          plain(random_tensor(DType::Float32, {64}, 9, -1, 1, true)),
                          random_q(DType::QInt8, {1, 64, 7, 7}, 10, {0.04f})};
  for (auto& t : in) t.layout = t.t.shape.size() == 4 ? "nhwc" : "";
  QTensor y = out_q(DType::QUInt8, 0.1f);
  y.layout = "nhwc";
  expect_int8_matches(c, in, y);
}

TEST(Int8Kernels, ConvClipNeedsRealValuesBeforeQuantizing) {
  // Clip(0, 6) is not scale invariant: it must run on real values, then the output is quantized.
  ops::Conv c = conv3x3();
  c.post.ops.push_back({ops::PostOp::Kind::Act, ops::Act::Clip, 0.f, 6.f});
  std::vector<QTensor> in{random_q(DType::QUInt8, {1, 16, 8, 8}, 11, {0.03f}),
                          random_q(DType::QInt8, {16, 16, 3, 3}, 12, channel_scales(16, 12), 0, true)};
  in[0].layout = "nhwc";
  QTensor y = out_q(DType::QUInt8, 6.f / 255);
  y.layout = "nhwc";
  expect_int8_matches(c, in, y);
}

// GELU's table form (the first choice where the CPU has AVX-512 VBMI), against its definition:
// the layer without GELU (reference kernel) gives the real pre-activations; they are quantized to
// uint8 over qk::gelu_table_range (round half to even), and each level's GELU is quantized to the
// output. Then against exact GELU: the two roundings may add up to two levels,
// and average under half a level. Skipped where the table form does not exist.
template <class Op>
void expect_gelu_table_matches(const Op& op, const std::vector<QTensor>& in, const QTensor& out_desc) {
  if (!simd::kernels().lut_u8) return;
  Op bare = op;
  ASSERT_EQ(bare.post.ops.back().act, ops::Act::Gelu);
  bare.post.ops.pop_back();
  std::vector<QTensor> io = in;
  HostTensor pre, got, exact;
  ASSERT_TRUE(run(bare, "reference", io, out_f32(), pre));
  ASSERT_TRUE(run(op, "onednn", io, out_desc, got));
  ASSERT_TRUE(run(op, "reference", io, out_desc, exact));
  const bool sgn = out_desc.t.dtype == DType::QInt8;
  const double so = out_desc.q.scale[0];
  const auto [lo, hi] = qk::gelu_table_range(so, (sgn ? 127 : 255) * so);
  const double sp = (hi - lo) / 255, zp = std::nearbyint(-lo / float(sp));
  HostTensor want = got;
  const auto* x = reinterpret_cast<const float*>(pre.bytes.data());
  for (int64_t i = 0; i < want.elements(); ++i) {
    const double q = std::clamp(std::nearbyint(x[i] / float(sp)) + zp, 0.0, 255.0), v = (q - zp) * float(sp);
    const double g = std::clamp(std::nearbyint(0.5 * v * (1 + std::erf(v / std::sqrt(2.0))) / so), sgn ? -128.0 : 0.0,
                                sgn ? 127.0 : 255.0);
    want.bytes[i] = static_cast<uint8_t>(static_cast<int8_t>(static_cast<int>(g)));
  }
  expect_close(got, want);
  double sum = 0;
  int worst = 0;
  for (int64_t i = 0; i < got.elements(); ++i) {
    const int a = sgn ? int(int8_t(got.bytes[i])) : got.bytes[i], b = sgn ? int(int8_t(exact.bytes[i])) : exact.bytes[i];
    sum += std::abs(a - b);
    worst = std::max(worst, std::abs(a - b));
  }
  EXPECT_LE(worst, 2);
  EXPECT_LT(sum / double(got.elements()), 0.5);
}

const Tactic kFloatGelu{"", "gelu-split", ""};  // GELU's float pass: exact to one level

TEST(Int8Kernels, MatMulPerColumnWithBiasGelu) {
  ops::MatMul m;
  m.post.ops.push_back({ops::PostOp::Kind::Act, ops::Act::Gelu});
  std::vector<QTensor> in{random_q(DType::QInt8, {2, 16, 96}, 13, {0.03f}),
                          random_q(DType::QInt8, {96, 40}, 14, channel_scales(40, 14), 1, true),
                          plain(random_tensor(DType::Float32, {40}, 15, -1, 1, true))};
  expect_int8_matches(m, in, out_f32());
  expect_int8_matches(m, in, out_q(DType::QInt8, 0.02f), simd::kernels().gelu_q8 ? &kFloatGelu : nullptr);
  expect_gelu_table_matches(m, in, out_q(DType::QInt8, 0.02f));
}

// With AVX-512 a quantized GELU output is computed after the matmul, by a byte table over
// quantized pre-activations (the default, with VBMI) or by the float pass ("gelu-split"), and by
// oneDNN's post-op ("gelu-postop"): all against the reference, for u8 and s8 outputs,
// pre-activations reaching past +-4 (where the pass's table ends) and 40 columns (a masked tail
// in every row).
TEST(Int8Kernels, MatMulGeluInHouseAndAsPostOp) {
  ops::MatMul m;
  m.post.ops.push_back({ops::PostOp::Kind::Act, ops::Act::Gelu});
  std::vector<QTensor> in{random_q(DType::QUInt8, {3, 24, 96}, 23, {0.05f}),
                          random_q(DType::QInt8, {96, 40}, 24, channel_scales(40, 24), 1, true),
                          plain(random_tensor(DType::Float32, {40}, 25, -3, 3, true))};
  const Tactic postop{"", "gelu-postop", ""};
  for (const Tactic* t : {static_cast<const Tactic*>(nullptr), &kFloatGelu, &postop}) {
    if (!simd::kernels().gelu_q8 ? t != nullptr : t == nullptr && simd::kernels().lut_u8) continue;
    SCOPED_TRACE(t ? t->algorithm : "default");
    expect_int8_matches(m, in, out_q(DType::QUInt8, 0.03f), t);
    expect_int8_matches(m, in, out_q(DType::QInt8, 0.05f), t);
  }
  expect_gelu_table_matches(m, in, out_q(DType::QUInt8, 0.03f));
  expect_gelu_table_matches(m, in, out_q(DType::QInt8, 0.05f));
  // An output range of [-1, 1]: the pre-activations must reach past 1 (gelu(1) = 0.84) before
  // the output saturates, and the ones below -2.3 all give 0.
  expect_gelu_table_matches(m, in, out_q(DType::QInt8, 0.008f));
  // The pre-activations span beyond the table: some |acc * scale + bias| > 4.
  HostTensor y;
  ASSERT_TRUE(run(m, "onednn", in, out_f32(), y));
  const auto* f = reinterpret_cast<const float*>(y.bytes.data());
  int64_t big = 0;
  for (int64_t i = 0; i < y.elements(); ++i) big += f[i] > 4.f;
  EXPECT_GT(big, 20) << "test data: few GELU outputs beyond the table's end";
  if (simd::kernels().gelu_q8) {  // the split forms' scratch holds the matmul's output
    size_t table = 0, split = 0, fused = 0;
    HostTensor q;
    ASSERT_TRUE(run(m, "onednn", in, out_q(DType::QUInt8, 0.03f), q, nullptr, &table));
    ASSERT_TRUE(run(m, "onednn", in, out_q(DType::QUInt8, 0.03f), q, &kFloatGelu, &split));
    ASSERT_TRUE(run(m, "onednn", in, out_q(DType::QUInt8, 0.03f), q, &postop, &fused));
    EXPECT_GE(split, fused + 3 * 24 * 40 * sizeof(float));
    if (simd::kernels().lut_u8) EXPECT_GE(table, fused + 3 * 24 * 40);
    // The tuner's candidates: the first choice's implementations first (the untimed pick), then
    // the float pass's (where the table is the first choice), then the post-op form's.
    KernelSpec spec = spec_of(m, in, out_q(DType::QUInt8, 0.03f));
    std::vector<Tactic> cands;
    spec.candidates = &cands;
    ASSERT_TRUE(KernelRegistry::instance().create("MatMul", "onednn", spec));
    ASSERT_GE(cands.size(), 2u);
    EXPECT_EQ(cands.front().algorithm, simd::kernels().lut_u8 ? "" : "gelu-split");
    EXPECT_EQ(cands.back().algorithm, "gelu-postop");
    if (simd::kernels().lut_u8)
      EXPECT_TRUE(std::any_of(cands.begin(), cands.end(), [](const Tactic& t) { return t.algorithm == "gelu-split"; }));
  }
}

// The in-house GELU against erf-GELU: quantized with a step of 1/1000, so that its 2e-5 error
// flips at most one level, on few values; exact beyond the table and for NaN and infinities.
TEST(Int8Kernels, GeluPassMatchesErf) {
  const simd::GeluQ8Fn f = simd::kernels().gelu_q8;
  if (!f) GTEST_SKIP() << "no AVX-512: GELU stays a oneDNN post-op";
  std::vector<float> x;
  for (int i = 0; i <= 20000; ++i) x.push_back(-8.f + 8.12f * static_cast<float>(i) / 20000.f);  // gelu < 0.127
  const size_t n = x.size();
  x.insert(x.end(), {NAN, INFINITY, -INFINITY, 4.f, -4.f, 0.f});
  std::vector<int8_t> q(x.size(), 99);
  f(x.data(), static_cast<int64_t>(x.size()), simd::gelu_table(), 1000.f, 0, 1, q.data());
  int64_t differ = 0, worst = 0;
  for (size_t i = 0; i < n; ++i) {
    const double g = 0.5 * x[i] * (1 + std::erf(x[i] / std::sqrt(2.0)));
    const int want = static_cast<int>(std::clamp(std::nearbyint(g * 1000), -128.0, 127.0));
    differ += q[i] != want;
    worst = std::max<int64_t>(worst, std::abs(q[i] - want));
  }
  EXPECT_LE(worst, 1);
  EXPECT_LE(differ, static_cast<int64_t>(n / 50)) << differ << " of " << n;
  EXPECT_EQ(q[n], 0);        // NaN: the zero point
  EXPECT_EQ(q[n + 1], 127);  // +inf saturates
  EXPECT_EQ(q[n + 2], 0);    // gelu(-inf) = 0
  EXPECT_EQ(q[n + 3], 127);  // 4000 saturates
  EXPECT_EQ(q[n + 4], 0);    // gelu(-4) = -1.3e-4
  EXPECT_EQ(q[n + 5], 0);
  // A length that is not a multiple of 16 writes exactly its bytes.
  std::vector<int8_t> tail(24, 99);
  f(x.data() + 18000, 17, simd::gelu_table(), 1000.f, 0, 1, tail.data());
  EXPECT_EQ(tail[17], 99);
  EXPECT_EQ(tail[16], q[18016]);
}

TEST(Int8Kernels, GemmTransposedWeights) {
  ops::Gemm g;
  g.transB = true;
  std::vector<QTensor> in{random_q(DType::QUInt8, {4, 128}, 16, {0.01f}),
                          random_q(DType::QInt8, {24, 128}, 17, channel_scales(24, 17), 0, true),
                          plain(random_tensor(DType::Float32, {24}, 18, -1, 1, true))};
  expect_int8_matches(g, in, out_f32());
  expect_int8_matches(g, in, out_q(DType::QInt8, 0.05f));
  // Ending in GELU with a quantized output: the in-house pass where AVX-512 allows (alpha scales
  // the product before the bias, beta the bias).
  g.alpha = 1.5f;
  g.beta = 0.5f;
  g.post.ops.push_back({ops::PostOp::Kind::Act, ops::Act::Gelu});
  expect_int8_matches(g, in, out_q(DType::QUInt8, 0.1f), simd::kernels().gelu_q8 ? &kFloatGelu : nullptr);
  expect_gelu_table_matches(g, in, out_q(DType::QUInt8, 0.1f));
}

// Attention in int8: Q.K^T and P.V multiply two run-time tensors (one scale each), K^T read in
// place through perm_b, the 1/sqrt(d) factor folded into alpha.
TEST(Int8Kernels, MatMulOfTwoRunTimeTensorsThroughPermB) {
  ops::MatMul qk;
  qk.alpha = 0.125f;
  qk.perm_b = {0, 1, 3, 2};
  std::vector<QTensor> in{random_q(DType::QInt8, {1, 4, 16, 64}, 41, {0.02f}),
                          random_q(DType::QInt8, {1, 4, 24, 64}, 42, {0.03f})};
  expect_int8_matches(qk, in, out_f32());
  expect_int8_matches(qk, in, out_q(DType::QInt8, 0.01f));
}

TEST(Int8Kernels, MatMulOfUint8ProbabilitiesAndRunTimeValues) {
  ops::MatMul pv;
  std::vector<QTensor> in{random_q(DType::QUInt8, {2, 3, 16, 16}, 43, {1.f / 255}),
                          random_q(DType::QInt8, {2, 3, 16, 32}, 44, {0.05f})};
  expect_int8_matches(pv, in, out_f32());
  expect_int8_matches(pv, in, out_q(DType::QInt8, 0.5f));
}

TEST(Int8Kernels, MatMulDeclinesARunTimeBWithScalesPerColumn) {
  ops::MatMul m;
  std::vector<QTensor> in{random_q(DType::QUInt8, {4, 8}, 45, {0.01f}),
                          random_q(DType::QInt8, {8, 4}, 46, channel_scales(4, 46), 1)};
  HostTensor y;
  EXPECT_FALSE(run(m, "onednn", in, out_f32(), y));
}

// Softmax writes attention probabilities as u8 through an output scale (LogSoftmax, whose
// results are negative, does not).
TEST(Int8Kernels, SoftmaxWritesUint8Probabilities) {
  ops::Softmax sm;
  std::vector<QTensor> in{plain(random_tensor(DType::Float32, {2, 4, 8, 32}, 47, -3, 3))};
  expect_int8_matches(sm, in, out_q(DType::QUInt8, 0.5f / 255));
  ops::LogSoftmax lsm;
  HostTensor y;
  EXPECT_FALSE(run(lsm, "onednn", in, out_q(DType::QInt8, 0.1f), y));
}

// The in-house softmax writes the same probabilities, with and without the attention mask it
// takes over from the scores MatMul: u8 and s8, a 17-wide row (a masked tail), keys masked with
// finfo.min, and a row holding a NaN (all of it the zero point, as the reference quantizes NaN).
// unit.inhouse_rows_avx2 runs this in the baseline form too.
TEST(InhouseSoftmax, Int8ProbabilitiesMatchTheReference) {
  ops::Softmax sm;
  std::vector<QTensor> in{plain(random_tensor(DType::Float32, {2, 4, 8, 32}, 47, -3, 3))};
  expect_int8_matches(sm, in, out_q(DType::QUInt8, 0.5f / 255), nullptr, "inhouse");
  HostTensor mask = random_tensor(DType::Float32, {2, 1, 1, 32}, 48, -2, 2);
  for (int64_t i = 0; i < mask.elements(); i += 3) mask.as<float>()[i] = -3.4028235e38f;
  in.push_back(plain(mask));
  expect_int8_matches(sm, in, out_q(DType::QUInt8, 0.7f / 255), nullptr, "inhouse");
  std::vector<QTensor> tail{plain(random_tensor(DType::Float32, {3, 5, 17}, 49, -4, 4)),
                            plain(random_tensor(DType::Float32, {5, 17}, 50, -1, 1))};
  tail[0].t.as<float>()[20] = std::nanf("");
  expect_int8_matches(sm, tail, out_q(DType::QInt8, 0.6f / 127), nullptr, "inhouse");
  HostTensor y;
  ASSERT_TRUE(run(sm, "inhouse", tail, out_q(DType::QInt8, 0.6f / 127), y));
  for (int64_t c = 17; c < 34; ++c) EXPECT_EQ(int8_t(y.bytes[c]), 0) << "the NaN row, column " << c - 17;
}

// ---- dynamic int8 (--int8Dynamic): float A quantized per run ----

// A as the kernel sees it: DynamicQuantizeLinear's uint8 levels over [min(0, min a), max(0, max a)],
// dequantized back to float.
HostTensor dynamic_levels(const HostTensor& a) {
  HostTensor r = a;
  auto* x = reinterpret_cast<float*>(r.bytes.data());
  float lo = 0.f, hi = 0.f;
  for (int64_t i = 0; i < r.elements(); ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  const float scale = (hi - lo) / 255.f;
  const float zp = std::clamp(std::nearbyint(-lo / scale), 0.f, 255.f);
  for (int64_t i = 0; i < r.elements(); ++i)
    x[i] = (std::clamp(std::nearbyint(x[i] / scale) + zp, 0.f, 255.f) - zp) * scale;
  return r;
}

// A as the per-row kernel sees it (--int8DynamicScales=row): each row of the [M, K] view in
// symmetric int8 levels over its own max |a|, dequantized back to float.
HostTensor row_levels(const HostTensor& a) {
  HostTensor r = a;
  auto* x = reinterpret_cast<float*>(r.bytes.data());
  const int64_t K = a.shape.back();
  for (int64_t row = 0; row < r.elements() / K; ++row) {
    float* v = x + row * K;
    float amax = 0.f;
    for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(v[k]));
    const float scale = amax > 0.f ? amax / 127.f : 1.f;
    for (int64_t k = 0; k < K; ++k) v[k] = std::clamp(std::nearbyint(v[k] / scale), -128.f, 127.f) * scale;
  }
  return r;
}

// B's real values (levels times the column scales along q.axis).
HostTensor dequantized(const QTensor& b) {
  HostTensor r(DType::Float32, b.t.shape);
  r.constant = true;
  const int64_t cols = b.t.shape[1];
  for (int64_t i = 0; i < b.t.elements(); ++i) {
    const int64_t c = b.q.axis == 1 ? i % cols : b.q.axis == 0 ? i / cols : 0;
    reinterpret_cast<float*>(r.bytes.data())[i] =
        static_cast<float>(static_cast<int8_t>(b.t.bytes[static_cast<size_t>(i)])) * b.q.at(static_cast<size_t>(c));
  }
  return r;
}

// The dynamic kernel on float A and QInt8 B against the float reference on A's levels and B's
// real values: the same products, so they agree to float rounding (rtol 1e-4). A wrong zero
// point, scale or bias rescale errs by whole levels on most elements.
void expect_dynamic_matches(const ops::Op& op, std::vector<QTensor> in, bool rows = false) {
  std::vector<QTensor> ref = in;
  ref[0] = plain(rows ? row_levels(in[0].t) : dynamic_levels(in[0].t));
  ref[1] = plain(dequantized(in[1]));
  HostTensor want, got;
  ASSERT_TRUE(run(op, "reference", ref, out_f32(), want));
  ASSERT_TRUE(run(op, "onednn_dynamic_int8", in, out_f32(), got)) << "the dynamic int8 kernel declined " << op.type();
  expect_close(got, want);
}

TEST(Int8Kernels, DynamicMatMulPerColumnWithBiasGeluAndResidual) {
  ops::MatMul m;
  m.post.ops.push_back({ops::PostOp::Kind::Sum});
  m.post.ops.push_back({ops::PostOp::Kind::Act, ops::Act::Gelu});
  // A off-centre, so the zero point is not 128; a residual operand of Y's shape.
  expect_dynamic_matches(m, {plain(random_tensor(DType::Float32, {2, 16, 96}, 31, -0.5, 1.5)),
                             random_q(DType::QInt8, {96, 40}, 32, channel_scales(40, 32), 1, true),
                             plain(random_tensor(DType::Float32, {40}, 33, -1, 1, true)),
                             plain(random_tensor(DType::Float32, {2, 16, 40}, 34, -1, 1))});
}

// Per row: rows of very different magnitudes (a per-tensor scale would flatten the small ones to
// a few levels, and a kernel that used one scale for all rows errs by whole levels on them), an
// all-zero row, the bias added after the row scale, GELU and a residual on the real values.
TEST(Int8Kernels, DynamicMatMulPerRow) {
  ops::MatMul m;
  m.dynamic_rows = true;
  m.post.ops.push_back({ops::PostOp::Kind::Sum});
  m.post.ops.push_back({ops::PostOp::Kind::Act, ops::Act::Gelu});
  QTensor a = plain(random_tensor(DType::Float32, {2, 16, 96}, 41, -1, 1));
  for (int64_t row = 0; row < 32; ++row)
    for (int64_t k = 0; k < 96; ++k) a.t.as<float>()[row * 96 + k] *= row == 5 ? 0.f : std::pow(1.5f, float(row % 11));
  expect_dynamic_matches(m,
                         {a, random_q(DType::QInt8, {96, 40}, 42, channel_scales(40, 42), 1, true),
                          plain(random_tensor(DType::Float32, {40}, 43, -1, 1, true)),
                          plain(random_tensor(DType::Float32, {2, 16, 40}, 44, -1, 1))},
                         true);
  ops::Gemm g;
  g.dynamic_rows = true;
  g.transB = true;
  g.alpha = 0.5f;
  g.beta = 2.f;
  expect_dynamic_matches(g, {plain(random_tensor(DType::Float32, {4, 128}, 45, -2, 0.3)),
                             random_q(DType::QInt8, {24, 128}, 46, channel_scales(24, 46), 0, true),
                             plain(random_tensor(DType::Float32, {24}, 47, -1, 1, true))},
                         true);
}

TEST(Int8Kernels, DynamicGemmTransposedWeightsAlphaBeta) {
  ops::Gemm g;
  g.transB = true;
  g.alpha = 0.5f;
  g.beta = 2.f;
  expect_dynamic_matches(g, {plain(random_tensor(DType::Float32, {4, 128}, 35, -2, 0.3)),
                             random_q(DType::QInt8, {24, 128}, 36, channel_scales(24, 36), 0, true),
                             plain(random_tensor(DType::Float32, {24}, 37, -1, 1, true))});
}

TEST(Int8Kernels, DynamicDeclinesWhatItCannotRun) {
  ops::MatMul m;
  HostTensor y;
  // Run-time (not constant) weights, and an already quantized source.
  std::vector<QTensor> runtime_b{plain(random_tensor(DType::Float32, {4, 8}, 1, -1, 1)),
                                 random_q(DType::QInt8, {8, 4}, 2, {0.01f})};
  EXPECT_FALSE(run(m, "onednn_dynamic_int8", runtime_b, out_f32(), y));
  std::vector<QTensor> quantized_a{random_q(DType::QUInt8, {4, 8}, 3, {0.01f}),
                                   random_q(DType::QInt8, {8, 4}, 4, {0.01f}, -1, true)};
  EXPECT_FALSE(run(m, "onednn_dynamic_int8", quantized_a, out_f32(), y));
}

TEST(Int8Kernels, ReorderQuantizesDequantizesAndRequantizes) {
  ops::Reorder r;
  QTensor x = plain(random_tensor(DType::Float32, {1, 16, 5, 5}, 19, -3, 3));
  QTensor q = out_q(DType::QInt8, 3.f / 127);
  q.layout = "nhwc";
  std::vector<QTensor> in{x};
  expect_int8_matches(r, in, q);  // quantize and relayout in one pass
  std::vector<QTensor> in2{random_q(DType::QUInt8, {1, 16, 5, 5}, 20, {0.05f})};
  expect_int8_matches(r, in2, out_f32());                         // dequantize
  // requantize (a ratio like 5/8 would put 1 in 8 values on an exact tie, which may round either way)
  expect_int8_matches(r, in2, out_q(DType::QUInt8, 0.0731f));
}

TEST(Int8Kernels, MaxPoolKeepsTheScale) {
  ops::MaxPool p;
  p.p.kernel_shape = {3, 3};
  p.p.strides = {2, 2};
  p.p.pads = {1, 1, 1, 1};
  std::vector<QTensor> in{random_q(DType::QUInt8, {1, 32, 9, 9}, 21, {0.1f})};
  in[0].layout = "nhwc";
  QTensor y = out_q(DType::QUInt8, 0.1f);
  y.layout = "nhwc";
  expect_int8_matches(p, in, y);
}

// A global average pool over int8 (kernels/nn/pool_quant.cpp) writes the float mean of the
// integers' real values: a channels-last source with more channels than one 64-channel block
// (and a partial one) and enough values to run threaded, a row-major one with a zero point, and
// bfloat16 out (within its rounding: half a step, 2^-8 relative).
TEST(Int8Kernels, GlobalAveragePoolAveragesTheIntegers) {
  ops::GlobalAveragePool p;
  std::vector<QTensor> cl{random_q(DType::QUInt8, {1, 2080, 7, 7}, 24, {0.03f})};
  cl[0].layout = "nhwc";
  expect_int8_matches(p, cl, out_f32(), nullptr, "inhouse");
  std::vector<QTensor> rm{random_q(DType::QInt8, {2, 70, 5, 3}, 25, {0.02f})};
  rm[0].q.zero_point = -3;
  expect_int8_matches(p, rm, out_f32(), nullptr, "inhouse");
  HostTensor want, got;
  ASSERT_TRUE(run(p, "reference", rm, out_f32(), want));
  ASSERT_TRUE(run(p, "inhouse", rm, {HostTensor(DType::BFloat16, {}), {}, ""}, got));
  for (int64_t i = 0; i < want.elements(); ++i) {
    const float w = want.as<float>()[i], g = ops::bf16_to_float(got.as<uint16_t>()[i]);
    EXPECT_NEAR(g, w, std::fabs(w) / 256 + 1e-7) << "element " << i;
  }
  // Scales per channel, and blocked layouts, stay with the other kernels.
  std::vector<QTensor> per_channel{random_q(DType::QUInt8, {1, 8, 3, 3}, 26, channel_scales(8, 26), 1)};
  EXPECT_FALSE(run(p, "inhouse", per_channel, out_f32(), got));
  cl[0].layout = "nChw16c";
  EXPECT_FALSE(run(p, "inhouse", cl, out_f32(), got));
}

TEST(Int8Kernels, DeclinesWhatItCannotRun) {
  // Weights with a zero point, or a source quantized per channel: not oneDNN's int8 model.
  ops::Conv c = conv3x3();
  std::vector<QTensor> in{random_q(DType::QUInt8, {1, 8, 6, 6}, 22, {0.02f}),
                          random_q(DType::QInt8, {8, 8, 3, 3}, 23, channel_scales(8, 23), 0, true)};
  in[1].q.zero_point = 3;
  HostTensor out;
  EXPECT_FALSE(run(c, "onednn", in, out_q(DType::QUInt8, 0.1f), out));
}

}  // namespace
}  // namespace kiln::test
