#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli_util.h"
#include "commands.h"
#include "kiln/runtime.hpp"

namespace kiln::cli {

namespace {

struct InspectArgs {
  std::string plan;
  bool json = false;
};

std::string shape_text(const std::vector<int64_t>& s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "x" : "") + std::to_string(s[i]);
  return r.empty() ? "scalar" : r;
}

std::string join(const std::vector<std::string>& v, const char* sep, bool quote) {
  std::string r;
  for (size_t i = 0; i < v.size(); ++i) r += (i ? sep : "") + (quote ? "\"" + json_escape(v[i]) + "\"" : v[i]);
  return r;
}

// A layer's compute precision as inspect names it: int8 layers (and the pooling that passes
// int8 on) are "int8" whichever 8-bit type they read.
std::string precision_name(DType t) { return dtype_quantized(t) ? "int8" : dtype_name(t); }

// A layer's quantized tensors: JSON objects, or one text line ("x 0.0123 u8, w 0.0011..0.02 (64)").
std::string quantized_text(const LayerInfo& l, bool json) {
  std::string r;
  for (size_t i = 0; i < l.quantized.size(); ++i) {
    const auto& q = l.quantized[i];
    if (json) {
      r += fmt::format("{}{{\"tensor\": \"{}\", \"output\": {}, \"dtype\": \"{}\", \"scale\": [{}], "
                       "\"zero_point\": {}, \"axis\": {}}}",
                       i ? ", " : "", json_escape(q.tensor), q.output ? "true" : "false", dtype_name(q.dtype),
                       fmt::join(q.scale, ", "), q.zero_point, q.axis);
      continue;
    }
    const auto [lo, hi] = std::minmax_element(q.scale.begin(), q.scale.end());
    r += fmt::format("{}{} {} {}", i ? ", " : "", q.output ? "out" : "in", q.tensor,
                     q.scale.size() == 1 ? fmt::format("{:.4g}", *lo)
                                         : fmt::format("{:.3g}..{:.3g} ({} channels)", *lo, *hi, q.scale.size()));
    if (q.zero_point) r += fmt::format(" zp {}", q.zero_point);
    r += q.dtype == DType::QUInt8 ? " u8" : " s8";
  }
  return r;
}

// Layers per compute precision: "bfloat16: 120, float32: 14" (or the JSON object's members).
std::string precision_counts(const Engine& e, bool json) {
  std::map<std::string, size_t> n;
  for (auto& l : e.layers()) ++n[precision_name(l.precision)];
  std::string r;
  for (auto& [k, c] : n)
    r += json ? fmt::format("{}\"{}\": {}", r.empty() ? "" : ", ", k, c)
              : fmt::format("{}{}: {} layers", r.empty() ? "" : ", ", k, c);
  return r;
}

uint64_t stored_weights(const Engine& e) {
  uint64_t b = 0;
  for (auto& l : e.layers()) b += l.stored_weight_bytes;
  return b;
}

int inspect(const InspectArgs& a) {
  auto e = Engine::load_file(a.plan);
  const auto& m = e->build_machine();
  if (a.json) {
    auto io = [](const std::vector<TensorDesc>& v) {
      std::string r;
      for (size_t i = 0; i < v.size(); ++i)
        r += fmt::format("{}{{\"name\": \"{}\", \"dtype\": \"{}\", \"shape\": [{}]{}}}", i ? ", " : "",
                         json_escape(v[i].name), dtype_name(v[i].dtype), fmt::join(v[i].shape, ", "),
                         v[i].dynamic() ? fmt::format(", \"min_shape\": [{}], \"max_shape\": [{}]",
                                                      fmt::join(v[i].min_shape, ", "), fmt::join(v[i].max_shape, ", "))
                                        : "");
      return r;
    };
    std::string layers;
    for (size_t i = 0; i < e->layers().size(); ++i) {
      const auto& l = e->layers()[i];
      std::string runners;
      for (size_t r = 0; r < l.runner_ups.size(); ++r)
        runners += fmt::format("{}{{\"tactic\": \"{}\", \"time_us\": {:.3f}}}", r ? ", " : "",
                               json_escape(l.runner_ups[r].tactic), l.runner_ups[r].time_us);
      layers += fmt::format("{}{{\"name\": \"{}\", \"op\": \"{}\", \"kernel\": \"{}\", \"precision\": \"{}\", "
                            "\"format\": \"{}\", \"fused\": [{}], \"tactic\": \"{}\", \"planned_tactic\": \"{}\", "
                            "\"weights_format\": \"{}\", \"weight_bytes\": {}, \"stored_weight_bytes\": {}, "
                            "\"weights_prepacked\": {}, \"output_dtype\": \"{}\", \"time_us\": {:.3f}, "
                            "\"runner_ups\": [{}], \"quantized\": [{}], \"when\": {}}}",
                            i ? ", " : "", json_escape(l.name), l.op, l.kernel, precision_name(l.precision),
                            l.layout.empty() ? "plain" : l.layout, join(l.fused, ", ", true), json_escape(l.tactic),
                            json_escape(l.planned_tactic), json_escape(l.weights_format), l.weight_bytes,
                            l.stored_weight_bytes, l.weights_prepacked ? "true" : "false", dtype_name(l.output_dtype),
                            l.time_us, runners,
                            quantized_text(l, true),
                            l.when.empty() ? std::string("null")
                                           : fmt::format("{{\"tensor\": \"{}\", \"is\": {}}}", json_escape(l.when),
                                                         l.when_true ? "true" : "false"));
    }
    fmt::print("{{\"plan\": \"{}\", \"schema_version\": {}, \"plan_bytes\": {}, \"weight_bytes\": {}, "
               "\"arena_bytes\": {}, \"activation_bytes\": {}, \"machine\": {{\"isa\": \"{}\", \"cpu\": \"{}\", "
               "\"cores\": {}, \"threads\": {}}}, \"builder_level\": {}, \"warnings\": [{}], \"inputs\": [{}], "
               "\"outputs\": [{}], \"precision_counts\": {{{}}}, \"layers\": [{}]}}\n",
               json_escape(a.plan), e->schema_version(), e->plan_bytes(), e->weight_bytes(), e->arena_bytes(),
               e->activation_bytes(), json_escape(m.isa), json_escape(m.cpu), m.cores, m.threads, e->builder_level(),
               join(e->warnings(), ", ", true), io(e->inputs()), io(e->outputs()), precision_counts(*e, true), layers);
    return 0;
  }
  fmt::print("plan {}: schema v{}, {} ({} of weights)\n", a.plan, e->schema_version(), human_bytes(e->plan_bytes()),
             human_bytes(e->weight_bytes()));
  fmt::print("built on: {} ({}), {} cores, {} threads; builder level {}{}\n", m.cpu, m.isa, m.cores, m.threads,
             e->builder_level(), e->builder_level() ? "" : " (tactics chosen by heuristic, untimed)");
  for (auto& w : e->warnings()) fmt::print("warning: {}\n", w);
  fmt::print("precision: {} (weights as stored: {})\n", precision_counts(*e, false),
             human_bytes(stored_weights(*e)));
  fmt::print("memory: arena {} per context, against {} of activation tensors\n", human_bytes(e->arena_bytes()),
             human_bytes(e->activation_bytes()));
  size_t prepacked = 0, weighted = 0;
  for (auto& l : e->layers()) {
    prepacked += l.weights_prepacked;
    weighted += l.weight_bytes > 0;
  }
  fmt::print("weights: {} of {} layers with weights read them pre-packed from the plan, as mapped\n", prepacked,
             weighted);
  for (auto& d : e->inputs())
    fmt::print("input  {} {}[{}]{}\n", d.name, dtype_name(d.dtype), shape_text(d.shape),
               d.dynamic() ? fmt::format(" (opt; profile {} to {})", shape_text(d.min_shape), shape_text(d.max_shape))
                           : "");
  for (auto& d : e->outputs()) fmt::print("output {} {}[{}]\n", d.name, dtype_name(d.dtype), shape_text(d.shape));
  fmt::print("{} layers:\n", e->layers().size());
  for (size_t i = 0; i < e->layers().size(); ++i) {
    const auto& l = e->layers()[i];
    std::string tactic = l.tactic;
    if (l.time_us > 0 && l.tactic == l.planned_tactic) tactic += fmt::format(" {:.1f}us", l.time_us);
    if (l.tactic != l.planned_tactic) tactic += " (planned " + l.planned_tactic + ")";
    std::string prec = precision_name(l.precision);
    if (l.output_dtype != l.precision && !dtype_quantized(l.output_dtype) &&
        (l.output_dtype == DType::Float32 || l.output_dtype == DType::BFloat16))
      prec += std::string("->") + (l.output_dtype == DType::Float32 ? "f32" : "bf16");
    fmt::print("  {:>4} {:<40} {:<18} {:<9} {:<13} {:<8} {:>10} [{}] {}\n", i, l.name, l.op, l.kernel,
               prec, l.layout.empty() ? "plain" : l.layout,
               l.weight_bytes ? human_bytes(l.weight_bytes) : "-", join(l.fused, "+", false), tactic);
    if (!l.quantized.empty()) fmt::print("       scales: {}\n", quantized_text(l, false));
    if (!l.when.empty()) fmt::print("       runs when '{}' is {}\n", l.when, l.when_true ? "true" : "false");
  }
  return 0;
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  CLI::App* c = app.add_subcommand("inspect", "Describe a plan: layers, kernels, precision, memory");
  c->add_option("plan", a->plan, "Plan file")->required();
  c->add_flag("--json", a->json, "Print one JSON object");
  c->callback([a] { inspect(*a); });
}

}  // namespace kiln::cli
