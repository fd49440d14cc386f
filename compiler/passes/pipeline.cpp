// The ordered list of optimisation passes, each with the reason it exists, and the driver that
// runs them. Add a pass here and nowhere else.
#include <fnmatch.h>

#include <algorithm>

#include "passes/pass.h"

namespace kiln::passes {

const std::vector<PassInfo>& pipeline() {
  static const std::vector<PassInfo> list = {
      {"remove-identity", "Identity and inference-mode Dropout are copies that only cost bandwidth",
       remove_identity},
      {"fold-qdq", "a QDQ model's QuantizeLinear/DequantizeLinear pairs say which tensors are int8 at which "
                   "scales: record that on the tensors for assign-int8 and drop the pairs (and fold dequantized "
                   "weights), first, so the fusions below see the float graph underneath", fold_qdq},
      {"fold-constants", "evaluate nodes whose inputs are all constants once, at build time "
                         "(shape arithmetic, weight transforms)", fold_constants},
      {"cse", "merge identical constants and nodes computing the same op on the same inputs, so "
              "repeated work (shape queries, shared branches) runs once", cse},
      {"cancel-transpose-reshape", "back-to-back Transposes compose into one (or none) and chains of "
                                   "Reshape/Flatten/Squeeze/Unsqueeze collapse into one Reshape: each "
                                   "link is a full copy", cancel_transpose_reshape},
      {"dead-code", "drop nodes whose results nothing reads", dead_code},
      {"fold-batchnorm", "BatchNormalization after Conv is a per-channel affine map: fold it into "
                         "the conv's weights and bias", fold_batchnorm},
      {"fold-preprocess", "input normalisation in front of a conv (channel reversal, x / scale, and x - mean "
                          "when the conv has no padding) folds exactly into its weights and bias, so baked-in "
                          "pre-processing (--mean/--scale/--reverseInputChannels) costs nothing", fold_preprocess},
      {"fuse-swish", "x * Sigmoid(x) is SiLU/Swish: one activation instead of two ops, and fusable "
                     "into the producing conv", fuse_swish},
      {"fuse-layernorm", "the ReduceMean/Sub/Pow/Sqrt/Div(/Mul/Add) spelling of layer normalisation "
                         "(torch below opset 17) is one oneDNN primitive instead of nine passes",
       fuse_layernorm},
      {"fuse-gelu", "0.5 * x * (1 + Erf(x / sqrt 2)) and its tanh approximation are one activation "
                    "instead of five to nine ops, and fusable into the producing MatMul", fuse_gelu},
      {"dead-code-swish", "the Sigmoid of a fused Swish is usually left unread", dead_code},
      {"fuse-attention", "attention's scale and mask Add become the scores MatMul's output scale and "
                         "post-op, and the head-split/merge Transposes and K^T are read and written in "
                         "place through strides: two elementwise passes over the scores and four copies per "
                         "layer saved",
       fuse_attention},
      {"fuse-post-ops", "Conv/Gemm/MatMul followed by a bias Add (Gemm/MatMul), a residual Add and "
                        "activations run as one oneDNN primitive with bias and post-ops, saving a pass "
                        "over memory each", fuse_post_ops},
      {"fuse-sibling-convs", "1x1 convs reading the same input (Inception branches) run as one conv with "
                             "their channels joined, then a block-copy Split: the input is read once",
       fuse_sibling_convs},
      {"dead-code-final", "fusion leaves intermediate constants and values unreferenced", dead_code},
      {"assign-layouts", "oneDNN's fastest CPU kernels read and write blocked layouts (nChw16c): keep "
                         "conv regions blocked and reorder only at their boundaries (channels-last where that is what "
                         "the CPU's fastest kernels read: bf16 on AMX)",
       nullptr, assign_layouts},
      {"assign-int8", "int8 has 2-4x bf16's throughput (VNNI, AMX) (--int8): Conv/MatMul/Gemm layers with "
                      "calibrated inputs compute in int8 where a fast kernel takes them, their neighbours exchange "
                      "int8 tensors, and requantisation is fused into output scales and post-ops",
       nullptr, assign_int8},
      {"assign-int8-dynamic", "transformers' MatMul/Gemm layers gain int8's throughput without calibration "
                              "(--int8Dynamic): each source is quantized per run over its own range, weights s8 "
                              "per column; after assign-int8, which keeps the layers it made int8",
       nullptr, assign_int8_dynamic},
      {"assign-precision", "bf16 doubles oneDNN's throughput where the CPU has it (--bf16/--best): each layer gets "
                           "the precision the flags and pins allow and a fast kernel runs, weights are converted "
                           "once, and conversions go only where precision changes (after layouts, so they merge "
                           "with the region-boundary reorders)",
       nullptr, assign_precision},
      {"dead-code-int8", "int8 layers leave the float conversions they replaced unread", dead_code},
      {"predicate-branches", "an If on a run-time condition is imported as both branches and a select: "
                             "predicate each branch's layers (the ones the passes above added too) on the "
                             "condition, so a run executes only the taken branch",
       predicate_branches},
  };
  return list;
}

void run_pipeline(ir::Graph& g, const PipelineOptions& opts) {
  auto listed = [](const std::vector<std::string>& v, const char* name) {
    return std::find(v.begin(), v.end(), name) != v.end();
  };
  g.topo_sort();
  ir::verify(g);
  for (const PassInfo& p : pipeline()) {
    if (listed(opts.disabled, p.name)) {
      if (opts.log) opts.log->push_back(std::string("pass ") + p.name + ": disabled");
      continue;
    }
    int steps = 0;
    while (steps < opts.max_steps && (p.run ? p.run(g) : p.run_with_options(g, opts))) {
      ++steps;
      g.compact();
      g.topo_sort();
      try {
        ir::verify(g);
      } catch (const Error& e) {
        throw Error(std::string("internal error: pass '") + p.name + "' left an invalid graph: " + e.what() +
                    " (rerun with --disable-pass=" + p.name + " to work around it, and please report it)");
      }
    }
    if (opts.log)
      opts.log->push_back(std::string("pass ") + p.name + ": " + std::to_string(steps) + " rewrite round(s), " +
                          std::to_string(g.nodes().size()) + " nodes");
    if (listed(opts.dump_after, p.name) && opts.log) opts.log->push_back(ir::dump(g));
  }
}

bool apply_rules(ir::Graph& g, const std::vector<PatternRule>& rules) {
  bool changed = false;
  auto uses = g.uses();
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    ir::Node& n = *g.nodes()[i];
    if (!n.op) continue;
    for (const PatternRule& r : rules) {
      if (std::find(r.types.begin(), r.types.end(), n.type()) == r.types.end()) continue;
      if (r.apply(g, n, uses)) {
        changed = true;
        uses = g.uses();
        if (!n.op) break;
      }
    }
  }
  return changed;
}

