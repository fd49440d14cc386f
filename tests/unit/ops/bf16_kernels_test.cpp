// Every bfloat16 kernel (oneDNN-backed) against the op library's float32 reference kernel, and the
// reference kernel's own bf16 path (ops::infer_types / the widening ReferenceKernel).
//
// How the tolerance is derived. Inputs are rounded to bf16 first, so both sides see the same
// values. bf16 keeps 8 significant bits; round-to-nearest has a unit roundoff of u = 2^-9. The
// kernels accumulate in fp32, whose error (K * 2^-24 for a K-term dot product) is negligible
// here, so the difference is the final rounding of the result to bf16: at most u * |y|. We allow
// rtol = 2u = 2^-8 (one ulp of bf16) plus a small atol for results near zero (cancellation in
// fp32 sums taken in a different order). Ops whose oneDNN kernels use their own approximations
// (GELU's erf, exp in softmax) get 2^-7. A wrong kernel (wrong type, layout or weights) errs by
// O(1), far outside these bounds.
#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "kernel_test_util.h"
#include "ops/nn/conv.h"
#include "ops/math/eltwise.h"
#include "ops/math/gemm.h"
#include "ops/nn/layernorm.h"
#include "ops/nn/pool.h"
#include "ops/tensor/reorder.h"
#include "ops/tensor/shape.h"
#include "ops/math/softmax.h"

