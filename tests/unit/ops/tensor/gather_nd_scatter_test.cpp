// GatherND, ScatterElements and ScatterND: reference kernels against hand-computed values,
// infer() errors, and the importers (incl. the opset-10 Scatter).
#include <map>

#include <gmock/gmock.h>

#include "ops/literal_test_util.h"
#include "ops/onnx_node_model.h"
#include "ops/tensor/gather_nd_scatter.h"
#include "ops/tensor/shape.h"

namespace kiln::test {
namespace {

using namespace literal;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

HostTensor iota_f(Dims s) {
  HostTensor h(DType::Float32, std::move(s));
  for (int64_t i = 0; i < h.elements(); ++i) h.as<float>()[i] = static_cast<float>(i + 1);
  return h;
}

TEST(GatherND, BatchDimsAndSlices) {
  ops::GatherND g;
  auto data = iota_f({2, 2, 2});  // 1..8
  // Full index tuples -> scalars; partial -> slices; negative indices.
  EXPECT_THAT(vals<float>(ref_n(g, {data, I64({2, 3}, {0, 1, 1, 1, 0, -2})})[0]), ElementsAre(4, 5));
  auto y = ref_n(g, {data, I64({2, 1, 1}, {1, 0})})[0];
  EXPECT_EQ(y.shape, (Dims{2, 1, 2, 2}));
  EXPECT_THAT(vals<float>(y), ElementsAre(5, 6, 7, 8, 1, 2, 3, 4));
  g.batch_dims = 1;
  y = ref_n(g, {data, I64({2, 1}, {1, 0})})[0];
  EXPECT_EQ(y.shape, (Dims{2, 2}));
  EXPECT_THAT(vals<float>(y), ElementsAre(3, 4, 5, 6));
  EXPECT_THROW(ref_n(ops::GatherND{}, {data, I64({1, 1}, {2})}), Error);
  EXPECT_THAT(infer_err(g, {data, I64({2, 3}, {0, 0, 0, 0, 0, 0})}), HasSubstr("address 3 dims"));
  EXPECT_THAT(infer_err(g, {data, I32({2, 1}, {0, 0})}), HasSubstr("int64"));
  g.batch_dims = 2;
  EXPECT_THAT(infer_err(g, {data, I64({2, 1}, {0, 0})}), HasSubstr("batch_dims"));
  g.batch_dims = 1;
  EXPECT_THAT(infer_err(g, {data, I64({3, 1}, {0, 0, 0})}), HasSubstr("batch dim 0"));
}

TEST(ScatterElements, AxesReductionsDuplicates) {
  ops::ScatterElements s;
  // onnx's example: data 3x3 zeros, axis 0.
  auto y = ref_n(s, {F({3, 3}, std::vector<float>(9, 0.f)), I64({2, 3}, {1, 0, 2, 0, 2, 1}),
                     F({2, 3}, {1.0f, 1.1f, 1.2f, 2.0f, 2.1f, 2.2f})})[0];
  EXPECT_THAT(vals<float>(y), ElementsAre(2.0f, 1.1f, 0, 1.0f, 0, 2.2f, 0, 2.1f, 1.2f));
  s.axis = -1;
  s.reduction = ops::ScatterReduce::Add;
  y = ref_n(s, {F({1, 5}, {1, 2, 3, 4, 5}), I32({1, 3}, {1, 1, -1}), F({1, 3}, {10, 20, 30})})[0];
  EXPECT_THAT(vals<float>(y), ElementsAre(1, 32, 3, 4, 35));
  s.reduction = ops::ScatterReduce::Mul;
  EXPECT_THAT(vals<int64_t>(ref_n(s, {I64({3}, {2, 3, 4}), I64({2}, {0, 0}), I64({2}, {5, 7})})[0]),
              ElementsAre(70, 3, 4));
  s.reduction = ops::ScatterReduce::None;
  EXPECT_THROW(ref_n(s, {I64({3}, {2, 3, 4}), I64({1}, {3}), I64({1}, {5})}), Error);
  EXPECT_THAT(infer_err(s, {F({2, 2}, {1, 2, 3, 4}), I64({2}, {0, 1}), F({2}, {1, 1})}),
              HasSubstr("data's rank"));
  EXPECT_THAT(infer_err(s, {F({2}, {1, 2}), I64({2}, {0, 1}), D({2}, {1, 1})}), HasSubstr("updates must have"));
  EXPECT_THAT(infer_err(s, {F({2}, {1, 2}), I64({2}, {0, 1}), F({3}, {1, 1, 1})}), HasSubstr("indices' shape"));
  s.reduction = ops::ScatterReduce::Add;
  HostTensor b(DType::Bool, {2});
  EXPECT_THAT(infer_err(s, {b, I64({1}, {0}), HostTensor(DType::Bool, {1})}), HasSubstr("reduction"));
}

TEST(ScatterND, SlicesAndReductions) {
  ops::ScatterND s;
  auto data = iota_f({2, 2, 2});
  // Replace slice [1] and element [0, 1, 0].
  auto y = ref_n(s, {data, I64({1, 1}, {1}), F({1, 2, 2}, {-1, -2, -3, -4})})[0];
  EXPECT_THAT(vals<float>(y), ElementsAre(1, 2, 3, 4, -1, -2, -3, -4));
  y = ref_n(s, {data, I64({1, 3}, {0, 1, 0}), F({1}, {100})})[0];
  EXPECT_THAT(vals<float>(y), ElementsAre(1, 2, 100, 4, 5, 6, 7, 8));
  s.reduction = ops::ScatterReduce::Add;
  y = ref_n(s, {data, I64({2, 2}, {0, 0, 0, 0}), F({2, 2}, {10, 20, 30, 40})})[0];  // duplicates accumulate
  EXPECT_THAT(vals<float>(y), ElementsAre(41, 62, 3, 4, 5, 6, 7, 8));
  s.reduction = ops::ScatterReduce::Mul;
  y = ref_n(s, {data, I64({1, 1}, {-1}), F({1, 2, 2}, {2, 2, 2, 2})})[0];
  EXPECT_THAT(vals<float>(y), ElementsAre(1, 2, 3, 4, 10, 12, 14, 16));
  EXPECT_THAT(infer_err(s, {data, I64({1, 1}, {0}), F({2, 2}, {1, 1, 1, 1})}),
              HasSubstr("updates must have shape 1x2x2"));
  EXPECT_THAT(infer_err(s, {data, I64({1, 4}, {0, 0, 0, 0}), F({1}, {1})}), HasSubstr("address 4 dims"));
}

// ---- importers ----

template <class T>
T* only_op(ir::Graph& g, std::string_view type) {
  ir::Node* n = only_node(g, type);
  return n ? n->as<T>() : nullptr;
}

// Imports m after giving the named graph inputs another element type.
std::unique_ptr<ir::Graph> import_typed(const OnnxNodeModel& m, std::map<std::string, int> types) {
  onnx::ModelProto proto;
  proto.ParseFromString(m.bytes());
  for (auto& in : *proto.mutable_graph()->mutable_input())
    if (types.count(in.name())) in.mutable_type()->mutable_tensor_type()->set_elem_type(types[in.name()]);
  return onnx_import::import_onnx_bytes(proto.SerializeAsString(), "test.onnx", {});
}

TEST(GatherNDScatterImport, Nodes) {
  auto g = import_typed(OnnxNodeModel("Scatter", {"d", "i", "u"}, {"y"}, 10)
                       .input("d", {3, 3})
                       .input("i", {1, 3})
                       .input("u", {1, 3})
                       .i("axis", 1),
                   {{"i", onnx::TensorProto::INT64}});
  auto* sc = only_op<ops::ScatterElements>(*g, "ScatterElements");
  ASSERT_TRUE(sc);
  EXPECT_EQ(sc->axis, 1);
  g = import_typed(OnnxNodeModel("ScatterND", {"d", "i", "u"}, {"y"}, 16)
                       .input("d", {3, 3})
                       .input("i", {1, 1})
                       .input("u", {1, 3})
                       .s("reduction", "mul"),
                   {{"i", onnx::TensorProto::INT64}});
  auto* nd = only_op<ops::ScatterND>(*g, "ScatterND");
  ASSERT_TRUE(nd);
  EXPECT_EQ(nd->reduction, ops::ScatterReduce::Mul);
  g = import_typed(OnnxNodeModel("GatherND", {"d", "i"}, {"y"}, 13)
                       .input("d", {2, 3, 4})
                       .input("i", {2, 1})
                       .i("batch_dims", 1),
                   {{"i", onnx::TensorProto::INT64}});
  EXPECT_EQ(only_node(*g, "GatherND")->outputs[0]->type.shape, (Dims{2, 4}));
}

}  // namespace
}  // namespace kiln::test
