// int8 assignment (--int8, or a QDQ model): decides which Conv, MatMul and Gemm layers compute in
// int8, from the calibrated range of their input (quant/calibrator.h) or the scale the model gave
// it (fold-qdq), the layer pins (--layerPrecisions NAME:int8|fp32|bf16) and what this CPU's
// kernels take; then quantizes their weights (symmetric s8, one scale per output channel, the
// model's where it gave them) and types the tensors between int8 layers as quantized reals
// (QUInt8 for tensors never negative, such as ReLU outputs; else QInt8; symmetric, zero point 0).
// Layers whose input the model quantized compute in int8 whenever a kernel takes them.
//
// A layer's output is stored quantized only when every reader takes it so: another int8 layer's
// source, an int8 conv's residual (Sum) operand, a max pooling whose own readers do (pooling
// then runs in int8 with the same scale), or a global average pool (it averages the integers). Otherwise the int8 layer writes float itself (its
// output scales make the accumulator real), so requantisation never costs a separate pass.
// Float sources get one quantizing Reorder per tensor, shared by its int8 readers, laid out as
// the reader wants (the layout change and the quantization are one pass over memory), except a
// LayerNorm's output: the LayerNorm writes the quantized copy itself, beside the float Y that
// other readers (a residual Add) still take.
//
// Runs after assign-layouts and before assign-precision, which then places bf16 around the int8
// layers (--int8 --bf16) and treats the int8 layers' precision as fixed.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "kernels/kernel.h"
#include "ops/nn/conv.h"
#include "ops/nn/layernorm.h"
#include "ops/math/gemm.h"
#include "ops/tensor/reorder.h"
#include "passes/pass.h"
#include "quant/calibrator.h"
#include "tune/select.h"
#include "tune/timer.h"

namespace kiln::passes {

namespace {

using ir::Node;
using ir::Value;

struct Use {
  Node* node;
  size_t slot;
};

// A quantized type and its parameters.
struct QType {
  DType dtype = DType::Undefined;
  ops::QuantParams quant;
};

// The symmetric quantization of a tensor with this calibrated range: uint8 when it is never
// negative (all 256 levels on [0, T]), else int8 on [-T, T].
QType activation_qtype(const quant::TensorRange& r) {
  QType q;
  const bool u = r.min >= 0.f;
  q.dtype = u ? DType::QUInt8 : DType::QInt8;
  const float t = r.threshold > 0.f && std::isfinite(r.threshold) ? r.threshold : 1.f;
  q.quant.scale = {t / (u ? 255.f : 127.f)};
  return q;
}

// A model-given quantization (QDQ) as the QType kiln's int8 kernels take.
QType model_type(const Value& v) {
  const SymmetricQuant m = symmetric_model_quant(v);
  QType q;
  q.dtype = m.dtype;
  q.quant.scale = {m.scale};
  return q;
}

const Value* described(const Value* v) { return model_quant_source(v); }

// A MatMul of two activations (attention's Q.K^T and P.V after fuse-attention): int8 with one
// scale per operand, B signed (oneDNN's int8 matmul takes s8 weights); no bias, static shapes.
bool activation_matmul(const Node& n) {
  if (!n.as<ops::MatMul>() || n.inputs.size() < 2 || n.outputs.size() != 1) return false;
  const Value *a = n.inputs[0], *b = n.inputs[1];
  if (!a || !b || a->is_constant() || b->is_constant() || (n.inputs.size() > 2 && n.inputs[2])) return false;
  return a->type.dtype == DType::Float32 && b->type.dtype == DType::Float32 && shape_static(a->type.shape) &&
         shape_static(b->type.shape) && shape_static(n.outputs[0]->type.shape);
}

bool int8_op(const Node& n) {
  if (activation_matmul(n)) return true;
  const std::string_view t = n.type();
  if (t != "Conv" && t != "MatMul" && t != "Gemm") return false;
  if (n.inputs.size() < 2 || !n.inputs[0] || !n.inputs[1] || !n.inputs[1]->is_constant()) return false;
  if (n.inputs[1]->type.dtype != DType::Float32 || n.inputs[0]->type.dtype != DType::Float32) return false;
  if (n.outputs.size() != 1 || !shape_static(n.inputs[0]->type.shape)) return false;
  if (auto* g = n.as<ops::Gemm>()) return !g->transA;
  if (auto* m = n.as<ops::MatMul>()) return m->perm_b.empty() && n.inputs[1]->type.shape.size() == 2;
  return true;
}

// The weights' output-channel axis: Conv [M, C/g, k...] 0; MatMul [K, N] 1; Gemm [K, N] 1 or,
// transposed, [N, K] 0.
int weight_axis(const Node& n) {
  if (n.type() == "Conv") return 0;
  if (auto* g = n.as<ops::Gemm>()) return g->transB ? 0 : 1;
  return 1;
}

class Int8Assigner {
 public:
  Int8Assigner(ir::Graph& g, const PipelineOptions& o, const quant::CalibTable* calib)
      : g_(g), o_(o), calib_(calib) {}

