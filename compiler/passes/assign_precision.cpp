// Precision assignment: decides, per layer, whether it computes in float32 or bfloat16, from what
// the flags allow (--bf16/--best), the layer pins (--layerPrecisions/--layerOutputTypes under
// --precisionConstraints) and what this CPU's kernels run fast; then types every tensor to match,
// converts weights at build time, and places conversions only where precision changes.
//
// Heavy layers (Conv, ConvTranspose, MatMul, Gemm) go bf16 where a fast kernel takes them; light
// layers (eltwise, pooling, normalisation, softmax, data movement) follow their producers, so
// bf16 activations flow between layers instead of being converted around each one. A layer whose
// readers all want float32 writes float32 itself where its kernel can (a conv or matmul writing
// f32 from bf16 sources; a layout Reorder converting as it relayouts), so most boundaries cost
// nothing. Remaining boundaries get one Reorder per (tensor, type), shared by all readers.
//
// The decision is made without touching the graph, checked against the kernel registry with the
// final types (a layer no fast kernel takes in bf16 falls back to float32 and the decision is
// redone), and only then applied. Runs after assign-layouts, so conversions keep each tensor's
// layout and can merge with the layout Reorders at region boundaries.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <tuple>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "kernels/kernel.h"
#include "kiln/compiler.hpp"
#include "ops/nn/layernorm.h"
#include "ops/tensor/reorder.h"
#include "ops/tensor/shape.h"
#include "passes/pass.h"
#include "tune/select.h"
#include "tune/timer.h"

namespace kiln::passes {

namespace {

using ir::Node;
using ir::Value;

enum class Want { None, F32, BF16, Either };

// Light layers that may follow a bf16 producer: their fast kernels take bf16, or only move data.
bool light(std::string_view t) {
  static const std::set<std::string_view> ops = {
      "Unary",   "Binary",   "MaxPool",   "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
      "LayerNormalization", "Softmax", "LogSoftmax", "Concat", "Split", "Reshape", "Flatten",
      "Squeeze", "Unsqueeze", "Transpose", "Reorder", "Identity", "Slice"};
  return ops.count(t) > 0;
}

// Layers whose kernel writes float32 from bf16 sources (the conversion fused into the layer).
bool writes_f32_from_bf16(std::string_view t) {
  return heavy_layer(t) || t == "Softmax" || t == "LogSoftmax" || t == "Binary" || t == "Reorder";
}

// Layers that read only their inputs' shapes.
bool reads_shape_only(std::string_view t) { return t == "Shape" || t == "Size"; }

const char* prec_name(DType t) { return t == DType::BFloat16 ? "bf16" : dtype_quantized(t) ? "int8" : "fp32"; }

struct Decision {
  std::unordered_map<const Node*, DType> prec;    // compute precision per node
  std::unordered_map<const Value*, DType> dtype;  // final type of every non-constant float value
};

class PrecisionAssigner {
 public:
  PrecisionAssigner(ir::Graph& g, const PrecisionOptions& o, std::vector<std::string>* warnings,
                    std::vector<std::string>* summary, std::vector<std::string>* log, int level)
      : g_(g), o_(o), warnings_(warnings), summary_(summary), log_(log), level_(level) {}

  bool run() {
    const std::string constraints =
        !o_.constraints.empty() ? o_.constraints
                                : (o_.layer_precisions.empty() && o_.layer_output_types.empty() ? "none" : "prefer");
    obey_ = constraints == "obey";
    use_pins_ = constraints != "none";
    if (!use_pins_ && (!o_.layer_precisions.empty() || !o_.layer_output_types.empty()))
      warn("--precisionConstraints=none: --layerPrecisions and --layerOutputTypes are ignored; use prefer or obey "
           "to apply them");
    resolve_pins();
    const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    const bool native_bf16 = isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
    allow_bf16_ = (o_.bf16 || o_.best) && native_bf16;
    if ((o_.bf16 || o_.best) && !native_bf16)
      warn("this CPU has no bfloat16 instructions (oneDNN ISA " + current_machine().isa + "): oneDNN would emulate bf16, "
           "slower than fp32, so layers stay fp32 (pin layers with --layerPrecisions=NAME:bf16 to force it)");
    for (auto& n : g_.nodes())
      for (size_t i = 0; i < n->inputs.size(); ++i)
        if (n->inputs[i]) readers_[n->inputs[i]].push_back({n.get(), i});

    // Decide, check with the kernels, and redo without the layers they refuse in bf16.
    Decision d;
    // Each round forces at least one more layer to fp32, so this ends; it stops only on a decision
    // every kernel accepted.
    for (size_t round = 0; round <= g_.nodes().size(); ++round) {
      d = decide();
      redo_ = false;
      std::vector<const Node*> refused = check(d);
      if (refused.empty() && !redo_) break;
      for (const Node* n : refused) forced_f32_.insert(n);
    }
    for (auto& [n, pin] : pinned_)
      if (d.prec.at(n) != pin && pin != DType::Float16) refuse_pin(*n, "--layerPrecisions", pin);
    apply(d);
    store_half();
    summarize(d);
    return assigned_ > 0;  // a graph without float tensors has nothing to assign
  }

