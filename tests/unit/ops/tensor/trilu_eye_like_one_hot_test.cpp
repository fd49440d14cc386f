// Trilu, EyeLike, OneHot, GatherND, ScatterElements and ScatterND: reference kernels against
// hand-computed values, infer() errors, run-time parameters, and the importers (incl. CastLike
// and the opset-10 Scatter).
#include <map>

#include <gmock/gmock.h>

#include "ops/onnx_node_model.h"
#include "ops/literal_test_util.h"
#include "ops/tensor/shape.h"
#include "ops/tensor/trilu_eye_like_one_hot.h"

namespace kiln::test {
namespace {

using namespace nn2;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

HostTensor iota_f(Shape s) {
  HostTensor h(DType::Float32, std::move(s));
  for (int64_t i = 0; i < h.elements(); ++i) h.as<float>()[i] = static_cast<float>(i + 1);
  return h;
}

TEST(Nn2Trilu, UpperLowerAndK) {
  ops::Trilu t;
  // 3x4: 1..12.
  EXPECT_THAT(vals<float>(ref_n(t, {iota_f({3, 4})})[0]), ElementsAre(1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12));
  t.k = 2;
  EXPECT_THAT(vals<float>(ref_n(t, {iota_f({3, 4})})[0]), ElementsAre(0, 0, 3, 4, 0, 0, 0, 8, 0, 0, 0, 0));
  t.upper = false;
  t.k = -1;
  EXPECT_THAT(vals<float>(ref_n(t, {iota_f({3, 4})})[0]), ElementsAre(0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0));
  // k as an int64 input overrides the attribute; batched matrices; extreme k keeps everything.
  EXPECT_THAT(vals<float>(ref_n(t, {iota_f({2, 2, 2}), I64({}, {0})})[0]), ElementsAre(1, 0, 3, 4, 5, 0, 7, 8));
  EXPECT_THAT(vals<int64_t>(ref_n(t, {I64({2, 2}, {1, 2, 3, 4}), I64({}, {INT64_MAX})})[0]),
              ElementsAre(1, 2, 3, 4));
  t.upper = true;
  EXPECT_THAT(vals<int64_t>(ref_n(t, {I64({2, 2}, {1, 2, 3, 4}), I64({1}, {INT64_MIN})})[0]),
              ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(infer_err(t, {F({3}, {1, 2, 3})}), HasSubstr("rank >= 2"));
  EXPECT_THAT(infer_err(t, {iota_f({2, 2}), I32({}, {1})}), HasSubstr("int64"));
  EXPECT_THAT(infer_err(t, {iota_f({2, 2}), I64({2}, {1, 2})}), HasSubstr("exactly one value"));
}

TEST(Nn2EyeLike, DiagonalsAndTypes) {
  ops::EyeLike e;
  e.dtype = static_cast<int64_t>(DType::Int32);
  EXPECT_THAT(vals<int32_t>(ref_n(e, {iota_f({2, 3})})[0]), ElementsAre(1, 0, 0, 0, 1, 0));
  e.k = 1;
  e.dtype = static_cast<int64_t>(DType::Float64);
  EXPECT_THAT(vals<double>(ref_n(e, {iota_f({3, 3})})[0]), ElementsAre(0, 1, 0, 0, 0, 1, 0, 0, 0));
  e.k = -2;
  e.dtype = static_cast<int64_t>(DType::Bool);
  EXPECT_THAT(vals<uint8_t>(ref_n(e, {iota_f({3, 2})})[0]), ElementsAre(0, 0, 0, 0, 1, 0));
  EXPECT_THAT(infer_err(e, {iota_f({3})}), HasSubstr("2-D"));
  e.dtype = 8;  // string
  EXPECT_THAT(infer_err(e, {iota_f({2, 2})}), HasSubstr("dtype"));
}

TEST(Nn2OneHot, AxesNegativeIndicesAndDepthInput) {
  ops::OneHot o;
  o.depth = 3;
  // indices [0, 2, -1, 5]: -1 -> 2, 5 out of range -> all off.
  auto y = ref_n(o, {I64({4}, {0, 2, -1, 5}), absent(), I32({2}, {7, 9})})[0];
  EXPECT_EQ(y.shape, (Shape{4, 3}));
  EXPECT_THAT(vals<int32_t>(y), ElementsAre(9, 7, 7, 7, 7, 9, 7, 7, 9, 7, 7, 7));
  o.axis = 0;
  y = ref_n(o, {F({2}, {1.7f, -1.2f}), absent(), F({2}, {0, 1})})[0];  // float indices truncate
  EXPECT_EQ(y.shape, (Shape{3, 2}));
  EXPECT_THAT(vals<float>(y), ElementsAre(0, 0, 1, 0, 0, 1));
  // depth as a (float) input, used when known.
  o.axis = -1;
  std::vector<HostTensor> in{I64({1, 2}, {1, 0}), F({}, {2.f}, true), F({2}, {0, 1})};
  EXPECT_EQ(infer_n(o, in, 1)[0].shape, (Shape{1, 2, 2}));
  in[1].constant = false;
  EXPECT_EQ(infer_n(o, in, 1)[0].shape, (Shape{1, 2, -1}));
  EXPECT_THAT(infer_err(o, {I64({2}, {0, 1}), F({}, {0.f}, true), F({2}, {0, 1})}),
              HasSubstr("depth must be >= 1"));
  EXPECT_THAT(infer_err(o, {I64({2}, {0, 1}), absent(), F({3}, {0, 1, 2})}), HasSubstr("off_value, on_value"));
  o.axis = 3;
  EXPECT_THAT(infer_err(o, {I64({2}, {0, 1}), absent(), F({2}, {0, 1})}), HasSubstr("axis"));
}

TEST(Nn2GatherND, BatchDimsAndSlices) {
  ops::GatherND g;
  auto data = iota_f({2, 2, 2});  // 1..8
  // Full index tuples -> scalars; partial -> slices; negative indices.
  EXPECT_THAT(vals<float>(ref_n(g, {data, I64({2, 3}, {0, 1, 1, 1, 0, -2})})[0]), ElementsAre(4, 5));
  auto y = ref_n(g, {data, I64({2, 1, 1}, {1, 0})})[0];
  EXPECT_EQ(y.shape, (Shape{2, 1, 2, 2}));
  EXPECT_THAT(vals<float>(y), ElementsAre(5, 6, 7, 8, 1, 2, 3, 4));
  g.batch_dims = 1;
  y = ref_n(g, {data, I64({2, 1}, {1, 0})})[0];
  EXPECT_EQ(y.shape, (Shape{2, 2}));
  EXPECT_THAT(vals<float>(y), ElementsAre(3, 4, 5, 6));
  EXPECT_THROW(ref_n(ops::GatherND{}, {data, I64({1, 1}, {2})}), Error);
  EXPECT_THAT(infer_err(g, {data, I64({2, 3}, {0, 0, 0, 0, 0, 0})}), HasSubstr("address 3 dims"));
  EXPECT_THAT(infer_err(g, {data, I32({2, 1}, {0, 0})}), HasSubstr("int64"));
  g.batch_dims = 2;
  EXPECT_THAT(infer_err(g, {data, I64({2, 1}, {0, 0})}), HasSubstr("batch_dims"));
  g.batch_dims = 1;
  EXPECT_THAT(infer_err(g, {data, I64({3, 1}, {0, 0, 0})}), HasSubstr("batch dim 0"));
}

TEST(Nn2ScatterElements, AxesReductionsDuplicates) {
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

TEST(Nn2ScatterND, SlicesAndReductions) {
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

TEST(Nn2Tensor2Import, Nodes) {
  auto g = OnnxNodeModel("Trilu", {"x"}, {"y"}, 14).input("x", {3, 3}).i("upper", 0).import();
  auto* t = only_op<ops::Trilu>(*g, "Trilu");
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->upper);
  // A run-time k stays an input.
  g = import_typed(OnnxNodeModel("Trilu", {"x", "k"}, {"y"}, 14).input("x", {3, 3}).input("k", {}),
                   {{"k", onnx::TensorProto::INT64}});
  EXPECT_EQ(only_node(*g, "Trilu")->inputs.size(), 2u);

  g = OnnxNodeModel("EyeLike", {"x"}, {"y"}, 13).input("x", {2, 3}).i("k", 1).import();
  auto* e = only_op<ops::EyeLike>(*g, "EyeLike");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->dtype, static_cast<int64_t>(DType::Float32));  // defaults to the input's type
  EXPECT_EQ(e->k, 1);

  g = OnnxNodeModel("OneHot", {"i", "d", "v"}, {"y"}, 11)
          .input("i", {4})
          .init("d", F({}, {5.f}))
          .input("v", {2})
          .i("axis", 0)
          .import();
  auto* o = only_op<ops::OneHot>(*g, "OneHot");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->depth, 5);
  EXPECT_EQ(only_node(*g, "OneHot")->outputs[0]->type.shape, (Shape{5, 4}));

  g = import_typed(OnnxNodeModel("Scatter", {"d", "i", "u"}, {"y"}, 10)
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
  EXPECT_EQ(only_node(*g, "GatherND")->outputs[0]->type.shape, (Shape{2, 4}));
}

TEST(Nn2Tensor2Import, CastLikeIsACast) {
  auto g = OnnxNodeModel("CastLike", {"x", "like"}, {"y"}, 15).input("x", {2}).input("like", {1}).import();
  auto* c = only_op<ops::Cast>(*g, "Cast");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to, static_cast<int64_t>(DType::Float32));
}

}  // namespace
}  // namespace kiln::test
