// The fast kernels of ONNX's quantization ops (kernels/quantization/quant.cpp on oneDNN, kernels/quantization/quant_eltwise.cpp
// in-house) against the reference loops of ops/quantization/quant.cpp, on random tensors: u8 and s8,
// constant and run-time zero points, per-tensor and per-channel weight parameters, weights that
// fit s8 after their zero point and weights that need the window-sum correction, groups, strides,
// dilations, pads, 1-3 spatial dims, batched A. Integer outputs must match exactly (accumulators
// here stay below 2^24, see quant.cpp); requantized outputs fused into oneDNN may differ by one
// unit near a rounding tie, on a small fraction of elements; the in-house requantization and the
// elementwise kernels must match exactly.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "kernel_test_util.h"
#include "ops/quantization/quant.h"

namespace kiln::test {
namespace {

using namespace ops;

bool vnni() {
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  return (isa & 0x40u) || (isa & 0x400u);
}

#define REQUIRE_VNNI() \
  if (!vnni()) GTEST_SKIP() << "the oneDNN integer kernels run only on CPUs with VNNI"

HostTensor u8r(Dims s, uint32_t seed, bool c = false) { return random_tensor(DType::UInt8, std::move(s), seed, 0, 255, c); }
HostTensor s8r(Dims s, uint32_t seed, bool c = false) {
  return random_tensor(DType::Int8, std::move(s), seed, -128, 127, c);
}
HostTensor q8r(DType t, Dims s, uint32_t seed, bool c = false) {
  return t == DType::UInt8 ? u8r(std::move(s), seed, c) : s8r(std::move(s), seed, c);
}
// Zero points v, v + step, v + 2 step... (one per element of s).
HostTensor zp(DType t, int v, bool c, Dims s = {}, int step = 3) {
  HostTensor h(t, std::move(s), c);
  for (int64_t i = 0; i < h.elements(); ++i) {
    const int64_t z = v + step * i;
    if (t == DType::UInt8) h.as<uint8_t>()[i] = static_cast<uint8_t>(z);
    else if (t == DType::Int8) h.as<int8_t>()[i] = static_cast<int8_t>(z);
    else h.as<int32_t>()[i] = static_cast<int32_t>(z);
  }
  return h;
}
// A y_scale that spreads a product of k random 8-bit pairs (std ~74 each) scaled by sx * sw over
// about +-40 output units, so few outputs saturate.
float spread(float sx, float sw, int64_t k) { return sx * sw * 74.f * 74.f * std::sqrt(static_cast<float>(k)) / 40.f; }
HostTensor scales(Dims s, float base, bool c = true) {
  HostTensor h(DType::Float32, std::move(s), c);
  for (int64_t i = 0; i < h.elements(); ++i) h.as<float>()[i] = base * (1.f + 0.37f * static_cast<float>(i % 5));
  return h;
}
HostTensor none() { return HostTensor(DType::Undefined, {}); }

// Runs reference and kernel; integer outputs equal, 8-bit outputs within `units` on at most 2%.
void check(const Op& op, std::vector<HostTensor> in, int units = 0, size_t n_out = 1) {
  auto want = run_reference(op, in, n_out);
  std::vector<HostTensor> got;
  ASSERT_TRUE(run_kernel(op, "onednn", in, got, n_out)) << "the oneDNN kernel declined " << op.type();
  ASSERT_EQ(got.size(), want.size());
  const HostTensor &g = got[0], &w = want[0];
  ASSERT_EQ(g.dtype, w.dtype);
  ASSERT_EQ(g.shape, w.shape);
  TensorView gv{g.dtype, g.shape, const_cast<uint8_t*>(g.bytes.data())}, wv{w.dtype, w.shape, const_cast<uint8_t*>(w.bytes.data())};
  int64_t differ = 0, worst = 0, distinct_lo = std::numeric_limits<int64_t>::max(), distinct_hi = std::numeric_limits<int64_t>::min();
  for (int64_t i = 0; i < w.elements(); ++i) {
    const int64_t a = element_as_int(gv, i), b = element_as_int(wv, i);
    differ += a != b;
    worst = std::max<int64_t>(worst, std::llabs(a - b));
    distinct_lo = std::min(distinct_lo, b);
    distinct_hi = std::max(distinct_hi, b);
  }
  EXPECT_LE(worst, units) << differ << " of " << w.elements() << " elements differ";
  if (units > 0) {
    EXPECT_LE(differ, std::max<int64_t>(2, w.elements() / 50)) << "too many elements off by one unit";
  }
  // Meaningful only if the expected output is not one constant (everything saturated).
  EXPECT_LT(distinct_lo, distinct_hi) << "degenerate test: the reference output is constant";
}

// ---- ConvInteger ----

TEST(QuantKernels, ConvIntegerRuntimeZeroPointPadsStrides) {
  REQUIRE_VNNI();
  ConvInteger op;
  op.pads = {1, 2, 1, 0};
  op.strides = {2, 1};
  // s8 weights without a zero point: oneDNN's own model; x's zero point arrives at run time.
  check(op, {u8r({2, 5, 9, 8}, 1), s8r({6, 5, 3, 3}, 2, true), zp(DType::UInt8, 131, false)});
  // No zero points at all, and a constant one.
  check(op, {u8r({1, 5, 7, 7}, 3), s8r({4, 5, 3, 3}, 4, true)});
  check(op, {u8r({1, 5, 7, 7}, 5), s8r({4, 5, 3, 3}, 6, true), zp(DType::UInt8, 7, true)});
}

TEST(QuantKernels, ConvIntegerSignedSourceGroupsDilations) {
  REQUIRE_VNNI();
  ConvInteger op;
  op.group = 2;
  op.dilations = {2, 1};
  op.pads = {2, 1, 2, 1};
  check(op, {s8r({1, 8, 10, 9}, 7), s8r({6, 4, 3, 3}, 8, true), zp(DType::Int8, -5, false)});
  ConvInteger dw;  // depthwise
  dw.group = 16;
  dw.pads = {1, 1, 1, 1};
  check(dw, {u8r({1, 16, 12, 12}, 9), s8r({16, 1, 3, 3}, 10, true), zp(DType::UInt8, 120, false)});
}

TEST(QuantKernels, ConvIntegerWeightZeroPoints) {
  REQUIRE_VNNI();
  ConvInteger op;
  op.pads = {1, 1, 1, 1};
  // u8 weights, zero point 128: w - 128 fits s8 exactly, no correction pass.
  check(op, {u8r({1, 6, 8, 8}, 11), u8r({5, 6, 3, 3}, 12, true), zp(DType::UInt8, 90, false), zp(DType::UInt8, 128, true)});
  // u8 weights with other zero points, per output channel: the window-sum correction.
  check(op, {u8r({2, 6, 8, 8}, 13), u8r({5, 6, 3, 3}, 14, true), zp(DType::UInt8, 90, false),
             zp(DType::UInt8, 17, true, {5})});
  // s8 weights with a zero point, grouped, with strides.
  ConvInteger g;
  g.group = 3;
  g.strides = {2, 2};
  check(g, {s8r({1, 6, 9, 9}, 15), s8r({9, 2, 3, 3}, 16, true), zp(DType::Int8, 3, true), zp(DType::Int8, 100, true)});
}

TEST(QuantKernels, ConvIntegerOneAndThreeSpatialDims) {
  REQUIRE_VNNI();
  ConvInteger c1;
  c1.pads = {2, 1};
  c1.strides = {3};
  check(c1, {u8r({2, 4, 20}, 17), s8r({8, 4, 5}, 18, true), zp(DType::UInt8, 64, false)});
  ConvInteger c3;
  c3.pads = {1, 1, 1, 1, 1, 1};
  check(c3, {u8r({1, 3, 5, 6, 7}, 19), u8r({4, 3, 3, 3, 3}, 20, true), zp(DType::UInt8, 10, false),
             zp(DType::UInt8, 30, true, {4})});
}

// ---- QLinearConv ----

std::vector<HostTensor> qconv_inputs(DType xt, DType wt, DType yt, Dims xs, Dims ws, bool per_channel, bool bias,
                                     uint32_t seed, int wzp = 0, bool runtime_params = false) {
  const int64_t m = ws[0];
  std::vector<HostTensor> in;
  in.push_back(q8r(xt, xs, seed));
  in.push_back(scales({}, 0.05f, !runtime_params));
  in.push_back(zp(xt, xt == DType::UInt8 ? 128 : 3, !runtime_params));
  in.push_back(q8r(wt, ws, seed + 1, true));
  in.push_back(scales(per_channel ? Dims{m} : Dims{}, 0.01f));
  in.push_back(zp(wt, wzp, true, per_channel ? Dims{m} : Dims{}, wzp ? 3 : 0));
  const int64_t k = shape_elements(Dims(ws.begin() + 1, ws.end()));
  in.push_back(scales({}, spread(0.05f, 0.01f, k), !runtime_params));
  in.push_back(zp(yt, yt == DType::UInt8 ? 120 : -4, !runtime_params));
  if (bias) in.push_back(random_tensor(DType::Int32, {m}, seed + 2, -3000, 3000, true));
  return in;
}

TEST(QuantKernels, QLinearConvFusedRequantization) {
  REQUIRE_VNNI();
  QLinearConv op;
  op.pads = {1, 1, 1, 1};
  for (DType xt : {DType::UInt8, DType::Int8})
    for (DType yt : {DType::UInt8, DType::Int8})
      for (bool per_channel : {false, true}) {
        SCOPED_TRACE(std::string(dtype_name(xt)) + " -> " + dtype_name(yt) + (per_channel ? " per channel" : ""));
        check(op, qconv_inputs(xt, DType::Int8, yt, {1, 8, 9, 9}, {12, 8, 3, 3}, per_channel, true, 21), 1);
      }
  QLinearConv g;
  g.group = 4;
  g.strides = {2, 2};
  check(g, qconv_inputs(DType::UInt8, DType::Int8, DType::UInt8, {2, 8, 11, 11}, {8, 2, 3, 3}, true, true, 22), 1);
}

TEST(QuantKernels, QLinearConvRuntimeParameters) {
  REQUIRE_VNNI();
  QLinearConv op;
  op.pads = {0, 1, 0, 1};
  // x/y scales and zero points as run-time tensors: requantized in-house, exactly.
  check(op, qconv_inputs(DType::UInt8, DType::Int8, DType::UInt8, {1, 6, 7, 7}, {10, 6, 3, 3}, true, true, 23, 0, true), 0);
  // Constant scales, run-time zero points: oneDNN's run-time source and destination zero points.
  auto in = qconv_inputs(DType::Int8, DType::Int8, DType::UInt8, {2, 6, 7, 7}, {10, 6, 3, 3}, false, true, 26);
  in[2].constant = in[7].constant = false;
  check(op, in, 1);
  QLinearMatMul mm;
  check(mm, {u8r({4, 40}, 27), scales({}, 0.02f, false), zp(DType::UInt8, 3, false), s8r({40, 12}, 28, true),
             scales({12}, 0.01f), zp(DType::Int8, 0, true, {12}, 0), scales({}, spread(0.02f, 0.01f, 40), false),
             zp(DType::UInt8, 128, false)}, 0);
}

TEST(QuantKernels, QLinearConvCorrectedWeightsAreExact) {
  REQUIRE_VNNI();
  QLinearConv op;
  op.pads = {1, 1, 1, 1};
  op.group = 2;
  // u8 weights with zero points far from 128: the in-house pass requantizes, bit for bit.
  check(op, qconv_inputs(DType::UInt8, DType::UInt8, DType::UInt8, {1, 8, 9, 9}, {6, 4, 3, 3}, true, true, 24, 40), 0);
  check(op, qconv_inputs(DType::Int8, DType::UInt8, DType::Int8, {1, 8, 9, 9}, {6, 4, 3, 3}, false, false, 25, 200), 0);
}

// ---- MatMulInteger / QLinearMatMul ----

TEST(QuantKernels, MatMulInteger) {
  REQUIRE_VNNI();
  MatMulInteger op;
  // Batched A folded into rows, run-time a zero point, s8 B.
  check(op, {u8r({2, 3, 17, 40}, 31), s8r({40, 24}, 32, true), zp(DType::UInt8, 77, false)});
  // Per-column u8 B zero points (the row-sum correction), s8 A with a constant zero point.
  check(op, {s8r({9, 33}, 33), u8r({33, 20}, 34, true), zp(DType::Int8, -9, true), zp(DType::UInt8, 5, true, {20})});
  // [1, N]-shaped b zero point equal to 128 everywhere: exact conversion, no correction.
  HostTensor bz(DType::UInt8, {1, 16}, true);
  std::fill(bz.bytes.begin(), bz.bytes.end(), uint8_t{128});
  check(op, {u8r({5, 30}, 35), u8r({30, 16}, 36, true), none(), bz});
  // 1-D A: one row.
  check(op, {u8r({30}, 37), s8r({30, 16}, 38, true)});
}

TEST(QuantKernels, QLinearMatMul) {
  REQUIRE_VNNI();
  QLinearMatMul op;
  for (bool per_column : {false, true}) {
    SCOPED_TRACE(per_column ? "per column" : "per tensor");
    const Dims ps = per_column ? Dims{24} : Dims{};
    check(op, {u8r({3, 10, 48}, 41), scales({}, 0.02f), zp(DType::UInt8, 130, false), s8r({48, 24}, 42, true),
               scales(ps, 0.01f), zp(DType::Int8, 0, true, ps, 0), scales({}, spread(0.02f, 0.01f, 48)),
               zp(DType::UInt8, 128, true)},
          1);
  }
  // u8 B with zero points: corrected, requantized in-house, exactly.
  check(op, {s8r({7, 32}, 43), scales({}, 0.02f), zp(DType::Int8, 2, true), u8r({32, 12}, 44, true), scales({12}, 0.01f),
             zp(DType::UInt8, 60, true, {12}), scales({}, 2.f * spread(0.02f, 0.01f, 32)), zp(DType::Int8, 1, false)},
        0);
}

TEST(QuantKernels, DeclinesWhatItCannotMap) {
  ConvInteger op;
  std::vector<HostTensor> out;
  // Run-time weights.
  std::vector<HostTensor> in{u8r({1, 2, 5, 5}, 51), s8r({2, 2, 3, 3}, 52, false)};
  EXPECT_FALSE(run_kernel(op, "onednn", in, out));
  // A per-row a zero point, and a batched B.
  MatMulInteger mm;
  std::vector<HostTensor> rows{u8r({4, 8}, 53), s8r({8, 4}, 54, true), u8r({4}, 55)};
  EXPECT_FALSE(run_kernel(mm, "onednn", rows, out));
  std::vector<HostTensor> batched{u8r({2, 4, 8}, 56), s8r({2, 8, 4}, 57, true)};
  EXPECT_FALSE(run_kernel(mm, "onednn", batched, out));
}

// ---- QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear (exact) ----

HostTensor float_data(Dims s, uint32_t seed, float lo, float hi) {
  HostTensor h = random_tensor(DType::Float32, std::move(s), seed, lo, hi);
  float* p = h.as<float>();
  // Exact ties, saturation and NaN, which the vector path must round like the reference.
  const float specials[] = {0.5f, 1.5f, -2.5f, 1e9f, -1e9f, std::nanf(""), 0.f, -0.f, 127.5f, -128.5f};
  for (int64_t i = 0; i < h.elements(); i += 97) p[i] = specials[(i / 97) % 10] * (i % 2 ? 1.f : 0.25f);
  return h;
}

void check_exact(const Op& op, std::vector<HostTensor> in, size_t n_out = 1) {
  auto want = run_reference(op, in, n_out);
  std::vector<HostTensor> got;
  ASSERT_TRUE(run_kernel(op, "inhouse", in, got, n_out)) << "the in-house kernel declined " << op.type();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].dtype, want[i].dtype);
    EXPECT_EQ(got[i].bytes, want[i].bytes) << op.type() << " output " << i << " differs from the reference";
  }
}