 private:
  struct Use {
    Node* node;
    size_t slot;
  };

  void warn(const std::string& w) {
    if (warnings_) warnings_->push_back(w);
  }

  DType parse(const std::string& p) {
    return p == "bf16" ? DType::BFloat16 : p == "fp16" ? DType::Float16 : DType::Float32;
  }

  // Pins by layer: the first pattern matching the node's name, an output's name or a fused op.
  void resolve_pins() {
    if (!use_pins_) return;
    auto match = [](const std::string& pat, const Node& n) { return layer_matches(pat, n); };
    auto resolve = [&](const std::vector<std::pair<std::string, std::string>>& pins, const char* flag,
                       std::unordered_map<const Node*, DType>& out) {
      for (auto& [pat, prec] : pins) {
        if (prec == "int8") continue;  // assign-int8's pins
        bool any = false;
        for (auto& n : g_.nodes())
          if (match(pat, *n)) {
            any = true;
            out.try_emplace(n.get(), parse(prec));
          }
        if (!any)
          throw OptionError(std::string(flag) + ": '" + pat + "' names no layer of this model (after fusion; `kiln "
                            "inspect` on a plan, or `kiln compile -v`, lists the layer names)");
      }
    };
    resolve(o_.layer_precisions, "--layerPrecisions", pinned_);
    resolve(o_.layer_output_types, "--layerOutputTypes", pinned_out_);
  }

  void refuse_pin(const Node& n, const char* flag, DType want) {
    const std::string msg = std::string(flag) + ": " + ir::node_label(n) + " cannot run with " +
                            (want == DType::BFloat16 ? "bf16" : "fp32") + " here (no kernel of this CPU takes it)";
    if (obey_) throw Error(msg + "; --precisionConstraints=obey makes that an error (use prefer to fall back)");
    warn(msg + "; it runs in " + std::string(want == DType::BFloat16 ? "fp32" : "bf16") + " instead");
  }

  // What input `slot` of n wants, given n's precision and its output type.
  Want want(const Node& n, size_t slot, DType p, DType out) const {
    const Value* v = n.inputs[slot];
    if (!v || !ops::f32_or_bf16(v->type.dtype)) return Want::None;
    if (reads_shape_only(n.type())) return Want::Either;
    if (dtype_quantized(p)) return slot >= 3 && out == DType::BFloat16 ? Want::BF16 : Want::F32;  // Sum operands as dst
    if (p != DType::BFloat16) return Want::F32;
    const std::string_view t = n.type();
    auto of = [](DType d) { return d == DType::BFloat16 ? Want::BF16 : Want::F32; };
    if (heavy_layer(t)) {
      if (slot <= 1) return Want::BF16;
      if (slot == 2) return Want::F32;  // bias / Gemm's C: read as floats
      return of(out);                   // Sum operands are added through dst's descriptor
    }
    if (t == "Binary") return slot <= 1 ? Want::Either : of(out);
    if (t == "LayerNormalization") return slot == 0 ? Want::BF16 : Want::F32;
    return Want::BF16;
  }

  // Layers assign-int8 made int8 (and the pooling that passes int8 on): their precision is fixed.
  static bool int8_layer(const Node& n) { return dtype_quantized(n.precision); }

  // A non-constant float value a bf16 layer would read as bf16.
  bool bf16_source(const Value* v, const Decision& d) const {
    if (!v || v->is_constant() || !v->producer) return false;
    auto it = d.prec.find(v->producer);
    return it != d.prec.end() && it->second == DType::BFloat16;
  }

  // Outputs of n that carry data (LayerNorm's mean and inverse std-dev stay float32).
  static bool data_output(const Node& n, size_t o) {
    return ops::f32_or_bf16(n.outputs[o]->type.dtype) && !(n.type() == "LayerNormalization" && o > 0);
  }

