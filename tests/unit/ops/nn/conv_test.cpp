// Conv and ConvTranspose: reference kernels against hand-computed values, the oneDNN kernels
// against the reference on random shapes, infer() error cases, and the ONNX importers.
#include <gmock/gmock.h>

#include "kernel_test_util.h"
#include "ops/onnx_node_model.h"
#include "ops/nn/conv.h"

namespace kiln::test {
namespace {

using ops::Act;
using ops::PostOp;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

ops::Conv conv(std::vector<int64_t> strides = {}, std::vector<int64_t> pads = {}, std::vector<int64_t> dilations = {},
               int64_t group = 1) {
  ops::Conv c;
  c.strides = std::move(strides);
  c.pads = std::move(pads);
  c.dilations = std::move(dilations);
  c.group = group;
  return c;
}

PostOp act(Act a, float alpha = 0.f, float beta = 0.f) { return {PostOp::Kind::Act, a, alpha, beta}; }
PostOp sum() { return {PostOp::Kind::Sum, Act::Identity, 0.f, 0.f}; }

HostTensor absent() {
  HostTensor t;
  t.dtype = DType::Undefined;
  return t;
}

std::vector<float> iota(int64_t n, float start = 0.f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = start++;
  return v;
}

std::vector<float> ref(const ops::Op& op, std::vector<HostTensor> in) { return values(run_reference(op, in).at(0)); }

// ---------------------------------------------------------------------------------------------
// Reference against hand-computed values

TEST(ConvRef, Plain2x2KernelWithBias) {
  auto c = conv();
  auto x = tensor({1, 1, 3, 3}, iota(9, 1));
  auto w = tensor({1, 1, 2, 2}, {1, 2, 3, 4}, true);
  EXPECT_THAT(ref(c, {x, w}), ElementsAre(37, 47, 67, 77));
  EXPECT_THAT(ref(c, {x, w, tensor({1}, {1}, true)}), ElementsAre(38, 48, 68, 78));
}

TEST(ConvRef, StridedPaddedDilated) {
  auto c = conv({2, 2}, {1, 1, 1, 1}, {2, 2});
  std::vector<HostTensor> in{tensor({1, 1, 4, 4}, iota(16)), tensor({1, 1, 2, 2}, {1, 1, 1, 1}, true)};
  auto y = run_reference(c, in);
  EXPECT_EQ(y[0].shape, (Dims{1, 1, 2, 2}));
  EXPECT_THAT(values(y[0]), ElementsAre(5, 12, 18, 40));
}

TEST(ConvRef, AsymmetricPads) {
  // 1-D, pads [2, 0]: y[i] = x[i-2] + x[i-1] + x[i].
  auto c = conv({}, {2, 0});
  EXPECT_THAT(ref(c, {tensor({1, 1, 3}, {1, 2, 4}), tensor({1, 1, 3}, {1, 1, 1}, true)}), ElementsAre(1, 3, 7));
}

TEST(ConvRef, Depthwise) {
  auto c = conv({}, {}, {}, 2);
  auto x = tensor({1, 2, 2, 2}, iota(8));
  auto w = tensor({2, 1, 1, 1}, {2, 3}, true);
  EXPECT_THAT(ref(c, {x, w}), ElementsAre(0, 2, 4, 6, 12, 15, 18, 21));
}

TEST(ConvRef, Grouped) {
  auto c = conv({}, {}, {}, 2);
  auto x = tensor({1, 4, 1, 1}, {1, 2, 3, 4});
  auto w = tensor({2, 2, 1, 1}, {1, 1, 1, -1}, true);
  EXPECT_THAT(ref(c, {x, w}), ElementsAre(3, -1));
}

TEST(ConvRef, OneD) {
  auto c = conv({}, {1, 1});
  EXPECT_THAT(ref(c, {tensor({1, 1, 5}, {1, 2, 3, 4, 5}), tensor({1, 1, 3}, {1, 0, -1}, true)}),
              ElementsAre(-2, -2, -2, -2, 4));
}

TEST(ConvRef, ThreeD) {
  auto c = conv();
  std::vector<float> w(8, 1.f);
  w[7] = 10.f;
  EXPECT_THAT(ref(c, {tensor({1, 1, 2, 2, 2}, iota(8)), tensor({1, 1, 2, 2, 2}, w, true)}), ElementsAre(28 + 9 * 7));
}

TEST(ConvRef, MultipleBatchesAndOutputChannels) {
  // 1x1 conv mixing two channels into three, two images.
  auto c = conv();
  auto x = tensor({2, 2, 1, 1}, {1, 2, 3, 4});
  auto w = tensor({3, 2, 1, 1}, {1, 0, 0, 1, 1, 1}, true);
  EXPECT_THAT(ref(c, {x, w}), ElementsAre(1, 2, 3, 3, 4, 7));
}

TEST(ConvRef, PostOps) {
  auto x = tensor({1, 1, 2, 2}, {-3, -1, 2, 8});
  auto w = tensor({1, 1, 1, 1}, {1}, true);
  auto c = conv();
  c.post.ops = {act(Act::Relu)};
  EXPECT_THAT(ref(c, {x, w}), ElementsAre(0, 0, 2, 8));
  c.post.ops = {act(Act::Clip, 0.f, 6.f)};
  EXPECT_THAT(ref(c, {x, w}), ElementsAre(0, 0, 2, 6));
  c.post.ops = {sum(), act(Act::Relu)};
  EXPECT_THAT(ref(c, {x, w, absent(), tensor({1, 1, 2, 2}, {1, 5, -4, 0})}), ElementsAre(0, 4, 0, 8));
  c.post.ops = {act(Act::Relu), sum()};
  EXPECT_THAT(ref(c, {x, w, absent(), tensor({1, 1, 2, 2}, {1, 5, -4, 0})}), ElementsAre(1, 5, -2, 8));
}

TEST(ConvTransposeRef, Stride2OutputPadding) {
  ops::ConvTranspose t;
  t.strides = {2};
  t.output_padding = {1};
  std::vector<HostTensor> in{tensor({1, 1, 2}, {1, 2}), tensor({1, 1, 3}, {1, 1, 1}, true)};
  auto y = run_reference(t, in);
  EXPECT_EQ(y[0].shape, (Dims{1, 1, 6}));
  EXPECT_THAT(values(y[0]), ElementsAre(1, 1, 3, 2, 2, 0));
}

TEST(ConvTransposeRef, OnnxBackendCase) {
  // onnx/backend/test/case/node/convtranspose.py: test_convtranspose.
  ops::ConvTranspose t;
  std::vector<float> row = {0, 1, 3, 3, 2, 3, 8, 15, 12, 7, 9, 21, 36, 27, 15, 9, 20, 33, 24, 13, 6, 13, 21, 15, 8};
  std::vector<float> want = row;
  want.insert(want.end(), row.begin(), row.end());
  EXPECT_THAT(ref(t, {tensor({1, 1, 3, 3}, iota(9)), tensor({1, 2, 3, 3}, std::vector<float>(18, 1.f), true)}),
              ElementsAreArray(want));
}

TEST(ConvTransposeRef, PadsGroupsBiasDilation) {
  // Two groups of one channel each; dilation 2 spreads the taps; pads crop one at each end.
  ops::ConvTranspose t;
  t.group = 2;
  t.dilations = {2};
  t.pads = {1, 1};
  auto x = tensor({1, 2, 2}, {1, 2, 3, 4});
  auto w = tensor({2, 1, 2}, {1, 10, 1, -1}, true);
  auto b = tensor({2}, {100, 200}, true);
  // full ch0: x0 at 0,2 (1, 10); x1 at 1,3 (2, 20) -> [1, 2, 10, 20], cropped [2, 10]
  // full ch1: [3, 4, -3, -4] -> [4, -3]
  EXPECT_THAT(ref(t, {x, w, b}), ElementsAre(102, 110, 204, 197));
}

// ---------------------------------------------------------------------------------------------
// infer() errors


TEST(ConvInfer, OutputShapes) {
  std::vector<const TensorView*> consts(2, nullptr);
  auto c = conv({2, 3}, {1, 0, 2, 1}, {1, 2});
  ops::InferContext ctx({f32({-1, 4, 10, 11}), f32({6, 2, 3, 3})}, consts, 1);
  c.group = 2;
  c.infer(ctx);
  // H: (10 + 3 - 3) / 2 + 1 = 6; W: (11 + 1 - 5) / 3 + 1 = 3
  EXPECT_EQ(ctx.outputs()[0].shape, (Dims{-1, 6, 6, 3}));
  ops::InferContext ctx2({f32({1, 4, -1, 11}), f32({6, 2, 3, 3})}, consts, 1);
  c.infer(ctx2);
  EXPECT_EQ(ctx2.outputs()[0].shape, (Dims{1, 6, -1, 3}));
}

TEST(ConvInfer, Rejects) {
  auto c = conv();
  EXPECT_THAT(infer_error(c, {f32({1, 3, 5})}), HasSubstr("takes X, W"));
  EXPECT_THAT(infer_error(c, {f32({3, 5}), f32({3, 5})}), HasSubstr("rank >= 3"));
  EXPECT_THAT(infer_error(c, {f32({1, 3, 5, 5}), f32({2, 3, 3})}), HasSubstr("rank of X"));
  EXPECT_THAT(infer_error(c, {f32({1, 3, 5, 5}), f32({2, 2, 3, 3})}), HasSubstr("X has 3 channels"));
  EXPECT_THAT(infer_error(c, {{DType::Int64, {1, 3, 5, 5}}, f32({2, 3, 3, 3})}), HasSubstr("float32"));
  EXPECT_THAT(infer_error(c, {f32({1, 3, 2, 2}), f32({2, 3, 3, 3})}), HasSubstr("window spans"));
  EXPECT_THAT(infer_error(c, {f32({1, 3, 5, 5}), f32({2, 3, 3, 3}), f32({3})}), HasSubstr("B has 3 elements"));
  auto g = conv({}, {}, {}, 2);
  EXPECT_THAT(infer_error(g, {f32({1, 4, 5, 5}), f32({3, 2, 3, 3})}), HasSubstr("not divisible by group"));
  g.group = 0;
  EXPECT_THAT(infer_error(g, {f32({1, 4, 5, 5}), f32({4, 2, 3, 3})}), HasSubstr("group must be >= 1"));
  EXPECT_THAT(infer_error(conv({0, 1}), {f32({1, 3, 5, 5}), f32({2, 3, 3, 3})}), HasSubstr("strides value 0"));
  EXPECT_THAT(infer_error(conv({1}), {f32({1, 3, 5, 5}), f32({2, 3, 3, 3})}), HasSubstr("strides has 1 values"));
  EXPECT_THAT(infer_error(conv({}, {1, 1}), {f32({1, 3, 5, 5}), f32({2, 3, 3, 3})}), HasSubstr("pads has 2 values"));
  EXPECT_THAT(infer_error(conv({}, {-1, 0, 0, 0}), {f32({1, 3, 5, 5}), f32({2, 3, 3, 3})}), HasSubstr("pad -1"));
  EXPECT_THAT(infer_error(conv({}, {}, {int64_t(1) << 40, 1}), {f32({1, 3, 5, 5}), f32({2, 3, 3, 3})}),
              HasSubstr("out of range"));
  auto s = conv();
  s.post.ops = {sum()};
  EXPECT_THAT(infer_error(s, {f32({1, 3, 5, 5}), f32({2, 3, 3, 3})}), HasSubstr("Sum post-op"));
  EXPECT_THAT(infer_error(s, {f32({1, 3, 5, 5}), f32({2, 3, 3, 3}), {}, f32({1, 2, 3, 4})}), HasSubstr("operand"));
  EXPECT_EQ(infer_error(s, {f32({1, 3, 5, 5}), f32({2, 3, 3, 3}), {}, f32({1, 2, 3, 3})}), "");
}

TEST(ConvTransposeInfer, Rejects) {
  ops::ConvTranspose t;
  EXPECT_THAT(infer_error(t, {f32({1, 3, 5, 5}), f32({2, 3, 3, 3})}), HasSubstr("X has 3 channels"));
  t.group = 2;
  EXPECT_THAT(infer_error(t, {f32({1, 3, 5, 5}), f32({3, 1, 3, 3})}), HasSubstr("not divisible by group"));
  t.group = 1;
  t.pads = {3, 3};
  EXPECT_THAT(infer_error(t, {f32({1, 1, 2}), f32({1, 1, 2})}), HasSubstr("remove the whole output"));
  t.pads = {};
  t.output_padding = {-1};
  EXPECT_THAT(infer_error(t, {f32({1, 1, 2}), f32({1, 1, 2})}), HasSubstr("output_padding"));
}

// ---------------------------------------------------------------------------------------------
// oneDNN kernels against the reference

struct ConvCase {
  Dims x, w;
  std::vector<int64_t> strides = {}, pads = {}, dilations = {};
  int64_t group = 1;
  bool bias = true;
};

void check_conv(const ConvCase& k, std::vector<PostOp> post = {}, uint32_t seed = 1) {
  auto c = conv(k.strides, k.pads, k.dilations, k.group);
  c.post.ops = post;
  std::vector<HostTensor> in{random_tensor(DType::Float32, k.x, seed), random_tensor(DType::Float32, k.w, seed + 1, -1, 1, true)};
  if (k.bias) in.push_back(random_tensor(DType::Float32, {k.w[0]}, seed + 2, -1, 1, true));
  if (c.post.sum_count()) {
    auto y = infer_outputs(conv(k.strides, k.pads, k.dilations, k.group), in);
    if (!k.bias) in.push_back(absent());
    in.push_back(random_tensor(DType::Float32, y[0].shape, seed + 3));
  }
  expect_kernel_matches_reference(c, "onednn", in, 1e-4, 1e-4);
}

TEST(ConvOnednn, MatchesReference) {
  check_conv({{2, 3, 7, 9}, {5, 3, 3, 3}, {}, {1, 1, 1, 1}});
  check_conv({{1, 4, 11, 13}, {6, 4, 3, 2}, {2, 3}, {0, 1, 2, 0}, {2, 1}});
  check_conv({{1, 8, 9, 9}, {8, 1, 5, 5}, {1, 1}, {2, 2, 2, 2}, {}, 8});     // depthwise
  check_conv({{2, 6, 6, 7}, {9, 2, 3, 3}, {1, 2}, {1, 1, 0, 0}, {}, 3});     // grouped
  check_conv({{1, 32, 8, 8}, {64, 32, 1, 1}, {}, {}, {}, 1, false});          // 1x1, no bias
  check_conv({{2, 4, 17}, {3, 4, 5}, {2}, {1, 3}, {}});                        // 1-D
  check_conv({{1, 2, 5, 6, 7}, {4, 2, 3, 2, 3}, {1, 2, 1}, {1, 0, 1, 1, 1, 0}, {1, 1, 2}});  // 3-D
  check_conv({{1, 16, 15, 15}, {16, 16, 3, 3}, {2, 2}, {1, 1, 1, 1}, {3, 3}});  // dilated, big enough for JIT
}

TEST(ConvOnednn, PostOps) {
  const ConvCase k{{2, 8, 9, 10}, {16, 8, 3, 3}, {}, {1, 1, 1, 1}};
  check_conv(k, {act(Act::Relu)});
  check_conv(k, {sum(), act(Act::Relu)});
  check_conv(k, {act(Act::Relu), sum()});
  check_conv(k, {act(Act::Clip, 0.f, 6.f)});
  check_conv(k, {act(Act::LeakyRelu, 0.1f), act(Act::Sigmoid)});
  check_conv({{1, 3, 8, 8}, {4, 3, 3, 3}, {}, {}, {}, 1, false}, {sum(), act(Act::Clip, 0.f, 6.f)});
}

TEST(ConvOnednn, NonConstantBias) {
  auto c = conv({}, {1, 1, 1, 1});
  std::vector<HostTensor> in{random_tensor(DType::Float32, {1, 4, 6, 6}, 5),
                             random_tensor(DType::Float32, {8, 4, 3, 3}, 6, -1, 1, true),
                             random_tensor(DType::Float32, {8}, 7)};
  expect_kernel_matches_reference(c, "onednn", in, 1e-4, 1e-4);
}

TEST(ConvOnednn, DeclinesWhatItCannotRun) {
  auto c = conv();
  std::vector<HostTensor> in{random_tensor(DType::Float32, {1, 4, 6, 6}, 5),
                             random_tensor(DType::Float32, {8, 4, 3, 3}, 6)};  // weights not constant
  std::vector<HostTensor> out;
  EXPECT_FALSE(run_kernel(c, "onednn", in, out));
  // Two Sum post-ops: oneDNN accumulates into dst only once.
  c.post.ops = {sum(), sum()};
  in[1].constant = true;
  in.push_back(absent());
  in.push_back(random_tensor(DType::Float32, {1, 8, 4, 4}, 7));
  in.push_back(random_tensor(DType::Float32, {1, 8, 4, 4}, 8));
  EXPECT_FALSE(run_kernel(c, "onednn", in, out));
  // Softsign has no oneDNN post-op.
  c.post.ops = {act(Act::Softsign)};
  in.resize(2);
  EXPECT_FALSE(run_kernel(c, "onednn", in, out));
}

// One kernel, bound to two contexts at once; the second binding computes its Sum in place
// (the operand is the output buffer), as an arena may arrange.
TEST(ConvOnednn, TwoBindingsAndInPlaceSum) {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  auto c = conv({}, {1, 1, 1, 1});
  c.post.ops = {sum(), act(Act::Relu)};
  const Dims ys{1, 8, 6, 6};
  auto w = random_tensor(DType::Float32, {8, 4, 3, 3}, 11, -1, 1, true);
  KernelSpec spec{c, {}, {}, eng};
  spec.in = {{DType::Float32, {1, 4, 6, 6}, "", nullptr}, {DType::Float32, w.shape, "", w.bytes.data()},
             {}, {DType::Float32, ys, "", nullptr}};
  spec.out = {{DType::Float32, ys, "", nullptr}};
  auto k = KernelRegistry::instance().create("Conv", "onednn", spec);
  ASSERT_TRUE(k);
  HostTensor xs[2] = {random_tensor(DType::Float32, {1, 4, 6, 6}, 12), random_tensor(DType::Float32, {1, 4, 6, 6}, 13)};
  HostTensor ss[2] = {random_tensor(DType::Float32, ys, 14), random_tensor(DType::Float32, ys, 15)};
  HostTensor want[2];
  for (int i = 0; i < 2; ++i) {
    std::vector<HostTensor> in{xs[i], w, absent(), ss[i]};
    want[i] = run_reference(c, in)[0];
  }
  HostTensor y0(DType::Float32, ys);
  HostTensor y1 = ss[1];  // in place: the sum operand lives in the output buffer
  std::vector<uint8_t> sp0(k->scratchpad_bytes() + 64), sp1(k->scratchpad_bytes() + 64);
  auto r0 = k->bind({{xs[0].bytes.data(), nullptr, nullptr, ss[0].bytes.data()}, {y0.bytes.data()}, sp0.data()});
  auto r1 = k->bind({{xs[1].bytes.data(), nullptr, nullptr, y1.bytes.data()}, {y1.bytes.data()}, sp1.data()});
  dnnl::stream s(eng);
  r0(s);
  r1(s);
  s.wait();
  EXPECT_TRUE(all_close(y0, want[0], 1e-4, 1e-4));
  EXPECT_TRUE(all_close(y1, want[1], 1e-4, 1e-4));
}

struct DeconvCase {
  Dims x, w;
  std::vector<int64_t> strides = {}, pads = {}, dilations = {}, output_padding = {};
  int64_t group = 1;
};

void check_deconv(const DeconvCase& k, std::vector<PostOp> post = {}) {
  ops::ConvTranspose t;
  t.strides = k.strides;
  t.pads = k.pads;
  t.dilations = k.dilations;
  t.output_padding = k.output_padding;
  t.group = k.group;
  t.post.ops = post;
  std::vector<HostTensor> in{random_tensor(DType::Float32, k.x, 21), random_tensor(DType::Float32, k.w, 22, -1, 1, true),
                             random_tensor(DType::Float32, {k.w[1] * k.group}, 23, -1, 1, true)};
  expect_kernel_matches_reference(t, "onednn", in, 1e-4, 1e-4);
}

TEST(ConvTransposeOnednn, MatchesReference) {
  check_deconv({{1, 4, 5, 6}, {4, 3, 3, 3}, {2, 2}, {}, {}, {1, 1}});                  // stride 2 + output_padding
  check_deconv({{2, 4, 5, 5}, {4, 2, 4, 4}, {2, 2}, {1, 1, 1, 1}, {}, {}, 2});        // grouped
  check_deconv({{1, 3, 4, 7}, {3, 5, 3, 2}, {1, 3}, {0, 1, 2, 0}, {2, 1}, {0, 2}});   // dilated, asymmetric
  check_deconv({{1, 6, 9}, {6, 2, 3}, {3}, {1, 0}, {}, {2}});                         // 1-D
  check_deconv({{1, 2, 3, 4, 3}, {2, 3, 2, 3, 2}, {2, 1, 2}, {0, 1, 0, 1, 0, 1}, {}, {1, 0, 1}});  // 3-D
  check_deconv({{1, 8, 6, 6}, {8, 1, 3, 3}, {2, 2}, {1, 1, 1, 1}, {}, {1, 1}, 8});    // depthwise
  check_deconv({{1, 4, 5, 5}, {4, 8, 3, 3}, {2, 2}, {1, 1, 1, 1}}, {act(Act::Relu)});
}

// ---------------------------------------------------------------------------------------------
// ONNX importers

TEST(ConvImport, AutoPadAndBias) {
  auto g = OnnxNodeModel("Conv", {"x", "w", "b"}, {"y"})
               .input("x", {1, 2, 4, 7})
               .init("w", random_tensor(DType::Float32, {3, 2, 3, 3}, 1))
               .init("b", random_tensor(DType::Float32, {3}, 2))
               .ints("strides", {2, 3})
               .ints("kernel_shape", {3, 3})
               .s("auto_pad", "SAME_UPPER")
               .import();
  auto* n = only_node(*g, "Conv");
  ASSERT_TRUE(n);
  // H: out 2, total (2-1)*2 + 3 - 4 = 1; W: out 3, total (3-1)*3 + 3 - 7 = 2.
  EXPECT_THAT(n->as<ops::Conv>()->pads, ElementsAre(0, 1, 1, 1));
  EXPECT_EQ(n->inputs.size(), 3u);
  EXPECT_EQ(n->outputs[0]->type.shape, (Dims{1, 3, 2, 3}));

  g = OnnxNodeModel("Conv", {"x", "w"}, {"y"})
          .input("x", {1, 2, 4, 7})
          .init("w", random_tensor(DType::Float32, {3, 2, 3, 3}, 1))
          .ints("strides", {2, 3})
          .s("auto_pad", "SAME_LOWER")
          .import();
  EXPECT_THAT(only_node(*g, "Conv")->as<ops::Conv>()->pads, ElementsAre(1, 1, 0, 1));

  g = OnnxNodeModel("Conv", {"x", "w"}, {"y"})
          .input("x", {1, 2, 4, 7})
          .init("w", random_tensor(DType::Float32, {3, 2, 3, 3}, 1))
          .ints("pads", {1, 1, 1, 1})
          .s("auto_pad", "VALID")
          .import();
  EXPECT_EQ(only_node(*g, "Conv")->outputs[0]->type.shape, (Dims{1, 3, 2, 5}));
}

TEST(ConvImport, Errors) {
  auto m = OnnxNodeModel("Conv", {"x", "w"}, {"y"})
               .input("x", {1, 2, 4, 4})
               .init("w", random_tensor(DType::Float32, {3, 2, 3, 3}, 1))
               .ints("kernel_shape", {3, 2});
  try {
    m.import();
    FAIL() << "kernel_shape mismatch accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("kernel_shape"));
  }
  auto same = OnnxNodeModel("Conv", {"x", "w"}, {"y"})
                  .input("x", {1, 2, -1, 4})
                  .init("w", random_tensor(DType::Float32, {3, 2, 3, 3}, 1))
                  .s("auto_pad", "SAME_UPPER");
  try {
    same.import();
    FAIL() << "SAME padding with an unknown dim accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("static spatial input dims"));
  }
  auto group = OnnxNodeModel("Conv", {"x", "w"}, {"y"})
                   .input("x", {1, 4, 4, 4})
                   .init("w", random_tensor(DType::Float32, {3, 2, 3, 3}, 1))
                   .i("group", 2);
  try {
    group.import();
    FAIL() << "group not dividing M accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("node 'n' (Conv)"));
    EXPECT_THAT(e.what(), HasSubstr("divisible by group"));
  }
}

// Expected values from onnx/backend/test/case/node/convtranspose.py.
TEST(ConvTransposeImport, OutputShapeAndAutoPad) {
  auto x = tensor({1, 1, 3, 3}, iota(9));
  auto w = tensor({1, 2, 3, 3}, std::vector<float>(18, 1.f));
  auto run = [&](OnnxNodeModel m) {
    auto g = m.input("x", {1, 1, 3, 3}).init("w", w).import();
    auto* n = only_node(*g, "ConvTranspose");
    std::vector<HostTensor> in{x, w};
    in[1].constant = true;
    auto y = run_reference(*n->op, in);
    EXPECT_EQ(y[0].shape, n->outputs[0]->type.shape);
    return y[0];
  };
  // test_convtranspose_autopad_same: SAME_UPPER drops the last row/column of the full output.
  auto same = run(OnnxNodeModel("ConvTranspose", {"x", "w"}, {"y"}).s("auto_pad", "SAME_UPPER").ints("strides", {2, 2}));
  EXPECT_EQ(same.shape, (Dims{1, 2, 6, 6}));
  std::vector<float> plane = {0, 0, 1, 1, 3, 2, 0, 0, 1, 1, 3, 2, 3, 3, 8,  5,  12, 7,
                              3, 3, 7, 4, 9, 5, 9, 9, 20, 11, 24, 13, 6, 6, 13, 7, 15, 8};
  std::vector<float> want = plane;
  want.insert(want.end(), plane.begin(), plane.end());
  EXPECT_THAT(values(same), ElementsAreArray(want));

  // test_convtranspose_output_shape / _pad / _kernel_shape all give the same 10x8 output.
  auto a = run(OnnxNodeModel("ConvTranspose", {"x", "w"}, {"y"}).ints("strides", {3, 2}).ints("output_shape", {10, 8}));
  auto b = run(OnnxNodeModel("ConvTranspose", {"x", "w"}, {"y"}).ints("strides", {3, 2}).ints("output_padding", {1, 1}));
  auto c = run(OnnxNodeModel("ConvTranspose", {"x", "w"}, {"y"})
                   .ints("strides", {3, 2})
                   .ints("output_shape", {10, 8})
                   .ints("kernel_shape", {3, 3})
                   .ints("output_padding", {1, 1}));
  EXPECT_EQ(a.shape, (Dims{1, 2, 10, 8}));
  std::vector<float> first_rows = {0, 0, 1, 1, 3, 2, 2, 0, 0, 0, 1, 1, 3, 2, 2, 0, 0, 0, 1, 1, 3, 2, 2, 0,
                                   3, 3, 7, 4, 9, 5, 5, 0};
  std::vector<float> av = values(a);
  EXPECT_THAT(std::vector<float>(av.begin(), av.begin() + 32), ElementsAreArray(first_rows));
  EXPECT_EQ(values(a), values(b));
  EXPECT_EQ(values(a), values(c));

  // test_convtranspose_pads: explicit pads crop the output to 7x3.
  auto p = run(OnnxNodeModel("ConvTranspose", {"x", "w"}, {"y"}).ints("strides", {3, 2}).ints("pads", {1, 2, 1, 2}));
  EXPECT_EQ(p.shape, (Dims{1, 2, 7, 3}));
  const std::vector<float> pv = values(p);
  EXPECT_THAT(std::vector<float>(pv.begin(), pv.begin() + 9), ElementsAre(1, 1, 3, 1, 1, 3, 7, 4, 9));
}

}  // namespace
}  // namespace kiln::test