  bool run() {
    resolve_pins();
    for (auto& n : g_.nodes())
      for (size_t i = 0; i < n->inputs.size(); ++i)
        if (n->inputs[i]) readers_[n->inputs[i]].push_back({n.get(), i});
    for (auto& up : g_.nodes()) {
      Node* n = up.get();
      auto pin = pins_.find(n);
      const bool pinned_int8 = pin != pins_.end() && pin->second == "int8";
      if (pin != pins_.end() && !pinned_int8) continue;  // pinned to a float precision
      if (!int8_op(*n) || !range(n->inputs[0]) || (activation_matmul(*n) && !range(n->inputs[1]))) {
        if (pinned_int8) refuse(*n, "it is not a Conv, MatMul or Gemm with constant weights and a calibrated input");
        else if ((n->type() == "Conv" || n->type() == "MatMul" || n->type() == "Gemm") && described(n->input(0)))
          warn("QDQ model: " + ir::node_label(*n) + " has a quantized input but stays in float: kiln's int8 "
               "layers need constant weights (2-D for MatMul), a non-transposed source and static shapes");
        continue;
      }
      cand_.insert(n);
      if (activation_matmul(*n)) act_.insert(n);
    }
    // Decide, check with the kernels, and decide again without the layers they refuse (or, at
    // --builderOptimizationLevel >= 1, that run slower in int8 than in float here).
    for (size_t round = 0; round <= cand_.size(); ++round) {
      decide();
      std::vector<Node*> refused = check();
      if (refused.empty() && o_.builder_level >= 1) refused = slower();
      if (refused.empty()) break;
      for (Node* n : refused) {
        cand_.erase(n);
        if (pins_.count(n) && !slow_.count(n)) refuse(*n, "no int8 kernel of this CPU takes it");
        else if (model_layer(n) && !slow_.count(n))
          warn("QDQ model: " + ir::node_label(*n) + " has a quantized input but no int8 kernel of this CPU takes "
               "it; it computes in float");
      }
    }
    if (cand_.empty()) {
      summary("0 layers compute in int8: no Conv/MatMul/Gemm layer with constant weights and a calibrated input "
              "has an int8 kernel here");
      return false;
    }
    apply();
    return true;
  }

 private:
  void warn(const std::string& w) {
    if (o_.warnings) o_.warnings->push_back(w);
  }
  void summary(const std::string& s) {
    if (o_.precision_summary) o_.precision_summary->push_back(s);
  }

  void resolve_pins() {
    if (!o_.precision) return;
    const PrecisionOptions& p = *o_.precision;
    const std::string c = !p.constraints.empty() ? p.constraints : p.layer_precisions.empty() ? "none" : "prefer";
    obey_ = c == "obey";
    if (c == "none") return;
    for (auto& [pat, prec] : p.layer_precisions) {
      bool any = false;
      for (auto& n : g_.nodes()) {
        if (!layer_matches(pat, *n)) continue;
        any = true;
        pins_.try_emplace(n.get(), prec);
      }
      if (!any && prec == "int8")
        throw OptionError("--layerPrecisions: '" + pat + "' names no layer of this model (after fusion; `kiln "
                          "inspect` on a plan, or `kiln compile -v`, lists the layer names)");
    }
  }

  void refuse(const Node& n, const std::string& why) {
    const std::string msg = "--layerPrecisions: " + ir::node_label(n) + " cannot run in int8: " + why;
    if (obey_) throw Error(msg + "; --precisionConstraints=obey makes that an error (use prefer to fall back)");
    warn(msg + "; it stays in float");
  }

