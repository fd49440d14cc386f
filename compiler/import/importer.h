// ONNX import: the model-level importer (checker, version conversion, shape inference,
// initializers, external data) and the per-op registry that op-family files register into.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"
#include "kiln/compiler.hpp"

namespace onnx {
class GraphProto;
class NodeProto;
class TensorProto;
class AttributeProto;
}  // namespace onnx

namespace kiln::onnx_import {

struct ImportOptions {
  // Fixed shapes for inputs, overriding the model's (symbolic) dims: name -> dims.
  std::map<std::string, Dims> shapes;
  // The command-line flag each entry of `shapes` came from, for messages ("--shapes" if absent).
  std::map<std::string, std::string> shape_flags;
  // Build for concrete shapes, as trtexec: a dynamic dim of an input that `shapes` does not cover
  // becomes 1, with a warning naming the input and the flags that choose other shapes. Off, the
  // dims stay unknown (-1).
  bool dynamic_dims_to_one = false;
  // Built for an optimisation profile (--minShapes/--optShapes/--maxShapes): see Graph::shapes_vary.
  bool shapes_vary = false;
  // Non-fatal findings (opset upgraded, shape inference disagreements) are appended here.
  std::vector<std::string>* warnings = nullptr;
  // How a run-time Loop's body is built: with the build's passes, layouts and precision flags
  // (compile.cpp fills these), less what needs the whole model (int8 calibration, layer pins).
  std::vector<std::string> body_disabled_passes;
  std::string body_activation_layout;
  PrecisionOptions body_precision;
};

// Reads MODEL.onnx into a graph. Throws kiln::Error: "<file>: node '<name>' (<Op>): <what>".
std::unique_ptr<ir::Graph> import_onnx(const std::string& path, const ImportOptions& opts);
std::unique_ptr<ir::Graph> import_onnx_bytes(const std::string& bytes, const std::string& origin,
                                             const ImportOptions& opts);

// Converts an ONNX tensor (raw_data or typed fields, or external data already loaded) to a
// constant value in the graph. base_dir resolves external data; "" refuses external data.
ir::Value* import_tensor(ir::Graph& g, const onnx::TensorProto& t, const std::string& base_dir);

// Rewrites a float16 tensor in place as the float32 tensor of the same values (exact), in
// raw_data; external data is read (base_dir as for import_tensor). Throws kiln::Error naming the
// tensor when its data does not match its shape.
void widen_float16_tensor(onnx::TensorProto& t, const std::string& base_dir);

// What the model importer lends to control-flow importers (If, Loop, Scan): subgraphs are
// inlined into the main graph, one copy per branch or iteration.
class SubgraphHost {
 public:
  virtual ~SubgraphHost() = default;
  // Imports `body` with its inputs bound to `inputs` and returns its outputs; `prefix` keeps the
  // copy's node and tensor names unique.
  virtual std::vector<ir::Value*> inline_graph(const onnx::GraphProto& body, const std::vector<ir::Value*>& inputs,
                                               const std::string& prefix) = 0;
  // Infers and folds the nodes emitted so far, so their types and constant values can be read.
  virtual void settle() = 0;
  // A non-fatal finding for the user (compile's warnings).
  virtual void warn(const std::string& what) = 0;
  // The plan of a graph import_body made, built as ImportOptions' body_* fields say.
  virtual std::vector<uint8_t> compile_body(ir::Graph& g, const std::string& what) = 0;
  // Imports `body` as a graph of its own instead of inlining it (a run-time Loop's body), its
  // inputs typed `input_types`. A name the body reads from an enclosing scope becomes a constant
  // of the new graph when the outer value is constant, and otherwise an extra graph input after
  // the body's own; `outer` receives the outer values of those extra inputs, in order.
  virtual std::unique_ptr<ir::Graph> import_body(const onnx::GraphProto& body,
                                                 const std::vector<ops::TensorType>& input_types,
                                                 std::vector<ir::Value*>& outer) = 0;
};

// The plan of a subgraph imported on its own (SubgraphHost::import_body): the pipeline's passes,
// kernel choice (untimed) and memory plan, as for a model (compile.cpp). `what` names it in errors.
std::vector<uint8_t> compile_subgraph(ir::Graph& g, const std::string& what, const ImportOptions& opts);

// The view an op importer gets of one ONNX node.
class NodeContext {
 public:
  NodeContext(ir::Graph& g, const onnx::NodeProto& node, int opset, std::vector<ir::Value*> inputs,
              const std::string& base_dir);

  const onnx::NodeProto& proto() const { return node_; }
  const std::string& name() const { return name_; }
  int opset() const { return opset_; }
  ir::Graph& graph() { return g_; }

  size_t num_inputs() const { return inputs_.size(); }
  ir::Value* input(size_t i) const;      // nullptr if absent
  ir::Value* required_input(size_t i);   // fails if absent
  size_t num_outputs() const;

