// LayerNormalization writing its output quantized (kernels/nn/layernorm_quant.cpp): the in-house
// kernel against what it replaces in an int8 plan (oneDNN's float LayerNorm, then kiln's
// quantizing Reorder) and against the reference kernel, which quantizes the op's float result.
//
// Tolerances. Float Y: the kernel sums in float (eight lanes, four accumulators), the reference
// in double; over a row of n <= 1024 values of magnitude <= 8 the mean and variance carry
// relative errors of order n * 2^-24, so Y is compared with rtol 1e-5 plus an atol of 1e-5 x its
// magnitude (a wrong epsilon, gamma, beta or row shifts it by orders more). Quantized Y: the
// kernel quantizes exactly its own float Y as the Reorder would (checked bit for bit), so against
// oneDNN's or the reference's Y it can differ only where the two floats straddle a rounding
// boundary: by one level, on a tiny share of elements (we allow 0.5%; a wrong scale, zero point,
// signedness or rounding mode moves most elements).
#include <cmath>
#include <limits>

#include <gmock/gmock.h>

#include "kernel_test_util.h"
#include "ops/nn/layernorm.h"
#include "ops/tensor/reorder.h"

namespace kiln::test {
namespace {

struct Out {
  DType dtype;
  ops::QuantParams q;
};

ops::QuantParams per_tensor(float scale, int32_t zp = 0) {
  ops::QuantParams q;
  q.scale = {scale};
  q.zero_point = zp;
  return q;
}

// Runs `impl` of op on the inputs with these output types (shapes: X's; Mean/InvStdDev are not
// used here); false when the implementation declines.
bool run_outs(const ops::Op& op, const std::string& impl, std::vector<HostTensor>& in, const std::vector<Out>& outs,
              std::vector<HostTensor>& got, const std::vector<ops::QuantParams>& in_q = {}) {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  KernelSpec spec{op, {}, {}, eng};
  for (size_t i = 0; i < in.size(); ++i) {
    const HostTensor& t = in[i];
    spec.in.push_back({t.dtype, t.shape, "", t.constant ? t.bytes.data() : nullptr,
                       i < in_q.size() ? in_q[i] : ops::QuantParams{}});
  }
  for (const Out& o : outs) spec.out.push_back({o.dtype, in[0].shape, "", nullptr, o.q});
  auto k = KernelRegistry::instance().create(std::string(op.type()), impl, spec);
  if (!k) return false;
  got.clear();
  for (const Out& o : outs) {
    got.emplace_back(o.dtype, in[0].shape);
    std::fill(got.back().bytes.begin(), got.back().bytes.end(), uint8_t{0x5a});  // poisoned
  }
  std::vector<uint8_t> scratch(k->scratchpad_bytes() + 64);
  KernelBinding b;
  for (auto& t : in) b.in.push_back(t.dtype == DType::Undefined ? nullptr : t.bytes.data());
  for (auto& t : got) b.out.push_back(t.bytes.data());
  b.scratchpad = scratch.data();
  dnnl::stream s(eng);
  k->bind(b)(s);
  s.wait();
  return true;
}

ops::LayerNormalization ln(bool copy, float eps = 1e-12f) {
  ops::LayerNormalization op;
  op.epsilon = eps;
  op.quantized_copy = copy ? 1 : 0;
  return op;
}

// X with BERT-like rows: values spread over [-4, 4] around a per-row offset; Scale and B constant.
std::vector<HostTensor> inputs(Dims x, uint32_t seed, bool bias = true) {
  const int64_t cols = x.back();
  HostTensor t = random_tensor(DType::Float32, x, seed, -4, 4);
  const int64_t rows = t.elements() / cols;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t.as<float>()[r * cols + c] += 0.5f * static_cast<float>(r % 7) - 1.5f;
  std::vector<HostTensor> in{t, random_tensor(DType::Float32, {cols}, seed + 1, 0.5, 1.5, true)};
  if (bias) in.push_back(random_tensor(DType::Float32, {cols}, seed + 2, -0.5, 0.5, true));
  return in;
}

int level(const HostTensor& t, int64_t i) {
  return t.dtype == DType::QUInt8 ? int(t.bytes[i]) : int(int8_t(t.bytes[i]));
}

// Quantized tensors within one level, differing on at most 0.5% of elements; the data must
// exercise many levels, or the comparison says little.
void expect_near_levels(const HostTensor& got, const HostTensor& want) {
  ASSERT_EQ(got.dtype, want.dtype);
  ASSERT_EQ(got.bytes.size(), want.bytes.size());
  const int64_t n = want.elements();
  int64_t differ = 0, worst = 0;
  std::vector<bool> seen(256, false);
  int distinct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int d = std::abs(level(got, i) - level(want, i));
    differ += d != 0;
    worst = std::max<int64_t>(worst, d);
    distinct += !seen[want.bytes[i]];
    seen[want.bytes[i]] = true;
  }
  EXPECT_LE(worst, 1) << "a quantized output differs by more than one level";
  EXPECT_LE(differ, std::max<int64_t>(2, n / 200)) << differ << " of " << n << " elements differ by one level";
  EXPECT_GE(distinct, 32) << "degenerate test data: few distinct levels";
}

double magnitude(HostTensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.elements(); ++i) m = std::max(m, std::fabs(double(t.as<float>()[i])));
  return m;
}