  // v's quantized type: the model's (QDQ), else from its calibrated range, by its name or through
  // the layout and type Reorders between it and a calibrated tensor (the calibration graph has no
  // layout reorders).
  std::optional<QType> range(const Value* v) const {
    if (const Value* m = described(v)) return model_type(*m);
    for (int hops = 0; calib_ && v && hops < 4; ++hops) {
      auto it = calib_->ranges.find(v->name);
      if (it != calib_->ranges.end()) return activation_qtype(it->second);
      if (!v->producer || v->producer->type() != "Reorder") return std::nullopt;
      v = v->producer->inputs[0];
    }
    return std::nullopt;
  }

  // A layer whose input the model quantized: int8 wherever a kernel takes it, as in ONNX Runtime.
  static bool model_layer(const Node* n) { return described(n->input(0)) != nullptr; }

  // Whether every reader of v takes it quantized (v then holds q); pooling readers pass q on.
  bool readers_take_quantized(const Value* v, int depth = 0) const {
    if (g_.is_graph_output(v) || depth > 8) return false;
    auto it = readers_.find(v);
    if (it == readers_.end()) return false;
    for (const Use& u : it->second) {
      if (cand_.count(u.node)) {
        if (u.slot == 0 || (u.slot == 1 && is_act(u.node))) continue;
        // A conv adds its residual operand through oneDNN's sum post-op, which reads any 8-bit
        // type with its own scale, provided the conv's own output is 8-bit.
        if (u.slot >= 3 && u.node->type() == "Conv" && out_.count(u.node->outputs[0])) continue;
        return false;
      }
      if (transparent(*u.node) && readers_take_quantized(u.node->outputs[0], depth + 1)) continue;
      if (u.slot == 0 && pool_reads_quantized(*u.node)) continue;
      return false;
    }
    return true;
  }

  // A global average pool that averages the integers itself and writes float
  // (kernels/nn/pool_quant.cpp): a CNN's last block then writes int8 like the others.
  bool pool_reads_quantized(const Node& n) const {
    if (n.type() != "GlobalAveragePool" || n.inputs.size() != 1 || n.outputs.size() != 1) return false;
    KernelSpec spec = tune::spec_of(n, eng_);
    spec.in[0].dtype = DType::QUInt8;
    spec.in[0].quant.scale = {1.f};
    return KernelRegistry::instance().create("GlobalAveragePool", "inhouse", spec) != nullptr;
  }

  // Layers that run on a quantized tensor's integers with its scale unchanged: max pooling, and
  // the reshaping views between attention's projections and its int8 matmuls (head split and
  // merge), which copy bytes or nothing.
  static bool transparent(const Node& n) {
    const std::string_view t = n.type();
    if (n.outputs.size() != 1 || n.inputs.empty() || !n.inputs[0]) return false;
    if (t == "MaxPool") return n.inputs.size() == 1;
    return (t == "Reshape" || t == "Flatten" || t == "Squeeze" || t == "Unsqueeze") &&
           n.inputs[0]->layout.empty() && n.outputs[0]->layout.empty();
  }

  // Whether an int8 matmul reads v (through views) as its B, which must then be signed.
  bool read_as_b(const Value* v, int depth = 0) const {
    auto it = readers_.find(v);
    if (it == readers_.end() || depth > 8) return false;
    for (const Use& u : it->second) {
      if (cand_.count(u.node) && u.slot == 1 && is_act(u.node)) return true;
      if (!cand_.count(u.node) && transparent(*u.node) && read_as_b(u.node->outputs[0], depth + 1)) return true;
    }
    return false;
  }

  bool is_act(const Node* n) const { return act_.count(n) != 0; }

  // The signed type over the same range: B of an int8 matmul is s8 even when never negative.
  static QType signed_qtype(QType q) {
    if (q.dtype == DType::QUInt8) {
      q.dtype = DType::QInt8;
      q.quant.scale = {q.quant.scale[0] * 255.f / 127.f};
    }
    return q;
  }

