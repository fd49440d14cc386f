// Trilu, EyeLike and OneHot: reference kernels against hand-computed values, infer() errors,
// run-time parameters, and the importers.
#include <map>

#include <gmock/gmock.h>

#include "ops/onnx_node_model.h"
#include "ops/literal_test_util.h"
#include "ops/tensor/shape.h"
#include "ops/tensor/trilu_eye_like_one_hot.h"

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

TEST(Trilu, UpperLowerAndK) {
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

TEST(EyeLike, DiagonalsAndTypes) {
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

TEST(OneHot, AxesNegativeIndicesAndDepthInput) {
  ops::OneHot o;
  o.depth = 3;
  // indices [0, 2, -1, 5]: -1 -> 2, 5 out of range -> all off.
  auto y = ref_n(o, {I64({4}, {0, 2, -1, 5}), absent(), I32({2}, {7, 9})})[0];
  EXPECT_EQ(y.shape, (Dims{4, 3}));
  EXPECT_THAT(vals<int32_t>(y), ElementsAre(9, 7, 7, 7, 7, 9, 7, 7, 9, 7, 7, 7));
  o.axis = 0;
  y = ref_n(o, {F({2}, {1.7f, -1.2f}), absent(), F({2}, {0, 1})})[0];  // float indices truncate
  EXPECT_EQ(y.shape, (Dims{3, 2}));
  EXPECT_THAT(vals<float>(y), ElementsAre(0, 0, 1, 0, 0, 1));
  // depth as a (float) input, used when known.
  o.axis = -1;
  std::vector<HostTensor> in{I64({1, 2}, {1, 0}), F({}, {2.f}, true), F({2}, {0, 1})};
  EXPECT_EQ(infer_n(o, in, 1)[0].shape, (Dims{1, 2, 2}));
  in[1].constant = false;
  EXPECT_EQ(infer_n(o, in, 1)[0].shape, (Dims{1, 2, -1}));
  EXPECT_THAT(infer_err(o, {I64({2}, {0, 1}), F({}, {0.f}, true), F({2}, {0, 1})}),
              HasSubstr("depth must be >= 1"));
  EXPECT_THAT(infer_err(o, {I64({2}, {0, 1}), absent(), F({3}, {0, 1, 2})}), HasSubstr("off_value, on_value"));
  o.axis = 3;
  EXPECT_THAT(infer_err(o, {I64({2}, {0, 1}), absent(), F({2}, {0, 1})}), HasSubstr("axis"));
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

TEST(TriluEyeLikeOneHotImport, Nodes) {
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
  EXPECT_EQ(only_node(*g, "OneHot")->outputs[0]->type.shape, (Dims{5, 4}));
}

}  // namespace
}  // namespace kiln::test