TEST(QuantKernels, QuantizeLinear) {
  QuantizeLinear q;
  // Large enough to be split across threads, odd so the vector loop has a tail.
  check_exact(q, {float_data({3, 40001}, 61, -40, 40), scales({}, 0.25f), zp(DType::UInt8, 100, true)});
  check_exact(q, {float_data({3, 40001}, 62, -40, 40), scales({}, 0.25f), zp(DType::Int8, -3, false)});
  check_exact(q, {float_data({1001}, 63, -300, 300), scales({}, 1.f)});  // no zero point: uint8
  q.axis = 1;
  check_exact(q, {float_data({2, 5, 3, 7}, 64, -4, 4), scales({5}, 0.03f), zp(DType::Int8, 9, true, {5})});
  check_exact(q, {random_tensor(DType::Int32, {513}, 65, -5000, 5000), scales({}, 20.f), zp(DType::Int8, 0, true)});
}

TEST(QuantKernels, DequantizeLinear) {
  DequantizeLinear dq;
  check_exact(dq, {u8r({70001}, 71), scales({}, 0.1f), zp(DType::UInt8, 128, true)});
  check_exact(dq, {s8r({1001}, 72), scales({}, 0.1f)});
  dq.axis = -1;
  check_exact(dq, {s8r({3, 4, 6}, 73), scales({6}, 0.02f), zp(DType::Int8, -3, true, {6})});
  check_exact(dq, {random_tensor(DType::Int32, {257}, 74, -1e6, 1e6), scales({}, 0.5f), zp(DType::Int32, 0, true)});
}

TEST(QuantKernels, DynamicQuantizeLinear) {
  DynamicQuantizeLinear op;
  check_exact(op, {float_data({1, 3, 150, 151}, 81, -3, 7)}, 3);
  check_exact(op, {random_tensor(DType::Float32, {1000}, 82, 0.5, 2)}, 3);  // all positive
  HostTensor zeros(DType::Float32, {33});
  check_exact(op, {zeros}, 3);
}

}  // namespace
}  // namespace kiln::test
