// fuse-layernorm: the decomposition torch exports for nn.LayerNorm below opset 17 (mirrored node
// for node here) becomes one LayerNormalization with the same values; near-misses stay unfused.
#include "fuse_test_util.h"
#include "ops/nn/layernorm.h"

namespace kiln::test {
namespace {

struct LnSpec {
  int opset = 13;
  std::vector<int64_t> dims{2, 4, 8};
  int64_t mean_axis = -1;   // axes of the first ReduceMean
  int64_t var_axis = -1;    // axes of the second
  bool pow = true;          // Pow(d, 2) as torch, else Mul(d, d)
  bool reciprocal = false;  // Mul(d, Reciprocal(Sqrt)) instead of Div(d, Sqrt)
  std::vector<int64_t> eps_dims{};  // the eps constant's shape; {} = scalar as torch
  std::vector<int64_t> gamma_dims{8};  // {} = no Mul; {-1} = gamma is a graph input
  bool beta = true;
  bool beta_first = false;  // Add(beta, y) rather than torch's Add(y, beta)
  bool d_is_output = false;  // the centred value is also a graph output (an extra user)
};

OnnxBuilder layernorm_model(const LnSpec& s) {
  OnnxBuilder b(s.opset);
  b.input("x", s.dims);
  const int64_t c = s.dims.back();
  auto mean = [&](const std::string& in, const std::string& out, int64_t axis) {
    OnnxBuilder::attr(b.node("ReduceMean", {in}, {out}), "axes", std::vector<int64_t>{axis});
  };
  mean("x", "mean", s.mean_axis);
  b.node("Sub", {"x", "mean"}, {"d"});
  if (s.pow) {
    b.init("two", {}, {2.f});
    b.node("Pow", {"d", "two"}, {"sq"});
  } else {
    b.node("Mul", {"d", "d"}, {"sq"});
  }
  mean("sq", "var", s.var_axis);
  int64_t eps_n = 1;
  for (int64_t d : s.eps_dims) eps_n *= d;
  b.init("eps", s.eps_dims, std::vector<float>(static_cast<size_t>(eps_n), 1e-5f));
  b.node("Add", {"var", "eps"}, {"ve"});
  b.node("Sqrt", {"ve"}, {"std"});
  if (s.reciprocal) {
    b.node("Reciprocal", {"std"}, {"inv"});
    b.node("Mul", {"d", "inv"}, {"y0"});
  } else {
    b.node("Div", {"d", "std"}, {"y0"});
  }
  std::string y = "y0";
  if (s.gamma_dims == std::vector<int64_t>{-1}) {
    b.input("gamma", {c});
    b.node("Mul", {y, "gamma"}, {"y1"});
    y = "y1";
  } else if (!s.gamma_dims.empty()) {
    b.init_random("gamma", s.gamma_dims, 11);
    b.node("Mul", {y, "gamma"}, {"y1"});
    y = "y1";
  }
  if (s.beta) {
    b.init_random("beta", {c}, 12);
    using Names = std::vector<std::string>;
    b.node("Add", s.beta_first ? Names{"beta", y} : Names{y, "beta"}, {"y2"});
    y = "y2";
  }
  b.node("Identity", {y}, {"out"});
  b.output("out", s.dims);
  if (s.d_is_output) b.output("d", s.dims);
  return b;
}

// Imports, fuses, and returns the graph (numerics are checked inside).
std::unique_ptr<ir::Graph> fuse(const LnSpec& s, bool expect_change) {
  OnnxBuilder b = layernorm_model(s);
  auto g = import_model(b);
  EXPECT_EQ(run_and_compare(*g, passes::fuse_layernorm), expect_change);
  return g;
}

// The constant's values as floats.
std::vector<float> floats(const ir::Value* v) {
  auto t = v->view();
  return std::vector<float>(t.as<float>(), t.as<float>() + t.elements());
}

TEST(FuseLayerNorm, TorchExportWithAffine) {
  auto g = fuse({}, true);
  const ir::Node* ln = only_node(*g, "LayerNormalization");
  ASSERT_NE(ln, nullptr);
  EXPECT_EQ(count_type(*g, "Reduce"), 0u);
  EXPECT_EQ(count_type(*g, "Binary"), 0u);
  EXPECT_EQ(count_type(*g, "Unary"), 0u);
  auto* op = ln->as<ops::LayerNormalization>();
  EXPECT_EQ(op->axis, -1);
  EXPECT_FLOAT_EQ(op->epsilon, 1e-5f);
  ASSERT_EQ(ln->inputs.size(), 3u);
  EXPECT_EQ(ln->inputs[0]->name, "x");
  EXPECT_TRUE(ln->inputs[1]->is_constant());
  EXPECT_TRUE(ln->inputs[2]->is_constant());
  EXPECT_EQ(ln->inputs[1]->type.shape, (Dims{8}));
  // The fused node produces the value the Identity (and so the graph output) reads.
  EXPECT_EQ(g->outputs[0].value->producer->inputs[0]->producer, ln);
}

TEST(FuseLayerNorm, MulSquarePositiveAxisNoGamma) {
  LnSpec s;
  s.opset = 11;
  s.dims = {3, 5, 16};
  s.mean_axis = s.var_axis = 2;
  s.pow = false;
  s.gamma_dims = {};
  s.beta_first = true;
  auto g = fuse(s, true);
  const ir::Node* ln = only_node(*g, "LayerNormalization");
  ASSERT_NE(ln, nullptr);
  ASSERT_EQ(ln->inputs.size(), 3u);  // a scale of ones, the bias
  EXPECT_EQ(floats(ln->inputs[1]), std::vector<float>(16, 1.f));
  EXPECT_EQ(g->nodes().size(), 2u);  // LayerNormalization + Identity
}

TEST(FuseLayerNorm, ReciprocalFormAndBroadcastGammaNoBias) {
  LnSpec s;
  s.reciprocal = true;
  s.gamma_dims = {1, 1, 8};
  s.beta = false;
  auto g = fuse(s, true);
  const ir::Node* ln = only_node(*g, "LayerNormalization");
  ASSERT_NE(ln, nullptr);
  ASSERT_EQ(ln->inputs.size(), 2u);
  EXPECT_EQ(ln->inputs[1]->type.shape, (Dims{8}));  // reshaped to [C] for the oneDNN kernel
  EXPECT_EQ(count_type(*g, "Binary"), 0u);
}

TEST(FuseLayerNorm, RuntimeGammaStaysOutside) {
  LnSpec s;
  s.gamma_dims = {-1};
  auto g = fuse(s, true);
  ASSERT_NE(only_node(*g, "LayerNormalization"), nullptr);
  // Mul by the runtime gamma stays; the bias cannot move past it, so the Add stays too.
  EXPECT_EQ(count_type(*g, "Binary"), 2u);
}

TEST(FuseLayerNorm, NearMissesStayUnfused) {
  LnSpec vector_eps;
  vector_eps.eps_dims = {8};  // per-channel eps is not LayerNormalization's scalar epsilon
  LnSpec extra_user;
  extra_user.d_is_output = true;
  LnSpec not_last;
  not_last.mean_axis = not_last.var_axis = 1;
  LnSpec mixed_axes;
  mixed_axes.var_axis = 1;
  int i = 0;
  for (const LnSpec& s : {vector_eps, extra_user, not_last, mixed_axes}) {
    SCOPED_TRACE("case " + std::to_string(i++));
    auto g = fuse(s, false);
    EXPECT_EQ(count_type(*g, "LayerNormalization"), 0u);
    EXPECT_EQ(count_type(*g, "Reduce"), 2u);
  }
}

}  // namespace
}  // namespace kiln::test
