// ONNX importers of the shape family: per-opset attribute/input forms, Constant, and the
// import-time folding of shape sub-graphs. Models are built in memory with the ONNX protos.
#include <cstring>

#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/shape_test_util.h"

namespace kiln::test {
namespace {

using namespace kiln::ops;
using I = std::vector<int64_t>;

class ModelBuilder {
 public:
  explicit ModelBuilder(int opset) {
    m_.set_ir_version(8);
    auto* o = m_.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    g_ = m_.mutable_graph();
    g_->set_name("test");
  }
  void input(const std::string& name, int elem, const Dims& dims) {
    auto* vi = g_->add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* s = tt->mutable_shape();
    for (int64_t d : dims) {
      if (d < 0) s->add_dim()->set_dim_param("N");
      else s->add_dim()->set_dim_value(d);
    }
  }
  // The checker wants a shape on outputs; dims are left unknown so kiln's inference is tested.
  void output(const std::string& name, int elem, int rank) {
    auto* vi = g_->add_output();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* shape = tt->mutable_shape();
    for (int i = 0; i < rank; ++i) shape->add_dim();
  }
  void init_ints(const std::string& name, const I& v, std::optional<Dims> dims = std::nullopt) {
    auto* t = g_->add_initializer();
    fill_ints(*t, name, v, dims);
  }
  void init_floats(const std::string& name, const std::vector<float>& v, const Dims& dims) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float x : v) t->add_float_data(x);
  }
  static void fill_ints(onnx::TensorProto& t, const std::string& name, const I& v, std::optional<Dims> dims) {
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims.value_or(Dims{static_cast<int64_t>(v.size())})) t.add_dims(d);
    for (int64_t x : v) t.add_int64_data(x);
  }
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& in,
                        const std::vector<std::string>& out) {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(op + "_" + std::to_string(g_->node_size()));
    for (auto& s : in) n->add_input(s);
    for (auto& s : out) n->add_output(s);
    return n;
  }
  static onnx::AttributeProto* attr(onnx::NodeProto* n, const std::string& name, onnx::AttributeProto::AttributeType t) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(t);
    return a;
  }
  static void attr_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
    attr(n, name, onnx::AttributeProto::INT)->set_i(v);
  }
  static void attr_ints(onnx::NodeProto* n, const std::string& name, const I& v) {
    auto* a = attr(n, name, onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void attr_float(onnx::NodeProto* n, const std::string& name, float v) {
    attr(n, name, onnx::AttributeProto::FLOAT)->set_f(v);
  }
  static void attr_string(onnx::NodeProto* n, const std::string& name, const std::string& v) {
    attr(n, name, onnx::AttributeProto::STRING)->set_s(v);
  }
  std::unique_ptr<ir::Graph> import() const {
    return onnx_import::import_onnx_bytes(m_.SerializeAsString(), "test.onnx", {});
  }

 private:
  onnx::ModelProto m_;
  onnx::GraphProto* g_;
};

constexpr int kF = onnx::TensorProto::FLOAT;
constexpr int kI64 = onnx::TensorProto::INT64;
using B = ModelBuilder;

std::vector<std::string> node_types(const ir::Graph& g) {
  std::vector<std::string> r;
  for (auto& n : g.nodes()) r.emplace_back(n->type());
  return r;
}

const ir::Value* output(const ir::Graph& g, size_t i = 0) { return g.outputs.at(i).value; }

template <class T>
std::vector<T> const_values(const ir::Value* v) {
  EXPECT_TRUE(v->is_constant()) << v->name << " is not a constant";
  if (!v->is_constant()) return {};
  std::vector<T> r(static_cast<size_t>(shape_elements(v->type.shape)));
  if (!r.empty()) std::memcpy(r.data(), v->constant->data(), r.size() * sizeof(T));
  return r;
}

std::string import_error(const ModelBuilder& b) {
  try {
    b.import();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// The flatten idiom of exported CNNs: x.view(x.size(0), -1).
void add_flatten_chain(ModelBuilder& b) {
  b.init_ints("zero", {0}, Dims{});
  b.init_ints("axes0", {0});
  b.init_ints("minus1", {-1});
  b.node("Shape", {"x"}, {"s"});
  B::attr_int(b.node("Gather", {"s", "zero"}, {"n"}), "axis", 0);
  b.node("Unsqueeze", {"n", "axes0"}, {"n1"});
  B::attr_int(b.node("Concat", {"n1", "minus1"}, {"shape"}), "axis", 0);
  b.node("Reshape", {"x", "shape"}, {"y"});
  b.output("y", kF, 2);
}

TEST(ShapeImport, ShapeChainFoldsIntoReshape) {
  ModelBuilder b(13);
  b.input("x", kF, {2, 3, 4, 4});
  add_flatten_chain(b);
  auto g = b.import();
  ASSERT_EQ(node_types(*g), (std::vector<std::string>{"Reshape"}));
  auto* r = g->nodes()[0]->as<Reshape>();
  EXPECT_EQ(r->shape, (I{2, 48}));
  EXPECT_EQ(g->nodes()[0]->inputs.size(), 1u);
  EXPECT_EQ(output(*g)->type.shape, (Dims{2, 48}));
}

TEST(ShapeImport, DynamicBatchKeepsShapeSubgraph) {
  ModelBuilder b(13);
  b.input("x", kF, {-1, 3, 4, 4});
  add_flatten_chain(b);
  auto g = b.import();
  EXPECT_EQ(node_types(*g), (std::vector<std::string>{"Shape", "Gather", "Unsqueeze", "Concat", "Reshape"}));
  const ir::Node* r = g->nodes().back().get();
  EXPECT_EQ(r->inputs.size(), 2u);
  EXPECT_EQ(output(*g)->type.shape.size(), 2u);
  // Once folding makes the shape known, infer resolves it like the attribute would.
  Reshape op;
  TensorView shape{DType::Int64, {2}, nullptr};
  int64_t vals[2] = {5, -1};
  shape.data = vals;
  InferContext ctx({{DType::Float32, {5, 3, 4, 4}}, {DType::Int64, {2}}}, {nullptr, &shape}, 1);
  op.infer(ctx);
  EXPECT_EQ(ctx.outputs()[0].shape, (Dims{5, 48}));
}

TEST(ShapeImport, ReshapeWithDynamicBatchAndConstantShape) {
  ModelBuilder b(11);
  b.input("x", kF, {-1, 512, 1, 1});
  b.init_ints("shape", {0, -1});
  b.node("Reshape", {"x", "shape"}, {"y"});
  b.output("y", kF, 2);
  auto g = b.import();
  ASSERT_EQ(node_types(*g), (std::vector<std::string>{"Reshape"}));
  EXPECT_EQ(g->nodes()[0]->as<Reshape>()->shape, (I{0, -1}));
  EXPECT_EQ(output(*g)->type.shape, (Dims{-1, 512}));
}

TEST(ShapeImport, ReshapeAllowZeroFromOpset14) {
  for (int64_t allowzero : {0, 1}) {
    ModelBuilder b(14);
    b.input("x", kF, {2, 3});
    b.init_ints("shape", {0, 3});
    B::attr_int(b.node("Reshape", {"x", "shape"}, {"y"}), "allowzero", allowzero);
    b.output("y", kF, 2);
    if (allowzero) {
      EXPECT_NE(import_error(b).find("cannot reshape 2x3"), std::string::npos) << import_error(b);
    } else {
      EXPECT_EQ(output(*b.import())->type.shape, (Dims{2, 3}));
    }
  }
}

TEST(ShapeImport, ConstantOp) {
  ModelBuilder b(13);
  b.input("x", kF, {2, 3, 4});
  B::attr_ints(b.node("Constant", {}, {"shape"}), "value_ints", {4, -1});
  b.node("Reshape", {"x", "shape"}, {"y"});
  B::attr_float(b.node("Constant", {}, {"c"}), "value_float", 2.5f);
  b.output("y", kF, 2);
  b.output("c", kF, 0);
  auto g = b.import();
  ASSERT_EQ(node_types(*g), (std::vector<std::string>{"Reshape"}));
  EXPECT_EQ(g->nodes()[0]->as<Reshape>()->shape, (I{4, 6}));
  EXPECT_EQ(output(*g, 1)->type.shape, Dims{});
  EXPECT_EQ(const_values<float>(output(*g, 1)), (std::vector<float>{2.5f}));
}

TEST(ShapeImport, ConstantTensorAndSparseRefused) {
  ModelBuilder b(13);
  auto* n = b.node("Constant", {}, {"c"});
  B::fill_ints(*B::attr(n, "value", onnx::AttributeProto::TENSOR)->mutable_t(), "t", {1, 2, 3, 4}, Dims{2, 2});
  b.output("c", kI64, 2);
  auto g = b.import();
  EXPECT_EQ(output(*g)->type.shape, (Dims{2, 2}));
  EXPECT_EQ(const_values<int64_t>(output(*g)), (I{1, 2, 3, 4}));

  ModelBuilder s(13);
  auto* sp = B::attr(s.node("Constant", {}, {"c"}), "sparse_value", onnx::AttributeProto::SPARSE_TENSOR);
  B::fill_ints(*sp->mutable_sparse_tensor()->mutable_values(), "v", {5}, Dims{1});
  B::fill_ints(*sp->mutable_sparse_tensor()->mutable_indices(), "i", {1}, Dims{1});
  sp->mutable_sparse_tensor()->add_dims(3);
  s.output("c", kI64, 1);
  EXPECT_NE(import_error(s).find("sparse"), std::string::npos) << import_error(s);
}

TEST(ShapeImport, SqueezeUnsqueezeAxesAttrAndInput) {
  ModelBuilder a(11);
  a.input("x", kF, {1, 3, 1});
  B::attr_ints(a.node("Squeeze", {"x"}, {"y"}), "axes", {-1});
  a.output("y", kF, 2);
  EXPECT_EQ(output(*a.import())->type.shape, (Dims{1, 3}));

  ModelBuilder b(13);
  b.input("x", kF, {1, 3, 1});
  b.init_ints("axes", {0});
  b.node("Squeeze", {"x", "axes"}, {"y"});
  b.node("Squeeze", {"x"}, {"z"});  // no axes: every size-1 dim
  b.output("y", kF, 2);
  b.output("z", kF, 1);
  auto g = b.import();
  EXPECT_EQ(g->nodes()[0]->as<Squeeze>()->axes, (I{0}));
  EXPECT_EQ(output(*g, 0)->type.shape, (Dims{3, 1}));
  EXPECT_EQ(output(*g, 1)->type.shape, (Dims{3}));

  ModelBuilder c(13);
  c.input("x", kF, {3});
  c.input("axes", kI64, {1});
  c.node("Unsqueeze", {"x", "axes"}, {"y"});
  c.output("y", kF, 2);
  // Axes known only at run time: the rank is known, the dims wait for the values.
  auto gc = c.import();
  EXPECT_EQ(output(*gc, 0)->type.shape, (Dims{-1, -1}));
  EXPECT_EQ(gc->nodes()[0]->inputs.size(), 2u);
}

TEST(ShapeImport, SliceAttrsAndInputs) {
  ModelBuilder a(9);
  a.input("x", kF, {4, 10});
  auto* n = a.node("Slice", {"x"}, {"y"});
  B::attr_ints(n, "starts", {1}), B::attr_ints(n, "ends", {1000}), B::attr_ints(n, "axes", {1});
  a.output("y", kF, 2);
  EXPECT_EQ(output(*a.import())->type.shape, (Dims{4, 9}));

  ModelBuilder b(13);
  b.input("x", kF, {4, 10});
  b.init_ints("st", {-1}), b.init_ints("en", {INT64_MIN}), b.init_ints("ax", {1}), b.init_ints("sp", {-4});
  b.node("Slice", {"x", "st", "en", "ax", "sp"}, {"y"});
  b.output("y", kF, 2);
  auto g = b.import();
  ASSERT_EQ(node_types(*g), (std::vector<std::string>{"Slice"}));
  EXPECT_EQ(g->nodes()[0]->inputs.size(), 1u);  // parameters became attributes
  EXPECT_EQ(g->nodes()[0]->as<Slice>()->steps, (I{-4}));
  EXPECT_EQ(output(*g)->type.shape, (Dims{4, 3}));

  ModelBuilder c(13);  // run-time starts stay inputs
  c.input("x", kF, {4, 10});
  c.input("st", kI64, {1});
  c.init_ints("en", {5});
  c.node("Slice", {"x", "st", "en"}, {"y"});
  c.output("y", kF, 2);
  g = c.import();
  EXPECT_EQ(g->nodes()[0]->inputs.size(), 3u);
  EXPECT_EQ(output(*g)->type.shape, (Dims{-1, -1}));
}

TEST(ShapeImport, PadAttrsAndInputs) {
  ModelBuilder a(10);
  a.input("x", kF, {2, 3});
  auto* n = a.node("Pad", {"x"}, {"y"});
  B::attr_ints(n, "pads", {0, 1, 0, 2}), B::attr_float(n, "value", 1.5f), B::attr_string(n, "mode", "constant");
  a.output("y", kF, 2);
  auto g = a.import();
  EXPECT_EQ(output(*g)->type.shape, (Dims{2, 6}));
  EXPECT_EQ(g->nodes()[0]->as<Pad>()->value_bits, pack_element(DType::Float32, 1.5));

  ModelBuilder b(11);
  b.input("x", kF, {2, 3});
  b.init_ints("pads", {1, 0, 1, 0});
  b.init_floats("v", {-2.f}, {});
  B::attr_string(b.node("Pad", {"x", "pads", "v"}, {"y"}), "mode", "reflect");
  b.output("y", kF, 2);
  g = b.import();
  EXPECT_EQ(output(*g)->type.shape, (Dims{4, 3}));
  EXPECT_EQ(g->nodes()[0]->as<Pad>()->mode, "reflect");
  EXPECT_EQ(g->nodes()[0]->as<Pad>()->value_bits, pack_element(DType::Float32, -2.0));

  ModelBuilder c(11);  // a run-time pad value stays an input
  c.input("x", kF, {2, 3});
  c.input("v", kF, {});
  c.init_ints("pads", {1, 0, 1, 0});
  c.node("Pad", {"x", "pads", "v"}, {"y"});
  c.output("y", kF, 2);
  g = c.import();
  ASSERT_EQ(g->nodes()[0]->inputs.size(), 3u);
  EXPECT_EQ(g->nodes()[0]->inputs[1], nullptr);
  EXPECT_EQ(output(*g)->type.shape, (Dims{4, 3}));
}

TEST(ShapeImport, SplitAttrAndInput) {
  for (int opset : {12, 13}) {
    ModelBuilder b(opset);
    b.input("x", kF, {2, 6});
    auto* n = b.node("Split", opset < 13 ? std::vector<std::string>{"x"} : std::vector<std::string>{"x", "sp"},
                     {"a", "b"});
    B::attr_int(n, "axis", 1);
    if (opset < 13) B::attr_ints(n, "split", {2, 4});
    else b.init_ints("sp", {2, 4});
    b.output("a", kF, 2);
    b.output("b", kF, 2);
    auto g = b.import();
    EXPECT_EQ(output(*g, 0)->type.shape, (Dims{2, 2})) << opset;
    EXPECT_EQ(output(*g, 1)->type.shape, (Dims{2, 4})) << opset;
  }
}

TEST(ShapeImport, FoldsSmallConstantsOnly) {
  ModelBuilder b(13);
  b.init_floats("one", {1.f}, {1});
  b.init_ints("big", {1000, 1000});
  b.init_ints("small", {4, 4});
  b.node("Expand", {"one", "big"}, {"e"});    // 4 MB: stays a node
  b.node("Expand", {"one", "small"}, {"f"});  // folded
  b.init_ints("r", {0}, Dims{}), b.init_ints("l", {5}, Dims{}), b.init_ints("d", {2}, Dims{});
  b.node("Range", {"r", "l", "d"}, {"rg"});
  B::attr_int(b.node("Cast", {"rg"}, {"rf"}), "to", kF);
  for (auto* o : {"e", "f"}) b.output(o, kF, 2);
  b.output("rf", kF, 1);
  auto g = b.import();
  EXPECT_EQ(node_types(*g), (std::vector<std::string>{"Expand"}));
  EXPECT_EQ(output(*g, 0)->type.shape, (Dims{1000, 1000}));
  EXPECT_EQ(const_values<float>(output(*g, 1)), std::vector<float>(16, 1.f));
  EXPECT_EQ(const_values<float>(output(*g, 2)), (std::vector<float>{0, 2, 4}));
}

TEST(ShapeImport, ShapeStartEndAndConstantOfShape) {
  ModelBuilder b(15);
  b.input("x", kF, {2, 3, 4});
  B::attr_int(b.node("Shape", {"x"}, {"s"}), "start", 1);
  auto* c = b.node("ConstantOfShape", {"s"}, {"z"});
  B::fill_ints(*B::attr(c, "value", onnx::AttributeProto::TENSOR)->mutable_t(), "v", {3}, Dims{1});
  b.output("s", kI64, 1);
  b.output("z", kI64, 2);
  auto g = b.import();
  EXPECT_TRUE(g->nodes().empty());
  EXPECT_EQ(const_values<int64_t>(output(*g, 0)), (I{3, 4}));
  EXPECT_EQ(const_values<int64_t>(output(*g, 1)), I(12, 3));
}

TEST(ShapeImport, NoOpsBecomeIdentity) {
  ModelBuilder b(13);
  b.input("x", kF, {3, 3});
  b.init_ints("pads", {0, 0, 0, 0});
  b.init_ints("same", {3, 3});
  b.init_ints("st", {0}), b.init_ints("en", {INT64_MAX}), b.init_ints("neg", {-1}), b.init_ints("beg", {INT64_MIN});
  b.node("Pad", {"x", "pads"}, {"p"});
  b.node("Reshape", {"x", "same"}, {"r"});
  B::attr_int(b.node("Cast", {"x"}, {"c"}), "to", kF);
  B::attr_ints(b.node("Transpose", {"x"}, {"t0"}), "perm", {0, 1});
  b.node("Slice", {"x", "st", "en"}, {"s0"});
  // Same shapes, different data: these must stay.
  B::attr_ints(b.node("Transpose", {"x"}, {"t1"}), "perm", {1, 0});
  b.node("Slice", {"x", "neg", "beg", "st", "neg"}, {"s1"});
  for (auto* o : {"p", "r", "c", "t0", "s0", "t1", "s1"}) b.output(o, kF, 2);
  auto g = b.import();
  EXPECT_EQ(node_types(*g), (std::vector<std::string>{"Identity", "Identity", "Identity", "Identity", "Identity",
                                                      "Transpose", "Slice"}));
  EXPECT_EQ(g->nodes()[0]->fused, (std::vector<std::string>{"Pad"}));
}

TEST(ShapeImport, ErrorsNameTheNode) {
  ModelBuilder b(13);
  b.input("x", kF, {2, 3});
  B::attr_ints(b.node("Transpose", {"x"}, {"y"}), "perm", {0, 2});
  b.output("y", kF, 2);
  std::string e = import_error(b);
  EXPECT_NE(e.find("Transpose_1"), std::string::npos) << e;
  EXPECT_NE(e.find("not a permutation"), std::string::npos) << e;
}

}  // namespace
}  // namespace kiln::test
