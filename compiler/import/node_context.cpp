#include <algorithm>

#include <onnx/onnx_pb.h>

#include "import/importer.h"

namespace kiln::onnx_import {

NodeContext::NodeContext(ir::Graph& g, const onnx::NodeProto& node, int opset,
                         std::vector<ir::Value*> inputs, const std::string& base_dir)
    : g_(g), node_(node), opset_(opset), inputs_(std::move(inputs)), base_dir_(base_dir),
      name_(node.name()) {
  outputs.assign(node.output_size(), nullptr);
}

void NodeContext::fail(const std::string& msg) const {
  throw Error("node '" + name_ + "' (" + node_.op_type() + "): " + msg);
}

void NodeContext::expect_signature(size_t min_inputs, size_t max_inputs, size_t min_outputs, size_t max_outputs,
                                   std::initializer_list<std::string_view> attrs) const {
  const auto count = [](size_t lo, size_t hi) {
    return lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi);
  };
  const size_t ni = static_cast<size_t>(node_.input_size()), no = static_cast<size_t>(node_.output_size());
  const std::string at = " at opset " + std::to_string(opset_);
  if (ni < min_inputs || ni > max_inputs)
    fail("has " + std::to_string(ni) + " inputs; it takes " + count(min_inputs, max_inputs) + at);
  if (no < min_outputs || no > max_outputs)
    fail("has " + std::to_string(no) + " outputs; it gives " + count(min_outputs, max_outputs) + at);
  for (const auto& a : node_.attribute())
    if (std::find(attrs.begin(), attrs.end(), a.name()) == attrs.end()) {
      std::string known;
      for (std::string_view k : attrs) known += (known.empty() ? "" : ", ") + std::string(k);
      fail("unknown attribute '" + a.name() + "'" + at + " (it takes " + (known.empty() ? "none" : known) + ")");
    }
}

int64_t NodeContext::axis_in(int64_t axis, int64_t rank, const std::string& what) const {
  if (axis < -rank || axis >= rank)
    fail(what + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

const onnx::GraphProto& NodeContext::attr_graph(const std::string& name) const {
  auto* a = find_attr(name);
  if (!a) fail("the '" + name + "' attribute (a graph) is required");
  if (a->type() != onnx::AttributeProto::GRAPH) fail("attribute '" + name + "' must be a graph");
  return a->g();
}

SubgraphHost& NodeContext::subgraphs() const {
  if (!host_) fail("subgraphs cannot be imported here");
  return *host_;
}

ir::Value* NodeContext::input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }

ir::Value* NodeContext::required_input(size_t i) {
  ir::Value* v = input(i);
  if (!v) fail("input " + std::to_string(i) + " is required but missing");
  return v;
}

size_t NodeContext::num_outputs() const { return static_cast<size_t>(node_.output_size()); }

const onnx::AttributeProto* NodeContext::find_attr(const std::string& name) const {
  for (const auto& a : node_.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

bool NodeContext::has_attr(const std::string& name) const { return find_attr(name) != nullptr; }

int64_t NodeContext::attr_int(const std::string& name, int64_t def) const {
  auto* a = find_attr(name);
  if (!a) return def;
  if (a->type() != onnx::AttributeProto::INT) fail("attribute '" + name + "' must be an int");
  return a->i();
}

float NodeContext::attr_float(const std::string& name, float def) const {
  auto* a = find_attr(name);
  if (!a) return def;
  if (a->type() != onnx::AttributeProto::FLOAT) fail("attribute '" + name + "' must be a float");
  return a->f();
}

std::string NodeContext::attr_string(const std::string& name, const std::string& def) const {
  auto* a = find_attr(name);
  if (!a) return def;
  if (a->type() != onnx::AttributeProto::STRING) fail("attribute '" + name + "' must be a string");
  return a->s();
}

std::vector<int64_t> NodeContext::attr_ints(const std::string& name, std::vector<int64_t> def) const {
  auto* a = find_attr(name);
  if (!a) return def;
  if (a->type() != onnx::AttributeProto::INTS) fail("attribute '" + name + "' must be a list of ints");
  return {a->ints().begin(), a->ints().end()};
}

std::vector<float> NodeContext::attr_floats(const std::string& name, std::vector<float> def) const {
  auto* a = find_attr(name);
  if (!a) return def;
  if (a->type() != onnx::AttributeProto::FLOATS) fail("attribute '" + name + "' must be a list of floats");
  return {a->floats().begin(), a->floats().end()};
}

ir::Value* NodeContext::attr_tensor(const std::string& name) {
  auto* a = find_attr(name);
  if (!a || a->type() != onnx::AttributeProto::TENSOR) fail("attribute '" + name + "' must be a tensor");
  try {
    return import_tensor(g_, a->t(), base_dir_);
  } catch (const Error& e) {
    fail(e.what());
  }
}

std::vector<int64_t> NodeContext::const_ints(size_t i) {
  ir::Value* v = required_input(i);
  if (!v->is_constant())
    fail("input " + std::to_string(i) + " ('" + v->name +
         "') must be a compile-time constant; fix the input shapes with --shapes so it can be folded");
  return to_int_vector(v->view());
}

ir::Node* NodeContext::emit(std::unique_ptr<ops::Op> op, std::vector<ir::Value*> ins) {
  std::vector<ir::Value*> outs;
  for (size_t i = 0; i < num_outputs(); ++i) {
    const std::string& n = node_.output(static_cast<int>(i));
    // Unused optional outputs ("" in ONNX) still get a value so the op's arity holds.
    outs.push_back(g_.add_value(n.empty() ? g_.unique_name(name_ + ":unused") : n));
  }
  ir::Node* node = g_.add_node(name_, std::move(op), std::move(ins), outs);
  node->fused.push_back(node_.op_type());
  for (size_t i = 0; i < outs.size(); ++i) outputs[i] = outs[i];
  return node;
}

ir::Node* NodeContext::emit_internal(const std::string& suffix, std::unique_ptr<ops::Op> op,
                                     std::vector<ir::Value*> ins, size_t num_outputs) {
  ir::Node* n = g_.add_node(g_.unique_name(name_ + "/" + suffix), std::move(op), std::move(ins), num_outputs);
  n->fused.push_back(node_.op_type());
  g_.infer(n);
  return n;
}

void NodeContext::alias_output(size_t i, ir::Value* v) { outputs.at(i) = v; }

ir::Value* NodeContext::constant_ints(const std::string& suffix, const std::vector<int64_t>& v) {
  TensorView t{DType::Int64, {static_cast<int64_t>(v.size())}, const_cast<int64_t*>(v.data())};
  return g_.add_constant(g_.unique_name(name_ + "/" + suffix), t);
}

ir::Value* NodeContext::constant_floats(const std::string& suffix, const std::vector<float>& v, Dims shape) {
  TensorView t{DType::Float32, std::move(shape), const_cast<float*>(v.data())};
  if (t.elements() != static_cast<int64_t>(v.size())) fail("internal: constant shape does not match its data");
  return g_.add_constant(g_.unique_name(name_ + "/" + suffix), t);
}

}  // namespace kiln::onnx_import
