// BatchNormalization, InstanceNormalization and LRN: reference kernels against closed-form
// values, fast kernels against the reference on random shapes, infer() errors, and importers.
#include <cmath>

#include <gmock/gmock.h>

#include "kernel_test_util.h"
#include "ops/multi_output_test_util.h"
#include "ops/onnx_node_model.h"
#include "ops/nn/norm.h"

namespace kiln::test {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

std::vector<float> ref(const ops::Op& op, std::vector<HostTensor> in) { return values(run_reference(op, in).at(0)); }

// ---------------------------------------------------------------------------------------------
// Reference against closed-form values

TEST(NormRef, BatchNormalization) {
  ops::BatchNormalization bn;
  bn.epsilon = 0.f;
  // y = (x - mean) / sqrt(var) * scale + B per channel.
  auto y = ref(bn, {tensor({1, 2, 1, 2}, {3, 5, 1, -2}), tensor({2}, {1, 2}), tensor({2}, {0, 1}), tensor({2}, {1, -1}),
                    tensor({2}, {4, 0.25f})});
  EXPECT_THAT(y, ElementsAre(1, 2, 2 / 0.5f * 2 + 1, -1 / 0.5f * 2 + 1));
  bn.epsilon = 0.75f;  // var 0.25 + eps -> 1
  y = ref(bn, {tensor({2, 1}, {3, -3}), tensor({1}, {2}), tensor({1}, {1}), tensor({1}, {1}), tensor({1}, {0.25f})});
  EXPECT_THAT(y, ElementsAre(5, -7));
}

TEST(NormRef, BatchNormalizationTraining) {
  ops::BatchNormalizationTraining bn;
  bn.epsilon = 0.f;
  bn.momentum = 0.5f;
  // Channel 0 holds 1 3 5 7 over N and space: mean 4, biased variance 5; channel 1 holds 0 2 0 2: mean 1,
  // variance 1.
  auto out = multi_output::run_ref(bn, {tensor({2, 2, 1, 2}, {1, 3, 0, 2, 5, 7, 0, 2}), tensor({2}, {2, 1}),
                                        tensor({2}, {1, 0}), tensor({2}, {0, 1}), tensor({2}, {1, 3})}, 3);
  const float s5 = std::sqrt(5.f);
  EXPECT_THAT(values(out[0]), Pointwise(FloatNear(1e-5f), std::vector<float>{-6 / s5 + 1, -2 / s5 + 1, -1, 1,
                                                                             2 / s5 + 1, 6 / s5 + 1, -1, 1}));
  EXPECT_THAT(values(out[1]), ElementsAre(0 * 0.5f + 4 * 0.5f, 1 * 0.5f + 1 * 0.5f));
  EXPECT_THAT(values(out[2]), ElementsAre(1 * 0.5f + 5 * 0.5f, 3 * 0.5f + 1 * 0.5f));
  // Y alone is a valid arity; more than three outputs is not.
  EXPECT_EQ(multi_output::run_ref(bn, {tensor({1, 1, 2}, {0, 2}), tensor({1}, {1}), tensor({1}, {0}),
                                       tensor({1}, {0}), tensor({1}, {1})}, 1)[0].shape, (Dims{1, 1, 2}));
  EXPECT_THAT(multi_output::infer_err(bn, {{DType::Float32, {1, 1, 2}}, {DType::Float32, {1}}, {DType::Float32, {1}},
                                           {DType::Float32, {1}}, {DType::Float32, {1}}}, 4),
              HasSubstr("1-3 outputs"));
}

TEST(NormRef, InstanceNormalization) {
  ops::InstanceNormalization in;
  in.epsilon = 0.f;
  // Plane [1, 2, 3, 4]: mean 2.5, variance 1.25; plane [2, 2, 2, 6]: mean 3, variance 3.
  auto y = ref(in, {tensor({1, 2, 4}, {1, 2, 3, 4, 2, 2, 2, 6}), tensor({2}, {1, 2}), tensor({2}, {0, 10})});
  const float s1 = 1 / std::sqrt(1.25f), s2 = 2 / std::sqrt(3.f);
  EXPECT_THAT(y, Pointwise(FloatNear(1e-6f), std::vector<float>{-1.5f * s1, -0.5f * s1, 0.5f * s1, 1.5f * s1,
                                                                 10 - s2, 10 - s2, 10 - s2, 10 + 3 * s2}));
}

TEST(NormRef, LrnOddAndEvenSize) {
  ops::LRN lrn;
  lrn.size = 3;
  lrn.alpha = 3.f;  // alpha / size = 1
  lrn.beta = 1.f;
  lrn.bias = 1.f;
  // Channel windows {0,1}, {0,1,2}, {1,2}: sums of squares 5, 14, 13.
  EXPECT_THAT(ref(lrn, {tensor({1, 3, 1, 1}, {1, 2, 3})}),
              Pointwise(FloatNear(1e-7f), std::vector<float>{1 / 6.f, 2 / 15.f, 3 / 14.f}));
  // Even size 2: ONNX's window is [c - 0, c + 1]: sums 5, 13, 9.
  lrn.size = 2;
  lrn.alpha = 2.f;
  EXPECT_THAT(ref(lrn, {tensor({1, 3, 1, 1}, {1, 2, 3})}),
              Pointwise(FloatNear(1e-7f), std::vector<float>{1 / 6.f, 2 / 14.f, 3 / 10.f}));
  // beta applies as a power: (1 + 1 * 4)^0.5 for a single channel.
  lrn.size = 1;
  lrn.alpha = 1.f;
  lrn.beta = 0.5f;
  EXPECT_THAT(ref(lrn, {tensor({1, 1, 2}, {2, -1})}), Pointwise(FloatNear(1e-6f), std::vector<float>{2 / std::sqrt(5.f), -1 / std::sqrt(2.f)}));
}

// ---------------------------------------------------------------------------------------------
// infer() errors


TEST(NormInfer, Rejects) {
  ops::BatchNormalization bn;
  EXPECT_THAT(infer_error(bn, {f32({1, 3, 4}), f32({3}), f32({3}), f32({3})}), HasSubstr("takes 5 inputs"));
  EXPECT_THAT(infer_error(bn, {f32({1, 3, 4}), f32({3}), f32({3}), f32({2}), f32({3})}), HasSubstr("mean (input 3) has 2"));
  EXPECT_THAT(infer_error(bn, {f32({1, 3, 4}), f32({3, 1}), f32({3}), f32({3}), f32({3})}), HasSubstr("1-D"));
  EXPECT_THAT(infer_error(bn, {f32({3}), f32({3}), f32({3}), f32({3}), f32({3})}), HasSubstr("rank >= 2"));
  EXPECT_THAT(infer_error(bn, {{DType::Float64, {1, 3}}, f32({3}), f32({3}), f32({3}), f32({3})}), HasSubstr("float32"));
  EXPECT_EQ(infer_error(bn, {f32({-1, 3}), f32({3}), f32({3}), f32({-1}), f32({3})}), "");
  ops::LRN lrn;
  lrn.size = 0;
  EXPECT_THAT(infer_error(lrn, {f32({1, 3, 4, 4})}), HasSubstr("size must be >= 1"));
  ops::InstanceNormalization in;
  EXPECT_THAT(infer_error(in, {f32({1, 3, 4}), f32({4}), f32({3})}), HasSubstr("scale (input 1) has 4"));
}

// ---------------------------------------------------------------------------------------------
// Fast kernels against the reference

void check_bn(Dims x, bool const_params) {
  ops::BatchNormalization bn;
  bn.epsilon = 1e-3f;
  const int64_t c = x[1];
  std::vector<HostTensor> in{random_tensor(DType::Float32, x, 1, -3, 3),
                             random_tensor(DType::Float32, {c}, 2, 0.5, 2, const_params),
                             random_tensor(DType::Float32, {c}, 3, -1, 1, const_params),
                             random_tensor(DType::Float32, {c}, 4, -1, 1, const_params),
                             random_tensor(DType::Float32, {c}, 5, 0.1, 3, const_params)};
  expect_kernel_matches_reference(bn, "onednn", in, 1e-5, 1e-5);
}

TEST(NormOnednn, BatchNormMatchesReference) {
  check_bn({2, 5}, true);
  check_bn({2, 7, 13}, true);
  check_bn({2, 16, 9, 11}, true);
  check_bn({1, 3, 4, 5, 6}, false);
  check_bn({3, 17, 7, 7}, false);
}

TEST(NormOnednn, LrnMatchesReference) {
  for (int64_t size : {1, 3, 5}) {
    ops::LRN lrn;
    lrn.size = size;
    lrn.alpha = 1e-2f;
    lrn.beta = 0.75f;
    lrn.bias = 2.f;
    std::vector<HostTensor> in{random_tensor(DType::Float32, {2, 7, 5, 6}, 9, -3, 3)};
    expect_kernel_matches_reference(lrn, "onednn", in, 1e-4, 1e-5);
  }
  ops::LRN even;
  even.size = 4;
  std::vector<HostTensor> in{random_tensor(DType::Float32, {1, 7, 5, 6}, 9)};
  std::vector<HostTensor> out;
  EXPECT_FALSE(run_kernel(even, "onednn", in, out)) << "oneDNN's even-size window differs from ONNX's";
}

TEST(NormInhouse, InstanceNormMatchesReference) {
  ops::InstanceNormalization op;
  op.epsilon = 1e-5f;
  for (Dims x : {Dims{2, 3, 5, 7}, Dims{1, 4, 33}, Dims{2, 2, 3, 4, 5}}) {
    // A large mean checks that the variance is computed without cancellation.
    std::vector<HostTensor> in{random_tensor(DType::Float32, x, 3, 100, 104),
                               random_tensor(DType::Float32, {x[1]}, 4, -2, 2, true),
                               random_tensor(DType::Float32, {x[1]}, 5, -1, 1)};
    expect_kernel_matches_reference(op, "inhouse", in, 1e-4, 1e-4);
  }
}

// ---------------------------------------------------------------------------------------------
// ONNX importers

OnnxNodeModel bn_model(int opset, std::vector<std::string> outs = {"y"}) {
  OnnxNodeModel m("BatchNormalization", {"x", "s", "b", "m", "v"}, outs, opset);
  m.input("x", {1, 3, 4, 4});
  for (const char* n : {"s", "b", "m", "v"}) m.init(n, random_tensor(DType::Float32, {3}, 1, 0.5, 1));
  return m;
}

std::string import_error(const OnnxNodeModel& m) {
  try {
    m.import();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(NormImport, BatchNormalization) {
  auto g = bn_model(15).f("epsilon", 1e-3f).import();
  auto* n = only_node(*g, "BatchNormalization");
  ASSERT_TRUE(n);
  EXPECT_FLOAT_EQ(n->as<ops::BatchNormalization>()->epsilon, 1e-3f);
  EXPECT_EQ(n->outputs[0]->type.shape, (Dims{1, 3, 4, 4}));
  // Opset 9: five outputs in the schema, the training ones left out.
  g = bn_model(9, {"y", "", "", "", ""}).import();
  EXPECT_EQ(only_node(*g, "BatchNormalization")->outputs.size(), 1u);
  EXPECT_EQ(bn_model(7).i("spatial", 1).import()->nodes().size(), 1u);

  // training_mode=1 computes the batch statistics and the running ones.
  g = bn_model(15, {"y", "rm", "rv"}).i("training_mode", 1).f("momentum", 0.8f).import();
  auto* t = only_node(*g, "BatchNormalizationTraining");
  ASSERT_TRUE(t);
  EXPECT_FLOAT_EQ(t->as<ops::BatchNormalizationTraining>()->momentum, 0.8f);
  ASSERT_EQ(t->outputs.size(), 3u);
  EXPECT_EQ(t->outputs[2]->type.shape, (Dims{3}));
  EXPECT_THAT(import_error(bn_model(9, {"y", "rm", "rv", "sm", "sv"})), HasSubstr("training only"));
  EXPECT_THAT(import_error(bn_model(7).i("spatial", 0)), HasSubstr("spatial=0"));
}

TEST(NormImport, LrnAndInstanceNorm) {
  auto g = OnnxNodeModel("LRN", {"x"}, {"y"}, 13)
               .input("x", {1, 5, 3, 3})
               .i("size", 3)
               .f("alpha", 2e-4f)
               .f("beta", 0.5f)
               .f("bias", 2.f)
               .import();
  auto* l = only_node(*g, "LRN")->as<ops::LRN>();
  EXPECT_EQ(l->size, 3);
  EXPECT_FLOAT_EQ(l->alpha, 2e-4f);
  EXPECT_FLOAT_EQ(l->beta, 0.5f);
  EXPECT_FLOAT_EQ(l->bias, 2.f);
  EXPECT_THAT(import_error(OnnxNodeModel("LRN", {"x"}, {"y"}, 13).input("x", {1, 5, 3, 3})), HasSubstr("size"));

  g = OnnxNodeModel("InstanceNormalization", {"x", "s", "b"}, {"y"}, 7)
          .input("x", {2, 3, 4})
          .init("s", random_tensor(DType::Float32, {3}, 1))
          .init("b", random_tensor(DType::Float32, {3}, 2))
          .f("epsilon", 1e-3f)
          .import();
  EXPECT_FLOAT_EQ(only_node(*g, "InstanceNormalization")->as<ops::InstanceNormalization>()->epsilon, 1e-3f);
}

}  // namespace
}  // namespace kiln::test
