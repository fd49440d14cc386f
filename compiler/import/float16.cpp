// float16 models computed in float32: see lower_float16 in model_rewrites.h.
//
// The rewrite is on the ModelProto, before the checker's verdict is used for anything else and
// before any node is imported, because kiln imports node by node (each node inferred and, when its
// inputs are constant, folded as it arrives) and the op library's kernels have no float16
// arithmetic: a float16 graph would be refused node by node ("Conv supports float32 only") before
// an IR-level rewrite could run. onnx's shape inference, which runs on the same proto after import
// for symbolic dim names, sees a consistent float32 model too.
#include <set>
#include <unordered_map>

#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "import/model_rewrites.h"

namespace kiln::onnx_import {

namespace {

constexpr int kF16 = onnx::TensorProto::FLOAT16;
constexpr int kF32 = onnx::TensorProto::FLOAT;

// Integer attributes that name an element type, by op type (default domain).
bool is_dtype_attr(const std::string& op, const std::string& attr) {
  static const std::set<std::pair<std::string, std::string>> k = {
      {"Cast", "to"},
      {"EyeLike", "dtype"},
      {"RandomNormal", "dtype"},
      {"RandomUniform", "dtype"},
      {"RandomNormalLike", "dtype"},
      {"RandomUniformLike", "dtype"},
      {"Bernoulli", "dtype"},
      {"HannWindow", "output_datatype"},
      {"HammingWindow", "output_datatype"},
      {"BlackmanWindow", "output_datatype"},
      {"MelWeightMatrix", "output_datatype"},
  };
  return k.count({op, attr}) != 0;
}

bool default_domain(const onnx::NodeProto& n) { return n.domain().empty() || n.domain() == "ai.onnx"; }

bool is_f16(const onnx::ValueInfoProto& vi) {
  return vi.type().has_tensor_type() && vi.type().tensor_type().elem_type() == kF16;
}

void retype(onnx::ValueInfoProto& vi) {
  if (is_f16(vi)) vi.mutable_type()->mutable_tensor_type()->set_elem_type(kF32);
}

bool declares_f16(const onnx::GraphProto& g) {
  for (const auto* list : {&g.input(), &g.output(), &g.value_info()})
    for (const auto& vi : *list)
      if (is_f16(vi)) return true;
  for (const auto& t : g.initializer())
    if (t.data_type() == kF16) return true;
  for (const auto& n : g.node())
    for (const auto& a : n.attribute()) {
      if (a.has_t() && a.t().data_type() == kF16) return true;
      for (const auto& t : a.tensors())
        if (t.data_type() == kF16) return true;
      if (a.type() == onnx::AttributeProto::INT && a.i() == kF16 && default_domain(n) &&
          is_dtype_attr(n.op_type(), a.name()))
        return true;
      if (a.has_g() && declares_f16(a.g())) return true;
      for (const auto& sg : a.graphs())
        if (declares_f16(sg)) return true;
    }
  return false;
}

// Every name used in the model (values and nodes), so inserted names never collide.
void collect_names(const onnx::GraphProto& g, std::set<std::string>& names) {
  for (const auto* list : {&g.input(), &g.output(), &g.value_info()})
    for (const auto& vi : *list) names.insert(vi.name());
  for (const auto& t : g.initializer()) names.insert(t.name());
  for (const auto& n : g.node()) {
    names.insert(n.name());
    for (const auto& o : n.output()) names.insert(o);
    for (const auto& i : n.input()) names.insert(i);
    for (const auto& a : n.attribute()) {
      if (a.has_g()) collect_names(a.g(), names);
      for (const auto& sg : a.graphs()) collect_names(sg, names);
    }
  }
}

// Renames every read of `from` (node inputs, here and in subgraph bodies, which may capture it).
void rename_reads(onnx::GraphProto& g, const std::string& from, const std::string& to) {
  for (auto& n : *g.mutable_node()) {
    for (auto& i : *n.mutable_input())
      if (i == from) i = to;
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_g()) {
        rename_reads(*a.mutable_g(), from, to);
        for (auto& o : *a.mutable_g()->mutable_output())  // a body output may be the captured value itself
          if (o.name() == from) o.set_name(to);
      }
      for (auto& sg : *a.mutable_graphs()) {
        rename_reads(sg, from, to);
        for (auto& o : *sg.mutable_output())
          if (o.name() == from) o.set_name(to);
      }
    }
  }
}

class Lowering {
 public:
  Lowering(onnx::ModelProto& m, const std::string& base_dir) : m_(m), base_dir_(base_dir) {
    collect_names(m.graph(), names_);
  }