  // Softmax layers that write their probabilities quantized when an int8 matmul reads them (P.V):
  // oneDNN's softmax takes an output scale. Their range is [0, max seen], never clipped below the
  // largest probability (one token attending alone carries the most information).
  static bool quantizing_softmax(const Node& n) {
    return n.type() == "Softmax" && n.inputs.size() == 1 && n.outputs.size() == 1 && n.inputs[0] &&
           n.inputs[0]->type.dtype == DType::Float32 && n.inputs[0]->layout.empty() &&
           shape_static(n.inputs[0]->type.shape);
  }
  std::optional<QType> probability_qtype(const Value* v) const {
    if (const Value* m = described(v)) return model_type(*m);
    if (!calib_) return std::nullopt;
    auto it = calib_->ranges.find(v->name);
    if (it == calib_->ranges.end()) return std::nullopt;
    quant::TensorRange r = it->second;
    r.min = 0.f;
    // Under a profile shorter sequences than opt's give larger probabilities: cover them all.
    r.threshold = g_.shapes_vary ? 1.f : std::clamp(r.max, 1.f / 255.f, 1.f);
    return activation_qtype(r);
  }

  // Output types, from the last layer backwards, so a conv knows whether its residual readers'
  // outputs are 8-bit.
  void decide() {
    out_.clear();
    for (auto it = g_.nodes().rbegin(); it != g_.nodes().rend(); ++it) {
      Node* n = it->get();
      const bool softmax = !cand_.count(n) && quantizing_softmax(*n);
      if (!cand_.count(n) && !softmax) continue;
      Value* y = n->outputs[0];
      const auto r = softmax ? probability_qtype(y) : range(y);
      if (r && readers_take_quantized(y)) out_[y] = read_as_b(y) ? signed_qtype(*r) : *r;
    }
  }

  // The type an int8 layer reads input `slot` in.
  QType input_qtype(const Node& n, size_t slot) const {
    const Value* v = n.inputs[slot];
    auto it = out_.find(v);
    if (it != out_.end()) return it->second;
    if (const Value* src = pooled_source(v)) return out_.at(src);
    return slot == 1 && is_act(&n) ? signed_qtype(*range(v)) : *range(v);
  }

  // For a value written by a pooling layer over a quantized tensor: that tensor.
  const Value* pooled_source(const Value* v) const {
    for (int hops = 0; v && v->producer && transparent(*v->producer) && hops < 8; ++hops) {
      v = v->producer->inputs[0];
      if (out_.count(v)) return v;
    }
    return nullptr;
  }

  const std::vector<int8_t>& weights_of(const Node& n, ops::QuantParams& q) {
    auto it = wq_.find(n.inputs[1]);
    if (it == wq_.end()) it = wq_.emplace(n.inputs[1], quantize_weights(*n.inputs[1], weight_axis(n))).first;
    q = it->second.second;
    return it->second.first;
  }

  static std::pair<std::vector<int8_t>, ops::QuantParams> quantize_weights(const Value& w, int axis) {
    return quantize_weights_s8(w, axis);
  }

  static bool relayout_source(const Node& n) {
    return n.type() == "Conv" && n.inputs[0]->type.shape.size() == n.outputs[0]->type.shape.size();
  }

  // The spec of candidate n with the decided int8 types.
  KernelSpec int8_spec(Node* n, bool& ok) {
    ok = true;
    KernelSpec spec = tune::spec_of(*n, eng_);
    const QType x = input_qtype(*n, 0);
    spec.in[0].dtype = x.dtype;
    spec.in[0].quant = x.quant;
    // A float source is quantized straight into the conv's output layout (apply()); a graph
    // input's row-major layout would leave only oneDNN's reference int8 conv.
    const Value* src = n->inputs[0];
    if (relayout_source(*n) && !dtype_quantized(src->type.dtype) && !out_.count(src) && !pooled_source(src))
      spec.in[0].layout = n->outputs[0]->layout;
    if (is_act(n)) {
      const QType b = input_qtype(*n, 1);
      spec.in[1].dtype = b.dtype;
      spec.in[1].quant = b.quant;
    } else {
      spec.in[1].dtype = DType::QInt8;
      spec.in[1].const_data = weights_of(*n, spec.in[1].quant).data();
    }
    auto y = out_.find(n->outputs[0]);
    if (y != out_.end()) {
      spec.out[0].dtype = y->second.dtype;
      spec.out[0].quant = y->second.quant;
      for (size_t i = 3; i < n->inputs.size(); ++i) {
        if (!n->inputs[i] || !range(n->inputs[i])) {
          ok = false;
          break;
        }
        const QType s = input_qtype(*n, i);
        spec.in[i].dtype = s.dtype;
        spec.in[i].quant = s.quant;
      }
    }
    return spec;
  }

