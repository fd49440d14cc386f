// Dropout: what passes the input through (inference, or training with ratio 0), at build time and
// at run time (ops::Dropout), and what is refused because its mask would be random.
#include <gmock/gmock.h>

#include "graph_eval_util.h"
#include "import/importer.h"
#include "onnx_builder_util.h"
#include "ops/multi_output_test_util.h"
#include "ops/tensor/identity.h"

namespace kiln::test {
namespace {

using namespace ops;
using namespace multi_output;
using ::testing::HasSubstr;

HostTensor flag(bool v) { return make<uint8_t>(DType::Bool, {}, {static_cast<uint8_t>(v)}); }
HostTensor ratio(float v) { return f32({}, {v}); }

TEST(DropoutReference, KeepsEverythingOrRefuses) {
  Dropout op;
  op.node = "drop";
  auto x = f32({2, 2}, {1, -2, 3, 4});
  for (auto [train, r] : {std::pair{false, 0.5f}, std::pair{true, 0.f}}) {
    auto out = run_ref(op, {x, ratio(r), flag(train)}, 2);
    EXPECT_EQ(vals<float>(out[0]), (std::vector<float>{1, -2, 3, 4}));
    EXPECT_EQ(out[1].dtype, DType::Bool);
    EXPECT_EQ(vals<uint8_t>(out[1]), std::vector<uint8_t>(4, 1));
  }
  try {
    run_ref(op, {x, ratio(0.25f), flag(true)}, 1);
    FAIL() << "a random mask was drawn";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("node 'drop' (Dropout)"));
    EXPECT_THAT(e.what(), HasSubstr("random mask"));
  }
  // An absent ratio is 0.5.
  EXPECT_THROW(run_ref(op, {x, absent(), flag(true)}, 1), Error);
}

TEST(DropoutInfer, Errors) {
  const TensorType x{DType::Float32, {2}}, r{DType::Float32, {}}, t{DType::Bool, {}};
  EXPECT_EQ(infer_err(Dropout{}, {x, r, t}, 2), "");
  EXPECT_THAT(infer_err(Dropout{}, {x, r, {DType::Float32, {}}}), HasSubstr("bool scalar"));
  EXPECT_THAT(infer_err(Dropout{}, {x, {DType::Float32, {3}}, t}), HasSubstr("scalar"));
  EXPECT_THAT(infer_err(Dropout{}, {x, {DType::Int64, {}}, t}), HasSubstr("ratio must be a float"));
  EXPECT_THAT(infer_err(Dropout{}, {x, r, t}, 3), HasSubstr("takes X"));
}

std::unique_ptr<ir::Graph> import(const OnnxBuilder& b) { return onnx_import::import_onnx_bytes(b.bytes(), "t.onnx", {}); }

// Dropout(x, r, t) -> y, mask, with r and t graph inputs or constants.
OnnxBuilder dropout_model(bool runtime) {
  OnnxBuilder b(13);
  b.input("x", {3});
  if (runtime) {
    b.input("r", {});
    b.input("t", {}, onnx::TensorProto::BOOL);
  } else {
    b.init("r", {}, {0.f});
    auto* t = b.model().mutable_graph()->add_initializer();
    t->set_name("t");
    t->set_data_type(onnx::TensorProto::BOOL);
    t->add_int32_data(1);
  }
  b.node("Dropout", {"x", "r", "t"}, {"y", "mask"});
  b.output("y", {3});
  b.output("mask", {3}, onnx::TensorProto::BOOL);
  return b;
}

TEST(DropoutImport, TrainingWithRatioZero) {
  auto x = f32({3}, {1, 2, 3});
  // Constant training_mode and ratio 0: decided at build time.
  auto g = import(dropout_model(false));
  for (auto& n : g->nodes()) EXPECT_FALSE(n->op && n->as<Dropout>());
  auto out = evaluate(*g, {{"x", x}});
  EXPECT_EQ(vals<float>(out.at("y")), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(vals<uint8_t>(out.at("mask")), std::vector<uint8_t>(3, 1));
  // Run-time ones: checked when run.
  g = import(dropout_model(true));
  out = evaluate(*g, {{"x", x}, {"r", ratio(0.f)}, {"t", flag(true)}});
  EXPECT_EQ(vals<float>(out.at("y")), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(vals<uint8_t>(out.at("mask")), std::vector<uint8_t>(3, 1));
  EXPECT_THROW(evaluate(*g, {{"x", x}, {"r", ratio(0.5f)}, {"t", flag(true)}}), Error);
  // A run-time training_mode without a ratio (0.5): only inference passes.
  OnnxBuilder b(13);
  b.input("x", {3});
  b.input("t", {}, onnx::TensorProto::BOOL);
  b.node("Dropout", {"x", "", "t"}, {"y"});
  b.output("y", {3});
  g = import(b);
  EXPECT_EQ(vals<float>(evaluate(*g, {{"x", x}, {"t", flag(false)}}).at("y")), (std::vector<float>{1, 2, 3}));
  EXPECT_THROW(evaluate(*g, {{"x", x}, {"t", flag(true)}}), Error);
}

}  // namespace
}  // namespace kiln::test
