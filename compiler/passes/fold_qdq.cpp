// fold-qdq: a quantized ONNX model in QDQ form (QuantizeLinear -> DequantizeLinear pairs around
// float ops, as ONNX Runtime's quantize_static writes it) says which tensors to compute in int8
// and at which scales. This pass takes that information off the graph and onto the tensors
// (ir::Value::model_qtype / model_quant), so that assign-int8 runs those layers on kiln's int8
// kernels at the model's scales instead of running the pairs as float round trips:
// - an activation pair with the same per-tensor scale and zero point on both sides is removed,
//   its readers read the pair's float input, which records the scale;
// - a pair whose range starts at 0 (uint8 with zero point 0) also clips negatives, which is how
//   the quantizer spells a ReLU it removed: that pair becomes a Relu (fused into the producer
//   later) unless its input is already never negative;
// - DequantizeLinear of constant weights or biases becomes a float constant of any size; int8
//   weights with zero point 0 keep their scales, so the int8 kernel uses the model's levels.
// Pairs it cannot fold (different scales on the two sides, per-axis activations, a pair whose
// output is a graph output) stay and run as ONNX defines them.
#include <algorithm>
#include <cmath>
#include <optional>

#include "ops/eltwise.h"
#include "ops/quant_ops.h"
#include "passes/pass.h"