ir::Node* sole_user(const ir::Graph& g, const ir::Value* v, const Uses& uses) {
  if (g.is_graph_output(v)) return nullptr;
  auto it = uses.find(v);
  if (it == uses.end() || it->second.size() != 1) return nullptr;
  ir::Node* u = it->second[0];
  return u->op ? u : nullptr;
}

std::string literal_pattern(const std::string& name) {
  std::string p;
  for (char c : name) {
    if (c == '*' || c == '?' || c == '[' || c == '\\') p += '\\';
    p += c;
  }
  return p;
}

bool heavy_layer(std::string_view t) { return t == "Conv" || t == "ConvTranspose" || t == "MatMul" || t == "Gemm"; }

bool layer_matches(const std::string& pattern, const ir::Node& n) {
  auto glob = [&](const std::string& s) { return fnmatch(pattern.c_str(), s.c_str(), 0) == 0; };
  if (glob(n.name)) return true;
  for (const ir::Value* v : n.outputs)
    if (glob(v->name)) return true;
  for (const std::string& f : n.fused)
    if (glob(f)) return true;
  return false;
}

std::optional<double> scalar_constant(const ir::Value* v) {
  if (!v || !v->is_constant() || shape_elements(v->type.shape) != 1) return std::nullopt;
  if (v->type.dtype != DType::Float32 && v->type.dtype != DType::Float64) return std::nullopt;
  return element_as_double(v->view(), 0);
}

}  // namespace kiln::passes