  Decision decide() const {
    Decision d;
    // Precision, forward.
    for (auto& up : g_.nodes()) {
      const Node* n = up.get();
      DType p = DType::Float32;
      auto pin = pinned_.find(n);
      const bool forced = forced_f32_.count(n) > 0;
      if (int8_layer(*n)) {
        p = n->precision;  // decided by assign-int8
      } else if (pin != pinned_.end()) {
        p = pin->second == DType::BFloat16 && !forced ? DType::BFloat16 : DType::Float32;
      } else if (allow_bf16_ && !forced) {
        if (heavy_layer(n->type())) {
          p = best_timed(*n, d) ? DType::BFloat16 : DType::Float32;
        } else if (light(n->type())) {
          for (const Value* v : n->inputs)
            if (bf16_source(v, d)) p = DType::BFloat16;
        }
      }
      d.prec[n] = p;
    }
    // Output types, backward: each value takes the type its readers want, where its writer can.
    for (auto it = g_.nodes().rbegin(); it != g_.nodes().rend(); ++it) {
      const Node* n = it->get();
      const DType p = d.prec.at(n);
      auto pin = pinned_out_.find(n);
      for (size_t o = 0; o < n->outputs.size(); ++o) {
        const Value* v = n->outputs[o];
        if (!ops::f32_or_bf16(v->type.dtype)) continue;
        DType t = DType::Float32;
        if (int8_layer(*n) && data_output(*n, o)) {
          // An int8 layer writes float from its output scales: bf16 where only bf16 readers read it.
          bool any_bf16 = false, any_f32 = g_.is_graph_output(v) || forced_f32_.count(n);
          auto r = readers_.find(v);
          if (r != readers_.end())
            for (const Use& u : r->second) {
              const Want w = want(*u.node, u.slot, d.prec.at(u.node), out_type(d, *u.node));
              any_bf16 |= w == Want::BF16;
              any_f32 |= w == Want::F32;
            }
          t = any_bf16 && !any_f32 ? DType::BFloat16 : DType::Float32;
        } else if (p == DType::BFloat16 && data_output(*n, o)) {
          bool any_bf16 = false, any_f32 = g_.is_graph_output(v);
          auto r = readers_.find(v);
          if (r != readers_.end())
            for (const Use& u : r->second) {
              const Want w = want(*u.node, u.slot, d.prec.at(u.node), out_type(d, *u.node));
              any_bf16 |= w == Want::BF16;
              any_f32 |= w == Want::F32;
            }
          t = (!any_bf16 && any_f32 && writes_f32_from_bf16(n->type())) ? DType::Float32 : DType::BFloat16;
        }
        if (pin != pinned_out_.end() && data_output(*n, o) && pin->second != DType::Float16) t = pin->second;
        d.dtype[v] = t;
      }
    }
    return d;
  }

  // --best at builder level >= 1: a heavy layer goes bf16 only if its bf16 kernel, plus the
  // conversion of its input where the producer is fp32, beats its fp32 kernel (3% margin, as the
  // tactic search uses). Elsewhere bf16 wins by construction where the CPU has it natively.
  bool best_timed(const Node& n, const Decision& d) const {
    if (!o_.best || level_ < 1 || o_.bf16) return true;
    auto it = best_.find(&n);
    const bool from_bf16 = bf16_source(n.inputs.empty() ? nullptr : n.inputs[0], d);
    if (it == best_.end()) it = best_.emplace(&n, time_variants(n)).first;
    const auto& [t32, t16, conv] = it->second;
    if (t32 <= 0 || t16 <= 0) return t16 > 0;
    return (t16 + (from_bf16 ? 0 : conv)) * 1.03 < t32;
  }

