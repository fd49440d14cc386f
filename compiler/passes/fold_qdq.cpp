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
//
// QOperator models (QLinearConv / QLinearMatMul, quantize_static's QuantFormat.QOperator) say the
// same thing with integer ops. Between two quantized tensors such an op is first rewritten into
// its QDQ meaning, DequantizeLinear -> Conv/MatMul on the dequantized weights -> QuantizeLinear
// (exact: the float conv of dequantized values plus the dequantized int32 bias is the op's
// accumulator), and integer MaxPool / reshapes between them likewise (they commute with a
// per-tensor dequantization); the pairs then fold as above, so both formats reach the same int8
// regions. Run op by op, each QLinearConv would reorder NCHW to oneDNN's layout and back. A
// QLinear op reading a graph input or writing a graph output stays on its exact kernel: that is
// a model testing the op alone (the ONNX conformance cases), not a network.
#include <algorithm>
#include <cmath>
#include <optional>

#include "ops/nn/conv.h"
#include "ops/math/eltwise.h"
#include "ops/math/gemm.h"
#include "ops/quantization/quant.h"
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

// The per-tensor parameters at inputs k (scale) and k + 1 (optional zero point) of a node whose
// integer side has type `t`, or nullopt when they are per axis, not constant, or not a usable
// scale. QuantizeLinear / DequantizeLinear have them at 1; QLinear ops at each operand's slots.
std::optional<PerTensor> per_tensor_params(const Node& n, size_t k, DType t) {
  if (t != DType::UInt8 && t != DType::Int8) return std::nullopt;
  const Value* s = n.input(k);
  if (!s || !s->is_constant() || s->type.dtype != DType::Float32 || shape_elements(s->type.shape) != 1)
    return std::nullopt;
  PerTensor p{t, *static_cast<const float*>(s->constant->data()), 0};
  if (!(p.scale > 0) || !std::isfinite(p.scale)) return std::nullopt;
  if (const Value* z = n.input(k + 1)) {
    auto zp = int_scalar(z);
    if (!zp || z->type.dtype != t) return std::nullopt;
    p.zero_point = *zp;
  }
  return p;
}

std::optional<PerTensor> per_tensor(const Node& n, DType t) { return per_tensor_params(n, 1, t); }

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

// ---- QOperator -> QDQ ----

// Symmetric int8 weights (zero point 0 or absent) with float scales, one or one per slice along
// `axis` (negative counts from the end): the model's weight quantization as kiln's int8 kernels
// take it, or nullopt.
std::optional<ops::QuantParams> int8_weight_quant(const Value* w, const Value* s, const Value* z, int64_t axis) {
  if (!w || !w->is_constant() || w->type.dtype != DType::Int8 || !s || !s->is_constant() ||
      s->type.dtype != DType::Float32)
    return std::nullopt;
  const int64_t n = shape_elements(s->type.shape), rank = static_cast<int64_t>(w->type.shape.size());
  if (n < 1) return std::nullopt;
  ops::QuantParams q;
  if (n != 1) {
    if (axis < 0) axis += rank;
    if (s->type.shape.size() != 1 || axis < 0 || axis >= rank || w->type.shape[static_cast<size_t>(axis)] != n)
      return std::nullopt;
    q.axis = static_cast<int>(axis);
  }
  if (z) {
    if (!z->is_constant() || z->type.dtype != DType::Int8 || shape_elements(z->type.shape) != n) return std::nullopt;
    const auto* zp = static_cast<const int8_t*>(z->constant->data());
    if (std::any_of(zp, zp + n, [](int8_t v) { return v != 0; })) return std::nullopt;
  }
  const auto* sc = static_cast<const float*>(s->constant->data());
  for (int64_t k = 0; k < n; ++k) {
    if (!(sc[k] > 0) || !std::isfinite(sc[k])) return std::nullopt;
    q.scale.push_back(sc[k]);
  }
  return q;
}

// The float weights w * scale, carrying the model's quantization for assign-int8.
Value* dequantized_weights(ir::Graph& g, const Value& w, const ops::QuantParams& q, const std::string& name) {
  Value* f = g.add_constant(g.unique_name(name), DType::Float32, w.type.shape);
  const auto* src = static_cast<const int8_t*>(w.constant->data());
  auto* dst = static_cast<float*>(f->constant->data());
  const int64_t total = shape_elements(w.type.shape);
  // Elements per step of the scale's axis, and that axis' size: element i has channel (i / inner) % dim.
  int64_t inner = 1, dim = 1;
  if (q.axis >= 0) {
    dim = w.type.shape[static_cast<size_t>(q.axis)];
    for (size_t d = static_cast<size_t>(q.axis) + 1; d < w.type.shape.size(); ++d) inner *= w.type.shape[d];
  }
  for (int64_t i = 0; i < total; ++i) dst[i] = static_cast<float>(src[i]) * q.at(static_cast<size_t>((i / inner) % dim));
  f->model_qtype = DType::Int8;
  f->model_quant = q;
  return f;
}

// A new DequantizeLinear of x with the given scale and zero point values; returns its output.
Value* dequantize(ir::Graph& g, Value* x, Value* scale, Value* zp, const std::string& name) {
  std::vector<Value*> in{x, scale};
  if (zp) in.push_back(zp);
  Node* d = g.add_node(g.unique_name(name + "/dequantize"), std::make_unique<ops::DequantizeLinear>(), in, 1);
  g.infer(d);
  return d->outputs[0];
}

