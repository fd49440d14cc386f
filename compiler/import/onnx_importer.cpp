// Model-level import: parse, check, upgrade, infer shapes, then hand each node to its registered
// op importer in topological order.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <onnx/version_converter/convert.h>
// After onnx: these define macros that clash with names in onnx/defs/parser.h.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import/importer.h"
#include "import/model_rewrites.h"
#include "passes/pass.h"

namespace kiln::onnx_import {

namespace {

constexpr const char* kNoImporter = "kiln has no importer for this op; see docs/operators.md for the supported ops";

// ONNX node names are optional; unnamed nodes are called "<OpType>_<index>" in every message.
std::string node_name(const onnx::NodeProto& node, int index) {
  return node.name().empty() ? node.op_type() + "_" + std::to_string(index) : node.name();
}

int default_opset(const onnx::ModelProto& m) {
  for (const auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") return static_cast<int>(o.version());
  return -1;
}

// Whether the model imports nothing but ai.onnx.preview.training, the one other domain kiln reads.
bool imports_only_known_domains(const onnx::ModelProto& m) {
  for (const auto& o : m.opset_import())
    if (o.domain() != kTrainingDomain) return false;
  return m.opset_import_size() > 0;
}

Dims shape_of(const onnx::ValueInfoProto& vi, std::vector<std::string>* params) {
  Dims s;
  if (!vi.type().has_tensor_type() || !vi.type().tensor_type().has_shape()) return s;
  for (const auto& d : vi.type().tensor_type().shape().dim()) {
    if (d.has_dim_value()) {
      s.push_back(d.dim_value());
      if (params) params->push_back("");
    } else {
      s.push_back(-1);
      if (params) params->push_back(d.dim_param());
    }
  }
  return s;
}

// What libonnx's checker and shape inference are shown of a model newer than they know
// (kOnnxLibOpset): the same model at that opset, with every node whose importer starts after it
// moved to a private domain, which both pass over (unknown domains are custom ops to them). The
// rest are judged by their last schema libonnx knows, which still describes them: an op whose
// signature changed after it has an importer registered from the change on.
constexpr const char* kKilnValidatedDomain = "kiln.validated_by_importer";

// Made for the duration of a check or an inference, in place (a copy would double a large
// model's memory), and undone on destruction.
class OnnxLibView {
 public:
  OnnxLibView(onnx::ModelProto& m, int opset) : m_(m) {
    if (opset <= kOnnxLibOpset) return;
    for (auto& o : *m.mutable_opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx") {
        versions_.emplace_back(&o, o.version());
        o.set_version(kOnnxLibOpset);
      }
    auto* own = m.add_opset_import();
    own->set_domain(kKilnValidatedDomain);
    own->set_version(1);
    added_ = true;
    move_aside(*m.mutable_graph(), opset);
  }
  ~OnnxLibView() {
    for (auto& [n, d] : moved_) n->set_domain(d);
    for (auto& [o, v] : versions_) o->set_version(v);
    if (added_) m_.mutable_opset_import()->RemoveLast();
  }
  OnnxLibView(const OnnxLibView&) = delete;
  OnnxLibView& operator=(const OnnxLibView&) = delete;

 private:
  void move_aside(onnx::GraphProto& g, int opset) {  // subgraphs (If, Loop, Scan bodies) too
    for (auto& n : *g.mutable_node()) {
      if ((n.domain().empty() || n.domain() == "ai.onnx") &&
          ImporterRegistry::instance().since(n.op_type(), opset) > kOnnxLibOpset) {
        moved_.emplace_back(&n, n.domain());
        n.set_domain(kKilnValidatedDomain);
      }
      for (auto& a : *n.mutable_attribute()) {
        if (a.has_g()) move_aside(*a.mutable_g(), opset);
        for (auto& sg : *a.mutable_graphs()) move_aside(sg, opset);
      }
    }
  }

  onnx::ModelProto& m_;
  std::vector<std::pair<onnx::OperatorSetIdProto*, int64_t>> versions_;
  std::vector<std::pair<onnx::NodeProto*, std::string>> moved_;
  bool added_ = false;
};

void set_input_shape(onnx::ValueInfoProto& vi, const Dims& s) {
  auto* shape = vi.mutable_type()->mutable_tensor_type()->mutable_shape();
  shape->clear_dim();
  for (int64_t d : s) shape->add_dim()->set_dim_value(d);
}

class ModelImporter final : public SubgraphHost {
 public:
  ModelImporter(const std::string& origin, const std::string& base_dir, const ImportOptions& opts)
      : origin_(origin), base_dir_(base_dir), opts_(opts) {}

  std::unique_ptr<ir::Graph> run(onnx::ModelProto& model) {
    prepare(model);
    auto g = std::make_unique<ir::Graph>();
    g->shapes_vary = opts_.shapes_vary;
    g_ = g.get();
    const auto& graph = model.graph();
    for (int i = 0; i < graph.initializer_size(); ++i) {
      const auto& init = graph.initializer(i);
      if (values_.count(init.name())) continue;
      values_[init.name()] = import_tensor(*g_, init, base_dir_);
      // Weights leave the proto as soon as the graph holds them, so a large model is held about
      // once while importing. Integer tensors stay until the end: libonnx's shape inference
      // (add_onnx_dim_names) reads them as shapes, axes and indices.
      if (!is_integer_tensor(init)) release_payload(*model.mutable_graph()->mutable_initializer(i));
    }
    std::unordered_map<std::string, const onnx::ValueInfoProto*> declared;
    for (const auto& in : graph.input()) declared[in.name()] = &in;
    for (const auto& in : graph.input()) {
      if (values_.count(in.name())) continue;  // an initializer with a default, treated as constant
      add_graph_input(in);
    }
    for (auto& kv : opts_.shapes) {
      const std::string& name = kv.first;  // not a structured binding: clang 14 cannot capture one
      if (!std::any_of(g_->inputs.begin(), g_->inputs.end(), [&](auto& io) { return io.name == name; }))
        throw Error(flag_for(name) + " names '" + name + "', which is not an input of the model; inputs are: " +
                    input_names());
    }
    int index = 0;
    for (const auto& node : graph.node()) import_node(node, index++);
    for (const auto& out : graph.output()) {
      auto it = values_.find(out.name());
      if (it == values_.end())
        throw Error("graph output '" + out.name() + "' is not produced by any node");
      g_->outputs.push_back({out.name(), it->second});
    }
    // Before compact(), which may free values that values_ still points to.
    for (const auto& name : fp16_.widened_constants) {
      auto it = values_.find(name);
      if (it != values_.end() && it->second && it->second->is_constant() &&
          it->second->type.dtype == DType::Float32)
        it->second->stored_dtype = DType::Float16;
    }
    add_onnx_dim_names(model);  // libonnx's shape inference reads initializer values: before the release
    release_initializers(model);
    g_->compact();
    return g;
  }

 private:
  // The graph holds the initializers' payloads now; the proto's copies would double the weights'
  // memory for the rest of the build (passes, tuning, serialization). Only their names are read
  // after this.
  static void release_initializers(onnx::ModelProto& model) {
    for (auto& init : *model.mutable_graph()->mutable_initializer()) release_payload(init);
  }
  static void release_payload(onnx::TensorProto& init) {
    std::string().swap(*init.mutable_raw_data());
    init.clear_raw_data();
    init.clear_float_data();
    init.clear_int64_data();
    init.clear_int32_data();
    init.clear_double_data();
    init.clear_uint64_data();
  }
  static bool is_integer_tensor(const onnx::TensorProto& t) {
    using T = onnx::TensorProto;
    switch (t.data_type()) {
      case T::INT64: case T::INT32: case T::INT16: case T::UINT64: case T::UINT32: case T::UINT16: case T::BOOL:
        return true;
      default:
        return false;
    }
  }

  // Every node input and graph output of the main graph names a graph input, an initializer or
  // some node's output.
  static void check_references(const onnx::GraphProto& g) {
    std::set<std::string> defined;
    for (const auto& in : g.input()) defined.insert(in.name());
    for (const auto& t : g.initializer()) defined.insert(t.name());
    for (const auto& n : g.node())
      for (const auto& o : n.output()) defined.insert(o);
    int index = 0;
    for (const auto& n : g.node()) {
      std::string name = node_name(n, index++);
      for (const auto& i : n.input())
        if (!i.empty() && !defined.count(i))
          throw Error("node '" + name + "' (" + n.op_type() + "): input '" + i +
                      "' is not produced by any node, initializer or graph input");
    }
    for (const auto& o : g.output())
      if (!defined.count(o.name())) throw Error("graph output '" + o.name() + "' is not produced by any node");
  }

  void prepare(onnx::ModelProto& model) {
    if (!model.has_graph()) throw Error("the file holds no graph; is it an ONNX model?");
    int opset = default_opset(model);
    // A model of training optimizers alone imports only their domain; the checker refuses any
    // default-domain node in it, so the default opset it is given plays no part.
    if (opset < 0 && imports_only_known_domains(model)) opset = kOnnxLibOpset;
    if (opset < 0) throw Error("the model imports no default-domain (ai.onnx) opset");
    if (opset > kMaxOpset)
      throw Error("the model uses opset " + std::to_string(opset) + "; kiln reads opsets " +
                  std::to_string(kMinOpset) + "-" + std::to_string(kMaxOpset) +
                  ". Re-export it with opset_version=" + std::to_string(kMaxOpset) + " or lower");
    // The checker and the node-by-node import both need producers before consumers.
    if (sort_topologically(*model.mutable_graph()))
      warn("the model's nodes are not in topological order (ONNX requires it; ONNX Runtime does not): "
           "kiln sorted them");
    // Name unsupported ops with their node before the checker, which knows neither kiln's
    // support nor node names, gets a say.
    int index = 0;
    for (const auto& node : model.graph().node()) {
      std::string name = node_name(node, index++);
      if ((node.domain().empty() || node.domain() == "ai.onnx") && !ImporterRegistry::instance().known(node.op_type()))
        throw Error("node '" + name + "' (" + node.op_type() + "): " + kNoImporter);
    }
    try {
      OnnxLibView view(model, opset);
      check(model);
    } catch (const std::exception& e) {
      throw Error(std::string("the ONNX checker rejected the model: ") + first_line(e.what()));
    }
    if (opset < kMinOpset) {
      // onnx's version converter dereferences undefined values (it crashed on fuzzed models), and
      // the checker of old opsets lets them through: refuse them before converting.
      check_references(model.graph());
      try {
        model = onnx::version_conversion::ConvertVersion(model, kMinOpset);
        warn("upgraded the model from opset " + std::to_string(opset) + " to " + std::to_string(kMinOpset));
      } catch (const std::exception& e) {
        throw Error("the model uses opset " + std::to_string(opset) + " and onnx's version converter "
                    "could not upgrade it to " + std::to_string(kMinOpset) + ": " + first_line(e.what()));
      }
    }
    opset_ = default_opset(model);
    if (opset_ < 0) opset_ = kOnnxLibOpset;  // no default-domain nodes (see above)
    for (const auto& o : model.opset_import())
      if (!o.domain().empty() && o.domain() != "ai.onnx") domain_opsets_[o.domain()] = static_cast<int>(o.version());
    fp16_ = lower_float16(model, base_dir_);
    if (fp16_.declared)
      warn("model declares float16 tensors: kiln computes them in float32 (bf16 with --bf16); inputs and "
           "outputs keep float16");
    // Fix the user's shapes before onnx infers, so everything downstream sees them.
    for (auto& in : *model.mutable_graph()->mutable_input()) {
      auto it = opts_.shapes.find(in.name());
      if (it == opts_.shapes.end()) continue;
      Dims declared = shape_of(in, nullptr);
      if (it->second.size() != declared.size())
        throw Error(flag_for(in.name()) + " gives input '" + in.name() + "' rank " + std::to_string(it->second.size()) + " (" +
                    shape_str(it->second) + ") but the model declares rank " + std::to_string(declared.size()) +
                    " (" + shape_str(declared) + ")");
      for (size_t i = 0; i < declared.size(); ++i)
        if (declared[i] >= 0 && declared[i] != it->second[i])
          throw Error(flag_for(in.name()) + " gives input '" + in.name() + "' shape " + shape_str(it->second) +
                      " but the model fixes dimension " + std::to_string(i) + " to " + std::to_string(declared[i]));
      set_input_shape(in, it->second);
    }
    if (opts_.dynamic_dims_to_one) default_dynamic_dims(model);
  }

  // trtexec's default for a dynamic input without shapes: 1 for each unknown dim, said loudly.
  void default_dynamic_dims(onnx::ModelProto& model) {
    std::set<std::string> inits;
    for (const auto& t : model.graph().initializer()) inits.insert(t.name());
    for (auto& in : *model.mutable_graph()->mutable_input()) {
      if (opts_.shapes.count(in.name()) || inits.count(in.name()) || !in.type().has_tensor_type() ||
          !in.type().tensor_type().has_shape())
        continue;
      std::vector<std::string> params;
      Dims s = shape_of(in, &params);
      std::string dims;
      for (size_t i = 0; i < s.size(); ++i)
        if (s[i] < 0) {
          dims += (dims.empty() ? "" : ", ") + std::to_string(i) + (params[i].empty() ? "" : " ('" + params[i] + "')");
          s[i] = 1;
        }
      if (dims.empty()) continue;
      set_input_shape(in, s);
      warn("input '" + in.name() + "' has dynamic dimension(s) " + dims + "; building for " + in.name() + ":" +
           shape_str(s) + " (1 for each, as trtexec does). Choose the shapes with --shapes=" + in.name() + ":" +
           shape_str(s) + ", or one plan for a range with --minShapes, --optShapes and --maxShapes");
    }
  }

  // onnx's shape inference only adds symbolic dim names and a cross-check to what kiln infers.
  // It runs after kiln has imported and validated every node, because libonnx's per-op inference
  // crashes on some malformed nodes (fuzzing found ConvTranspose with a rank-1 weight).
  void add_onnx_dim_names(onnx::ModelProto& model) {
    OnnxLibView view(model, opset_);
    try {
      onnx::shape_inference::InferShapes(model);
    } catch (const std::exception& e) {
      warn(std::string("onnx shape inference failed, kiln infers shapes itself: ") + first_line(e.what()));
      return;
    }
    const auto& graph = model.graph();
    for (const auto& vi : graph.value_info()) onnx_shapes_[vi.name()] = &vi;
    for (const auto& vi : graph.output()) onnx_shapes_[vi.name()] = &vi;
    for (const auto& node : graph.node())
      for (const auto& out : node.output()) {
        auto it = values_.find(out);
        if (!out.empty() && it != values_.end() && it->second) fill_unknown_dims(it->second);
      }
    onnx_shapes_.clear();  // points into `model`
  }

  // onnx::checker::check_model(ModelProto) resolves external data against the working folder;
  // this resolves it against the model's folder instead.
  void check(const onnx::ModelProto& model) {
    if (model.ir_version() <= 0) throw Error("the model has no ir_version; is it an ONNX model?");
    onnx::checker::CheckerContext ctx;
    ctx.set_ir_version(static_cast<int>(model.ir_version()));
    std::unordered_map<std::string, int> opsets;
    for (const auto& o : model.opset_import()) opsets[o.domain()] = static_cast<int>(o.version());
    ctx.set_opset_imports(opsets);
    ctx.set_model_dir(base_dir_);
    onnx::checker::LexicalScopeContext lex;
    onnx::checker::check_graph(model.graph(), ctx, lex);
  }

  void add_graph_input(const onnx::ValueInfoProto& in) {
    if (!in.type().has_tensor_type())
      throw Error("graph input '" + in.name() + "' is not a tensor (sequences, maps and optionals are not supported)");
    DType dt = static_cast<DType>(in.type().tensor_type().elem_type());
    if (!dtype_onnx(dt))
      throw Error("graph input '" + in.name() + "' has unsupported element type " +
                  std::to_string(in.type().tensor_type().elem_type()));
    std::vector<std::string> params;
    Dims s = shape_of(in, &params);
    if (!in.type().tensor_type().has_shape())
      throw Error("graph input '" + in.name() + "' has no shape; give one with --shapes=" + in.name() + ":1x3x224x224");
    for (int64_t d : s)
      if (d < -1 || d > (int64_t(1) << 31))
        throw Error("graph input '" + in.name() + "' has an invalid dimension in " + shape_str(s));
    ir::Value* v = g_->add_value(in.name(), {dt, s});
    v->dim_params = params;
    values_[in.name()] = v;
    g_->inputs.push_back({in.name(), v});
  }

  // `prefix` names the nodes and tensors of an inlined subgraph (one per branch or iteration), so
  // that they stay unique in kiln's graph; lookups and bindings use the ONNX names, in scopes_.
  void import_node(const onnx::NodeProto& node, int index, const std::string& prefix = "") {
    onnx::NodeProto named = node;
    named.set_name(prefix + node_name(node, index));
    if (!prefix.empty())
      for (auto& o : *named.mutable_output())
        if (!o.empty()) o = prefix + o;
    auto fail = [&](const std::string& msg) {
      throw Error("node '" + named.name() + "' (" + node.op_type() + "): " + msg);
    };
    const std::string key = domain_key(node.domain(), node.op_type());
    int opset = opset_;
    if (key != node.op_type()) {
      auto it = domain_opsets_.find(node.domain());
      if (node.domain() != kTrainingDomain || it == domain_opsets_.end())
        fail("ops of domain '" + node.domain() + "' are not supported; only the default ONNX domain and " +
             kTrainingDomain + "'s optimizers are");
      opset = it->second;
    }
    std::vector<ir::Value*> inputs;
    for (const auto& name : node.input()) {
      if (name.empty()) {
        inputs.push_back(nullptr);
        continue;
      }
      ir::Value* v = lookup(name);
      if (!v) fail("input '" + name + "' is not produced by any earlier node, initializer or graph input");
      inputs.push_back(v);
    }
    auto& reg = ImporterRegistry::instance();
    const ImportFn* fn = reg.find(key, opset);
    if (!fn) {
      if (reg.known(key)) fail("not supported at opset " + std::to_string(opset) + "; re-export with another opset");
      fail(kNoImporter);
    }
    NodeContext ctx(*g_, named, opset, std::move(inputs), base_dir_);
    ctx.set_subgraph_host(this);
    try {
      settle();
      (*fn)(ctx);
      settle();
    } catch (const Error& e) {
      std::string msg = e.what();
      // Errors raised by NodeContext or by inference already name a node.
      if (msg.rfind("node '", 0) == 0) throw;
      fail(msg);
    }
    for (int i = 0; i < node.output_size(); ++i) {
      if (node.output(i).empty()) continue;
      ir::Value* v = ctx.outputs.at(static_cast<size_t>(i));
      if (!v) fail("importer bound no value to output " + std::to_string(i));
      bind(node.output(i), v);
    }
  }

  // Infers and folds the nodes added since the last call, so what comes next sees their types
  // (and constants). Nodes are only ever appended during import (folding marks them dead).
  void settle() override {
    while (settled_ < g_->nodes().size()) {
      ir::Node* n = g_->nodes()[settled_++].get();
      try {
        if (n->op) g_->infer(n);
        if (n->op) passes::fold_node(*g_, *n);
      } catch (const Error&) {
        g_->remove_node(n);  // a branch that failed may be dropped (If); its node must not linger
        throw;
      }
    }
  }

  ir::Value* lookup(const std::string& name) {
    for (auto s = scopes_.rbegin(); s != scopes_.rend(); ++s) {
      auto it = s->find(name);
      if (it != s->end()) return it->second;
    }
    auto it = values_.find(name);
    if (it != values_.end()) return it->second;
    return parent_ ? from_outer_scope(name) : nullptr;
  }

  // A body imported on its own reads an enclosing scope's value: a constant is copied in (so it
  // folds inside the body), anything else becomes an extra graph input the Loop layer feeds.
  ir::Value* from_outer_scope(const std::string& name) {
    ir::Value* v = parent_->lookup(name);
    if (!v) return nullptr;
    ir::Value* local = nullptr;
    if (v->is_constant()) {
      local = g_->add_constant(g_->unique_name(name), v->view());
      local->stored_dtype = v->stored_dtype;
    } else {
      local = g_->add_value(name, v->type);
      local->dim_params.assign(v->type.shape.size(), "");
      g_->inputs.push_back({name, local});
      outer_->push_back(v);
    }
    values_[name] = local;
    return local;
  }

  std::unique_ptr<ir::Graph> import_body(const onnx::GraphProto& body, const std::vector<ops::TensorType>& input_types,
                                         std::vector<ir::Value*>& outer) override {
    if (static_cast<size_t>(body.input_size()) != input_types.size())
      throw Error("subgraph '" + body.name() + "' has " + std::to_string(body.input_size()) + " inputs; " +
                  std::to_string(input_types.size()) + " are bound");
    if (depth_ + scopes_.size() >= 32) throw Error("subgraphs are nested more than 32 deep");
    settle();
    auto g = std::make_unique<ir::Graph>();
    ModelImporter child(origin_, base_dir_, opts_);
    child.parent_ = this;
    child.outer_ = &outer;
    child.depth_ = depth_ + scopes_.size() + 1;
    child.g_ = g.get();
    child.opset_ = opset_;
    child.domain_opsets_ = domain_opsets_;
    for (int i = 0; i < body.input_size(); ++i) {
      const std::string& name = body.input(i).name();
      ir::Value* v = g->add_value(name, input_types[static_cast<size_t>(i)]);
      v->dim_params.assign(v->type.shape.size(), "");
      g->inputs.push_back({name, v});
      child.values_[name] = v;
    }
    for (const auto& init : body.initializer()) child.values_[init.name()] = import_tensor(*g, init, base_dir_);
    int index = 0;
    for (const auto& node : body.node()) child.import_node(node, index++);
    child.settle();
    for (const auto& o : body.output()) {
      ir::Value* v = child.lookup(o.name());
      if (!v) throw Error("subgraph output '" + o.name() + "' is not produced by any node");
      g->outputs.push_back({o.name(), v});
    }
    g->compact();
    return g;
  }

  void bind(const std::string& name, ir::Value* v) { (scopes_.empty() ? values_ : scopes_.back())[name] = v; }

  // One instance of a subgraph (an If branch, a loop iteration) imported into the main graph: its
  // inputs bound to `inputs`, outer-scope names resolved through the enclosing scopes.
  std::vector<ir::Value*> inline_graph(const onnx::GraphProto& body, const std::vector<ir::Value*>& inputs,
                                       const std::string& prefix) override {
    if (static_cast<size_t>(body.input_size()) != inputs.size())
      throw Error("subgraph '" + body.name() + "' has " + std::to_string(body.input_size()) + " inputs; " +
                  std::to_string(inputs.size()) + " are bound");
    if (depth_ + scopes_.size() >= 32) throw Error("subgraphs are nested more than 32 deep");
    settle();
    // Undone however the body ends: a branch that fails to import can be dropped (If).
    struct Scope {
      std::vector<std::unordered_map<std::string, ir::Value*>>& scopes;
      explicit Scope(std::vector<std::unordered_map<std::string, ir::Value*>>& s) : scopes(s) { scopes.emplace_back(); }
      ~Scope() { scopes.pop_back(); }
    } scope(scopes_);
    for (const auto& init : body.initializer()) {
      onnx::TensorProto t = init;
      t.set_name(prefix + init.name());
      bind(init.name(), import_tensor(*g_, t, base_dir_));
    }
    for (int i = 0; i < body.input_size(); ++i) bind(body.input(i).name(), inputs[static_cast<size_t>(i)]);
    int index = 0;
    for (const auto& node : body.node()) import_node(node, index++, prefix);
    std::vector<ir::Value*> outs;
    for (const auto& o : body.output()) {
      ir::Value* v = lookup(o.name());
      if (!v) throw Error("subgraph output '" + o.name() + "' is not produced by any node");
      outs.push_back(v);
    }
    return outs;
  }

  // Where kiln's inference leaves a dimension unknown, take onnx's if it knows it.
  void fill_unknown_dims(ir::Value* v) {
    auto it = onnx_shapes_.find(v->name);
    if (it == onnx_shapes_.end()) return;
    std::vector<std::string> params;
    Dims s = shape_of(*it->second, &params);
    if (s.size() != v->type.shape.size()) return;
    for (size_t i = 0; i < s.size(); ++i) {
      if (v->type.shape[i] < 0 && !params[i].empty()) v->dim_params[i] = params[i];
      if (v->type.shape[i] >= 0 && s[i] >= 0 && s[i] != v->type.shape[i])
        warn("tensor '" + v->name + "': kiln infers shape " + shape_str(v->type.shape) +
             " but onnx shape inference says " + shape_str(s));
    }
  }

  std::string flag_for(const std::string& input) const {
    auto it = opts_.shape_flags.find(input);
    return it == opts_.shape_flags.end() ? "--shapes" : it->second;
  }

  std::string input_names() const {
    std::string r;
    for (auto& io : g_->inputs) r += (r.empty() ? "'" : ", '") + io.name + "'";
    return r.empty() ? "(none)" : r;
  }

  static std::string first_line(const std::string& s) {
    auto p = s.find('\n');
    return p == std::string::npos ? s : s.substr(0, p);
  }

  std::vector<uint8_t> compile_body(ir::Graph& g, const std::string& what) override {
    return compile_subgraph(g, what, opts_);
  }

  void warn(const std::string& w) override {
    if (opts_.warnings) opts_.warnings->push_back(origin_ + ": " + w);
  }

  std::string origin_, base_dir_;
  const ImportOptions& opts_;
  ir::Graph* g_ = nullptr;
  int opset_ = 0;
  std::map<std::string, int> domain_opsets_;  // versions of the imported non-default domains
  Float16Lowering fp16_;
  std::unordered_map<std::string, ir::Value*> values_;
  std::vector<std::unordered_map<std::string, ir::Value*>> scopes_;  // inlined subgraphs, innermost last
  // A body imported on its own (import_body): the importer of the enclosing graph, and where the
  // outer values its extra inputs stand for are listed.
  ModelImporter* parent_ = nullptr;
  std::vector<ir::Value*>* outer_ = nullptr;
  size_t depth_ = 0;  // subgraph nesting above this importer's graph
  size_t settled_ = 0;
  std::unordered_map<std::string, const onnx::ValueInfoProto*> onnx_shapes_;
};

std::unique_ptr<ir::Graph> import_model(onnx::ModelProto& model, const std::string& origin,
                                        const std::string& base_dir, const ImportOptions& opts) {
  try {
    return ModelImporter(origin, base_dir, opts).run(model);
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
}

}  // namespace

std::unique_ptr<ir::Graph> import_onnx_bytes(const std::string& bytes, const std::string& origin,
                                             const ImportOptions& opts) {
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes))
    throw Error(origin + ": not a valid ONNX model (protobuf parsing failed; the file may be truncated)");
  return import_model(model, origin, "", opts);
}

std::unique_ptr<ir::Graph> import_onnx(const std::string& path, const ImportOptions& opts) {
  onnx::ModelProto model;
  {
    // Parsed from the file descriptor in small reads: the weights are held once, in the proto, until
    // the import moves them into the graph. (A mapping of the whole file would add its pages to the
    // resident set while parsing: twice the weights at the peak.)
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open the model file");
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      throw Error(path + ": cannot read the model file (not a regular file)");
    }
    const size_t size = static_cast<size_t>(st.st_size);
    if (size == 0 || size >= (size_t(1) << 31)) {
      close(fd);
      if (size == 0) throw Error(path + ": the model file is empty");
      throw Error(path + ": the model file is over 2 GiB, beyond protobuf's limit; export it with its weights as "
                  "external data (onnx.save(..., save_as_external_data=True))");
    }
    const bool ok = model.ParseFromFileDescriptor(fd);
    close(fd);
    if (!ok) throw Error(path + ": not a valid ONNX model (protobuf parsing failed; the file may be truncated)");
  }
  std::string dir = std::filesystem::absolute(path).parent_path().string();
  return import_model(model, path, dir, opts);
}

}  // namespace kiln::onnx_import
