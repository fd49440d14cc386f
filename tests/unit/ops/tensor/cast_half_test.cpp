// The in-house float16 <-> float32 Cast kernel (kernels/tensor/cast.cpp) against the reference Cast,
// bit for bit: every one of the 65536 halves, and floats around every rounding boundary that
// matters (ties, the largest finite half, subnormals, Inf, NaN), at lengths that leave a scalar tail.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "kernel_test_util.h"
#include "ops/tensor/shape.h"

namespace kiln::test {
namespace {

ops::Cast cast_to(DType t) {
  ops::Cast c;
  c.to = static_cast<int64_t>(t);
  return c;
}

float f32_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

bool is_nan(DType t, const uint8_t* p) {
  if (t == DType::Float16) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
  }
  float f;
  std::memcpy(&f, p, 4);
  return std::isnan(f);
}

// Runs the in-house kernel and the reference on one input; expects identical bytes, except that
// a NaN need only stay a NaN of the same sign (F16C quiets signalling NaNs, the scalar code keeps
// them signalling).
void expect_bitwise_equal(const ops::Cast& op, HostTensor in) {
  std::vector<HostTensor> ins{in}, out;
  ASSERT_TRUE(run_kernel(op, "inhouse", ins, out)) << "the in-house Cast kernel declined the spec";
  auto want = run_reference(op, ins);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dtype, want[0].dtype);
  ASSERT_EQ(out[0].bytes.size(), want[0].bytes.size());
  size_t elem = dtype_size(want[0].dtype);
  for (size_t i = 0; i < want[0].bytes.size(); i += elem)
    if (std::memcmp(&out[0].bytes[i], &want[0].bytes[i], elem) != 0 &&
        !(is_nan(want[0].dtype, &want[0].bytes[i]) && is_nan(out[0].dtype, &out[0].bytes[i]) &&
          (out[0].bytes[i + elem - 1] & 0x80) == (want[0].bytes[i + elem - 1] & 0x80))) {
      uint32_t in_bits = 0, got = 0, exp = 0;
      std::memcpy(&in_bits, &in.bytes[i / elem * dtype_size(in.dtype)], dtype_size(in.dtype));
      std::memcpy(&got, &out[0].bytes[i], elem);
      std::memcpy(&exp, &want[0].bytes[i], elem);
      FAIL() << "element " << i / elem << " (input bits 0x" << std::hex << in_bits << "): kernel 0x" << got
             << ", reference 0x" << exp;
    }
}

TEST(CastHalfKernel, EveryHalfWidensLikeTheReference) {
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  expect_bitwise_equal(cast_to(DType::Float32), host_tensor(DType::Float16, {65536}, all));
  // A length with a scalar tail, and the spot checks the reference itself must pass.
  expect_bitwise_equal(cast_to(DType::Float32), host_tensor(DType::Float16, {13}, std::vector<uint16_t>(all.begin() + 0x3bf8, all.begin() + 0x3bf8 + 13)));
  EXPECT_EQ(ops::half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(ops::half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(ops::half_to_float(0x7bff), 65504.0f);
}

TEST(CastHalfKernel, FloatsNarrowLikeTheReference) {
  std::vector<float> v = {0.f, -0.f, 1.f, -1.f, 65504.f, 65519.99f, 65520.f, -65520.f, 1e9f,
                          std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN(), f32_bits(0x7fa00001u) /* signalling NaN */,
                          std::ldexp(1.f, -24), std::ldexp(1.f, -25), std::ldexp(1.5f, -25), std::ldexp(1.f, -26),
                          std::ldexp(1.f, -14), std::ldexp(1023.f, -24), f32_bits(1u) /* float subnormal */};
  // Exact ties between neighbouring halves (round to even) and their float neighbours.
  for (uint32_t h = 0x3c00; h < 0x3c00 + 64; ++h) {
    float lo = ops::half_to_float(static_cast<uint16_t>(h)), hi = ops::half_to_float(static_cast<uint16_t>(h + 1));
    float mid = (lo + hi) / 2;
    v.push_back(mid);
    v.push_back(std::nextafter(mid, 0.f));
    v.push_back(std::nextafter(mid, 2.f));
  }
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-70000.f, 70000.f);
  for (int i = 0; i < 1000; ++i) v.push_back(u(rng) * std::ldexp(1.f, -(i % 30)));
  v.push_back(3.f);  // an odd length: the last elements go through the scalar tail
  expect_bitwise_equal(cast_to(DType::Float16), host_tensor(DType::Float32, {static_cast<int64_t>(v.size())}, v));
}

TEST(CastHalfKernel, LargeTensorsAreConvertedInChunks) {
  // More than one 64K-element chunk, so the threaded path runs; a length that is not a multiple of 8.
  HostTensor x = random_tensor(DType::Float32, {3, 70001}, 11, -1000.0, 1000.0);
  expect_bitwise_equal(cast_to(DType::Float16), x);
  std::vector<HostTensor> xs{x};
  auto half = run_reference(cast_to(DType::Float16), xs);
  expect_bitwise_equal(cast_to(DType::Float32), half[0]);
}

TEST(CastHalfKernel, DeclinesOtherTypePairs) {
  std::vector<HostTensor> in{random_tensor(DType::Float32, {8}, 1)}, out;
  EXPECT_FALSE(run_kernel(cast_to(DType::Int32), "inhouse", in, out));
  EXPECT_FALSE(run_kernel(cast_to(DType::BFloat16), "inhouse", in, out));
}

}  // namespace
}  // namespace kiln::test