  static std::unique_ptr<Kernel> first_kernel(const std::string& op, const KernelSpec& spec) {
    auto& reg = KernelRegistry::instance();
    for (const std::string& impl : reg.impls(op)) {
      try {
        if (auto k = reg.create(op, impl, spec)) return k;
      } catch (const std::exception&) {
      }
    }
    return nullptr;
  }

  // Level >= 1: the candidates whose int8 kernel, plus quantizing a float source, is not faster
  // than their float kernel (3% margin, as the tactic search uses): the first conv of a CNN
  // (3 input channels) or a depthwise conv can lose. Each is timed once.
  std::vector<Node*> slower() {
    std::vector<Node*> r;
    tune::TimerConfig cfg;
    cfg.samples = o_.builder_level >= 3 ? 7 : 5;
    for (Node* n : cand_) {
      if (model_layer(n)) continue;  // the model chose int8 for it
      auto it = timed_.find(n);
      if (it == timed_.end()) {
        bool ok = false;
        KernelSpec q = int8_spec(n, ok);
        KernelSpec f = tune::spec_of(*n, eng_);
        auto kq = first_kernel(std::string(n->type()), q);
        auto kf = first_kernel(std::string(n->type()), f);
        double tq = kq ? tune::time_kernel(*kq, q, cfg) : -1, tf = kf ? tune::time_kernel(*kf, f, cfg) : -1;
        double tc = 0;
        if (!out_.count(n->inputs[0]) && !pooled_source(n->inputs[0])) {
          ops::Reorder reorder;
          KernelSpec c{reorder, {f.in[0]}, {q.in[0]}, eng_};
          if (auto k = first_kernel("Reorder", c)) tc = tune::time_kernel(*k, c, cfg);
        }
        it = timed_.emplace(n, std::make_tuple(tf, tq, tc)).first;
        if (o_.log) {
          char b[200];
          std::snprintf(b, sizeof b, ": float %.1f us, int8 %.1f us + quantizing its source %.1f us", tf, tq, tc);
          o_.log->push_back("int8: " + ir::node_label(*n) + b);
        }
      }
      const auto [tf, tq, tc] = it->second;
      if (tf > 0 && tq > 0 && (tq + tc) * 1.03 >= tf && !(pins_.count(n) && pins_.at(n) == "int8")) {
        r.push_back(n);
        slow_.insert(n);
      }
    }
    return r;
  }

  // The candidates no fast kernel takes with the decided types.
  std::vector<Node*> check() {
    std::vector<Node*> refused;
    for (Node* n : cand_) {
      bool ok = false;
      KernelSpec spec = int8_spec(n, ok);
      if (!ok || !first_kernel(std::string(n->type()), spec)) refused.push_back(n);
    }
    return refused;
  }

  // One quantizing Reorder per (tensor, layout), shared by its int8 readers, unless the layer
  // that writes the tensor can write the quantized copy too.
  Value* quantized(Value* v, const QType& q, const std::string& layout) {
    auto key = std::make_tuple(v, layout, q.dtype);
    auto it = quantized_.find(key);
    if (it != quantized_.end()) return it->second;
    Value* c = g_.add_value(g_.unique_name(v->name + "/int8"), {q.dtype, v->type.shape});
    c->quant = q.quant;
    c->layout = layout;
    if (layernorm_writes(v, c)) {
      quantized_.emplace(key, c);
      return c;
    }
    Node* r = g_.add_node(g_.unique_name(c->name + "/quantize"), std::make_unique<ops::Reorder>(), {v}, {c});
    r->precision = q.dtype;
    quantized_.emplace(key, c);
    return c;
  }