namespace kiln::test {
namespace {

constexpr double kUlp = 1.0 / 256;  // 2^-8: twice bf16's unit roundoff 2^-9

HostTensor to_bf16(const HostTensor& f) {
  HostTensor h(DType::BFloat16, f.shape, f.constant);
  const float* s = reinterpret_cast<const float*>(f.bytes.data());
  for (int64_t i = 0; i < f.elements(); ++i) h.as<uint16_t>()[i] = ops::float_to_bf16(s[i]);
  return h;
}

HostTensor to_f32(const HostTensor& h) {
  if (h.dtype == DType::Float32) return h;
  HostTensor f(DType::Float32, h.shape, h.constant);
  const uint16_t* s = reinterpret_cast<const uint16_t*>(h.bytes.data());
  for (int64_t i = 0; i < h.elements(); ++i)
    f.as<float>()[i] = h.dtype == DType::Float16 ? ops::half_to_float(s[i]) : ops::bf16_to_float(s[i]);
  return f;
}

HostTensor rounded(const HostTensor& f) { return to_f32(to_bf16(f)); }

// Runs implementation `impl` with the given input tensors and output types; false if it declines.
bool run_typed(const ops::Op& op, const std::string& impl, std::vector<HostTensor>& in, std::vector<DType> out_types,
               std::vector<HostTensor>& out, std::vector<std::string> out_layouts = {}) {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  std::vector<ops::TensorType> types;
  std::vector<TensorView> views;
  for (auto& t : in) types.push_back({t.dtype, t.shape});
  auto inferred = ops::infer_types(op, types, std::vector<const TensorView*>(in.size(), nullptr), out_types.size());
  KernelSpec spec{op, {}, {}, eng};
  for (auto& t : in) spec.in.push_back({t.dtype, t.shape, "", t.constant ? t.bytes.data() : nullptr});
  for (size_t o = 0; o < out_types.size(); ++o) {
    EXPECT_TRUE(ops::stored_type_ok(inferred[o].dtype, out_types[o])) << "output " << o;
    spec.out.push_back({out_types[o], inferred[o].shape, o < out_layouts.size() ? out_layouts[o] : "", nullptr});
  }
  auto k = KernelRegistry::instance().create(std::string(op.type()), impl, spec);
  if (!k) return false;
  out.clear();
  for (auto& t : spec.out) {
    out.emplace_back(t.dtype, t.shape);
    if (!t.layout.empty()) out.back().bytes.resize(dnn::physical_bytes(t.dtype, t.shape, t.layout));
    std::fill(out.back().bytes.begin(), out.back().bytes.end(), uint8_t{0x7f});
  }
  std::vector<uint8_t> scratch(k->scratchpad_bytes() + 64);
  KernelBinding b;
  for (auto& t : in) b.in.push_back(t.dtype == DType::Undefined ? nullptr : t.bytes.data());
  for (auto& t : out) b.out.push_back(t.bytes.data());
  b.scratchpad = scratch.data();
  dnnl::stream s(eng);
  k->bind(b)(s);
  s.wait();
  return true;
}

// The reference in fp32 on bf16-rounded inputs, against `impl` reading the inputs marked in
// `bf16` as bfloat16 and writing out_type.
// oneDNN 2.6 has bf16 kernels from AVX-512 up (emulated without AVX512-BF16); below, none.
bool onednn_has_bf16() {
  const auto isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core || isa == dnnl::cpu_isa::avx512_core_vnni ||
         isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

void expect_bf16_matches(const ops::Op& op, std::vector<HostTensor> in, std::vector<bool> bf16, DType out_type,
                         double rtol = kUlp, double atol = 1e-5, const std::string& impl = "onednn") {
  if (impl != "reference" && !onednn_has_bf16()) GTEST_SKIP() << "oneDNN has no bf16 kernels on this CPU";
  std::vector<HostTensor> ref_in, k_in;
  for (size_t i = 0; i < in.size(); ++i) {
    const bool b = i < bf16.size() && bf16[i];
    ref_in.push_back(b ? rounded(in[i]) : in[i]);
    k_in.push_back(b ? to_bf16(in[i]) : in[i]);
  }
  auto want = run_reference(op, ref_in);
  std::vector<HostTensor> got;
  ASSERT_TRUE(run_typed(op, impl, k_in, {out_type}, got)) << impl << " declined bf16 " << op.type();
  EXPECT_TRUE(all_close(to_f32(got[0]), want[0], rtol, atol)) << op.type() << " -> " << dtype_name(out_type);
}

TEST(Bf16Kernels, ConvWritesBf16OrF32) {
  ops::Conv c;
  c.pads = {1, 1, 1, 1};
  std::vector<HostTensor> in{random_tensor(DType::Float32, {1, 16, 10, 10}, 1),
                             random_tensor(DType::Float32, {32, 16, 3, 3}, 2, -0.2, 0.2, true),
                             random_tensor(DType::Float32, {32}, 3, -0.5, 0.5, true)};
  expect_bf16_matches(c, in, {true, true, false}, DType::BFloat16, kUlp, 1e-3);
  expect_bf16_matches(c, in, {true, true, false}, DType::Float32, 1e-5, 1e-4);
}

TEST(Bf16Kernels, ConvWithReluAndGroups) {
  ops::Conv c;
  c.group = 4;
  c.strides = {2, 2};
  c.post.ops = {{ops::PostOp::Kind::Act, ops::Act::Relu, 0.f, 0.f}};
  std::vector<HostTensor> in{random_tensor(DType::Float32, {2, 16, 9, 9}, 4),
                             random_tensor(DType::Float32, {16, 4, 3, 3}, 5, -0.3, 0.3, true)};
  expect_bf16_matches(c, in, {true, true}, DType::BFloat16, kUlp, 1e-3);
}

TEST(Bf16Kernels, ConvTranspose) {
  ops::ConvTranspose c;
  c.strides = {2, 2};
  std::vector<HostTensor> in{random_tensor(DType::Float32, {1, 8, 5, 5}, 6),
                             random_tensor(DType::Float32, {8, 4, 2, 2}, 7, -0.5, 0.5, true)};
  expect_bf16_matches(c, in, {true, true}, DType::BFloat16, kUlp, 1e-3);
}

TEST(Bf16Kernels, MatMulConstantAndRuntimeB) {
  ops::MatMul m;
  auto a = random_tensor(DType::Float32, {2, 7, 64}, 8);
  expect_bf16_matches(m, {a, random_tensor(DType::Float32, {64, 48}, 9, -0.2, 0.2, true)}, {true, true},
                      DType::BFloat16, kUlp, 1e-3);
  expect_bf16_matches(m, {a, random_tensor(DType::Float32, {2, 64, 5}, 10)}, {true, true}, DType::Float32, 1e-5, 1e-4);
}

TEST(Bf16Kernels, MatMulAttentionPermsAndBias) {
  ops::MatMul m;  // [B, S, H, D] read as [B, H, S, D] x [B, H, D, S] through strides
  m.perm_a = {0, 2, 1, 3};
  m.perm_b = {0, 2, 3, 1};
  m.alpha = 0.125f;
  expect_bf16_matches(m, {random_tensor(DType::Float32, {1, 6, 2, 16}, 11), random_tensor(DType::Float32, {1, 6, 2, 16}, 12)},
                      {true, true}, DType::BFloat16, kUlp, 1e-3);
  ops::MatMul b;
  expect_bf16_matches(b, {random_tensor(DType::Float32, {4, 32}, 13), random_tensor(DType::Float32, {32, 8}, 14, -1, 1, true),
                          random_tensor(DType::Float32, {8}, 15, -1, 1, true)},
                      {true, true, false}, DType::BFloat16, kUlp, 1e-3);
}

TEST(Bf16Kernels, GemmTransBWithBias) {
  ops::Gemm g;
  g.transB = true;
  expect_bf16_matches(g, {random_tensor(DType::Float32, {3, 40}, 16), random_tensor(DType::Float32, {10, 40}, 17, -1, 1, true),
                          random_tensor(DType::Float32, {10}, 18, -1, 1, true)},
                      {true, true, false}, DType::Float32, 1e-5, 1e-4);
}

TEST(Bf16Kernels, Pooling) {
  ops::MaxPool mp;
  mp.p.kernel_shape = {3, 3};
  mp.p.strides = {2, 2};
  auto x = random_tensor(DType::Float32, {1, 8, 9, 9}, 19);
  expect_bf16_matches(mp, {x}, {true}, DType::BFloat16, 0, 0);  // max of bf16 values is exact
  ops::AveragePool ap;
  ap.p.kernel_shape = {2, 2};
  expect_bf16_matches(ap, {x}, {true}, DType::BFloat16);
  ops::GlobalAveragePool gap;
  expect_bf16_matches(gap, {x}, {true}, DType::BFloat16);
}

TEST(Bf16Kernels, UnaryActivations) {
  auto x = random_tensor(DType::Float32, {3, 50}, 20, -3, 3);
  for (ops::Act a : {ops::Act::Relu, ops::Act::Sigmoid, ops::Act::Tanh, ops::Act::Gelu}) {
    ops::Unary u;
    u.act = a;
    expect_bf16_matches(u, {x}, {true}, DType::BFloat16, 2 * kUlp, 1e-3);
  }
}

TEST(Bf16Kernels, BinaryMixedTypesAndBroadcast) {
  ops::Binary add;
  auto a = random_tensor(DType::Float32, {2, 8, 16}, 21), b = random_tensor(DType::Float32, {2, 8, 16}, 22);
  expect_bf16_matches(add, {a, b}, {true, true}, DType::BFloat16);
  // A bf16 activation plus an fp32 per-channel constant, written as fp32.
  expect_bf16_matches(add, {a, random_tensor(DType::Float32, {16}, 23, -1, 1, true)}, {true, false}, DType::Float32,
                      1e-6, 1e-6);
  ops::Binary mul;
  mul.kind = ops::BinaryKind::Mul;
  expect_bf16_matches(mul, {a, random_tensor(DType::Float32, {1, 8, 1}, 24)}, {true, true}, DType::BFloat16);
}

TEST(Bf16Kernels, LayerNormAndSoftmax) {
  ops::LayerNormalization ln;
  ln.epsilon = 1e-12f;
  expect_bf16_matches(ln,
                      {random_tensor(DType::Float32, {4, 64}, 25, -2, 2), random_tensor(DType::Float32, {64}, 26, 0.5, 1.5, true),
                       random_tensor(DType::Float32, {64}, 27, -0.5, 0.5, true)},
                      {true, false, false}, DType::BFloat16, 2 * kUlp, 1e-2);
  ops::Softmax sm;
  auto x = random_tensor(DType::Float32, {2, 3, 33}, 28, -4, 4);
  expect_bf16_matches(sm, {x}, {true}, DType::BFloat16, 2 * kUlp, 1e-4);
  expect_bf16_matches(sm, {x}, {true}, DType::Float32, 1e-5, 1e-6);
}

TEST(Bf16Kernels, ReorderConvertsTypeAndLayout) {
  if (!onednn_has_bf16()) GTEST_SKIP() << "oneDNN has no bf16 kernels on this CPU";
  ops::Reorder r;
  auto x = random_tensor(DType::Float32, {1, 20, 3, 3}, 29);
  std::vector<HostTensor> in{x}, got;
  ASSERT_TRUE(run_typed(r, "onednn", in, {DType::BFloat16}, got));
  EXPECT_TRUE(all_close(to_f32(got[0]), rounded(x), 0, 0));  // f32 -> bf16 rounds to nearest, exactly
  std::vector<HostTensor> back_in{got[0]}, back;
  ASSERT_TRUE(run_typed(r, "onednn", back_in, {DType::Float32}, back));
  EXPECT_TRUE(all_close(back[0], rounded(x), 0, 0));
  // Into a blocked bf16 layout: channel padding must not leak into the values.
  std::vector<HostTensor> blocked;
  ASSERT_TRUE(run_typed(r, "onednn", in, {DType::BFloat16}, blocked, {"nChw16c"}));
  EXPECT_EQ(blocked[0].bytes.size(), dnn::physical_bytes(DType::BFloat16, x.shape, "nChw16c"));
}

TEST(Bf16Kernels, CastBetweenFloatTypes) {
  if (!onednn_has_bf16()) GTEST_SKIP() << "oneDNN has no bf16 kernels on this CPU";
  auto x = random_tensor(DType::Float32, {5, 7}, 30, -100, 100);
  for (DType t : {DType::BFloat16, DType::Float16}) {
    ops::Cast c;
    c.to = static_cast<int64_t>(t);
    std::vector<HostTensor> in{x}, fast, ref;
    ASSERT_TRUE(run_typed(c, "onednn", in, {t}, fast)) << dtype_name(t);
    ASSERT_TRUE(run_typed(c, "reference", in, {t}, ref)) << dtype_name(t);
    EXPECT_EQ(fast[0].bytes, ref[0].bytes) << "f32 -> " << dtype_name(t) << " rounds differently";
  }
}

TEST(Bf16Kernels, ReferenceKernelWidensBf16) {
  // Ops without a bf16 fast kernel still run: the reference reads and writes through fp32.
  ops::Conv c;
  std::vector<HostTensor> in{random_tensor(DType::Float32, {1, 3, 6, 6}, 31),
                             random_tensor(DType::Float32, {4, 3, 3, 3}, 32, -1, 1, true)};
  expect_bf16_matches(c, in, {true, true}, DType::BFloat16, kUlp, 1e-3, "reference");
}

TEST(Bf16Kernels, InferTypesAllowsReducedOutputsOnly) {
  ops::Conv c;
  auto out = ops::infer_types(c, {{DType::BFloat16, {1, 3, 6, 6}}, {DType::BFloat16, {4, 3, 3, 3}}}, {nullptr, nullptr}, 1);
  EXPECT_EQ(out[0].dtype, DType::Float32);
  EXPECT_TRUE(ops::stored_type_ok(out[0].dtype, DType::BFloat16));
  EXPECT_FALSE(ops::stored_type_ok(DType::Float32, DType::Float16));
  EXPECT_FALSE(ops::stored_type_ok(DType::Int64, DType::BFloat16));
}

}  // namespace
}  // namespace kiln::test
