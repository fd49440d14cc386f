// One-node ONNX models for importer tests: describe the node and its attributes, wrap it in a
// model (float32 graph inputs and initializers), import it with the real importer, and look at
// the kiln ops it emitted.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "kernel_test_util.h"

namespace kiln::test {

struct OnnxNodeModel {
  onnx::NodeProto node;
  int opset = 13;
  std::vector<std::pair<std::string, Dims>> inputs;             // float32; -1 dims become symbolic
  std::vector<std::pair<std::string, HostTensor>> initializers;  // float32

  OnnxNodeModel(const std::string& op, const std::vector<std::string>& in, const std::vector<std::string>& out,
                int opset_version = 13)
      : opset(opset_version) {
    node.set_op_type(op);
    node.set_name("n");
    for (auto& s : in) node.add_input(s);
    for (auto& s : out) node.add_output(s);
  }
  OnnxNodeModel& ints(const std::string& name, const std::vector<int64_t>& v) {
    auto* a = attr(name, onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
    return *this;
  }
  OnnxNodeModel& i(const std::string& name, int64_t v) {
    attr(name, onnx::AttributeProto::INT)->set_i(v);
    return *this;
  }
  OnnxNodeModel& f(const std::string& name, float v) {
    attr(name, onnx::AttributeProto::FLOAT)->set_f(v);
    return *this;
  }
  OnnxNodeModel& s(const std::string& name, const std::string& v) {
    attr(name, onnx::AttributeProto::STRING)->set_s(v);
    return *this;
  }
  OnnxNodeModel& input(const std::string& name, Dims shape) {
    inputs.emplace_back(name, std::move(shape));
    return *this;
  }
  OnnxNodeModel& init(const std::string& name, HostTensor t) {
    initializers.emplace_back(name, std::move(t));
    return *this;
  }

  std::string bytes() const {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.set_producer_name("kiln-test");
    auto* op = m.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    auto* g = m.mutable_graph();
    g->set_name("g");
    *g->add_node() = node;
    for (auto& [name, shape] : inputs) {
      auto* vi = g->add_input();
      vi->set_name(name);
      auto* tt = vi->mutable_type()->mutable_tensor_type();
      tt->set_elem_type(onnx::TensorProto::FLOAT);
      auto* sh = tt->mutable_shape();
      for (int64_t d : shape) {
        if (d < 0) sh->add_dim()->set_dim_param(std::string("d").append(std::to_string(sh->dim_size())));
        else sh->add_dim()->set_dim_value(d);
      }
    }
    for (auto& [name, t] : initializers) {
      auto* tp = g->add_initializer();
      tp->set_name(name);
      tp->set_data_type(onnx::TensorProto::FLOAT);
      for (int64_t d : t.shape) tp->add_dims(d);
      tp->set_raw_data(std::string(t.bytes.begin(), t.bytes.end()));
    }
    auto* out = g->add_output();
    out->set_name(node.output(0));
    out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    out->mutable_type()->mutable_tensor_type()->mutable_shape();  // the checker wants one, even empty
    return m.SerializeAsString();
  }

  std::unique_ptr<ir::Graph> import() const { return onnx_import::import_onnx_bytes(bytes(), "test.onnx", {}); }

 private:
  onnx::AttributeProto* attr(const std::string& name, onnx::AttributeProto::AttributeType t) {
    auto* a = node.add_attribute();
    a->set_name(name);
    a->set_type(t);
    return a;
  }
};

// The only node of `g` of the given type (fails the test if there is not exactly one).
inline ir::Node* only_node(ir::Graph& g, std::string_view type) {
  ir::Node* found = nullptr;
  int count = 0;
  for (auto& n : g.nodes())
    if (n->op && n->type() == type) found = n.get(), ++count;
  EXPECT_EQ(count, 1) << "nodes of type " << type;
  return found;
}

// A float32 tensor with the given values.
inline HostTensor tensor(Dims shape, const std::vector<float>& v, bool is_const = false) {
  HostTensor t(DType::Float32, std::move(shape), is_const);
  EXPECT_EQ(static_cast<int64_t>(v.size()), t.elements()) << "test data size";
  std::copy(v.begin(), v.end(), t.as<float>());
  return t;
}

inline std::vector<float> values(const HostTensor& t) {
  const float* p = reinterpret_cast<const float*>(t.bytes.data());
  return std::vector<float>(p, p + t.elements());
}

// A one-node model with typed graph inputs, int64 initializers and string attributes, and the
// output's element type given.
struct OnnxTypedNodeModel {
  onnx::ModelProto m;
  onnx::GraphProto* g;
  onnx::NodeProto* n;
  OnnxTypedNodeModel(const std::string& op, std::vector<std::string> in, int opset = 17,
           int out_elem = onnx::TensorProto::FLOAT) {
    m.set_ir_version(8);
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    g = m.mutable_graph();
    g->set_name("g");
    n = g->add_node();
    n->set_op_type(op);
    n->set_name("n");
    for (auto& s : in) n->add_input(s);
    n->add_output("y");
    auto* y = g->add_output();
    y->set_name("y");
    y->mutable_type()->mutable_tensor_type()->set_elem_type(out_elem);
    y->mutable_type()->mutable_tensor_type()->mutable_shape();  // the checker wants one, even empty
  }
  void input(const std::string& name, int elem, Dims dims) {
    auto* vi = g->add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* s = tt->mutable_shape();
    for (int64_t d : dims) s->add_dim()->set_dim_value(d);
  }
  void init_int(const std::string& name, int64_t v) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_int64_data(v);
  }
  void attr_i(const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  void attr_s(const std::string& name, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }
  std::unique_ptr<ir::Graph> import() const {
    return onnx_import::import_onnx_bytes(m.SerializeAsString(), "node.onnx", {});
  }
  const ops::TensorType& out_type(ir::Graph& gr) const { return gr.outputs.at(0).value->type; }
};

}  // namespace kiln::test
