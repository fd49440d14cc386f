// fuse-gelu: the exact GELU in its exported elementwise spellings (torch's F.gelu node for node,
// the 0.5 * x first form of hand-written BERT code, Mul by 1/sqrt 2) becomes one Gelu activation
// with the same values; near-misses stay unfused.
#include <cmath>
#include <numbers>

#include "fuse_test_util.h"
#include "ops/math/eltwise.h"

namespace kiln::test {
namespace {

enum class Form { Torch, HalfFirst, HalfOfSum };

struct GeluSpec {
  Form form = Form::Torch;
  bool mul_by_inverse = false;  // Mul(x, 1/sqrt 2) instead of Div(x, sqrt 2)
  float root = 1.4142135381698608f;  // what x is divided by (or the inverse multiplied)
  float half = 0.5f;
  bool erf_is_output = false;  // an extra user of an intermediate value
  bool tanh = false;  // the tanh approximation instead of Erf
  bool pow = false;   // tanh form: x^3 as Pow(x, 3) rather than torch's x * (x * x)
  float cubic = 0.044715f;
};

OnnxBuilder gelu_model(const GeluSpec& s) {
  OnnxBuilder b(13);
  b.input("x", {2, 3, 16});
  b.init("root", {}, {s.mul_by_inverse ? 1.f / s.root : s.root});
  b.init("one", {}, {1.f});
  b.init("half", {}, {s.half});
  if (s.tanh) {  // as torch exports F.gelu(x, approximate='tanh'), constants first where it puts them
    b.init("three", {}, {3.f});
    b.init("cubic", {}, {s.cubic});
    b.init("k", {}, {0.7978845834732056f});
    if (s.pow) {
      b.node("Pow", {"x", "three"}, {"x3"});
    } else {
      b.node("Mul", {"x", "x"}, {"x2"});
      b.node("Mul", {"x", "x2"}, {"x3"});
    }
    b.node("Mul", {"cubic", "x3"}, {"c3"});
    b.node("Add", {"x", "c3"}, {"inner"});
    b.node("Mul", {"k", "inner"}, {"scaled"});
    b.node("Tanh", {"scaled"}, {"e"});
    b.node("Add", {"one", "e"}, {"a"});
  } else {
    b.node(s.mul_by_inverse ? "Mul" : "Div", {"x", "root"}, {"scaled"});
    b.node("Erf", {"scaled"}, {"e"});
    b.node("Add", {"e", "one"}, {"a"});
  }
  switch (s.form) {
    case Form::Torch:  // Mul(Mul(x, a), 0.5)
      b.node("Mul", {"x", "a"}, {"m"});
      b.node("Mul", {"m", "half"}, {"y"});
      break;
    case Form::HalfFirst:  // Mul(Mul(0.5, x), a)
      b.node("Mul", {"half", "x"}, {"h"});
      b.node("Mul", {"h", "a"}, {"y"});
      break;
    case Form::HalfOfSum:  // Mul(x, Mul(a, 0.5))
      b.node("Mul", {"a", "half"}, {"h"});
      b.node("Mul", {"x", "h"}, {"y"});
      break;
  }
  b.output("y", {2, 3, 16});
  if (s.erf_is_output) b.output("e", {2, 3, 16});
  return b;
}

std::unique_ptr<ir::Graph> fuse(const GeluSpec& s, bool expect_change) {
  OnnxBuilder b = gelu_model(s);
  auto g = import_model(b);
  EXPECT_EQ(run_and_compare(*g, passes::fuse_gelu), expect_change);
  return g;
}

void expect_single_gelu(const ir::Graph& g, ops::Act act = ops::Act::Gelu) {
  ASSERT_EQ(g.nodes().size(), 1u) << ir::dump(g);
  const ir::Node& n = *g.nodes()[0];
  auto* u = n.as<ops::Unary>();
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->act, act);
  ASSERT_EQ(n.inputs.size(), 1u);
  EXPECT_EQ(n.inputs[0]->name, "x");
  EXPECT_EQ(g.outputs[0].value->producer, &n);
  EXPECT_EQ(g.outputs[0].name, "y");
}

TEST(FuseGelu, TorchExport) { expect_single_gelu(*fuse({}, true)); }

TEST(FuseGelu, HalfFirstWithInverseRoot) {
  GeluSpec s;
  s.form = Form::HalfFirst;
  s.mul_by_inverse = true;
  expect_single_gelu(*fuse(s, true));
}

TEST(FuseGelu, HalfOfSum) {
  GeluSpec s;
  s.form = Form::HalfOfSum;
  expect_single_gelu(*fuse(s, true));
}

TEST(FuseGelu, NearMissesStayUnfused) {
  GeluSpec wrong_root;
  wrong_root.root = 2.f;
  GeluSpec wrong_half;
  wrong_half.half = 0.25f;
  GeluSpec wrong_half_first = wrong_half;
  wrong_half_first.form = Form::HalfFirst;
  GeluSpec extra_user;
  extra_user.erf_is_output = true;
  int i = 0;
  for (const GeluSpec& s : {wrong_root, wrong_half, wrong_half_first, extra_user}) {
    SCOPED_TRACE("case " + std::to_string(i++));
    auto g = fuse(s, false);
    EXPECT_EQ(g->nodes().size(), 5u);
  }
}

TEST(FuseGelu, TanhApproximationTorchExport) {
  GeluSpec s;
  s.tanh = true;
  expect_single_gelu(*fuse(s, true), ops::Act::GeluTanh);
}

TEST(FuseGelu, TanhApproximationWithPowHalfFirst) {
  GeluSpec s;
  s.tanh = true;
  s.pow = true;
  s.form = Form::HalfFirst;
  expect_single_gelu(*fuse(s, true), ops::Act::GeluTanh);
}

TEST(FuseGelu, TanhNearMissesStayUnfused) {
  GeluSpec wrong_cubic;
  wrong_cubic.tanh = true;
  wrong_cubic.cubic = 0.05f;
  GeluSpec extra_user = wrong_cubic;
  extra_user.cubic = 0.044715f;
  extra_user.erf_is_output = true;
  for (const GeluSpec& s : {wrong_cubic, extra_user}) {
    auto g = fuse(s, false);
    EXPECT_EQ(g->nodes().size(), 9u);
  }
}

// The GeluTanh activation itself: the reference against the formula torch documents (computed in
// double here), and the oneDNN eltwise kernel and MatMul post-op against the reference.
TEST(FuseGelu, GeluTanhActivation) {
  auto x = random_tensor(DType::Float64, {201}, 3, -6, 6);
  ops::Unary u;
  u.act = ops::Act::GeluTanh;
  std::vector<HostTensor> in{x};
  auto y = run_reference(u, in)[0];
  for (int64_t i = 0; i < 201; ++i) {
    double v = element_as_double(x.view(), i);
    double want = 0.5 * v * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (v + 0.044715 * v * v * v)));
    EXPECT_NEAR(element_as_double(y.view(), i), want, 1e-12 * (1 + std::fabs(want))) << "x=" << v;
  }
  for (Dims s : {Dims{7}, Dims{3, 5, 17}})
    expect_kernel_matches_reference(u, "onednn", {random_tensor(DType::Float32, s, 4, -5, 5)}, 1e-4, 1e-5);
}

}  // namespace
}  // namespace kiln::test
