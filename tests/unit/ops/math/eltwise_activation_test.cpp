// The activations appended to Unary (trigonometric/hyperbolic, ThresholdedRelu, Shrink, Celu,
// Mish) through Unary's reference and PostOps, and their importers.
#include <cmath>
#include <limits>
#include <map>
#include <string>

#include <gmock/gmock.h>

#include "ops/onnx_node_model.h"
#include "ops/math/eltwise.h"
#include "ops/literal_test_util.h"

namespace kiln::test {
namespace {

using namespace literal;
using ops::Act;
using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

std::vector<float> unary(Act a, std::vector<float> x, float alpha = 0.f, float beta = 0.f) {
  ops::Unary u;
  u.act = a;
  u.alpha = alpha;
  u.beta = beta;
  const int64_t n = static_cast<int64_t>(x.size());
  return vals<float>(ref_n(u, {F({n}, x)})[0]);
}

TEST(EltwiseActivations, TrigAndHyperbolic) {
  EXPECT_THAT(unary(Act::Tan, {0.f, 0.5f}), Pointwise(FloatNear(1e-6f), std::vector<float>{0.f, 0.5463025f}));
  EXPECT_THAT(unary(Act::Sinh, {-1.f, 0.f}), Pointwise(FloatNear(1e-6f), std::vector<float>{-1.1752012f, 0.f}));
  EXPECT_THAT(unary(Act::Cosh, {-1.f, 0.f}), Pointwise(FloatNear(1e-6f), std::vector<float>{1.5430806f, 1.f}));
  EXPECT_THAT(unary(Act::Asin, {0.5f, -1.f}),
              Pointwise(FloatNear(1e-6f), std::vector<float>{0.5235988f, -1.5707964f}));
  EXPECT_THAT(unary(Act::Acos, {0.5f, 1.f}), Pointwise(FloatNear(1e-6f), std::vector<float>{1.0471976f, 0.f}));
  EXPECT_THAT(unary(Act::Atan, {1.f, -1.f}),
              Pointwise(FloatNear(1e-6f), std::vector<float>{0.7853982f, -0.7853982f}));
  EXPECT_THAT(unary(Act::Asinh, {1.f}), Pointwise(FloatNear(1e-6f), std::vector<float>{0.8813736f}));
  EXPECT_THAT(unary(Act::Acosh, {2.f}), Pointwise(FloatNear(1e-6f), std::vector<float>{1.3169579f}));
  EXPECT_THAT(unary(Act::Atanh, {0.5f}), Pointwise(FloatNear(1e-6f), std::vector<float>{0.5493061f}));
  EXPECT_TRUE(std::isnan(unary(Act::Asin, {2.f})[0]));
}

TEST(EltwiseActivations, ParameterisedActivations) {
  // onnx's examples.
  EXPECT_THAT(unary(Act::ThresholdedRelu, {-1.5f, 0.f, 1.2f, 2.f, 2.2f}, 2.f), ElementsAre(0, 0, 0, 0, 2.2f));
  EXPECT_THAT(unary(Act::Shrink, {-2, -1, 0, 1, 2}, 1.5f, 0.f), ElementsAre(-2, 0, 0, 0, 2));
  EXPECT_THAT(unary(Act::Shrink, {-2, -1, 0, 1, 2}, 1.5f, 1.5f), ElementsAre(-0.5f, 0, 0, 0, 0.5f));
  EXPECT_THAT(unary(Act::Celu, {-1.f, 0.5f}, 2.f),
              Pointwise(FloatNear(1e-6f), std::vector<float>{2.f * (std::exp(-0.5f) - 1.f), 0.5f}));
  // mish(x) = x tanh(log(1 + e^x)); large |x| stays finite.
  EXPECT_THAT(unary(Act::Mish, {1.f, -1.f, 30.f, -100.f}),
              Pointwise(FloatNear(1e-6f), std::vector<float>{0.8650984f, -0.3034015f, 30.f, 0.f}));
}

// Records the post-op lists that PostOps::attrs writes, then plays them back.
struct ListVisitor : ops::AttrVisitor {
  std::map<std::string, std::vector<int64_t>> ints;
  std::map<std::string, std::vector<float>> floats;
  void visit(const char*, int64_t&) override {}
  void visit(const char*, float&) override {}
  void visit(const char* n, std::vector<int64_t>& v) override {
    if (ints.count(n))
      v = ints[n];
    else
      ints[n] = v;
  }
  void visit(const char* n, std::vector<float>& v) override {
    if (floats.count(n))
      v = floats[n];
    else
      floats[n] = v;
  }
  void visit(const char*, std::string&) override {}
};

TEST(EltwiseActivations, PostOpsAcceptAppendedActs) {
  ops::PostOps p;
  p.ops.push_back({ops::PostOp::Kind::Act, Act::Celu, 2.f, 0.f});
  ListVisitor v;
  p.attrs(v);  // record
  ops::PostOps back;
  back.attrs(v);  // replay: must accept the new act
  ASSERT_EQ(back.ops.size(), 1u);
  EXPECT_EQ(back.ops[0].act, Act::Celu);
  EXPECT_STREQ(ops::act_name(Act::Mish), "Mish");
  v.ints["post_act"] = {static_cast<int64_t>(ops::kLastAct) + 1};
  EXPECT_THROW(back.attrs(v), Error);
}


TEST(EltwiseActivationsImport, Nodes) {
  auto g = OnnxNodeModel("Shrink", {"x"}, {"y"}, 13).input("x", {3}).f("lambd", 1.5f).f("bias", 0.25f).import();
  auto* u = only_node(*g, "Unary")->as<ops::Unary>();
  EXPECT_EQ(u->act, Act::Shrink);
  EXPECT_FLOAT_EQ(u->alpha, 1.5f);
  EXPECT_FLOAT_EQ(u->beta, 0.25f);
  g = OnnxNodeModel("ThresholdedRelu", {"x"}, {"y"}, 10).input("x", {3}).import();
  EXPECT_FLOAT_EQ(only_node(*g, "Unary")->as<ops::Unary>()->alpha, 1.f);
  g = OnnxNodeModel("Atanh", {"x"}, {"y"}, 9).input("x", {3}).import();
  EXPECT_EQ(only_node(*g, "Unary")->as<ops::Unary>()->act, Act::Atanh);
}

}  // namespace
}  // namespace kiln::test