namespace kiln::passes {

namespace {

using ir::Node;
using ir::Value;

// One per-tensor quantization: integer type (UInt8 / Int8), scale and zero point.
struct PerTensor {
  DType dtype = DType::Undefined;
  float scale = 0;
  int32_t zero_point = 0;
  bool operator==(const PerTensor&) const = default;
};

std::optional<int32_t> int_scalar(const Value* v) {
  if (!v || !v->is_constant() || shape_elements(v->type.shape) != 1) return std::nullopt;
  if (v->type.dtype == DType::UInt8) return *static_cast<const uint8_t*>(v->constant->data());
  if (v->type.dtype == DType::Int8) return *static_cast<const int8_t*>(v->constant->data());
  return std::nullopt;
}

// The per-tensor parameters of a QuantizeLinear or DequantizeLinear whose integer side has type
// `t`, or nullopt when they are per axis, not constant, or not a usable scale.
std::optional<PerTensor> per_tensor(const Node& n, DType t) {
  if (t != DType::UInt8 && t != DType::Int8) return std::nullopt;
  const Value* s = n.input(1);
  if (!s || !s->is_constant() || s->type.dtype != DType::Float32 || shape_elements(s->type.shape) != 1)
    return std::nullopt;
  PerTensor p{t, *static_cast<const float*>(s->constant->data()), 0};
  if (!(p.scale > 0) || !std::isfinite(p.scale)) return std::nullopt;
  if (const Value* z = n.input(2)) {
    auto zp = int_scalar(z);
    if (!zp || z->type.dtype != t) return std::nullopt;
    p.zero_point = *zp;
  }
  return p;
}

int32_t qmin(DType t) { return t == DType::UInt8 ? 0 : -128; }

// Whether v is never negative by construction (a ReLU's output, or pooled / reshaped from one).
bool never_negative(const Value* v, int depth = 0) {
  const Node* p = v ? v->producer : nullptr;
  if (!p || !p->op || depth > 16) return false;
  if (auto* u = p->as<ops::Unary>()) return u->act == ops::Act::Relu;
  const std::string_view t = p->type();
  if (t == "MaxPool" || t == "AveragePool" || t == "GlobalAveragePool" || t == "GlobalMaxPool" || t == "Reshape" ||
      t == "Flatten" || t == "Squeeze" || t == "Unsqueeze" || t == "Transpose")
    return p->outputs.size() == 1 && never_negative(p->input(0), depth + 1);
  if (t == "Concat") {
    for (const Value* in : p->inputs)
      if (!never_negative(in, depth + 1)) return false;
    return !p->inputs.empty();
  }
  return false;
}

void note(Value* v, const PerTensor& p) {
  if (v->model_qtype != DType::Undefined) return;  // a second Q of the tensor: the first one speaks
  v->model_qtype = p.dtype;
  v->model_quant = ops::QuantParams{{p.scale}, p.zero_point, -1};
}

// x -> QuantizeLinear -> DequantizeLinear(d) -> readers, same parameters on both sides.
bool fold_pair(ir::Graph& g, Node& d) {
  Value* v = d.input(0);
  Node* q = v ? v->producer : nullptr;
  if (!q || !q->op || q->type() != "QuantizeLinear" || g.is_graph_output(d.outputs[0])) return false;
  Value* x = q->input(0);
  if (!x || x->type.dtype != DType::Float32) return false;
  const auto qp = per_tensor(*q, v->type.dtype), dp = per_tensor(d, v->type.dtype);
  if (!qp || !dp || !(*qp == *dp)) return false;
  Value* y = d.outputs[0];
  if (qp->zero_point == qmin(qp->dtype) && !never_negative(x)) {
    // The pair clips at 0: keep that as a Relu writing the pair's output.
    auto relu = std::make_unique<ops::Unary>();
    relu->act = ops::Act::Relu;
    const std::string name = g.unique_name(d.name + "/relu");
    g.remove_node(&d);
    g.infer(g.add_node(name, std::move(relu), {x}, {y}));
    note(y, *qp);
  } else {
    note(x, *qp);
    g.replace_uses(y, x);
    g.remove_node(&d);
  }
  return true;
}

}  // namespace

void note_weight_quant(Node& d) {
  auto* op = d.as<ops::DequantizeLinear>();
  const Value* w = d.input(0);
  const Value* s = d.input(1);
  const Value* z = d.input(2);
  if (!op || d.outputs.size() != 1 || !w || !w->is_constant() || w->type.dtype != DType::Int8 || !s ||
      !s->is_constant() || s->type.dtype != DType::Float32)
    return;
  const int64_t n = shape_elements(s->type.shape);
  // Only a symmetric (zero point 0) quantization is what kiln's s8 weights are.
  if (z) {
    if (!z->is_constant() || z->type.dtype != DType::Int8 || shape_elements(z->type.shape) != n) return;
    const auto* zp = static_cast<const int8_t*>(z->constant->data());
    for (int64_t k = 0; k < n; ++k)
      if (zp[k] != 0) return;
  }
  ops::QuantParams q;
  const auto rank = static_cast<int64_t>(w->type.shape.size());
  if (n > 1) {
    const int64_t axis = op->axis < 0 ? op->axis + rank : op->axis;
    if (s->type.shape.size() != 1 || axis < 0 || axis >= rank || w->type.shape[static_cast<size_t>(axis)] != n) return;
    q.axis = static_cast<int>(axis);
  } else if (n != 1) {
    return;
  }
  const auto* sc = static_cast<const float*>(s->constant->data());
  for (int64_t k = 0; k < n; ++k) {
    if (!(sc[k] > 0) || !std::isfinite(sc[k])) return;
    q.scale.push_back(sc[k]);
  }
  d.outputs[0]->model_qtype = DType::Int8;
  d.outputs[0]->model_quant = std::move(q);
}

SymmetricQuant symmetric_model_quant(const Value& v) {
  const bool u = v.model_qtype == DType::UInt8;
  const float s = v.model_quant.scale.at(0);
  const int32_t zp = v.model_quant.zero_point;
  if (zp == 0) return {u ? DType::QUInt8 : DType::QInt8, s, true};
  if (!u && zp == -128) return {DType::QUInt8, s, true};  // int8 over [0, 255 s]: uint8's levels
  const float lo = static_cast<float>((u ? 0 : -128) - zp) * s, hi = static_cast<float>((u ? 255 : 127) - zp) * s;
  if (lo >= 0) return {DType::QUInt8, hi / 255.f, false};
  return {DType::QInt8, std::max(-lo, hi) / 127.f, false};
}

const Value* model_quant_source(const Value* v) {
  for (int hops = 0; v && hops < 6; ++hops) {
    if (v->model_qtype != DType::Undefined && !v->model_quant.empty()) return v;
    const Node* p = v->producer;
    if (!p || !p->op || p->inputs.empty()) return nullptr;
    const std::string_view t = p->type();
    if (t != "Reorder" && t != "Reshape" && t != "Flatten" && t != "Squeeze" && t != "Unsqueeze") return nullptr;
    v = p->inputs[0];
  }
  return nullptr;
}

bool has_model_quant(const ir::Graph& g) {
  for (auto& v : g.values())
    if (v->model_qtype != DType::Undefined && !v->is_constant()) return true;
  return false;
}

bool fold_qdq(ir::Graph& g) {
  bool changed = false;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    Node* d = g.nodes()[i].get();
    if (!d->op || d->type() != "DequantizeLinear" || !d->input(0)) continue;
    if (d->input(0)->is_constant()) {
      note_weight_quant(*d);
      changed |= fold_node(g, *d, /*any_size=*/true);
    } else {
      changed |= fold_pair(g, *d);
    }
  }
  return changed;
}

}  // namespace kiln::passes