// The whole claim: one pass equals oneDNN's LayerNorm followed by the quantizing Reorder.
void expect_matches_layernorm_then_reorder(Dims x, DType qt, ops::QuantParams q, uint32_t seed) {
  SCOPED_TRACE(shape_str(x) + " " + dtype_name(qt));
  std::vector<HostTensor> in = inputs(x, seed);
  std::vector<HostTensor> fused, onednn, reordered, requantized;
  ASSERT_TRUE(run_outs(ln(true), "inhouse", in, {{DType::Float32, {}}, {qt, q}}, fused));
  ASSERT_TRUE(run_outs(ln(false), "onednn", in, {{DType::Float32, {}}}, onednn));
  EXPECT_TRUE(all_close(fused[0], onednn[0], 1e-5, 1e-5 * magnitude(onednn[0])));
  ops::Reorder reorder;
  std::vector<HostTensor> y{onednn[0]};
  ASSERT_TRUE(run_outs(reorder, "onednn", y, {{qt, q}}, reordered));
  expect_near_levels(fused[1], reordered[0]);
  // Bit for bit against the Reorder applied to the kernel's own float Y.
  std::vector<HostTensor> own{fused[0]};
  ASSERT_TRUE(run_outs(reorder, "onednn", own, {{qt, q}}, requantized));
  EXPECT_EQ(fused[1].bytes, requantized[0].bytes) << "the quantized copy is not the Reorder of the float Y";
  // Against the reference (double statistics, quantized by division).
  std::vector<HostTensor> ref;
  ASSERT_TRUE(run_outs(ln(true), "reference", in, {{DType::Float32, {}}, {qt, q}}, ref));
  EXPECT_TRUE(all_close(fused[0], ref[0], 1e-5, 1e-5 * magnitude(ref[0])));
  expect_near_levels(fused[1], ref[1]);
}

TEST(LayerNormQuant, CopyMatchesLayerNormThenReorderBertShape) {
  expect_matches_layernorm_then_reorder({1, 128, 768}, DType::QInt8, per_tensor(4.f / 127), 1);
}

TEST(LayerNormQuant, CopyUnsignedWithZeroPointAndOddRow) {
  // 37 columns: the 16-wide loop, then a scalar tail; a zero point and saturation at both ends.
  expect_matches_layernorm_then_reorder({3, 5, 37}, DType::QUInt8, per_tensor(2.f / 255, 100), 2);
  expect_matches_layernorm_then_reorder({64, 1024}, DType::QInt8, per_tensor(1.f / 127, -3), 3);
}