  // Whether v's LayerNormalization can write c (v quantized) in the pass that writes v, so that no
  // Reorder reads v back from memory; if so it now does (quantized_copy). Only where its kernel
  // (kernels/nn/layernorm_quant.cpp) takes the pair: the reference kernel would be far slower
  // than oneDNN's LayerNorm and a Reorder.
  bool layernorm_writes(Value* v, Value* c) {
    Node* p = v->producer;
    auto* ln = p ? p->as<ops::LayerNormalization>() : nullptr;
    if (!ln || ln->quantized_copy || p->outputs.size() != 1 || p->outputs[0] != v || !c->layout.empty() ||
        !v->layout.empty())
      return false;
    ops::LayerNormalization with = *ln;
    with.quantized_copy = 1;
    const KernelSpec f = tune::spec_of(*p, eng_);
    KernelSpec spec{with, f.in, f.out, eng_};
    spec.out.push_back({c->type.dtype, c->type.shape, "", nullptr, c->quant});
    if (!first_kernel(std::string(p->type()), spec)) return false;
    ln->quantized_copy = 1;
    p->outputs.push_back(c);
    c->producer = p;
    ln_copies_.push_back(p);
    return true;
  }

  // A softmax writing int8 probabilities takes over its scores MatMul's attention mask (the Sum
  // fuse-attention gave it): the in-house kernel adds the mask to each row in registers, where
  // oneDNN's binary post-op costs the MatMul a third of its time and more on cold caches. Only
  // where that kernel takes the result; returns how many moved.
  size_t hand_masks_to_softmaxes() {
    size_t moved = 0;
    const auto uses = g_.uses();
    for (auto& [v, q] : out_) {
      Node* sm = v->producer;
      if (!sm || cand_.count(sm) || sm->type() != "Softmax" || sm->inputs.size() != 1) continue;
      Value* scores = sm->inputs[0];
      Node* mm = scores->producer;
      auto* op = mm ? mm->as<ops::MatMul>() : nullptr;
      if (!op || op->post.ops.size() != 1 || op->post.ops[0].kind != ops::PostOp::Kind::Sum ||
          op->post.ops[0].act != ops::Act::Identity || mm->inputs.size() != 4 || mm->inputs[2] ||
          !mm->inputs[3] || sole_user(g_, scores, uses) != sm)
        continue;
      Value* mask = mm->inputs[3];
      sm->inputs.push_back(mask);
      const KernelSpec spec = tune::spec_of(*sm, eng_);
      if (!KernelRegistry::instance().create("Softmax", "inhouse", spec)) {
        sm->inputs.pop_back();
        continue;
      }
      op->post.ops.clear();
      mm->inputs.resize(2);
      // inspect's fused lists follow the Add: "MatMul+Div+Transpose+Transpose", "Add+Softmax".
      auto add = std::find(mm->fused.rbegin(), mm->fused.rend(), "Add");
      if (add != mm->fused.rend()) {
        sm->fused.insert(sm->fused.begin(), *add);
        mm->fused.erase(std::next(add).base());
      }
      ++moved;
    }
    return moved;
  }

  // A LayerNormalization whose float Y nothing reads any more (pre-norm transformers: only the
  // int8 projections read it) writes the quantized tensor alone. apply() compacts the graph last,
  // as the maps here still hold the dropped values.
  size_t drop_unread_float_outputs() {
    size_t dropped = 0;
    const auto uses = g_.uses();
    for (Node* p : ln_copies_) {
      Value* y = p->outputs[0];
      if (uses.count(y) || g_.is_graph_output(y)) continue;
      p->as<ops::LayerNormalization>()->quantized_copy = 0;
      p->outputs.erase(p->outputs.begin());
      y->producer = nullptr;
      ++dropped;
    }
    return dropped;
  }