  bool has_attr(const std::string& name) const;
  int64_t attr_int(const std::string& name, int64_t def) const;
  float attr_float(const std::string& name, float def) const;
  std::string attr_string(const std::string& name, const std::string& def) const;
  std::vector<int64_t> attr_ints(const std::string& name, std::vector<int64_t> def = {}) const;
  std::vector<float> attr_floats(const std::string& name, std::vector<float> def = {}) const;
  // A graph attribute (If's branches, Loop's and Scan's body); fails if absent.
  const onnx::GraphProto& attr_graph(const std::string& name) const;
  void set_subgraph_host(SubgraphHost* h) { host_ = h; }
  SubgraphHost& subgraphs() const;  // fails when the importer lent none
  // A tensor attribute (Constant's "value"), imported as a constant value.
  ir::Value* attr_tensor(const std::string& name);
  // Value of an input that must be a compile-time constant (e.g. Reshape's shape); fails if not.
  std::vector<int64_t> const_ints(size_t input_index);

  // Emits the op as one node bound to this ONNX node's outputs.
  ir::Node* emit(std::unique_ptr<ops::Op> op, std::vector<ir::Value*> inputs);
  // Emits an intermediate node with fresh outputs (for ops lowered to several kiln ops).
  ir::Node* emit_internal(const std::string& suffix, std::unique_ptr<ops::Op> op,
                          std::vector<ir::Value*> inputs, size_t num_outputs = 1);
  // Binds this ONNX node's i-th output to an existing value (e.g. Identity-like lowering).
  void alias_output(size_t i, ir::Value* v);
  ir::Value* constant_ints(const std::string& suffix, const std::vector<int64_t>& v);
  ir::Value* constant_floats(const std::string& suffix, const std::vector<float>& v, Dims shape);

  [[noreturn]] void fail(const std::string& msg) const;  // message gets the node's identity
  // An axis attribute or input value in [-rank, rank), normalised to [0, rank); fails naming
  // `what` (e.g. "axis", "scan_input_axes[1]") otherwise.
  int64_t axis_in(int64_t axis, int64_t rank, const std::string& what = "axis") const;

  // What libonnx's checker checks for the opsets it knows, for an importer of a newer opset
  // (kOnnxLibOpset) to check itself: the input and output counts, and that every attribute is
  // one of `attrs` (a misspelt or newer attribute would otherwise be silently ignored).
  void expect_signature(size_t min_inputs, size_t max_inputs, size_t min_outputs, size_t max_outputs,
                        std::initializer_list<std::string_view> attrs) const;

  // Filled by emit()/alias_output(): the values for the ONNX outputs.
  std::vector<ir::Value*> outputs;

 private:
  ir::Graph& g_;
  const onnx::NodeProto& node_;
  int opset_;
  std::vector<ir::Value*> inputs_;
  std::string base_dir_;
  std::string name_;
  SubgraphHost* host_ = nullptr;
  const onnx::AttributeProto* find_attr(const std::string& name) const;
};

using ImportFn = std::function<void(NodeContext&)>;

// Importers register per ONNX op type and opset range [since, until]; a second importer for an
// overlapping range of the same op type throws at static-initialisation time.
class ImporterRegistry {
 public:
  static ImporterRegistry& instance();
  void add(const std::string& op_type, int since, int until, ImportFn fn);
  const ImportFn* find(const std::string& op_type, int opset) const;
  bool known(const std::string& op_type) const;
  std::vector<std::string> op_types() const;
  // The first opset of the importer that handles op_type at `opset`; 0 when none does.
  int since(const std::string& op_type, int opset) const;
  // Registered opset ranges [since, until] of an op type, sorted.
  std::vector<std::pair<int, int>> ranges(const std::string& op_type) const;

 private:
  struct Entry { int since; int until; ImportFn fn; };
  std::map<std::string, std::vector<Entry>> by_type_;
};

// Ops of a domain other than the default register as "<domain>:<OpType>", and their opsets are
// that domain's versions; default-domain ops register under their plain op type.
constexpr const char* kTrainingDomain = "ai.onnx.preview.training";
inline std::string domain_key(const std::string& domain, const std::string& op_type) {
  return domain.empty() || domain == "ai.onnx" ? op_type : domain + ":" + op_type;
}

struct ImporterRegistrar {
  ImporterRegistrar(const std::string& op_type, int since, int until, ImportFn fn) {
    ImporterRegistry::instance().add(op_type, since, until, std::move(fn));
  }
};

#define KILN_I_CONCAT2(a, b) a##b
#define KILN_I_CONCAT(a, b) KILN_I_CONCAT2(a, b)
#define KILN_REGISTER_IMPORTER(op_type, since, until, fn) \
  static ::kiln::onnx_import::ImporterRegistrar KILN_I_CONCAT(kiln_imp_reg_, __COUNTER__)(op_type, since, until, fn)

constexpr int kMinOpset = 7;
constexpr int kMaxOpset = 21;
// The newest opset Debian's libonnx (1.12) knows: its checker and shape inference judge every
// node by the schemas of this opset or older. An op whose importer starts after it (a signature
// that changed, or an op that is new) is validated by that importer instead.
constexpr int kOnnxLibOpset = 17;

}  // namespace kiln::onnx_import
