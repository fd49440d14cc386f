// fuse-sibling-convs: 1x1 convs on one input with the same post-ops merge into one Conv + channel
// Split with unchanged values; different post-ops, other kernels and unaligned channel offsets
// stay apart; and through the plan the merged conv and the Split run blocked (the in-house Split
// kernel, block copies with a zeroed channel tail) with the unoptimised graph's values. The Split
// kernel's row-major path is checked against the reference directly.
#include <cstring>

#include "fuse_test_util.h"
#include "kernel_test_util.h"
#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"
#include "ops/nn/conv.h"
#include "ops/tensor/shape.h"

namespace kiln::test {
namespace {

// Inception-like: x feeds 1x1 convs (+Relu) of the given widths, a 3x3 conv, and one 1x1 conv
// without Relu; everything is concatenated.
OnnxBuilder inception(const std::vector<int64_t>& widths) {
  OnnxBuilder b(13);
  b.input("x", {1, 32, 5, 5});
  std::vector<std::string> cat;
  int64_t total = 0;
  uint32_t seed = 1;
  for (size_t i = 0; i < widths.size(); ++i) {
    std::string n = "b" + std::to_string(i);
    b.init_random(n + ".w", {widths[i], 32, 1, 1}, seed++);
    b.init_random(n + ".b", {widths[i]}, seed++);
    b.node("Conv", {"x", n + ".w", n + ".b"}, {n + "_conv"});
    b.node("Relu", {n + "_conv"}, {n});
    cat.push_back(n);
    total += widths[i];
  }
  b.init_random("k3.w", {8, 32, 3, 3}, seed++);
  OnnxBuilder::attr(b.node("Conv", {"x", "k3.w"}, {"k3"}), "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.init_random("lin.w", {16, 32, 1, 1}, seed++);
  b.node("Conv", {"x", "lin.w"}, {"lin"});
  cat.insert(cat.end(), {"k3", "lin"});
  OnnxBuilder::attr(b.node("Concat", cat, {"y"}), "axis", int64_t{1});
  b.output("y", {1, total + 24, 5, 5});
  return b;
}

TEST(FuseSiblingConvs, MergesPointwiseSiblingsWithTheSamePostOps) {
  OnnxBuilder b = inception({16, 32, 8});
  auto g = import_model(b);
  passes::fuse_post_ops(*g);  // the Relus ride on the convs, as in the pipeline
  g->compact();
  EXPECT_TRUE(run_and_compare(*g, passes::fuse_sibling_convs));
  EXPECT_EQ(count_type(*g, "Conv"), 3u) << ir::dump(*g);  // merged + 3x3 + the Relu-less 1x1
  const ir::Node* split = only_node(*g, "Split");
  ASSERT_NE(split, nullptr);
  EXPECT_EQ(split->as<ops::Split>()->split, (std::vector<int64_t>{16, 32, 8}));
  const ir::Node* merged = split->inputs[0]->producer;
  ASSERT_NE(merged, nullptr);
  EXPECT_EQ(merged->inputs[1]->type.shape, (Dims{56, 32, 1, 1}));
  EXPECT_EQ(merged->as<ops::Conv>()->post.names(), std::vector<std::string>{"Relu"});
  EXPECT_EQ(split->outputs[1]->name, "b1");
}

TEST(FuseSiblingConvs, UnalignedOffsetsStayApart) {
  OnnxBuilder b = inception({8, 16});  // the second part would start at channel 8
  auto g = import_model(b);
  passes::fuse_post_ops(*g);
  g->compact();
  EXPECT_FALSE(run_and_compare(*g, passes::fuse_sibling_convs));
  EXPECT_EQ(count_type(*g, "Split"), 0u);
}

TEST(FuseSiblingConvs, ThroughThePlanBlocked) {
  OnnxBuilder b = inception({16, 32, 8});
  auto g = import_model(b);
  auto in = random_inputs(*g, 5);
  auto want = evaluate(*g, in);
  auto e = Engine::load_memory(compile_onnx_file(b.save("inception.onnx"), {}).plan);
  bool split_blocked = false;
  for (auto& l : e->layers())
    if (l.op == "Split") split_blocked = l.kernel == "inhouse" && !l.layout.empty();
  EXPECT_TRUE(split_blocked) << "the Split should run the in-house kernel on blocked tensors";
  auto ctx = e->create_context();
  std::memcpy(ctx->input("x"), in.at("x").bytes.data(), in.at("x").bytes.size());
  ctx->run();
  HostTensor y(DType::Float32, {1, 80, 5, 5});
  std::memcpy(y.bytes.data(), ctx->output(0), y.bytes.size());
  EXPECT_TRUE(all_close(y, want.at("y"), 1e-4, 1e-4));
}

TEST(SplitKernel, RowMajorMatchesReference) {
  for (int64_t axis : {0, 1, 2}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    ops::Split s;
    s.axis = axis;
    s.split = {1, 3, 2};
    Dims shape{4, 6, 6};
    shape[axis] = 6;
    expect_kernel_matches_reference(s, "inhouse", {random_tensor(DType::Float32, shape, 3)}, 0, 0, 3);
  }
  ops::Split ints;
  ints.axis = -1;
  expect_kernel_matches_reference(ints, "inhouse", {random_tensor(DType::Int64, {3, 8}, 4, -9, 9)}, 0, 0, 2);
}

}  // namespace
}  // namespace kiln::test