  void apply() {
    std::vector<Node*> order;
    for (auto& n : g_.nodes()) order.push_back(n.get());
    size_t pooled = 0;
    // Read every input's decided type before any value is retyped.
    std::map<std::pair<Node*, size_t>, QType> in_q;
    for (Node* n : order) {
      if (!cand_.count(n)) continue;
      in_q[{n, 0}] = input_qtype(*n, 0);
      if (is_act(n)) in_q[{n, 1}] = input_qtype(*n, 1);
      if (out_.count(n->outputs[0]))
        for (size_t i = 3; i < n->inputs.size(); ++i) in_q[{n, i}] = input_qtype(*n, i);
    }
    for (auto& [v, q] : out_) {
      Value* y = const_cast<Value*>(v);
      y->type.dtype = q.dtype;
      y->quant = q.quant;
      // Pooling readers pass the quantized tensor on with the same scale.
      std::vector<Value*> todo{y};
      while (!todo.empty()) {
        Value* t = todo.back();
        todo.pop_back();
        for (const Use& u : readers_[t])
          if (!cand_.count(u.node) && transparent(*u.node)) {
            Value* o = u.node->outputs[0];
            o->type.dtype = q.dtype;
            o->quant = q.quant;
            u.node->precision = q.dtype;
            ++pooled;
            todo.push_back(o);
          }
      }
    }
    size_t quantize_reorders = 0, softmaxes = 0, pools = 0;
    for (auto& [v, q] : out_) {
      softmaxes += v->producer && !cand_.count(v->producer);
      for (const Use& u : readers_[v]) pools += !cand_.count(u.node) && pool_reads_quantized(*u.node);
    }
    const size_t masks = hand_masks_to_softmaxes();
    for (Node* n : order) {
      if (!cand_.count(n)) continue;
      if (!is_act(n)) {
        ops::QuantParams wq;
        const std::vector<int8_t>& w = weights_of(*n, wq);
        Value* wv = g_.add_constant(g_.unique_name(n->inputs[1]->name + "/int8"),
                                    TensorView{DType::QInt8, n->inputs[1]->type.shape, const_cast<int8_t*>(w.data())});
        wv->quant = wq;
        n->inputs[1] = wv;
      }
      n->precision = DType::QInt8;
      const Value* y = n->outputs[0];
      for (auto& [key, q] : in_q) {
        if (key.first != n) continue;
        Value*& v = n->inputs[key.second];
        if (dtype_quantized(v->type.dtype)) continue;  // already written quantized
        // A conv's source is quantized straight into its output's layout (nhwc in int8 regions).
        const bool relayout = key.second == 0 && relayout_source(*n);
        const size_t before = quantized_.size(), by_layernorm = ln_copies_.size();
        v = quantized(v, q, relayout ? y->layout : v->layout);
        quantize_reorders += quantized_.size() - before - (ln_copies_.size() - by_layernorm);
      }
    }
    const size_t ln_alone = drop_unread_float_outputs();
    std::map<std::string, int> by_op;
    for (Node* n : cand_) by_op[std::string(n->type())]++;
    std::string detail;
    for (auto& [op, c] : by_op) detail += (detail.empty() ? "" : ", ") + op + " " + std::to_string(c);
    summary(std::to_string(cand_.size()) + " layer(s) compute in int8 (" + detail + "; weights s8 per output channel)" +
            (pooled ? ", " + std::to_string(pooled) + " pooling or view layer(s) pass int8 on" : "") +
            (pools ? ", " + std::to_string(pools) + " global average pool(s) read int8" : "") +
            (softmaxes ? ", " + std::to_string(softmaxes) + " softmax layer(s) write int8 probabilities" : "") +
            (masks ? " (" + std::to_string(masks) + " adding the attention mask themselves)" : ""));
    if (!cand_.empty() && !dnn::has_vnni())
      warn("this CPU has no VNNI: oneDNN's int8 kernels add u8 x s8 products in pairs in 16 bits, which can "
           "saturate, so int8 results may be less accurate than on a VNNI or AMX CPU (BERT-base: rel. L2 0.033 "
           "against 0.026); compare with --check, or build and run on a CPU with VNNI");
    size_t flowing = out_.size();
    summary(std::to_string(flowing) + " tensor(s) flow between layers as int8; " + std::to_string(quantize_reorders) +
            " quantizing reorder(s) inserted; other int8 layers write float directly");
    if (!ln_copies_.empty())
      summary(std::to_string(ln_copies_.size()) + " LayerNormalization layer(s) write their output quantized " +
              "for int8 readers themselves (" + std::to_string(ln_alone) + " of them only quantized), no Reorder");
    size_t model = 0, inexact = 0;
    std::set<const Value*> seen;
    for (auto& [key, q] : in_q) {
      const Value* m = described(key.first->inputs[key.second]);
      if (!m) continue;
      model += key.second == 0;
      if (seen.insert(m).second && !symmetric_model_quant(*m).exact) ++inexact;
    }
    for (auto& [v, q] : out_)
      if (const Value* m = described(v); m && seen.insert(m).second && !symmetric_model_quant(*m).exact) ++inexact;
    if (model)
      summary(std::to_string(model) + " int8 layer(s) read a tensor at the scale the model gave it (QDQ)" +
              (inexact ? "; " + std::to_string(inexact) + " tensor(s) the model quantized with a zero point run "
                         "symmetric int8 over the same range" : ""));
    if (inexact)
      warn("QDQ model: " + std::to_string(inexact) + " int8 tensor(s) have a nonzero zero point; kiln's int8 "
           "kernels are symmetric, so they run over the model's range with up to twice its step");
    if (!timed_.empty())
      summary(std::to_string(timed_.size()) + " layer(s) timed in float and int8; " + std::to_string(slow_.size()) +
              " stay in float, faster there (kiln compile -v lists the times)");
    if (ln_alone) g_.compact();
  }

