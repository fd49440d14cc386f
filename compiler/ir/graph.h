// kiln's graph IR: values with dtype and static or symbolic shape, nodes holding typed ops from
// the op library, and the graph that owns them. Passes rewrite it; verify() checks it after each.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ops/op.h"

namespace kiln::ir {

struct Node;

// Constant payload, 64-byte aligned so it can be handed to kernels and serialized as is.
class Constant {
 public:
  // Zero-filled, or left uninitialised for a caller that writes every byte (an imported initializer).
  explicit Constant(size_t bytes, bool zeroed = true);
  ~Constant();
  Constant(const Constant&) = delete;
  Constant& operator=(const Constant&) = delete;
  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t size() const { return size_; }
  // Frees the bytes once the plan holds them (the last use of a graph), keeping size(); data() is
  // then null. Halves a large model's peak memory while its plan is written.
  void release();
  // Copies the bytes to dst, then releases them; a large constant a chunk at a time, each chunk's
  // pages handed back as soon as it is copied, so a multi-GiB weight is not held twice meanwhile.
  void move_to(void* dst);

 private:
  size_t rounded() const { return (size_ + 63) / 64 * 64; }  // the bytes allocated
  bool mapped() const;  // its own mapping (large constants), else from the heap

  void* data_;
  size_t size_;
};

struct Value {
  std::string name;
  ops::TensorType type;
  // Symbolic names of unknown (-1) dims, e.g. "batch"; "" where the model gives none.
  std::vector<std::string> dim_params;
  Node* producer = nullptr;
  std::shared_ptr<Constant> constant;  // initializers and folded results
  // Physical layout: "" = dense row-major; else a oneDNN format tag such as "nChw16c", set by the
  // assign-layouts pass. type.shape stays the logical shape either way.
  std::string layout;
  // Type the plan may store this constant in, when narrower than type.dtype: Float16 for a
  // float32 constant (--fp16, or an fp16 initializer widened at import); the runtime widens it at
  // load. Undefined = stored as type.dtype.
  DType stored_dtype = DType::Undefined;
  // For QUInt8 / QInt8 values (int8 layers' activations and weights): how the integers map to
  // reals, set by the assign-int8 pass.
  ops::QuantParams quant;
  // What a quantized (QDQ) model said about this float tensor: the integer type (UInt8 or Int8),
  // scale(s) and zero point of the QuantizeLinear it went through, or of the DequantizeLinear
  // that made this constant from int8 weights. Set by fold-qdq (and the DequantizeLinear
  // importer, since small weights fold at import); assign-int8 uses it in place of calibration.
  // Undefined: the model said nothing.
  DType model_qtype = DType::Undefined;
  ops::QuantParams model_quant;

  // Under an optimisation profile (Graph::shapes_vary), a shape-program value: computed at run
  // time from input shapes, but evaluated here at this build's shapes so its consumers infer
  // concrete shapes (ops::evaluate_shape_layer). Never folded into attributes or constants.
  std::vector<uint8_t> known;

  bool is_constant() const { return constant != nullptr; }
  // A view of the constant's data (data == nullptr if not constant).
  TensorView view() const;
  // The constant's data, else the known value's, else data == nullptr: what inference may read.
  TensorView known_view() const;
};

struct Node {
  std::string name;
  std::unique_ptr<ops::Op> op;
  std::vector<Value*> inputs;   // nullptr where an optional input is absent
  std::vector<Value*> outputs;
  std::vector<std::string> fused;  // source ops folded into this node, for inspect/profile
  // The precision the node computes in, set by the assign-precision pass (Float32 or BFloat16);
  // Undefined before it runs. Its float outputs are typed to match (ops::stored_type_ok).
  DType precision = DType::Undefined;
  // Predicated execution (a branch of an If on a run-time condition): the node runs only when
  // the one-element bool `when` holds `when_true`; otherwise it is skipped and its outputs are left
  // unwritten, which only the If's Where selectors read. Seeded by the If importer and made
  // consistent by the predicate-branches pass; nullptr = always runs. Graph::replace_uses, compact
  // and topo_sort treat `when` as an input.
  Value* when = nullptr;
  bool when_true = true;

  std::string_view type() const { return op->type(); }
  template <class T> T* as() const { return dynamic_cast<T*>(op.get()); }
  Value* input(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
};

struct GraphIO {
  std::string name;  // binding name the user sees (ONNX input/output name)
  Value* value;
};

class Graph {
 public:
  Value* add_value(const std::string& name, ops::TensorType type = {});
  Value* add_constant(const std::string& name, DType dtype, Dims shape, bool zeroed = true);
  Value* add_constant(const std::string& name, const TensorView& data);    // copies
  // Appends a node; creates output values named after the node when outputs is empty.
  Node* add_node(const std::string& name, std::unique_ptr<ops::Op> op, std::vector<Value*> inputs,
                 std::vector<Value*> outputs);
  Node* add_node(const std::string& name, std::unique_ptr<ops::Op> op, std::vector<Value*> inputs,
                 size_t num_outputs);

  std::vector<std::unique_ptr<Node>>& nodes() { return nodes_; }
  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  const std::vector<std::unique_ptr<Value>>& values() const { return values_; }
  std::vector<GraphIO> inputs;
  std::vector<GraphIO> outputs;
  // Built for an optimisation profile: input dims vary at run time, so what the model computes
  // from shapes stays in the graph as shape programs (Value::known) instead of being folded, and
  // rewrites must not bake this build's dims into attributes.
  bool shapes_vary = false;

  // Uses of each value by nodes (graph outputs are not included), rebuilt on each call.
  std::unordered_map<const Value*, std::vector<Node*>> uses() const;
  bool is_graph_output(const Value* v) const;
  bool is_graph_input(const Value* v) const;
  // Rewires every node input and graph output reading `from` to read `to`.
  void replace_uses(Value* from, Value* to);
  // Marks a node for removal; compact() drops it and every value nothing references.
  void remove_node(Node* n);
  void compact();
  // Restores topological order (stable for already-ordered graphs); throws on a cycle.
  void topo_sort();
  // Runs the op's inference and stores the output types; throws kiln::Error naming the node.
  void infer(Node* n);
  void infer_all();
  std::string unique_name(const std::string& base);

 private:
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Value>> values_;
  std::map<std::string, int> name_counts_;
};

// Whether every input after the data input (a Reshape's target, an Expand's shape) is absent or
// constant. Under a profile one computed from shapes may take other values at other shapes.
bool params_constant(const std::vector<Value*>& inputs);

// Structural and type consistency: every input produced before use, outputs produced once,
// stored types equal to re-inferred ones. Throws kiln::Error describing the first violation.
void verify(const Graph& g);

// Human-readable dump, one node per line (for --verbose and --dump-after).
std::string dump(const Graph& g);

// Prefixes errors from a node's op with the node's identity.
std::string node_label(const Node& n);  // "node 'conv1' (Conv)"

}  // namespace kiln::ir