  // Median us of n's fp32 kernel, its bf16 kernel (bf16 in and out) and of converting its input.
  std::tuple<double, double, double> time_variants(const Node& n) const {
    auto& reg = KernelRegistry::instance();
    const std::string op(n.type());
    tune::TimerConfig cfg;
    cfg.samples = level_ >= 3 ? 7 : 5;
    auto time_spec = [&](const KernelSpec& spec) {
      for (const std::string& impl : reg.impls(op)) {
        try {
          if (auto k = reg.create(op, impl, spec)) return tune::time_kernel(*k, spec, cfg);
        } catch (const std::exception&) {
        }
      }
      return -1.0;
    };
    KernelSpec f = tune::spec_of(n, eng_);
    const double t32 = time_spec(f);
    KernelSpec h = tune::spec_of(n, eng_);
    for (size_t i = 0; i < h.in.size() && i < 2; ++i) {
      if (h.in[i].dtype != DType::Float32) continue;
      if (h.in[i].const_data) h.in[i].const_data = bf16_copy(n.inputs[i]);
      h.in[i].dtype = DType::BFloat16;
    }
    for (auto& o : h.out)
      if (o.dtype == DType::Float32) o.dtype = DType::BFloat16;
    const double t16 = time_spec(h);
    double conv = 0;
    if (!n.inputs.empty() && n.inputs[0] && !n.inputs[0]->is_constant()) {
      ops::Reorder r;
      KernelSpec c{r, {f.in[0]}, {f.in[0]}, eng_};
      c.out[0].dtype = DType::BFloat16;
      if (auto k = reg.create("Reorder", "onednn", c)) conv = tune::time_kernel(*k, c, cfg);
    }
    timings_.push_back(ir::node_label(n) + ": fp32 " + fmt_us(t32) + ", bf16 " + fmt_us(t16) + ", input conversion " +
                       fmt_us(conv));
    return {t32, t16, conv};
  }

  static std::string fmt_us(double us) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f us", us);
    return b;
  }

  static DType out_type(const Decision& d, const Node& n) {
    if (n.outputs.empty()) return DType::Float32;
    auto it = d.dtype.find(n.outputs[0]);
    return it == d.dtype.end() ? n.outputs[0]->type.dtype : it->second;
  }

  // The type input `slot` of n reads once conversions are in place.
  DType input_type(const Decision& d, const Node& n, size_t slot) const {
    const Value* v = n.inputs[slot];
    const Want w = want(n, slot, d.prec.at(&n), out_type(d, n));
    if (w == Want::BF16) return DType::BFloat16;
    if (w == Want::F32) return DType::Float32;
    auto it = d.dtype.find(v);
    return it == d.dtype.end() ? v->type.dtype : it->second;
  }

  // Layers the decision changes that no fast kernel takes with the decided types.
  std::vector<const Node*> check(const Decision& d) {
    std::vector<const Node*> refused;
    auto& reg = KernelRegistry::instance();
    for (auto& up : g_.nodes()) {
      const Node& n = *up;
      KernelSpec spec = tune::spec_of(n, eng_);
      bool changed = false;
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        if (!n.inputs[i] || !ops::f32_or_bf16(n.inputs[i]->type.dtype)) continue;
        const DType t = input_type(d, n, i);
        changed |= t != spec.in[i].dtype;
        if (t == DType::BFloat16 && spec.in[i].const_data) spec.in[i].const_data = bf16_copy(n.inputs[i]);
        spec.in[i].dtype = t;
      }
      for (size_t o = 0; o < n.outputs.size(); ++o) {
        auto it = d.dtype.find(n.outputs[o]);
        if (it == d.dtype.end()) continue;
        changed |= it->second != spec.out[o].dtype;
        spec.out[o].dtype = it->second;
      }
      if (!changed) continue;
      bool ok = false;
      const std::string op(n.type());
      for (const std::string& impl : reg.impls(op)) {
        try {
          ok = reg.create(op, impl, spec) != nullptr;
        } catch (const std::exception&) {
        }
        if (ok) break;
      }
      if (!ok) {
        if (int8_layer(n)) {
          if (!forced_f32_.count(&n)) refused.push_back(&n);  // it writes float32 next round
        } else if (d.prec.at(&n) == DType::BFloat16) {
          refused.push_back(&n);
        } else if (pinned_out_.count(&n)) {  // an fp32 layer cannot write the pinned type
          refuse_pin(n, "--layerOutputTypes", pinned_out_.at(&n));
          pinned_out_.erase(&n);
          redo_ = true;  // decide again without the pin
        }
      }
    }
    return refused;
  }

  // The constant's values rounded to bf16, made once per constant (the kernel checks and the
  // converted weights share them).
  const void* bf16_copy(const Value* v) const {
    auto it = bf16_data_.find(v);
    if (it != bf16_data_.end()) return it->second.data();
    const auto* f = static_cast<const float*>(v->constant->data());
    std::vector<uint16_t> h(v->constant->size() / 4);
    for (size_t k = 0; k < h.size(); ++k) h[k] = ops::float_to_bf16(f[k]);
    return bf16_data_.emplace(v, std::move(h)).first->second.data();
  }