  ir::Graph& g_;
  const PipelineOptions& o_;
  const quant::CalibTable* calib_;  // null: no --int8, only the model's own scales
  bool obey_ = false;
  dnnl::engine eng_{dnnl::engine::kind::cpu, 0};
  std::unordered_map<const Node*, std::string> pins_;
  std::unordered_map<const Value*, std::vector<Use>> readers_;
  std::set<Node*> cand_;
  std::set<const Node*> act_;  // candidates of two activations (decided before any retyping)
  std::map<const Value*, QType> out_;
  std::unordered_map<const Value*, std::pair<std::vector<int8_t>, ops::QuantParams>> wq_;
  std::map<std::tuple<Value*, std::string, DType>, Value*> quantized_;  // u8 and s8 copies may coexist
  std::vector<Node*> ln_copies_;  // LayerNormalization layers writing a quantized copy (layernorm_writes)
  std::unordered_map<const Node*, std::tuple<double, double, double>> timed_;  // float, int8, quantize us
  std::set<const Node*> slow_;
};

}  // namespace

// Symmetric per-channel s8: scale = max |w| / 127 over the channel; levels -127..127. Weights a
// QDQ model dequantized from s8 keep the model's scales, so they requantize to its levels exactly.
std::pair<std::vector<int8_t>, ops::QuantParams> quantize_weights_s8(const ir::Value& w, int axis) {
  const Dims& s = w.type.shape;
  const auto* f = static_cast<const float*>(w.constant->data());
  const int64_t n = shape_elements(s), ch = s[static_cast<size_t>(axis)];
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(axis) + 1; d < s.size(); ++d) inner *= s[d];
  auto channel = [&](int64_t k) { return (k / inner) % ch; };
  ops::QuantParams q;
  q.axis = axis;
  const ops::QuantParams& m = w.model_quant;
  const bool model = w.model_qtype == DType::Int8 && m.zero_point == 0 &&
                     (m.scale.size() == 1 || (m.axis == axis && static_cast<int64_t>(m.scale.size()) == ch));
  if (model) {
    for (int64_t c = 0; c < ch; ++c) q.scale.push_back(m.at(static_cast<size_t>(c)));
  } else {
    std::vector<float> amax(static_cast<size_t>(ch), 0.f);
    for (int64_t k = 0; k < n; ++k) amax[channel(k)] = std::max(amax[channel(k)], std::fabs(f[k]));
    for (float a : amax) q.scale.push_back(a > 0 && std::isfinite(a) ? a / 127.f : 1.f);
  }
  const float lo = model ? -128.f : -127.f;
  std::vector<int8_t> out(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k)
    out[k] = static_cast<int8_t>(std::clamp(std::nearbyint(f[k] / q.scale[channel(k)]), lo, 127.f));
  return {std::move(out), std::move(q)};
}

bool assign_int8(ir::Graph& g, const PipelineOptions& opts) {
  const bool calibrated = opts.precision && opts.precision->int8 && opts.calib;
  if (!calibrated && !has_model_quant(g)) return false;
  for (auto& n : g.nodes())
    if (n->precision != DType::Undefined) return false;  // assigned once
  return Int8Assigner(g, opts, calibrated ? opts.calib : nullptr).run();
}

}  // namespace kiln::passes
