// assign-int8-dynamic (--int8Dynamic): MatMul and Gemm layers with constant 2-D weights that are
// still float after assign-int8 compute in int8 with their activation quantized at run time over
// its own range (oplib/kernels/math/gemm_dynamic.cpp): per row (token) by default, or per tensor
// with --int8DynamicScales=tensor, the way ONNX Runtime's quantize_dynamic runs transformers. Per
// row is the default because it is also the fast form on AMX (s8 without a zero point, which
// oneDNN 2.6's AMX matmul takes; u8 with a run-time zero point runs on its VNNI gemm). Weights
// become symmetric s8 per output column here. No
// calibration is needed and no activation can fall outside its range, which suits the outliers of
// transformer activations; the price is a min/max and a quantizing pass over each source per run.
// Convs are left alone: their int8 path wants static scales so int8 tensors can flow between them.
// A layer pinned to a float precision (--layerPrecisions) stays float, and so does one no fast
// kernel takes on this CPU.
#include "kernels/kernel.h"
#include "ops/math/gemm.h"
#include "passes/pass.h"
#include "tune/select.h"

namespace kiln::passes {

namespace {

using ir::Node;
using ir::Value;

// The weights' output-column axis, or -1 when the layer is not one the dynamic kernel runs.
int column_axis(const Node& n) {
  const Value* a = n.input(0);
  const Value* w = n.input(1);
  if (!a || !w || a->is_constant() || a->type.dtype != DType::Float32 || !a->layout.empty() || !w->is_constant() ||
      w->type.dtype != DType::Float32 || w->type.shape.size() != 2)
    return -1;
  if (auto* m = n.as<ops::MatMul>()) return m->perm_a.empty() && m->perm_b.empty() && m->perm_y.empty() ? 1 : -1;
  if (auto* g = n.as<ops::Gemm>()) return g->transA ? -1 : g->transB ? 0 : 1;
  return -1;
}

// Whether --layerPrecisions pins n to a float precision (patterns match the layer's name, its
// outputs' names or a fused node's name; the first matching pattern wins).
bool pinned_float(const PrecisionOptions& p, const Node& n) {
  if (p.constraints == "none" || p.layer_precisions.empty()) return false;
  for (auto& [pat, prec] : p.layer_precisions)
    if (layer_matches(pat, n)) return prec != "int8";
  return false;
}

// The form the dynamic kernel computes is part of the op, so the tuner, the timing cache and the
// plan all see it.
void set_dynamic_rows(Node& n, bool rows) {
  if (auto* m = n.as<ops::MatMul>()) m->dynamic_rows = rows;
  if (auto* g = n.as<ops::Gemm>()) g->dynamic_rows = rows;
}

}  // namespace

bool assign_int8_dynamic(ir::Graph& g, const PipelineOptions& opts) {
  if (!opts.precision || !opts.precision->int8_dynamic) return false;
  const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  auto& reg = KernelRegistry::instance();
  size_t done = 0, matmul = 0, gemm = 0;
  const bool rows = opts.precision->int8_dynamic_scales != "tensor";
  for (auto& np : g.nodes()) {
    Node* n = np.get();
    if (!n->op || n->precision != DType::Undefined) continue;
    const int axis = column_axis(*n);
    if (axis < 0 || pinned_float(*opts.precision, *n)) continue;
    set_dynamic_rows(*n, rows);
    auto [levels, q] = quantize_weights_s8(*n->inputs[1], axis);
    KernelSpec spec = tune::spec_of(*n, eng);
    spec.in[1].dtype = DType::QInt8;
    spec.in[1].const_data = levels.data();
    spec.in[1].quant = q;
    std::unique_ptr<Kernel> k;
    try {
      k = reg.create(std::string(n->type()), "onednn_dynamic_int8", spec);
    } catch (const std::exception&) {
    }
    if (!k) {
      set_dynamic_rows(*n, false);
      continue;
    }
    Value* w = g.add_constant(g.unique_name(n->inputs[1]->name + "/int8"),
                              TensorView{DType::QInt8, n->inputs[1]->type.shape, levels.data()});
    w->quant = std::move(q);
    n->inputs[1] = w;
    n->precision = rows ? DType::QInt8 : DType::QUInt8;  // the source, quantized per run
    ++done;
    (n->type() == "MatMul" ? matmul : gemm) += 1;
  }
  if (done && opts.precision_summary)
    opts.precision_summary->push_back(std::to_string(done) + " layer(s) compute in int8 with run-time activation " +
                                      "scales (MatMul " + std::to_string(matmul) + ", Gemm " + std::to_string(gemm) +
                                      "; --int8Dynamic: weights s8 per output column, each source quantized per "
                                      "run over its own range, " +
                                      (rows ? "per row, symmetric)" : "per tensor, with a zero point)"));
  return done > 0;
}

}  // namespace kiln::passes