  Value* bf16_constant(Value* v) {
    auto it = bf16_const_.find(v);
    if (it != bf16_const_.end()) return it->second;
    const void* data = bf16_copy(v);
    Value* c = g_.add_constant(g_.unique_name(v->name + "/bf16"),
                               TensorView{DType::BFloat16, v->type.shape, const_cast<void*>(data)});
    bf16_const_.emplace(v, c);
    return c;
  }

  // One conversion per (tensor, type), shared by all readers, in the tensor's layout.
  Value* converted(Value* v, DType t) {
    auto key = std::make_pair(v, t);
    auto it = conv_.find(key);
    if (it != conv_.end()) return it->second;
    Value* c = g_.add_value(g_.unique_name(v->name + (t == DType::BFloat16 ? "/bf16" : "/fp32")), {t, v->type.shape});
    c->layout = v->layout;
    Node* n = g_.add_node(g_.unique_name(c->name + "/convert"), std::make_unique<ops::Reorder>(), {v}, {c});
    n->precision = v->type.dtype == DType::BFloat16 ? DType::BFloat16 : DType::Float32;
    conv_.emplace(key, c);
    ++conversions_;
    return c;
  }

  void apply(const Decision& d) {
    std::vector<Node*> order;
    for (auto& n : g_.nodes()) order.push_back(n.get());
    // Input types as decided, read before any value is retyped.
    std::vector<std::vector<DType>> in_types;
    for (Node* n : order) {
      in_types.emplace_back();
      for (size_t i = 0; i < n->inputs.size(); ++i)
        in_types.back().push_back(n->inputs[i] && ops::f32_or_bf16(n->inputs[i]->type.dtype) ? input_type(d, *n, i)
                                                                                       : DType::Undefined);
    }
    for (auto& [v, t] : d.dtype) const_cast<Value*>(v)->type.dtype = t;
    for (size_t k = 0; k < order.size(); ++k) {
      Node* n = order[k];
      // Layers that touch no float tensor (shape arithmetic, indices) keep recording their output
      // type as their precision, as before precision was assigned.
      bool float_io = false;
      for (auto* list : {&n->inputs, &n->outputs})
        for (const Value* v : *list) float_io |= v && ops::f32_or_bf16(v->type.dtype);
      n->precision = int8_layer(*n) ? n->precision : float_io ? d.prec.at(n) : DType::Undefined;
      assigned_ += float_io;
      for (size_t i = 0; i < n->inputs.size(); ++i) {
        Value* v = n->inputs[i];
        const DType t = in_types[k][i];
        if (!v || t == DType::Undefined || v->type.dtype == t) continue;
        if (v->is_constant()) {
          if (t == DType::BFloat16) n->inputs[i] = bf16_constant(v);
          continue;
        }
        n->inputs[i] = converted(v, t);
      }
    }
    // Graph outputs keep their declared float32 type, under their own name.
    for (auto& io : g_.outputs) {
      Value* v = io.value;
      if (v->type.dtype != DType::BFloat16) continue;
      Value* c = converted(v, DType::Float32);
      std::swap(c->name, v->name);
      io.value = c;
    }
  }

  // --fp16 (and layers pinned to fp16): float32 weights are stored as IEEE half.
  void store_half() {
    std::unordered_set<const Value*> wanted;
    if (o_.fp16 || o_.best) {
      for (auto& v : g_.values()) wanted.insert(v.get());
    }
    for (auto& [n, pin] : pinned_)
      if (pin == DType::Float16)
        for (const Value* v : n->inputs) wanted.insert(v);
    for (auto& up : g_.values()) {
      Value* v = up.get();
      if (!v || !wanted.count(v) || !v->is_constant() || v->type.dtype != DType::Float32 || !v->layout.empty())
        continue;
      const size_t n = v->constant->size() / 4;
      if (n < 16) continue;  // scales, epsilons and shape-like floats stay exact
      const auto* f = static_cast<const float*>(v->constant->data());
      bool fits = true;
      for (size_t k = 0; k < n && fits; ++k) fits = std::isfinite(f[k]) && std::fabs(f[k]) <= 65504.f;
      if (fits) {
        v->stored_dtype = DType::Float16;
        ++assigned_;
      }
      else ++half_refused_;
    }
  }

