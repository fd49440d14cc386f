// MaxUnpool: the reference kernel against hand-computed values, infer() errors and the importer.
// A run-time output_shape input (MaxUnpool.*) as well.
#include <gtest/gtest.h>

#include "ops/multi_output_test_util.h"
#include "ops/nn/max_unpool.h"

namespace kiln::test {
namespace {

using namespace ops;
using namespace multi_output;

TEST(MaxUnpoolReference, PoolIndicesAndOutputShape) {
  MaxUnpool op;
  op.kernel_shape = {2, 2};
  op.strides = {2, 2};
  HostTensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  auto y = run_ref(op, {x, i64({1, 1, 2, 2}, {5, 7, 13, 15})}, 1)[0];
  EXPECT_EQ(y.shape, (Dims{1, 1, 4, 4}));
  expect_near(vals<float>(y), {0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4});
  // An explicit output shape (the ONNX reference semantics): indices address the unpooled 4x4
  // shape, which lands at the origin of Y.
  op.output_shape = {1, 1, 5, 5};
  y = run_ref(op, {x, i64({1, 1, 2, 2}, {5, 7, 13, 15})}, 1)[0];
  EXPECT_EQ(y.shape, (Dims{1, 1, 5, 5}));
  std::vector<double> want(25, 0);
  want[6] = 1, want[8] = 2, want[16] = 3, want[18] = 4;
  expect_near(vals<float>(y), want);
  EXPECT_NE(run_err(op, {x, i64({1, 1, 2, 2}, {5, 7, 13, 16})}).find("out of range"), std::string::npos);
}

TEST(MaxUnpoolInfer, Errors) {
  MaxUnpool u;
  u.kernel_shape = {2, 2};
  const ops::TensorType idx{DType::Int64, {1, 1, 2, 2}};
  EXPECT_EQ(infer_err(u, {f32({1, 1, 2, 2}), idx}), "");
  EXPECT_NE(infer_err(u, {f32({1, 1, 2, 2}), {DType::Int64, {1, 1, 2, 3}}}).find("I has shape"), std::string::npos);
  u.output_shape = {1, 2, 5, 5};
  EXPECT_NE(infer_err(u, {f32({1, 1, 2, 2}), idx}).find("batch and channels"), std::string::npos);
  u.output_shape = {};
  u.kernel_shape = {2};
  EXPECT_NE(infer_err(u, {f32({1, 1, 2, 2}), idx}).find("kernel_shape"), std::string::npos);
}

TEST(MaxUnpoolImport, ConstantOutputShapeBecomesTheAttribute) {
  OnnxBuilder u(11);
  u.input("x", {1, 1, 2, 2});
  u.input("i", {1, 1, 2, 2}, onnx::TensorProto::INT64);
  u.init_i64("os", {4}, {1, 1, 5, 5});
  auto& n = u.node("MaxUnpool", {"x", "i", "os"}, {"y"});
  OnnxBuilder::attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
  OnnxBuilder::attr(n, "strides", std::vector<int64_t>{2, 2});
  u.output("y", {1, 1, 5, 5});
  auto gu = import(u);
  const auto* mu = only_op<MaxUnpool>(*gu);
  ASSERT_TRUE(mu);
  EXPECT_EQ(mu->output_shape, (std::vector<int64_t>{1, 1, 5, 5}));

  // A run-time output_shape stays an input: see MaxUnpool.ImportKeepsARuntimeShapeInput below.
}

// ---------------------------------------------------------------------------------------------
// MaxUnpool's output_shape input

HostTensor constant(HostTensor t) {
  t.constant = true;
  return t;
}

MaxUnpool unpool() {
  MaxUnpool op;
  op.kernel_shape = {2, 2};
  op.strides = {2, 2};
  return op;
}

TEST(MaxUnpool, OutputShapeInput) {
  const MaxUnpool op = unpool();
  const HostTensor x = f32({1, 1, 2, 2}, {5, 6, 7, 8}), i = i64({1, 1, 2, 2}, {5, 7, 13, 15});
  // Compile time: the spatial dims wait for the value.
  std::vector<HostTensor> in{x, i, i64({4}, {1, 1, 5, 5})};
  EXPECT_EQ(infer_outputs(op, in)[0].shape, (Dims{1, 1, -1, -1}));
  // Run time (export_with_output_shape): the 4x4 unpooled result at the origin of a 5x5 Y.
  in[2].constant = true;
  auto y = run_ref(op, in, 1)[0];
  EXPECT_EQ(y.shape, (Dims{1, 1, 5, 5}));
  std::vector<double> want(25, 0);
  want[6] = 5, want[8] = 6, want[16] = 7, want[18] = 8;
  expect_near(vals<float>(y), want);
  // The attribute form means the same.
  MaxUnpool attr = unpool();
  attr.output_shape = {1, 1, 5, 5};
  expect_near(vals<float>(run_ref(attr, {x, i}, 1)[0]), want);
  // Pads are ignored when an output shape is given: the unpooled shape stays 4x4.
  MaxUnpool padded = unpool();
  padded.pads = {1, 1, 1, 1};
  expect_near(vals<float>(run_ref(padded, in, 1)[0]), want);
  // Smaller than the unpooled shape, or another rank / batch: errors.
  in[2] = constant(i64({4}, {1, 1, 3, 5}));
  EXPECT_NE(run_err(op, in).find("not be smaller"), std::string::npos);
  in[2] = constant(i64({4}, {2, 1, 5, 5}));
  EXPECT_NE(run_err(op, in).find("batch and channels"), std::string::npos);
  EXPECT_NE(infer_err(op, {f32({1, 1, 2, 2}), {DType::Int64, {1, 1, 2, 2}}, {DType::Int64, {3}}}).find("[4]"),
            std::string::npos);
  EXPECT_NE(infer_err(op, {f32({1, 1, 2, 2}), {DType::Int64, {1, 1, 2, 2}}, f32({4})}).find("int64"),
            std::string::npos);
  // Indices address the unpooled shape, not Y.
  in[2] = constant(i64({4}, {1, 1, 5, 5}));
  in[1] = i64({1, 1, 2, 2}, {5, 7, 13, 16});
  EXPECT_NE(run_err(op, in).find("out of range"), std::string::npos);
}

TEST(MaxUnpool, ImportKeepsARuntimeShapeInput) {
  OnnxBuilder b(11);
  b.input("x", {1, 1, 2, 2});
  b.input("i", {1, 1, 2, 2}, onnx::TensorProto::INT64);
  b.input("os", {4}, onnx::TensorProto::INT64);
  auto& n = b.node("MaxUnpool", {"x", "i", "os"}, {"y"});
  OnnxBuilder::attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
  OnnxBuilder::attr(n, "strides", std::vector<int64_t>{2, 2});
  b.output("y", {1, 1, 5, 5});
  auto g = import(b);
  const auto* mu = only_op<MaxUnpool>(*g);
  ASSERT_TRUE(mu);
  EXPECT_TRUE(mu->output_shape.empty());
  for (auto& node : g->nodes())
    if (node->op && node->type() == "MaxUnpool") {
      EXPECT_EQ(node->inputs.size(), 3u);
      EXPECT_EQ(node->outputs[0]->type.shape, (Dims{1, 1, -1, -1}));
    }
}

}  // namespace
}  // namespace kiln::test
