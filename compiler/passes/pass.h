// The optimisation pass framework. Passes are data: pipeline.cpp lists them in order with a
// reason each; run_pipeline runs each to a fixed point (with a step cap) and verifies the graph
// after every pass. Three tools exist for rewrites (docs/architecture.md says when to use which):
// an op-local canonicalisation, a pattern rule (PatternRule below) and a whole-graph pass.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"
#include "kiln/compiler.hpp"

namespace kiln::quant {
struct CalibTable;
}

namespace kiln::passes {

// Returns true when it changed the graph.
using PassFn = bool (*)(ir::Graph&);

struct PipelineOptions;
// A pass that needs the build's options (precision flags).
using PassFnWithOptions = bool (*)(ir::Graph&, const PipelineOptions&);

struct PassInfo {
  const char* name;
  const char* why;
  PassFn run;
  PassFnWithOptions run_with_options = nullptr;  // used when run is null
};

const std::vector<PassInfo>& pipeline();

struct PipelineOptions {
  std::vector<std::string> disabled;
  std::vector<std::string> dump_after;
  std::vector<std::string>* log = nullptr;
  int max_steps = 32;
  const PrecisionOptions* precision = nullptr;          // null: every layer stays in its model type
  std::vector<std::string>* warnings = nullptr;
  std::vector<std::string>* precision_summary = nullptr; // what assign-precision did, one line each
  int builder_level = 0;  // --best at level >= 1 times each heavy layer in fp32 and bf16
  // Conv regions' layout: "" or "auto" (nhwc for bf16 on AMX, else nChw16c/nChw8c), "blocked",
  // "nhwc" or "plain" (CompileOptions::activation_layout).
  std::string activation_layout;
  // int8 (--int8): each activation's calibrated range, by tensor name; null without --int8.
  const quant::CalibTable* calib = nullptr;
};

void run_pipeline(ir::Graph& g, const PipelineOptions& opts);

// Each value's consumers (a node appears once per input slot that reads the value).
using Uses = std::unordered_map<const ir::Value*, std::vector<ir::Node*>>;

// A pattern rule: tried on every node whose op type is in `types`; apply() returns true if it
// rewrote the graph (the driver then re-collects uses and continues).
struct PatternRule {
  std::vector<std::string> types;
  std::function<bool(ir::Graph&, ir::Node&, const Uses&)> apply;
};
bool apply_rules(ir::Graph& g, const std::vector<PatternRule>& rules);

// The value's single consumer if it has exactly one and is not a graph output, else nullptr.
ir::Node* sole_user(const ir::Graph& g, const ir::Value* v, const Uses& uses);

// Whether a --layerPrecisions/--layerOutputTypes pattern ('*' and '?' wildcards) names layer n:
// its name, an output's name or the name of an ONNX node fused into it.
bool layer_matches(const std::string& pattern, const ir::Node& n);
// A layer name as such a pattern matching only itself (its wildcards and backslashes escaped).
std::string literal_pattern(const std::string& name);
// The layers whose compute precision assign-int8 and assign-precision choose (and pins name).
bool heavy_layer(std::string_view type);
// The single element of a one-element float32/float64 constant, else nullopt (pattern matchers
// test scales, epsilons and exponents with it).
std::optional<double> scalar_constant(const ir::Value* v);

// Passes (one file each in compiler/passes/).
bool remove_identity(ir::Graph& g);
bool dead_code(ir::Graph& g);
// Completes the predicates the If importer seeds on the two branches of a run-time If (ir::Node::
// when), so only the taken branch runs; verify_predicates drops any that are not consistent.
bool predicate_branches(ir::Graph& g);
bool verify_predicates(ir::Graph& g);
bool fold_constants(ir::Graph& g);
// Evaluates one node whose inputs are all constants (within a size cap) and removes it; its
// outputs become constants. The importer calls it as it goes, so shape arithmetic is folded
// before the nodes that need its values are imported. Results larger than their inputs are left
// unfolded (they would grow the plan) unless any_size is set.
bool fold_node(ir::Graph& g, ir::Node& n, bool any_size = false);
bool fold_batchnorm(ir::Graph& g);
bool fold_preprocess(ir::Graph& g);
bool cse(ir::Graph& g);
bool cancel_transpose_reshape(ir::Graph& g);
bool fuse_swish(ir::Graph& g);
bool fuse_layernorm(ir::Graph& g);
bool fuse_gelu(ir::Graph& g);
bool fuse_attention(ir::Graph& g);
bool fuse_post_ops(ir::Graph& g);
bool fuse_sibling_convs(ir::Graph& g);
bool assign_layouts(ir::Graph& g);  // with the default options
bool assign_layouts(ir::Graph& g, const PipelineOptions& o);
bool assign_precision(ir::Graph& g, const PipelineOptions& opts);
bool assign_int8(ir::Graph& g, const PipelineOptions& opts);
bool assign_int8_dynamic(ir::Graph& g, const PipelineOptions& opts);
// Constant float weights as symmetric s8 with one scale per slice along `axis` (max |w| / 127;
// weights a QDQ model dequantized from s8 keep the model's scales): the levels and their scales.
std::pair<std::vector<int8_t>, ops::QuantParams> quantize_weights_s8(const ir::Value& w, int axis);
bool fold_qdq(ir::Graph& g);

// QDQ models (fold_qdq.cpp). Records on a DequantizeLinear's output what its constant int8
// weights' scales are, so they survive the DequantizeLinear's folding (the importer calls it,
// because small weights fold as they are imported).
void note_weight_quant(ir::Node& dq);
// Whether any tensor carries a model-given quantization (ir::Value::model_qtype): the model is a
// QDQ model, and its layers compute in int8 without --int8.
bool has_model_quant(const ir::Graph& g);
// The tensor whose model-given quantization describes v: v, or a tensor v is a relayout or
// reshape of; null when the model said nothing.
const ir::Value* model_quant_source(const ir::Value* v);
// A model-given activation quantization as kiln's int8 kernels take it: symmetric (zero point 0),
// QUInt8 or QInt8 with one scale. Exact when the model's zero point is 0 (or int8's -128: uint8's
// levels); otherwise the model's real range, symmetric about 0, with up to twice its step.
struct SymmetricQuant {
  DType dtype;
  float scale;
  bool exact;
};
SymmetricQuant symmetric_model_quant(const ir::Value& v);

}  // namespace kiln::passes