// Replaces node n by `op` on `inputs` followed by QuantizeLinear(scale, zp) writing n's output.
void requantize_into(ir::Graph& g, Node& n, std::unique_ptr<ops::Op> op, std::vector<Value*> inputs, Value* scale,
                     Value* zp) {
  Value* y = n.outputs[0];
  const std::string name = n.name;
  g.remove_node(&n);
  Node* f = g.add_node(g.unique_name(name + "/float"), std::move(op), std::move(inputs), 1);
  g.infer(f);
  std::vector<Value*> qin{f->outputs[0], scale};
  if (zp) qin.push_back(zp);
  g.infer(g.add_node(g.unique_name(name + "/quantize"), std::make_unique<ops::QuantizeLinear>(), qin, {y}));
}

// Whether n's integer input x and integer output sit inside a quantized network (see the file comment).
bool between_quantized(const ir::Graph& g, const Node& n) {
  const Value* x = n.input(0);
  return x && x->producer && n.outputs.size() == 1 && !g.is_graph_output(n.outputs[0]);
}

bool lower_qlinear_conv(ir::Graph& g, Node& n) {
  const auto* op = n.as<ops::QLinearConv>();
  Value* x = n.input(0);
  if (!op || !between_quantized(g, n) || !per_tensor_params(n, 1, x->type.dtype) ||
      !per_tensor_params(n, 6, n.outputs[0]->type.dtype))
    return false;
  const Value* w = n.input(3);
  const auto wq = int8_weight_quant(w, n.input(4), n.input(5), 0);
  const Value* b = n.input(8);
  if (!wq || (b && (!b->is_constant() || b->type.dtype != DType::Int32))) return false;
  const float xs = *static_cast<const float*>(n.input(1)->constant->data());
  Value* wf = dequantized_weights(g, *w, *wq, n.name + "/weight");
  std::vector<Value*> in{dequantize(g, x, n.input(1), n.input(2), n.name), wf};
  if (b) {  // the int32 bias is in accumulator units: x_scale * w_scale[m]
    const int64_t m = shape_elements(b->type.shape);
    Value* bf = g.add_constant(g.unique_name(n.name + "/bias"), DType::Float32, b->type.shape);
    const auto* src = static_cast<const int32_t*>(b->constant->data());
    auto* dst = static_cast<float*>(bf->constant->data());
    for (int64_t k = 0; k < m; ++k)
      dst[k] = static_cast<float>(static_cast<double>(src[k]) * xs * wq->at(static_cast<size_t>(k)));
    in.push_back(bf);
  }
  auto conv = std::make_unique<ops::Conv>();
  conv->strides = op->strides;
  conv->dilations = op->dilations;
  conv->pads = op->pads;
  conv->group = op->group;
  requantize_into(g, n, std::move(conv), std::move(in), n.input(6), n.input(7));
  return true;
}

bool lower_qlinear_matmul(ir::Graph& g, Node& n) {
  Value* a = n.input(0);
  if (!between_quantized(g, n) || !per_tensor_params(n, 1, a->type.dtype) ||
      !per_tensor_params(n, 6, n.outputs[0]->type.dtype))
    return false;
  const Value* b = n.input(3);
  if (!b || b->type.shape.size() != 2) return false;  // constant [K, N] weights, one scale or one per column
  const auto bq = int8_weight_quant(b, n.input(4), n.input(5), 1);
  if (!bq) return false;
  std::vector<Value*> in{dequantize(g, a, n.input(1), n.input(2), n.name),
                         dequantized_weights(g, *b, *bq, n.name + "/weight")};
  requantize_into(g, n, std::make_unique<ops::MatMul>(), std::move(in), n.input(6), n.input(7));
  return true;
}

// An integer MaxPool or reshape of a QuantizeLinear's output: the same op on the dequantized
// tensor, quantized again with the same parameters.
bool lower_integer_passthrough(ir::Graph& g, Node& n) {
  const std::string_view t = n.type();
  if (t != "MaxPool" && t != "Reshape" && t != "Flatten" && t != "Squeeze" && t != "Unsqueeze" && t != "Transpose")
    return false;
  Value* x = n.input(0);
  const Node* q = x ? x->producer : nullptr;
  if (!between_quantized(g, n) || !q || !q->op || q->type() != "QuantizeLinear" ||
      !per_tensor_params(*q, 1, x->type.dtype))
    return false;
  std::vector<Value*> in = n.inputs;
  in[0] = dequantize(g, x, q->inputs[1], q->input(2), n.name);
  requantize_into(g, n, n.op->clone(), std::move(in), q->inputs[1], q->input(2));
  return true;
}

bool lower_qoperator(ir::Graph& g) {
  bool changed = false;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    Node& n = *g.nodes()[i];
    if (!n.op) continue;
    const std::string_view t = n.type();
    if (t == "QLinearConv") changed |= lower_qlinear_conv(g, n);
    else if (t == "QLinearMatMul") changed |= lower_qlinear_matmul(g, n);
    else if (n.outputs.size() == 1 && n.outputs[0]->type.dtype != DType::Float32) changed |= lower_integer_passthrough(g, n);
  }
  return changed;
}

}  // namespace

void note_weight_quant(Node& d) {
  auto* op = d.as<ops::DequantizeLinear>();
  if (!op || d.outputs.size() != 1) return;
  // Only a symmetric (zero point 0) quantization is what kiln's s8 weights are.
  if (auto q = int8_weight_quant(d.input(0), d.input(1), d.input(2), op->axis)) {
    d.outputs[0]->model_qtype = DType::Int8;
    d.outputs[0]->model_quant = std::move(*q);
  }
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
  bool changed = lower_qoperator(g);
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
