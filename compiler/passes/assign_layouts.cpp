// Layout assignment: 4-D float tensors flowing between layers whose kernels accept oneDNN's
// blocked format (nChw16c on AVX-512, nChw8c otherwise) stay blocked; Reorder nodes are placed
// only where a blocked region meets a consumer that needs row-major data, and before graph
// outputs. What "accepts" means is asked of the kernel registry itself, so a layer is only ever
// given a layout that a real kernel runs.
#include <unordered_map>

#include "ops/tensor/reorder.h"
#include "passes/pass.h"
#include "tune/select.h"

namespace kiln::passes {

namespace {

// The layout of conv regions. oneDNN's AMX convolutions (brgconv) read and write channels-last
// (nhwc): on ResNet-50 bf16 at 2 threads, 8.8 ms in nhwc against 79 ms in nChw16c, where oneDNN
// falls back to its AVX-512 bf16 kernels (docs/performance.md). Elsewhere the blocked format is
// the fast one.
std::string region_tag(const ir::Graph& g, const PipelineOptions& o) {
  if (!o.activation_layout.empty() && o.activation_layout != "auto")
    return o.activation_layout == "blocked" ? "" : o.activation_layout;
  dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  const bool bf16 = o.precision && (o.precision->bf16 || o.precision->best);
  if (isa == dnnl::cpu_isa::avx512_core_amx && bf16) return "nhwc";
  // oneDNN's int8 convolutions (VNNI and AMX brgconv) read and write channels-last; a QDQ model's
  // layers compute in int8 without --int8.
  if ((o.precision && o.precision->int8) || has_model_quant(g)) return "nhwc";
  return "";
}

std::string blocked_tag() {
  dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  bool avx512 = isa == dnnl::cpu_isa::avx512_core || isa == dnnl::cpu_isa::avx512_core_vnni ||
                isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
  return avx512 ? "nChw16c" : "nChw8c";
}

bool blockable(const ir::Value* v) {
  return v && !v->is_constant() && v->type.dtype == DType::Float32 && v->type.shape.size() == 4;
}

class LayoutAssigner {
 public:
  LayoutAssigner(ir::Graph& g, std::string tag) : g_(g), tag_(tag.empty() ? blocked_tag() : std::move(tag)) {}

  bool run() {
    std::vector<ir::Node*> order;
    for (auto& n : g_.nodes()) order.push_back(n.get());
    for (ir::Node* n : order) place(*n);
    for (auto& io : g_.outputs)
      if (!io.value->layout.empty()) io.value = plain_of(io.value, true);
    return changed_;
  }

 private:
  void place(ir::Node& n) {
    bool any_blocked_in = false;
    for (ir::Value* v : n.inputs) any_blocked_in |= v && !v->layout.empty();
    bool conv = n.type() == "Conv" || n.type() == "ConvTranspose";
    if (n.outputs.size() == 1 && blockable(n.outputs[0]) && (conv || any_blocked_in)) {
      // 1) inputs as they are, output blocked.
      n.outputs[0]->layout = tag_;
      if (!tune::first_fast_impl(n, eng_).empty()) return mark();
      // 2) every 4-D activation input blocked too (e.g. a residual operand still row-major).
      std::vector<ir::Value*> saved = n.inputs;
      bool converted = false;
      for (ir::Value*& v : n.inputs)
        if (blockable(v) && v->layout.empty() && !g_.is_graph_input(v)) {
          v = blocked_of(v);
          converted = true;
        }
      if (converted && !tune::first_fast_impl(n, eng_).empty()) return mark();
      n.inputs = saved;
      n.outputs[0]->layout.clear();
    }
    // Multi-output nodes (a channel Split after fuse-sibling-convs) stay blocked as a whole.
    bool all_blockable = n.outputs.size() > 1 && any_blocked_in;
    for (ir::Value* v : n.outputs) all_blockable = all_blockable && blockable(v);
    if (all_blockable) {
      for (ir::Value* v : n.outputs) v->layout = tag_;
      if (!tune::first_fast_impl(n, eng_).empty()) return mark();
      for (ir::Value* v : n.outputs) v->layout.clear();
    }
    // 3) row-major everywhere around this node.
    if (!any_blocked_in) return;
    for (ir::Value*& v : n.inputs)
      if (v && !v->layout.empty()) v = plain_of(v, false);
    changed_ = true;
  }

  void mark() { changed_ = true; }

  // The row-major copy of a blocked value, made once and shared by all its row-major readers.
  ir::Value* plain_of(ir::Value* v, bool for_output) {
    auto it = plain_.find(v);
    if (it != plain_.end()) return it->second;
    ir::Value* p = g_.add_value(g_.unique_name(v->name + (for_output ? "" : "/plain")), v->type);
    if (for_output) {
      // The graph output keeps its tensor name on the row-major copy.
      std::swap(p->name, v->name);
      v->name = g_.unique_name(p->name + "/" + tag_);
    }
    g_.add_node(g_.unique_name(p->name + "/reorder"), std::make_unique<ops::Reorder>(), {v}, {p});
    plain_.emplace(v, p);
    changed_ = true;
    return p;
  }

  ir::Value* blocked_of(ir::Value* v) {
    auto it = blocked_.find(v);
    if (it != blocked_.end()) return it->second;
    ir::Value* b = g_.add_value(g_.unique_name(v->name + "/" + tag_), v->type);
    b->layout = tag_;
    g_.add_node(g_.unique_name(b->name + "/reorder"), std::make_unique<ops::Reorder>(), {v}, {b});
    blocked_.emplace(v, b);
    return b;
  }

  ir::Graph& g_;
  std::string tag_;
  dnnl::engine eng_{dnnl::engine::kind::cpu, 0};
  std::unordered_map<const ir::Value*, ir::Value*> plain_, blocked_;
  bool changed_ = false;
};

}  // namespace

bool assign_layouts(ir::Graph& g, const PipelineOptions& o) {
  if (o.activation_layout == "plain") return false;
  for (auto& v : g.values())
    if (!v->layout.empty()) return false;  // layouts are assigned once, after all fusion
  return LayoutAssigner(g, region_tag(g, o)).run();
}

bool assign_layouts(ir::Graph& g) { return assign_layouts(g, PipelineOptions{}); }

}  // namespace kiln::passes
