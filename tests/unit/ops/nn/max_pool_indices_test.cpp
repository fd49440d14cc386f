// MaxPool's Indices output: the reference kernel against the ONNX examples, infer(), the kernel
// choice, and the importer.
#include <cmath>

#include <gtest/gtest.h>

#include "ops/multi_output_test_util.h"
#include "ops/nn/pool.h"

namespace kiln::test {
namespace {

using namespace ops;
using namespace multi_output;

MaxPool max_pool(std::vector<int64_t> k, std::vector<int64_t> s, std::vector<int64_t> pads, int64_t order = 0) {
  MaxPool m;
  m.p.kernel_shape = std::move(k);
  m.p.strides = std::move(s);
  m.p.pads = std::move(pads);
  m.storage_order = order;
  return m;
}

std::vector<float> iota(int n, float start = 0) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = start++;
  return v;
}

TEST(MaxPoolIndices, OnnxExamples) {
  // with_argmax_2d_precomputed_pads: 5x5 window, pads 2.
  auto r = run_ref(max_pool({5, 5}, {}, {2, 2, 2, 2}), {f32({1, 1, 5, 5}, iota(25, 1))}, 2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].dtype, DType::Int64);
  EXPECT_EQ(r[1].shape, (Dims{1, 1, 5, 5}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{12, 13, 14, 14, 14, 17, 18, 19, 19, 19, 22, 23, 24,
                                                       24, 24, 22, 23, 24, 24, 24, 22, 23, 24, 24, 24}));
  EXPECT_EQ(vals<float>(r[0])[0], 13.f);
  // with_argmax_2d_precomputed_strides, storage_order 1: column-major positions.
  r = run_ref(max_pool({2, 2}, {2, 2}, {}, 1), {f32({1, 1, 5, 5}, iota(25, 1))}, 2);
  EXPECT_EQ(vals<float>(r[0]), (std::vector<float>{7, 9, 17, 19}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{6, 16, 8, 18}));
  r = run_ref(max_pool({2, 2}, {2, 2}, {}, 0), {f32({1, 1, 5, 5}, iota(25, 1))}, 2);
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{6, 8, 16, 18}));
}

TEST(MaxPoolIndices, PlanesTiesAnd3d) {
  // Two batches x two channels: indices include the plane offset n * C * HW + c * HW.
  std::vector<float> x(16, 0.f);
  x[1] = 5, x[4 + 2] = 5, x[8 + 3] = 5, x[12 + 0] = 5;
  auto r = run_ref(max_pool({2, 2}, {}, {}), {f32({2, 2, 2, 2}, x)}, 2);
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{1, 6, 11, 12}));
  // Ties keep the first position in row-major window order.
  r = run_ref(max_pool({2, 2}, {}, {}), {f32({1, 1, 2, 2}, {3, 3, 3, 3})}, 2);
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{0}));
  // 3-D, column-major: position (d, h, w) of a 2x3x4 volume is d + 2 * h + 6 * w.
  std::vector<float> v(24, 0.f);
  v[1 * 12 + 2 * 4 + 3] = 9;  // (1, 2, 3): row-major 23
  r = run_ref(max_pool({2, 3, 4}, {}, {}, 1), {f32({1, 1, 2, 3, 4}, v)}, 2);
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{1 + 2 * 2 + 6 * 3}));
  r = run_ref(max_pool({2, 3, 4}, {}, {}, 0), {f32({1, 1, 2, 3, 4}, v)}, 2);
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{23}));
  // int8 input.
  r = run_ref(max_pool({3}, {3}, {}), {s8({1, 1, 6}, {-3, 7, -1, 4, 4, -8})}, 2);
  EXPECT_EQ(vals<int8_t>(r[0]), (std::vector<int8_t>{7, 4}));
  EXPECT_EQ(vals<int64_t>(r[1]), (std::vector<int64_t>{1, 3}));
}

TEST(MaxPoolIndices, InferAndKernelChoice) {
  EXPECT_EQ(infer_err(max_pool({2, 2}, {}, {}), {f32({1, 1, 4, 4})}, 2), "");
  EXPECT_NE(infer_err(max_pool({2, 2}, {}, {}), {f32({1, 1, 4, 4})}, 3).find("Indices"), std::string::npos);
  EXPECT_NE(infer_err(max_pool({2, 2}, {}, {}, 2), {f32({1, 1, 4, 4})}, 2).find("storage_order"), std::string::npos);
  AveragePool avg;
  avg.p.kernel_shape = {2, 2};
  EXPECT_NE(infer_err(avg, {f32({1, 1, 4, 4})}, 2).find("one output"), std::string::npos);
  // The oneDNN kernel computes Y only, so it declines the two-output form.
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  const MaxPool op = max_pool({2, 2}, {}, {});
  KernelSpec one{op, {{DType::Float32, {1, 1, 4, 4}, "", nullptr}}, {{DType::Float32, {1, 1, 3, 3}, "", nullptr}}, eng};
  EXPECT_NE(KernelRegistry::instance().create("MaxPool", "onednn", one), nullptr);
  KernelSpec two = one;
  two.out.push_back({DType::Int64, {1, 1, 3, 3}, "", nullptr});
  EXPECT_EQ(KernelRegistry::instance().create("MaxPool", "onednn", two), nullptr);
}

TEST(MaxPoolIndices, Import) {
  OnnxBuilder b(12);
  b.input("x", {1, 1, 4, 4});
  auto& n = b.node("MaxPool", {"x"}, {"y", "i"});
  OnnxBuilder::attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
  OnnxBuilder::attr(n, "storage_order", int64_t{1});
  b.output("y", {1, 1, 3, 3});
  b.output("i", {1, 1, 3, 3}, onnx::TensorProto::INT64);
  auto g = import(b);
  const auto* mp = only_op<MaxPool>(*g);
  ASSERT_TRUE(mp);
  EXPECT_EQ(mp->storage_order, 1);
  for (auto& node : g->nodes())
    if (node->op && node->type() == "MaxPool") {
      ASSERT_EQ(node->outputs.size(), 2u);
      EXPECT_EQ(node->outputs[1]->type.dtype, DType::Int64);
    }
  // An unused Indices output keeps the one-output form.
  OnnxBuilder u(12);
  u.input("x", {1, 1, 4, 4});
  OnnxBuilder::attr(u.node("MaxPool", {"x"}, {"y", ""}), "kernel_shape", std::vector<int64_t>{2, 2});
  u.output("y", {1, 1, 3, 3});
  auto gu = import(u);
  for (auto& node : gu->nodes())
    if (node->op && node->type() == "MaxPool") {
      EXPECT_EQ(node->outputs.size(), 1u);
    }
}

}  // namespace
}  // namespace kiln::test
