// Common-subexpression elimination: identical constants are merged first, then nodes that apply
// the same op (type and every attribute) to the same input values. Exported models repeat work
// (each attention head recomputing a shape, two branches normalising the same tensor), and shared
// constants let the merged nodes be recognised as equal.
#include <bit>
#include <cstring>
#include <string_view>
#include <unordered_map>

#include "passes/pass.h"

namespace kiln::passes {
namespace {

// Constants larger than this are not compared: byte-wise equality of big weights costs a pass
// over them and identical large weights are rare in exported models.
constexpr size_t kMaxMergedConstantBytes = 64 << 10;

// No op in the library has side effects or draws random numbers (checked when this pass was
// written). Such ops must never be merged: two RandomNormal nodes are two different draws. The
// list guards ops that may be added later under their ONNX names.
constexpr std::string_view kImpure[] = {"RandomNormal", "RandomNormalLike", "RandomUniform",
                                        "RandomUniformLike", "Bernoulli", "Multinomial"};

// Serialises an op's attributes into a canonical byte string: two ops of one type are equal
// exactly when their keys are. Floats are compared by bit pattern, so 0.0 and -0.0 differ and a
// NaN equals itself, which is what "the same op" means here.
class AttrKey final : public ops::AttrVisitor {
 public:
  std::string key;
  void visit(const char* name, int64_t& v) override { put(name, 'i', &v, sizeof v); }
  void visit(const char* name, float& v) override {
    uint32_t bits = std::bit_cast<uint32_t>(v);
    put(name, 'f', &bits, sizeof bits);
  }
  void visit(const char* name, std::vector<int64_t>& v) override {
    put(name, 'I', v.data(), v.size() * sizeof(int64_t));
  }
  void visit(const char* name, std::vector<float>& v) override {
    put(name, 'F', v.data(), v.size() * sizeof(float));
  }
  void visit(const char* name, std::string& v) override { put(name, 's', v.data(), v.size()); }

 private:
  // Length-prefixed fields so no two different attribute lists serialise alike.
  void put(const char* name, char tag, const void* data, size_t bytes) {
    key += name;
    key += '\0';
    key += tag;
    uint64_t n = bytes;
    key.append(reinterpret_cast<const char*>(&n), sizeof n);
    if (bytes) key.append(static_cast<const char*>(data), bytes);
  }
};

std::string attr_key(const ops::Op& op) {
  AttrKey k;
  // attrs() takes a mutable op because the same visitor interface also deserialises; a clone
  // keeps the node untouched.
  op.clone()->attrs(k);
  return std::move(k.key);
}

// Points every node input reading `from` at `to`. Graph outputs are left alone: each binding
// needs its own buffer, so a graph-output value is never replaced by another value.
void rewire_inputs(ir::Graph& g, const ir::Value* from, ir::Value* to) {
  for (auto& n : g.nodes())
    for (ir::Value*& v : n->inputs)
      if (v == from) v = to;
}

bool merge_constants(ir::Graph& g) {
  // (dtype, shape, bytes) -> first constant with that content, in value-creation order, which is
  // the import order and so deterministic.
  std::unordered_map<std::string, ir::Value*> seen;
  std::unordered_map<const ir::Value*, ir::Value*> canonical;
  for (auto& vp : g.values()) {
    ir::Value* v = vp.get();
    if (!v->is_constant() || !v->layout.empty() || v->constant->size() > kMaxMergedConstantBytes) continue;
    // dtype and rank first, so the dims and then the data have fixed lengths: no two different
    // constants share a key.
    std::string key{static_cast<char>(v->type.dtype), static_cast<char>(v->type.shape.size())};
    for (int64_t d : v->type.shape) key.append(reinterpret_cast<const char*>(&d), sizeof d);
    key += '|';
    key.append(static_cast<const char*>(v->constant->data()), v->constant->size());
    auto [it, inserted] = seen.emplace(std::move(key), v);
    if (!inserted) canonical[v] = it->second;
  }
  if (canonical.empty()) return false;
  bool changed = false;
  for (auto& n : g.nodes())
    for (ir::Value*& v : n->inputs) {
      auto it = v ? canonical.find(v) : canonical.end();
      if (it == canonical.end()) continue;
      v = it->second;
      changed = true;
    }
  return changed;
}

// Makes `keep` stand for `dup` and removes dup. Returns false (graph untouched) when both produce
// a graph output at the same position: the two bindings must stay distinct buffers.
bool merge_node(ir::Graph& g, ir::Node& keep, ir::Node& dup) {
  for (size_t i = 0; i < keep.outputs.size(); ++i)
    if (g.is_graph_output(keep.outputs[i]) && g.is_graph_output(dup.outputs[i])) return false;
  for (size_t i = 0; i < keep.outputs.size(); ++i) {
    ir::Value* k = keep.outputs[i];
    ir::Value* d = dup.outputs[i];
    if (g.is_graph_output(d)) {
      // The output binding keeps its value (and name): keep now produces it instead.
      keep.outputs[i] = d;
      d->producer = &keep;
      rewire_inputs(g, k, d);
      k->producer = nullptr;
    } else {
      rewire_inputs(g, d, keep.outputs[i]);
    }
  }
  // Outputs handed to keep point at keep, so removal leaves them alone; the rest become unused.
  g.remove_node(&dup);
  return true;
}

bool same_output_types(const ir::Node& a, const ir::Node& b) {
  if (a.outputs.size() != b.outputs.size()) return false;
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    const ir::Value* x = a.outputs[i];
    const ir::Value* y = b.outputs[i];
    if (x->type.dtype != y->type.dtype || x->type.shape != y->type.shape || x->layout != y->layout) return false;
  }
  return true;
}

bool merge_nodes(ir::Graph& g) {
  // Values are numbered in visiting order so keys never depend on pointer values.
  std::unordered_map<const ir::Value*, size_t> id;
  auto value_id = [&](const ir::Value* v) -> size_t {
    if (!v) return 0;
    return id.emplace(v, id.size() + 1).first->second;
  };
  std::unordered_map<std::string, ir::Node*> seen;
  bool changed = false;
  // Nodes are in topological order, so a merge rewires later nodes before they are keyed and
  // whole duplicated chains collapse in one sweep.
  for (auto& np : g.nodes()) {
    ir::Node& n = *np;
    if (!n.op || n.outputs.empty()) continue;
    std::string_view type = n.type();
    bool impure = false;
    for (std::string_view p : kImpure) impure |= p == type;
    if (impure) continue;
    std::string key(type);
    key += '\0';
    key += std::to_string(n.outputs.size());
    for (const ir::Value* v : n.inputs) {
      key += ',';
      key += std::to_string(value_id(v));
    }
    key += '\0';
    key += attr_key(*n.op);
    // Nodes that run under different predicates (the two branches of an If) are not the same.
    key += '\0';
    key += n.when ? std::to_string(value_id(n.when)) + (n.when_true ? "+" : "-") : "";
    auto [it, inserted] = seen.emplace(std::move(key), &n);
    if (inserted) continue;
    ir::Node& keep = *it->second;
    if (!same_output_types(keep, n)) continue;
    changed |= merge_node(g, keep, n);
  }
  return changed;
}

}  // namespace

bool cse(ir::Graph& g) {
  bool changed = merge_constants(g);
  changed |= merge_nodes(g);
  return changed;
}

}  // namespace kiln::passes
