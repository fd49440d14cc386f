// Tactics: every variant a kernel offers (each oneDNN implementation, Winograd) computes what the
// reference kernel computes; a tactic this machine lacks falls back to the kernel's first choice
// and says so; the tuner's layer signature tells apart exactly what changes a measurement.
#include <gmock/gmock.h>

#include "passes/graph_build_util.h"
#include "kernel_test_util.h"
#include "ops/nn/conv.h"
#include "ops/math/gemm.h"
#include "ops/nn/pool.h"
#include "tune/select.h"
#include "tune/tactics.h"
#include "tune/timer.h"

namespace kiln::test {
namespace {

using ::testing::HasSubstr;

std::vector<float> values(const HostTensor& t) {
  std::vector<float> v(static_cast<size_t>(t.elements()));
  std::memcpy(v.data(), t.bytes.data(), v.size() * sizeof(float));
  return v;
}

struct Result {
  std::vector<float> y;  // plain layout
  Tactic used;
};

// Copies between a plain tensor and the same tensor in `layout` with oneDNN's reorder.
std::vector<uint8_t> relayout(const dnnl::engine& eng, const void* src, const KernelTensor& from, const KernelTensor& to) {
  dnnl::memory a(dnn::md(from), eng, const_cast<void*>(src));
  dnnl::memory b(dnn::md(to), eng);
  dnnl::stream st(eng);
  dnnl::reorder(a, b).execute(st, a, b);
  st.wait();
  auto* p = static_cast<const uint8_t*>(b.get_data_handle());
  return {p, p + dnn::md(to).get_size()};
}

// Runs op's "onednn" kernel with tactic `t` (null: its first choice), activations in `layout`.
Result run_with(const ops::Op& op, std::vector<HostTensor>& in, const Dims& y_shape, const std::string& layout,
                const Tactic* t, std::vector<Tactic>* candidates = nullptr) {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  KernelSpec spec{op, {}, {}, eng, t, candidates};
  std::vector<std::vector<uint8_t>> bufs;
  for (size_t i = 0; i < in.size(); ++i) {
    const bool act = !in[i].constant;
    KernelTensor kt{in[i].dtype, in[i].shape, act ? layout : "", in[i].constant ? in[i].bytes.data() : nullptr};
    spec.in.push_back(kt);
    bufs.push_back(act && !layout.empty() ? relayout(eng, in[i].bytes.data(), {in[i].dtype, in[i].shape, "", nullptr}, kt)
                                          : in[i].bytes);
  }
  const KernelTensor yt{DType::Float32, y_shape, layout, nullptr};
  spec.out.push_back(yt);
  auto k = KernelRegistry::instance().create(std::string(op.type()), "onednn", spec);
  if (!k) return {};
  std::vector<uint8_t> y(dnn::physical_bytes(DType::Float32, y_shape, layout), 0xff);
  std::vector<uint8_t> scratch(k->scratchpad_bytes() + 64);
  KernelBinding b;
  for (auto& buf : bufs) b.in.push_back(buf.data());
  b.out.push_back(y.data());
  b.scratchpad = scratch.data();
  dnnl::stream st(eng);
  k->bind(b)(st);
  st.wait();
  if (!layout.empty()) y = relayout(eng, y.data(), yt, {DType::Float32, y_shape, "", nullptr});
  Result r{std::vector<float>(static_cast<size_t>(shape_elements(y_shape))), k->tactic()};
  std::memcpy(r.y.data(), y.data(), r.y.size() * sizeof(float));
  return r;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::abs(double(got[i]) - want[i]) / (1 + std::abs(double(want[i]))));
  EXPECT_LE(worst, tol) << what;
}

ops::Conv conv3x3() {
  ops::Conv c;
  c.pads = {1, 1, 1, 1};
  c.post.ops.push_back({ops::PostOp::Kind::Act, ops::Act::Relu, 0.f, 0.f});
  return c;
}

TEST(Tactics, EveryConvVariantMatchesTheReference) {
  ops::Conv c = conv3x3();
  std::vector<HostTensor> in{random_tensor(DType::Float32, {2, 32, 14, 14}, 1),
                             random_tensor(DType::Float32, {32, 32, 3, 3}, 2, -0.2, 0.2, true),
                             random_tensor(DType::Float32, {32}, 3, -1, 1, true)};
  const std::vector<float> want = values(run_reference(c, in).at(0));
  for (std::string layout : {"", "nChw16c"}) {
    std::vector<Tactic> cands;
    run_with(c, in, {2, 32, 14, 14}, layout, nullptr, &cands);
    ASSERT_FALSE(cands.empty()) << layout;
    const bool avx512 = dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core;
    bool wino = false;
    for (auto& t : cands) wino |= t.algorithm == "winograd";
    // oneDNN 2.6's f32 Winograd is avx512_core only, and only for blocked activations.
    if (avx512 && !layout.empty()) EXPECT_TRUE(wino) << "no Winograd candidate for a blocked 3x3 stride-1 conv";
    for (const Tactic& t : cands) {
      Result r = run_with(c, in, {2, 32, 14, 14}, layout, &t);
      EXPECT_TRUE(r.used.same_choice(t)) << t.id() << " ran as " << r.used.id();
      EXPECT_FALSE(r.used.weights_format.empty()) << t.id();
      // Winograd transforms round differently from direct convolution.
      expect_close(r.y, want, t.algorithm == "winograd" ? 1e-3 : 1e-5, t.id() + " in layout '" + layout + "'");
    }
  }
}

TEST(Tactics, EveryMatMulVariantMatchesTheReference) {
  ops::MatMul m;
  std::vector<HostTensor> in{random_tensor(DType::Float32, {64, 256}, 4),
                             random_tensor(DType::Float32, {256, 96}, 5, -0.1, 0.1, true)};
  const std::vector<float> want = values(run_reference(m, in).at(0));
  std::vector<Tactic> cands;
  run_with(m, in, {64, 96}, "", nullptr, &cands);
  ASSERT_FALSE(cands.empty());
  for (const Tactic& t : cands) {
    Result r = run_with(m, in, {64, 96}, "", &t);
    EXPECT_TRUE(r.used.same_choice(t)) << t.id();
    expect_close(r.y, want, 1e-5, t.id());
  }
}

TEST(Tactics, EveryConvTransposeVariantMatchesTheReference) {
  ops::ConvTranspose ct;
  ct.strides = {2, 2};
  ct.pads = {1, 1, 1, 1};
  std::vector<HostTensor> in{random_tensor(DType::Float32, {1, 16, 7, 7}, 10),
                             random_tensor(DType::Float32, {16, 8, 3, 3}, 11, -0.3, 0.3, true)};
  const HostTensor ref = run_reference(ct, in).at(0);
  std::vector<Tactic> cands;
  run_with(ct, in, ref.shape, "", nullptr, &cands);
  ASSERT_FALSE(cands.empty());
  for (const Tactic& t : cands) {
    Result r = run_with(ct, in, ref.shape, "", &t);
    EXPECT_TRUE(r.used.same_choice(t)) << t.id();
    expect_close(r.y, values(ref), 1e-5, t.id());
  }
}

TEST(Tactics, EveryMaxPoolVariantMatchesTheReference) {
  ops::MaxPool mp;
  mp.p.kernel_shape = {3, 3};
  mp.p.strides = {2, 2};
  mp.p.pads = {1, 1, 1, 1};
  std::vector<HostTensor> in{random_tensor(DType::Float32, {1, 32, 15, 15}, 12)};
  const HostTensor ref = run_reference(mp, in).at(0);
  for (std::string layout : {"", "nChw16c"}) {
    std::vector<Tactic> cands;
    run_with(mp, in, ref.shape, layout, nullptr, &cands);
    ASSERT_FALSE(cands.empty()) << layout;
    for (const Tactic& t : cands) {
      Result r = run_with(mp, in, ref.shape, layout, &t);
      EXPECT_TRUE(r.used.same_choice(t)) << t.id();
      expect_close(r.y, values(ref), 0, t.id() + " in layout '" + layout + "'");  // max is exact
    }
  }
}

TEST(Tactics, AnUnavailableTacticFallsBackToTheFirstChoice) {
  ops::Conv c;  // 1x1: no Winograd either
  std::vector<HostTensor> in{random_tensor(DType::Float32, {1, 16, 8, 8}, 6),
                             random_tensor(DType::Float32, {16, 16, 1, 1}, 7, -1, 1, true)};
  const std::vector<float> want = values(run_reference(c, in).at(0));
  const Tactic first = run_with(c, in, {1, 16, 8, 8}, "", nullptr).used;
  ASSERT_FALSE(first.impl.empty());
  const Tactic missing{"jit:avx1024_imaginary", "winograd", ""};
  Result r = run_with(c, in, {1, 16, 8, 8}, "", &missing);
  EXPECT_FALSE(r.used.same_choice(missing));
  EXPECT_TRUE(r.used.same_choice(first)) << r.used.id() << " vs " << first.id();
  expect_close(r.y, want, 1e-5, "fallback");
}

TEST(Tactics, TimerMeasuresAPositiveMedian) {
  ops::Conv c = conv3x3();
  std::vector<HostTensor> in{random_tensor(DType::Float32, {1, 16, 8, 8}, 8),
                             random_tensor(DType::Float32, {16, 16, 3, 3}, 9, -1, 1, true)};
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  KernelSpec spec{c, {}, {}, eng};
  spec.in.push_back({DType::Float32, {1, 16, 8, 8}, "", nullptr});
  spec.in.push_back({DType::Float32, {16, 16, 3, 3}, "", in[1].bytes.data()});
  spec.out.push_back({DType::Float32, {1, 16, 8, 8}, "", nullptr});
  auto k = KernelRegistry::instance().create("Conv", "onednn", spec);
  ASSERT_TRUE(k);
  const double us = tune::time_kernel(*k, spec, {3, 50});
  EXPECT_GT(us, 0);
  EXPECT_LT(us, 1e6);
}

// A conv node over a 1x8x10x10 input with the given attributes, weights filled with `w`.
std::string signature(std::vector<int64_t> strides, bool relu, const std::string& layout, float w,
                      Dims x = {1, 8, 10, 10}) {
  ir::Graph g;
  ir::Value* in = input(g, "x", x);
  in->layout = layout;
  ir::Value* wt = g.add_constant("w", DType::Float32, {8, 8, 3, 3});
  std::fill_n(static_cast<float*>(wt->constant->data()), 8 * 8 * 9, w);
  auto op = std::make_unique<ops::Conv>();
  op->strides = strides;
  if (relu) op->post.ops.push_back({ops::PostOp::Kind::Act, ops::Act::Relu, 0.f, 0.f});
  ir::Node* n = add(g, "conv", std::move(op), {in, wt});
  return tune::layer_signature(*n, "onednn");
}

TEST(Tactics, LayerSignatureSeesWhatChangesTheTimeAndNothingElse) {
  const std::string base = signature({1, 1}, false, "", 1.f);
  EXPECT_EQ(signature({1, 1}, false, "", 2.f), base) << "weight values do not change a layer's speed";
  EXPECT_NE(signature({2, 2}, false, "", 1.f), base);
  EXPECT_NE(signature({1, 1}, true, "", 1.f), base) << "fused post-ops are part of the layer";
  EXPECT_NE(signature({1, 1}, false, "nChw16c", 1.f), base);
  EXPECT_NE(signature({1, 1}, false, "", 1.f, {2, 8, 10, 10}), base);
  EXPECT_THAT(base, HasSubstr("Conv/onednn"));
}

TEST(Tactics, MachineSignatureNamesIsaCoresAndThreads) {
  MachineInfo a{"avx512_core", "EPYC", 2, 2}, b = a;
  b.threads = 1;
  EXPECT_NE(tune::machine_signature(a), tune::machine_signature(b));
  b = a;
  b.isa = "avx2";
  EXPECT_NE(tune::machine_signature(a), tune::machine_signature(b));
}

}  // namespace
}  // namespace kiln::test