  void summarize(const Decision& d) {
    if (!summary_) return;
    std::map<std::string, std::map<std::string, int>> by;  // precision -> op -> count
    size_t total = 0;
    for (auto& n : g_.nodes()) {
      auto ends = [&](const char* s) {
        const size_t k = std::strlen(s);
        return n->name.size() > k && n->name.compare(n->name.size() - k, k, s) == 0;
      };
      if (n->op && n->type() == "Reorder" && (ends("/convert") || ends("/quantize"))) continue;
      by[prec_name(n->precision)][std::string(n->type())]++;
      ++total;
    }
    for (auto& [p, ops] : by) {
      int count = 0;
      std::string detail;
      for (auto& [op, c] : ops) {
        count += c;
        detail += (detail.empty() ? "" : ", ") + op + " " + std::to_string(c);
      }
      summary_->push_back(std::to_string(count) + " of " + std::to_string(total) + " layers compute in " + p + " (" +
                          detail + ")");
    }
    summary_->push_back(std::to_string(conversions_) + " fp32/bf16 conversion(s) inserted (other boundaries are "
                        "fused into the layers' own output types)");
    if (!best_.empty()) {
      size_t chose16 = 0;
      for (auto& [n, t] : best_) chose16 += d.prec.at(n) == DType::BFloat16;
      summary_->push_back("--best: " + std::to_string(best_.size()) + " heavy layer(s) timed in fp32 and bf16, " +
                          std::to_string(chose16) + " chose bf16 (kiln compile -v lists the times)");
      if (log_)
        for (auto& t : timings_) log_->push_back("precision: " + t);
    }
    size_t half = 0, half_bytes = 0, bf16_bytes = 0, f32_bytes = 0, int8_bytes = 0;
    std::unordered_set<const Value*> seen;
    for (auto& n : g_.nodes())
      for (const Value* v : n->inputs)
        if (v && v->is_constant() && seen.insert(v).second && ops::real_storage(v->type.dtype)) {
          if (dtype_quantized(v->type.dtype)) {
            int8_bytes += v->constant->size();
          } else if (v->stored_dtype == DType::Float16) {
            ++half;
            half_bytes += v->constant->size() / 2;
          } else if (v->type.dtype == DType::BFloat16) {
            bf16_bytes += v->constant->size();
          } else {
            f32_bytes += v->constant->size();
          }
        }
    auto mib = [](size_t b) {
      char s[32];
      std::snprintf(s, sizeof s, "%.2f MiB", b / 1048576.0);
      return std::string(s);
    };
    summary_->push_back("weights as stored in the plan: " + (int8_bytes ? mib(int8_bytes) + " int8, " : std::string()) +
                        mib(bf16_bytes) + " bf16, " + mib(half_bytes) + " fp16, " + mib(f32_bytes) + " fp32");
    if (half)
      summary_->push_back(std::to_string(half) + " fp32 constant(s) stored as IEEE half and widened to fp32 at load (oneDNN "
                          "has no fp16 compute on CPU: layers compute in fp32, or bf16 where assigned)");
    if (half_refused_)
      summary_->push_back(std::to_string(half_refused_) + " constant(s) kept in fp32: values outside IEEE half's range");
  }

  ir::Graph& g_;
  const PrecisionOptions& o_;
  std::vector<std::string>* warnings_;
  std::vector<std::string>* summary_;
  std::vector<std::string>* log_;
  bool obey_ = false, use_pins_ = false, allow_bf16_ = false, redo_ = false;
  dnnl::engine eng_{dnnl::engine::kind::cpu, 0};
  std::unordered_map<const Node*, DType> pinned_, pinned_out_;
  std::unordered_set<const Node*> forced_f32_;
  std::unordered_map<const Value*, std::vector<Use>> readers_;
  mutable std::unordered_map<const Value*, std::vector<uint16_t>> bf16_data_;
  std::unordered_map<const Value*, Value*> bf16_const_;
  std::map<std::pair<Value*, DType>, Value*> conv_;
  size_t conversions_ = 0, half_refused_ = 0, assigned_ = 0;
  int level_ = 0;
  mutable std::unordered_map<const Node*, std::tuple<double, double, double>> best_;
  mutable std::vector<std::string> timings_;
};

}  // namespace

bool assign_precision(ir::Graph& g, const PipelineOptions& opts) {
  if (!opts.precision || !opts.precision->any()) return false;
  for (auto& n : g.nodes())  // assigned once, after layouts (assign-int8's int8 layers come first)
    if (n->precision == DType::Float32 || n->precision == DType::BFloat16) return false;
  return PrecisionAssigner(g, *opts.precision, opts.warnings, opts.precision_summary, opts.log,
                           opts.builder_level)
      .run();
}

}  // namespace kiln::passes