TEST(LayerNormQuant, QuantizedAloneMatchesReference) {
  std::vector<HostTensor> in = inputs({2, 16, 96}, 4, false);
  std::vector<HostTensor> got, ref;
  const ops::QuantParams q = per_tensor(3.f / 127);
  ASSERT_TRUE(run_outs(ln(false), "inhouse", in, {{DType::QInt8, q}}, got));
  ASSERT_TRUE(run_outs(ln(false), "reference", in, {{DType::QInt8, q}}, ref));
  expect_near_levels(got[0], ref[0]);
}

TEST(LayerNormQuant, NaNRowsQuantizeToTheZeroPoint) {
  std::vector<HostTensor> in = inputs({2, 32}, 5);
  in[0].as<float>()[3] = std::numeric_limits<float>::quiet_NaN();
  std::vector<HostTensor> got;
  ASSERT_TRUE(run_outs(ln(true), "inhouse", in, {{DType::Float32, {}}, {DType::QUInt8, per_tensor(0.1f, 7)}}, got));
  for (int64_t c = 0; c < 32; ++c) {
    EXPECT_TRUE(std::isnan(got[0].as<float>()[c]));
    EXPECT_EQ(got[1].bytes[c], 7);
    EXPECT_FALSE(std::isnan(got[0].as<float>()[32 + c]));
  }
}

TEST(LayerNormQuant, DeclinesWhatItDoesNotHandle) {
  std::vector<HostTensor> got;
  const Out f{DType::Float32, {}}, q{DType::QInt8, per_tensor(0.03f)};
  std::vector<HostTensor> in = inputs({4, 64}, 6);
  // Float Y alone is oneDNN's.
  EXPECT_FALSE(run_outs(ln(false), "inhouse", in, {f}, got));
  // A per-channel scale, a zero scale, or a copy without its float Y.
  ops::QuantParams pc;
  pc.scale = std::vector<float>(64, 0.03f);
  pc.axis = 1;
  EXPECT_FALSE(run_outs(ln(true), "inhouse", in, {f, {DType::QInt8, pc}}, got));
  EXPECT_FALSE(run_outs(ln(true), "inhouse", in, {f, {DType::QInt8, per_tensor(0.f)}}, got));
  EXPECT_FALSE(run_outs(ln(true), "inhouse", in, {q}, got));
  // Broadcast Scale, and a float64 X.
  std::vector<HostTensor> bc{in[0], host_tensor<float>(DType::Float32, {1}, {2.f}, true)};
  EXPECT_FALSE(run_outs(ln(true), "inhouse", bc, {f, q}, got));
  std::vector<HostTensor> d{random_tensor(DType::Float64, {4, 64}, 7), random_tensor(DType::Float64, {64}, 8)};
  EXPECT_FALSE(run_outs(ln(true), "inhouse", d, {{DType::Float64, {}}, q}, got));
  // oneDNN's kernel never takes a quantized output.
  EXPECT_FALSE(run_outs(ln(true), "onednn", in, {f, q}, got));
  EXPECT_FALSE(run_outs(ln(false), "onednn", in, {q}, got));
}

TEST(LayerNormQuant, InferAndReferenceOfTheCopy) {
  ops::LayerNormalization op = ln(true);
  std::vector<HostTensor> three = inputs({2, 3, 8}, 9);
  auto t = infer_outputs(op, three, 2);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[1].dtype, DType::Float32);
  EXPECT_EQ(t[1].shape, (Dims{2, 3, 8}));
  // With the statistics too: Y, Mean, InvStdDev, copy.
  std::vector<HostTensor> in = inputs({2, 3, 8}, 10);
  auto out = run_reference(op, in, 4);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[1].shape, (Dims{2, 3, 1}));
  EXPECT_EQ(out[3].bytes, out[0].bytes);
  op.quantized_copy = 2;
  EXPECT_THAT(infer_error(op, {f32({2, 8}), f32({8})}), ::testing::HasSubstr("quantized_copy must be 0 or 1"));
  op.quantized_copy = 1;
  EXPECT_THAT(infer_error(op, {f32({2, 8}), f32({8})}), ::testing::HasSubstr("1 to 3 outputs"));
}

}  // namespace
}  // namespace kiln::test
