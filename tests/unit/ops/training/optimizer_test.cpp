// Adagrad, Adam and Momentum (ai.onnx.preview.training): reference kernels against the spec's
// formulas evaluated by hand, infer()'s arity and type checks, and the import of the domain.
#include <cmath>

#include <gmock/gmock.h>

#include "ops/multi_output_test_util.h"
#include "ops/onnx_node_model.h"
#include "ops/training/optimizer.h"

namespace kiln::test {
namespace {

using namespace ops;
using namespace multi_output;
using ::testing::HasSubstr;

HostTensor scalar_f(float v) { return f32({}, {v}); }
HostTensor scalar_t(int64_t v) { return i64({}, {v}); }

TEST(AdagradReference, TwoTensors) {
  Adagrad op;
  op.decay_factor = 0.5f;
  op.epsilon = 0.f;
  op.norm_coefficient = 1.f;
  // r = 2 / (1 + 2 * 0.5) = 1. X1 = 1, G1 = 2: g = 3, H' = 7 + 9 = 16, X' = 1 - 3 / 4.
  // X2 = [0, 1], G2 = [4, -1]: g = [4, 0], H' = [9 + 16, 1], X' = [0 - 4 / 5, 1].
  auto out = run_ref(op, {scalar_f(2), scalar_t(2), f32({1}, {1}), f32({2}, {0, 1}), f32({1}, {2}), f32({2}, {4, -1}),
                          f32({1}, {7}), f32({2}, {9, 1})},
                     4);
  expect_near(vals<float>(out[0]), {0.25});
  expect_near(vals<float>(out[1]), {-0.8, 1});
  expect_near(vals<float>(out[2]), {16});
  expect_near(vals<float>(out[3]), {25, 1});
}

TEST(AdamReference, BiasCorrectionAndPostDecay) {
  Adam op;
  op.alpha = 0.5f;
  op.beta = 0.75f;
  op.epsilon = 0.f;
  op.norm_coefficient_post = 0.5f;
  // g = 2; V' = 0.5 * 2 + 0.5 * 2 = 2; H' = 0.75 * 4 + 0.25 * 4 = 4.
  // T = 1: r = 1 * sqrt(1 - 0.75) / (1 - 0.5) = 1; X' = 0.5 * (3 - 1 * 2 / 2) = 1.
  auto out = run_ref(op, {scalar_f(1), scalar_t(1), f32({1}, {3}), f32({1}, {2}), f32({1}, {2}), f32({1}, {4})}, 3);
  expect_near(vals<float>(out[0]), {1});
  expect_near(vals<float>(out[1]), {2});
  expect_near(vals<float>(out[2]), {4});
  // T = 0: no bias correction, r = R.
  out = run_ref(op, {scalar_f(2), scalar_t(0), f32({1}, {3}), f32({1}, {2}), f32({1}, {2}), f32({1}, {4})}, 3);
  expect_near(vals<float>(out[0]), {0.5 * (3 - 2 * 2 / 2.0)});
}

TEST(MomentumReference, StandardNesterovAndFirstStep) {
  Momentum op;
  op.alpha = 0.5f;
  op.beta = 0.25f;
  op.norm_coefficient = 0.f;
  auto in = [](int64_t t) {
    return std::vector<HostTensor>{scalar_f(0.5f), scalar_t(t), f32({2}, {1, 2}), f32({2}, {4, 8}), f32({2}, {2, 0})};
  };
  // T = 1: V' = 0.5 * V + 0.25 * G = [2, 2]; X' = X - 0.5 * V' = [0, 1].
  auto out = run_ref(op, in(1), 2);
  expect_near(vals<float>(out[0]), {0, 1});
  expect_near(vals<float>(out[1]), {2, 2});
  // T = 0 takes the whole gradient: V' = [5, 8].
  expect_near(vals<float>(run_ref(op, in(0), 2)[1]), {5, 8});
  // Nesterov: X' = X - 0.5 * (G + 0.5 * V') = [1 - 0.5 * 5, 2 - 0.5 * 9].
  op.mode = "nesterov";
  expect_near(vals<float>(run_ref(op, in(1), 2)[0]), {-1.5, -2.5});
}

TEST(OptimizerInfer, Errors) {
  const TensorType r{DType::Float32, {}}, t{DType::Int64, {}}, x{DType::Float32, {2}};
  EXPECT_EQ(infer_err(Adagrad{}, {r, t, x, x, x}, 2), "");
  EXPECT_THAT(infer_err(Adagrad{}, {r, t, x, x}, 2), HasSubstr("3 tensors per optimized tensor"));
  EXPECT_THAT(infer_err(Adam{}, {r, t, x, x, x, x}, 2), HasSubstr("gives 3 outputs"));
  EXPECT_THAT(infer_err(Adagrad{}, {r, {DType::Int32, {}}, x, x, x}, 2), HasSubstr("T must be int64"));
  EXPECT_THAT(infer_err(Adagrad{}, {{DType::Float32, {2}}, t, x, x, x}, 2), HasSubstr("scalars"));
  EXPECT_THAT(infer_err(Adagrad{}, {r, t, x, {DType::Float32, {3}}, x}, 2), HasSubstr("must match X1"));
  Momentum m;
  m.mode = "heavy";
  EXPECT_THAT(infer_err(m, {r, t, x, x, x}, 2), HasSubstr("mode"));
}

// A model that imports only the training domain (as onnx's own cases do), with its node in it.
OnnxTypedNodeModel adagrad_model(const std::string& domain) {
  OnnxTypedNodeModel m("Adagrad", {"R", "T", "X", "G", "H"});
  m.m.mutable_opset_import(0)->set_domain(onnx_import::kTrainingDomain);
  m.m.mutable_opset_import(0)->set_version(1);
  m.n->set_domain(domain);
  m.n->add_output("h");
  auto* h = m.g->add_output();
  h->set_name("h");
  h->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  h->mutable_type()->mutable_tensor_type()->mutable_shape();
  m.input("R", onnx::TensorProto::FLOAT, {});
  m.input("T", onnx::TensorProto::INT64, {});
  for (const char* x : {"X", "G", "H"}) m.input(x, onnx::TensorProto::FLOAT, {3});
  return m;
}

TEST(OptimizerImport, TrainingDomain) {
  auto g = adagrad_model(onnx_import::kTrainingDomain).import();
  auto* n = only_node(*g, "Adagrad");
  ASSERT_TRUE(n);
  EXPECT_FLOAT_EQ(n->as<Adagrad>()->epsilon, 1e-6f);
  ASSERT_EQ(n->outputs.size(), 2u);
  EXPECT_EQ(n->outputs[1]->type.shape, (Dims{3}));
  // The same op type in the default domain is no ONNX op.
  EXPECT_THROW(adagrad_model("").import(), Error);
}

}  // namespace
}  // namespace kiln::test
