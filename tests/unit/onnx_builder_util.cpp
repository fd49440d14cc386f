#include "onnx_builder_util.h"

#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

namespace kiln::test {

std::string temp_dir() {
  static std::string dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("kiln_unit_" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  return dir;
}

OnnxBuilder::OnnxBuilder(int opset) {
  m_.set_ir_version(opset >= 15 ? 8 : 7);
  auto* o = m_.add_opset_import();
  o->set_domain("");
  o->set_version(opset);
  m_.mutable_graph()->set_name("test");
  m_.set_producer_name("kiln-tests");
}

void OnnxBuilder::input(const std::string& name, std::vector<int64_t> dims, int elem_type) {
  auto* vi = m_.mutable_graph()->add_input();
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (d < 0) dim->set_dim_param("N");
    else dim->set_dim_value(d);
  }
}

void OnnxBuilder::output(const std::string& name, std::vector<int64_t> dims, int elem_type) {
  input(name, std::move(dims), elem_type);
  // input() appended to the inputs; move it to the outputs.
  auto* g = m_.mutable_graph();
  *g->add_output() = g->input(g->input_size() - 1);
  g->mutable_input()->RemoveLast();
}

void OnnxBuilder::init(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& data) {
  auto* t = m_.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(std::string(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(float)));
}

void OnnxBuilder::init_i64(const std::string& name, std::vector<int64_t> dims, const std::vector<int64_t>& data) {
  auto* t = m_.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : dims) t->add_dims(d);
  for (int64_t v : data) t->add_int64_data(v);
}

void OnnxBuilder::init_random(const std::string& name, std::vector<int64_t> dims, uint32_t seed) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(rng);
  init(name, std::move(dims), v);
}

onnx::NodeProto& OnnxBuilder::node(const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs,
                                   const std::string& name) {
  auto* n = m_.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name.empty() ? op + "_" + std::to_string(m_.graph().node_size()) : name);
  for (auto& i : ins) n->add_input(i);
  for (auto& o : outs) n->add_output(o);
  return *n;
}

void OnnxBuilder::attr(onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void OnnxBuilder::attr(onnx::NodeProto& n, const std::string& name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

void OnnxBuilder::attr(onnx::NodeProto& n, const std::string& name, std::vector<int64_t> v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

std::string OnnxBuilder::bytes() const {
  std::string s;
  m_.SerializeToString(&s);
  return s;
}

std::string OnnxBuilder::save(const std::string& file_name) const {
  std::string path = (std::filesystem::path(temp_dir()) / file_name).string();
  std::ofstream out(path, std::ios::binary);
  out << bytes();
  return path;
}

}  // namespace kiln::test
