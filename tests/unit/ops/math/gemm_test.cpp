// Gemm and MatMul: reference vs hand-computed products (transposes, alpha/beta, C broadcast,
// numpy 1-D and batch rules, bias, post-ops), infer() errors, the oneDNN matmul kernels vs the
// reference, and the importers.
#include <cstring>

#include <gtest/gtest.h>

#include "graph_eval_util.h"
#include "import/importer.h"
#include "kernel_test_util.h"
#include "onnx_builder_util.h"
#include "ops/math/gemm.h"

namespace kiln::test {
namespace {

using namespace ops;

template <class T>
HostTensor make(DType t, Dims s, const std::vector<T>& v, bool is_const = false) {
  HostTensor h(t, std::move(s), is_const);
  EXPECT_EQ(static_cast<size_t>(h.elements()), v.size());
  std::memcpy(h.bytes.data(), v.data(), v.size() * sizeof(T));
  return h;
}
HostTensor f32(Dims s, const std::vector<float>& v) { return make(DType::Float32, std::move(s), v); }
template <class T>
std::vector<T> values(const HostTensor& h) {
  std::vector<T> v(static_cast<size_t>(h.elements()));
  std::memcpy(v.data(), h.bytes.data(), h.bytes.size());
  return v;
}

// A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]]: A*B = [[58,64],[139,154]].
const std::vector<float> kA{1, 2, 3, 4, 5, 6}, kAT{1, 4, 2, 5, 3, 6};
const std::vector<float> kB{7, 8, 9, 10, 11, 12}, kBT{7, 9, 11, 8, 10, 12};

Gemm gemm(float alpha = 1, float beta = 1, bool ta = false, bool tb = false, std::vector<PostOp> post = {}) {
  Gemm g;
  g.alpha = alpha;
  g.beta = beta;
  g.transA = ta;
  g.transB = tb;
  g.post.ops = std::move(post);
  return g;
}

std::vector<float> run_f(const Op& op, std::vector<HostTensor> in) { return values<float>(run_reference(op, in)[0]); }

TEST(GemmReference, HandComputed) {
  EXPECT_EQ(run_f(gemm(), {f32({2, 3}, kA), f32({3, 2}, kB)}), (std::vector<float>{58, 64, 139, 154}));
  EXPECT_EQ(run_f(gemm(1, 1, true, true), {f32({3, 2}, kAT), f32({2, 3}, kBT)}),
            (std::vector<float>{58, 64, 139, 154}));
  // alpha = 2, beta = 0.5, C a row [10, 20].
  EXPECT_EQ(run_f(gemm(2, 0.5f), {f32({2, 3}, kA), f32({3, 2}, kB), f32({2}, {10, 20})}),
            (std::vector<float>{121, 138, 283, 318}));
  EXPECT_EQ(run_f(gemm(), {f32({2, 3}, kA), f32({3, 2}, kB), f32({}, {1})}), (std::vector<float>{59, 65, 140, 155}));
  EXPECT_EQ(run_f(gemm(), {f32({2, 3}, kA), f32({3, 2}, kB), f32({2, 1}, {1, 2})}),
            (std::vector<float>{59, 65, 141, 156}));
  EXPECT_EQ(run_f(gemm(1, -1), {f32({2, 3}, kA), f32({3, 2}, kB), f32({2, 2}, {8, 4, 9, 4})}),
            (std::vector<float>{50, 60, 130, 150}));
  std::vector<int32_t> ia{1, 2, 3, 4, 5, 6}, ib{7, 8, 9, 10, 11, 12};
  std::vector<HostTensor> ints{make(DType::Int32, {2, 3}, ia), make(DType::Int32, {3, 2}, ib)};
  EXPECT_EQ(values<int32_t>(run_reference(gemm(), ints)[0]), (std::vector<int32_t>{58, 64, 139, 154}));
  std::vector<double> da(kA.begin(), kA.end()), db(kB.begin(), kB.end());
  std::vector<HostTensor> dbl{make(DType::Float64, {2, 3}, da), make(DType::Float64, {3, 2}, db)};
  EXPECT_EQ(values<double>(run_reference(gemm(0.5f, 1), dbl)[0]), (std::vector<double>{29, 32, 69.5, 77}));
}

TEST(GemmReference, PostOps) {
  PostOp relu{PostOp::Kind::Act, Act::Relu, 0, 0}, sum{PostOp::Kind::Sum, Act::Relu, 0, 0};
  // relu(A*B - 100) + S, C given as an empty slot (the Sum operand is always input 3).
  std::vector<HostTensor> in{f32({2, 3}, kA), f32({3, 2}, kB), f32({}, {-100}), f32({2, 2}, {1, 2, 3, 4})};
  EXPECT_EQ(run_f(gemm(1, 1, false, false, {relu, sum}), in), (std::vector<float>{1, 2, 42, 58}));
}

TEST(GemmReference, InferErrors) {
  auto infer = [](const Op& op, std::vector<HostTensor> in) { return infer_outputs(op, in); };
  auto t = [](Dims s, DType d = DType::Float32) { return HostTensor(d, std::move(s)); };
  EXPECT_THROW(infer(gemm(), {t({2, 3, 1}), t({3, 2})}), Error) << "A of rank 3";
  EXPECT_THROW(infer(gemm(), {t({3}), t({3, 2})}), Error) << "A of rank 1";
  EXPECT_THROW(infer(gemm(), {t({2, 3}), t({4, 2})}), Error) << "K mismatch";
  EXPECT_THROW(infer(gemm(1, 1, true), {t({2, 3}), t({3, 2})}), Error) << "K mismatch after transA";
  EXPECT_THROW(infer(gemm(), {t({2, 3}), t({3, 2}, DType::Float64)}), Error);
  EXPECT_THROW(infer(gemm(), {t({2, 3}), t({3, 2}), t({3})}), Error) << "C does not broadcast to [2,2]";
  EXPECT_THROW(infer(gemm(), {t({2, 3}), t({3, 2}), t({2, 2, 1})}), Error) << "C of rank 3";
  EXPECT_THROW(infer(gemm(), {t({2, 3}, DType::Int8), t({3, 2}, DType::Int8)}), Error);
  PostOp relu{PostOp::Kind::Act, Act::Relu, 0, 0};
  EXPECT_THROW(infer(gemm(1, 1, false, false, {relu}), {t({2, 3}, DType::Int32), t({3, 2}, DType::Int32)}), Error);
  EXPECT_EQ(infer(gemm(1, 1, true, true), {t({3, 2}), t({5, 3}), t({5})})[0].shape, (Dims{2, 5}));
}

MatMul matmul(std::vector<PostOp> post = {}) {
  MatMul m;
  m.post.ops = std::move(post);
  return m;
}

TEST(GemmMatMulReference, NumpySemantics) {
  EXPECT_EQ(run_f(matmul(), {f32({2, 3}, kA), f32({3, 2}, kB)}), (std::vector<float>{58, 64, 139, 154}));
  std::vector<HostTensor> vm{f32({3}, {1, 2, 3}), f32({3, 2}, kB)};
  auto y = run_reference(matmul(), vm)[0];
  EXPECT_EQ(y.shape, (Dims{2}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{58, 64}));
  std::vector<HostTensor> mv{f32({2, 3}, kA), f32({3}, {7, 9, 11})};
  y = run_reference(matmul(), mv)[0];
  EXPECT_EQ(y.shape, (Dims{2}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{58, 139}));
  std::vector<HostTensor> vv{f32({3}, {1, 2, 3}), f32({3}, {4, 5, 6})};
  y = run_reference(matmul(), vv)[0];
  EXPECT_TRUE(y.shape.empty());
  EXPECT_EQ(values<float>(y), (std::vector<float>{32}));
  // bias along the last dim
  EXPECT_EQ(run_f(matmul(), {f32({2, 3}, kA), f32({3, 2}, kB), f32({2}, {1, -1})}),
            (std::vector<float>{59, 63, 140, 153}));
}

TEST(GemmMatMulReference, BatchBroadcast) {
  // A [2,1,2,3] @ B [3,3,2] -> [2,3,2,2]; out[p][q] = A[p][0] @ B[q].
  auto A = random_tensor(DType::Float32, {2, 1, 2, 3}, 1), B = random_tensor(DType::Float32, {3, 3, 2}, 2);
  std::vector<HostTensor> in{A, B};
  auto y = run_reference(matmul(), in)[0];
  ASSERT_EQ(y.shape, (Dims{2, 3, 2, 2}));
  const float *a = A.as<float>(), *b = B.as<float>(), *o = y.as<float>();
  for (int p = 0; p < 2; ++p)
    for (int q = 0; q < 3; ++q)
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) {
          double s = 0;
          for (int k = 0; k < 3; ++k) s += double(a[p * 6 + i * 3 + k]) * b[q * 6 + k * 2 + j];
          EXPECT_NEAR(o[((p * 3 + q) * 2 + i) * 2 + j], s, 1e-6);
        }
}

TEST(GemmMatMulReference, InferErrors) {
  auto infer = [](std::vector<HostTensor> in) { return infer_outputs(matmul(), in); };
  auto t = [](Dims s, DType d = DType::Float32) { return HostTensor(d, std::move(s)); };
  EXPECT_THROW(infer({t({2, 3}), t({4, 2})}), Error) << "K mismatch";
  EXPECT_THROW(infer({t({2, 2, 3}), t({3, 3, 2})}), Error) << "batch dims 2 and 3 do not broadcast";
  EXPECT_THROW(infer({t({}), t({3, 2})}), Error) << "scalar operand";
  EXPECT_THROW(infer({t({2, 3}), t({3, 2}, DType::Int32)}), Error);
  EXPECT_THROW(infer({t({2, 3}), t({3}), t({1})}), Error) << "bias needs a 2-D B";
  EXPECT_THROW(infer({t({2, 3}), t({3, 4}), t({3})}), Error) << "bias size is not N";
  EXPECT_EQ(infer({t({5, 1, 2, 3}), t({4, 3, 6})})[0].shape, (Dims{5, 4, 2, 6}));
}

// ---- oneDNN kernels vs reference ----

TEST(GemmKernel, OnednnMatchesReference) {
  struct Case { int64_t m, k, n; bool ta, tb, const_b; };
  const std::vector<Case> cases{{5, 7, 3, false, false, false}, {33, 17, 65, true, false, true},
                                {1, 2048, 1000, false, true, true}, {8, 9, 10, true, true, false},
                                {3, 1, 4, false, true, true}};
  uint32_t seed = 1;
  for (auto& c : cases) {
    SCOPED_TRACE(std::to_string(c.m) + "x" + std::to_string(c.k) + "x" + std::to_string(c.n));
    auto A = random_tensor(DType::Float32, c.ta ? Dims{c.k, c.m} : Dims{c.m, c.k}, seed++);
    auto B = random_tensor(DType::Float32, c.tb ? Dims{c.n, c.k} : Dims{c.k, c.n}, seed++, -1, 1, c.const_b);
    double atol = c.k > 100 ? 1e-4 : 1e-5;
    expect_kernel_matches_reference(gemm(1, 1, c.ta, c.tb), "onednn", {A, B}, 1e-4, atol);
    // C forms: constant row (bias), constant matrix and column (post-op), runtime row.
    for (Dims cs : {Dims{c.n}, Dims{1, c.n}, Dims{c.m, c.n}, Dims{c.m, 1}, Dims{}}) {
      for (bool cc : {true, false}) {
        auto C = random_tensor(DType::Float32, cs, seed++, -1, 1, cc);
        SCOPED_TRACE("C " + shape_str(cs) + (cc ? " const" : " runtime"));
        expect_kernel_matches_reference(gemm(1, 1, c.ta, c.tb), "onednn", {A, B, C}, 1e-4, atol);
        if (cc) expect_kernel_matches_reference(gemm(0.5f, 2.f, c.ta, c.tb), "onednn", {A, B, C}, 1e-4, atol);
        else expect_kernel_matches_reference(gemm(-1.5f, 1.f, c.ta, c.tb), "onednn", {A, B, C}, 1e-4, atol);
      }
    }
  }
  // A runtime C scaled by beta has no single-primitive form.
  std::vector<HostTensor> in{random_tensor(DType::Float32, {2, 3}, 1), random_tensor(DType::Float32, {3, 4}, 2),
                             random_tensor(DType::Float32, {4}, 3)},
      out;
  EXPECT_FALSE(run_kernel(gemm(1, 2), "onednn", in, out));
}

TEST(GemmKernel, OnednnFusedPostOps) {
  PostOp relu{PostOp::Kind::Act, Act::Relu, 0, 0}, sum{PostOp::Kind::Sum, Act::Relu, 0, 0};
  PostOp clip{PostOp::Kind::Act, Act::Clip, 0, 0.5f};
  auto A = random_tensor(DType::Float32, {6, 20}, 1), B = random_tensor(DType::Float32, {30, 20}, 2, -1, 1, true);
  auto C = random_tensor(DType::Float32, {30}, 3, -1, 1, true), S = random_tensor(DType::Float32, {6, 30}, 4);
  expect_kernel_matches_reference(gemm(1, 1, false, true, {relu, sum, clip}), "onednn", {A, B, C, S});
  expect_kernel_matches_reference(gemm(1, 1, false, true, {sum, sum}), "onednn", {A, B, C, S, S});
}

TEST(GemmKernel, MatMulOnednnMatchesReference) {
  const std::vector<std::pair<Dims, Dims>> cases{
      {{5, 7}, {7, 3}},       {{2, 33, 17}, {2, 17, 9}}, {{2, 1, 4, 5}, {3, 5, 6}}, {{4, 3, 8}, {8, 5}},
      {{7}, {7, 4}},          {{3, 7}, {7}},             {{1, 2048}, {2048, 1000}}, {{3, 1, 2, 5}, {4, 5, 2}},
      // B shared by all batches (folded into one GEMM): seq-first projections, B with leading 1s.
      {{37, 1, 24}, {24, 40}},  {{2, 3, 4, 5}, {1, 5, 6}}};
  uint32_t seed = 100;
  for (auto& [as, bs] : cases) {
    for (bool cb : {false, true}) {
      SCOPED_TRACE(shape_str(as) + " @ " + shape_str(bs) + (cb ? " const B" : ""));
      auto A = random_tensor(DType::Float32, as, seed++), B = random_tensor(DType::Float32, bs, seed++, -1, 1, cb);
      double atol = as.back() > 100 ? 1e-4 : 1e-5;
      expect_kernel_matches_reference(matmul(), "onednn", {A, B}, 1e-4, atol);
      if (bs.size() > 1) {
        auto bias = random_tensor(DType::Float32, {bs.back()}, seed++, -1, 1, cb);
        expect_kernel_matches_reference(matmul(), "onednn", {A, B, bias}, 1e-4, atol);
      }
    }
  }
  PostOp gelu{PostOp::Kind::Act, Act::Gelu, 0, 0}, sum{PostOp::Kind::Sum, Act::Relu, 0, 0};
  auto A = random_tensor(DType::Float32, {2, 4, 16}, 1), B = random_tensor(DType::Float32, {16, 8}, 2, -1, 1, true);
  auto bias = random_tensor(DType::Float32, {8}, 3, -1, 1, true), S = random_tensor(DType::Float32, {2, 4, 8}, 4);
  expect_kernel_matches_reference(matmul({gelu, sum}), "onednn", {A, B, bias, S});
  PostOp gelu_tanh{PostOp::Kind::Act, Act::GeluTanh, 0, 0};
  expect_kernel_matches_reference(matmul({sum, gelu_tanh}), "onednn", {A, B, bias, S});
  auto scalar_bias = random_tensor(DType::Float32, {1}, 5);
  expect_kernel_matches_reference(matmul(), "onednn", {A, B, scalar_bias});
  std::vector<HostTensor> ints{random_tensor(DType::Int32, {2, 3}, 1, -5, 5), random_tensor(DType::Int32, {3, 2}, 2, -5, 5)},
      out;
  EXPECT_FALSE(run_kernel(matmul(), "onednn", ints, out));
}

// ---- importers ----

TEST(GemmImport, GemmAttributesAndOptionalC) {
  OnnxBuilder b(11);
  b.input("a", {3, 2});
  b.init("w", {2, 3}, kBT);
  auto& n = b.node("Gemm", {"a", "w"}, {"y"});
  OnnxBuilder::attr(n, "transA", int64_t{1});
  OnnxBuilder::attr(n, "transB", int64_t{1});
  OnnxBuilder::attr(n, "alpha", 0.5f);
  b.output("y", {2, 2});
  auto g = onnx_import::import_onnx_bytes(b.bytes(), "gemm.onnx", {});
  ASSERT_EQ(g->nodes().size(), 1u);
  auto* op = g->nodes()[0]->as<Gemm>();
  ASSERT_TRUE(op);
  EXPECT_TRUE(op->transA && op->transB);
  EXPECT_EQ(op->alpha, 0.5f);
  auto out = evaluate(*g, {{"a", f32({3, 2}, kAT)}});
  EXPECT_EQ(values<float>(out.at("y")), (std::vector<float>{29, 32, 69.5f, 77}));
}

TEST(GemmImport, GemmOpset9WithCAndMatMulVector) {
  OnnxBuilder b(9);
  b.input("a", {2, 3});
  b.init("w", {3, 2}, kB);
  b.init("c", {2}, {1, 2});
  b.init("v", {2}, {1, -1});
  auto& n = b.node("Gemm", {"a", "w", "c"}, {"g"});
  OnnxBuilder::attr(n, "beta", 2.f);
  b.node("MatMul", {"g", "v"}, {"y"});
  b.output("y", {2});
  auto g = onnx_import::import_onnx_bytes(b.bytes(), "gemm9.onnx", {});
  auto out = evaluate(*g, {{"a", f32({2, 3}, kA)}});
  // [[60, 68], [141, 158]] @ [1, -1]
  EXPECT_EQ(values<float>(out.at("y")), (std::vector<float>{-8, -17}));
}

}  // namespace
}  // namespace kiln::test