  Float16Lowering run() {
    Float16Lowering r;
    if (!declares_f16(m_.graph())) return r;
    r.declared = true;
    onnx::GraphProto& g = *m_.mutable_graph();
    std::set<std::string> initializers;
    for (const auto& t : g.initializer()) initializers.insert(t.name());
    // Which graph inputs and outputs the caller sees as float16, before anything is retyped.
    std::vector<std::string> f16_inputs, f16_outputs;
    std::set<std::string> real_inputs;
    for (const auto& in : g.input()) {
      if (initializers.count(in.name())) continue;  // an initializer with a default: a constant
      real_inputs.insert(in.name());
      if (is_f16(in) && !in.name().empty()) f16_inputs.push_back(in.name());
    }
    std::set<std::string> seen_outputs;
    for (const auto& out : g.output())
      if (is_f16(out) && !out.name().empty() && !real_inputs.count(out.name()) &&
          seen_outputs.insert(out.name()).second)
        f16_outputs.push_back(out.name());

    for (auto& t : *g.mutable_initializer())
      if (t.data_type() == kF16) {
        widen_float16_tensor(t, base_dir_);
        r.widened_constants.push_back(t.name());
      }
    for (auto& n : *g.mutable_node())
      if (lower_node(n) && n.op_type() == "Constant" && default_domain(n) && n.output_size() == 1)
        r.widened_constants.push_back(n.output(0));
    for (auto& vi : *g.mutable_value_info()) retype(vi);
    for (auto& in : *g.mutable_input())
      if (initializers.count(in.name())) retype(in);

    // Outputs first: an output's producer is renamed, then a Cast restores the name and type.
    for (const auto& y : f16_outputs) {
      std::string y32 = fresh(y + "_float32");
      rename_reads(g, y, y32);
      for (auto& n : *g.mutable_node())
        for (auto& o : *n.mutable_output())
          if (o == y) o = y32;
      for (auto& t : *g.mutable_initializer())
        if (t.name() == y) t.set_name(y32);
      for (auto& vi : *g.mutable_value_info())
        if (vi.name() == y) vi.set_name(y32);
      add_cast(g, fresh(y + "_to_float16"), y32, y, kF16, false);
    }
    for (const auto& x : f16_inputs) {
      std::string x32 = fresh(x + "_float32");
      rename_reads(g, x, x32);
      for (auto& vi : *g.mutable_value_info())
        if (vi.name() == x) vi.set_name(x32);
      add_cast(g, fresh(x + "_to_float32"), x, x32, kF32, true);
    }
    return r;
  }

 private:
  // Lowers one node's float16 attributes (recursing into bodies); true if a tensor attribute
  // was widened.
  bool lower_node(onnx::NodeProto& n) {
    bool widened = false;
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_t() && a.t().data_type() == kF16) {
        widen(*a.mutable_t(), n);
        widened = true;
      }
      for (auto& t : *a.mutable_tensors())
        if (t.data_type() == kF16) widen(t, n);
      if (a.type() == onnx::AttributeProto::INT && a.i() == kF16 && default_domain(n) &&
          is_dtype_attr(n.op_type(), a.name()))
        a.set_i(kF32);
      if (a.has_g()) lower_body(*a.mutable_g());
      for (auto& sg : *a.mutable_graphs()) lower_body(sg);
    }
    return widened;
  }

  // A subgraph body: everything in it is internal, so everything is retyped (no boundary casts).
  void lower_body(onnx::GraphProto& g) {
    for (auto& t : *g.mutable_initializer()) widen_float16_tensor(t, base_dir_);
    for (auto* list : {g.mutable_input(), g.mutable_output(), g.mutable_value_info()})
      for (auto& vi : *list) retype(vi);
    for (auto& n : *g.mutable_node()) lower_node(n);
  }

  void widen(onnx::TensorProto& t, const onnx::NodeProto& n) {
    try {
      widen_float16_tensor(t, base_dir_);
    } catch (const Error& e) {
      throw Error((n.name().empty() ? "a " + n.op_type() + " node" : "node '" + n.name() + "' (" + n.op_type() + ")") +
                  ": " + e.what());
    }
  }

  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int k = 1; names_.count(name); ++k) name = base + "_" + std::to_string(k);
    names_.insert(name);
    return name;
  }

  static void add_cast(onnx::GraphProto& g, const std::string& node_name, const std::string& in,
                       const std::string& out, int to, bool at_front) {
    onnx::NodeProto* c = g.add_node();
    c->set_op_type("Cast");
    c->set_name(node_name);
    c->add_input(in);
    c->add_output(out);
    auto* a = c->add_attribute();
    a->set_name("to");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(to);
    if (at_front)  // move the new last node to the front, keeping the others in order
      for (int i = g.node_size() - 1; i > 0; --i) g.mutable_node()->SwapElements(i, i - 1);
  }

  onnx::ModelProto& m_;
  std::string base_dir_;
  std::set<std::string> names_;
};

}  // namespace

Float16Lowering lower_float16(onnx::ModelProto& m, const std::string& base_dir) {
  return Lowering(m, base_dir).run();
}

}  // namespace kiln::onnx_import
