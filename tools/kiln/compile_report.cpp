#include "compile_report.h"

#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "check_cli.h"
#include "cli_util.h"
#include "kiln/runtime.hpp"

namespace kiln::cli {

namespace {

std::string quoted(const std::string& s) { return "\"" + json_escape(s) + "\""; }

std::string string_list(const std::vector<std::string>& v) {
  std::string r;
  for (size_t i = 0; i < v.size(); ++i) r += (i ? ", " : "") + quoted(v[i]);
  return "[" + r + "]";
}

std::string count_map(const std::map<std::string, size_t>& m) {
  std::string r;
  for (auto& [k, n] : m) r += fmt::format("{}{}: {}", r.empty() ? "" : ", ", quoted(k), n);
  return "{" + r + "}";
}

std::string tensors(const std::vector<TensorDesc>& v) {
  std::string r;
  for (size_t i = 0; i < v.size(); ++i)
    r += fmt::format("{}{{\"name\": {}, \"dtype\": \"{}\", \"shape\": [{}]{}}}", i ? ", " : "",
                     quoted(v[i].name), dtype_name(v[i].dtype), fmt::join(v[i].shape, ", "),
                     v[i].dynamic() ? fmt::format(", \"min_shape\": [{}], \"max_shape\": [{}]",
                                                  fmt::join(v[i].min_shape, ", "), fmt::join(v[i].max_shape, ", "))
                                    : "");
  return "[" + r + "]";
}

std::string join_plus(const std::vector<std::string>& v) {
  std::string r;
  for (size_t i = 0; i < v.size(); ++i) r += (i ? "+" : "") + v[i];
  return r;
}

}  // namespace

std::string compile_report_json(const CompileReportInput& in) {
  const CompileResult& r = *in.result;
  auto e = Engine::load_memory(r.plan, in.plan);
  // A layer that absorbed more than one ONNX op is a fusion; its pattern is the op sequence.
  std::map<std::string, size_t> fusions, precisions, kernels;
  std::string layers;
  for (size_t i = 0; i < e->layers().size(); ++i) {
    const LayerInfo& l = e->layers()[i];
    if (l.fused.size() > 1) ++fusions[join_plus(l.fused)];
    ++precisions[dtype_quantized(l.precision) ? "int8" : dtype_name(l.precision)];
    ++kernels[l.kernel];
    layers += fmt::format(
        "{}    {{\"index\": {}, \"name\": {}, \"op\": {}, \"kernel\": {}, \"precision\": \"{}\", "
        "\"format\": {}, \"fused\": {}}}",
        i ? ",\n" : "", i, quoted(l.name), quoted(l.op), quoted(l.kernel),
        dtype_quantized(l.precision) ? "int8" : dtype_name(l.precision),
        quoted(l.layout.empty() ? "plain" : l.layout), string_list(l.fused));
  }
  auto shape_map = [](const std::map<std::string, std::vector<int64_t>>& m) {
    std::string r;
    for (auto& [name, dims] : m)
      r += fmt::format("{}{}: [{}]", r.empty() ? "" : ", ", quoted(name), fmt::join(dims, ", "));
    return "{" + r + "}";
  };
  std::string shapes = "{}", profile;
  if (in.options) {
    shapes = shape_map(in.options->shapes);
    // The optimisation profile, when one was given.
    if (!in.options->opt_shapes.empty())
      profile = fmt::format(", \"min_shapes\": {}, \"opt_shapes\": {}, \"max_shapes\": {}",
                            shape_map(in.options->min_shapes), shape_map(in.options->opt_shapes),
                            shape_map(in.options->max_shapes));
  }
  const MachineInfo& m = e->build_machine();
  std::string o;
  o += "{\n";
  o += fmt::format("  \"kiln_version\": \"{}\",\n", KILN_VERSION);
  o += fmt::format("  \"model\": {},\n  \"plan\": {},\n  \"plan_written\": {},\n", quoted(in.model),
                   quoted(in.plan), in.plan_written);
  o += fmt::format("  \"schema_version\": {},\n", e->schema_version());
  o += fmt::format("  \"build_time_s\": {:.3f},\n", in.build_seconds);
  o += fmt::format("  \"onnx_nodes\": {},\n  \"layer_count\": {},\n", r.onnx_nodes, e->layers().size());
  o += fmt::format("  \"plan_bytes\": {},\n  \"weight_bytes\": {},\n", r.plan.size(), e->weight_bytes());
  o += fmt::format("  \"arena_bytes\": {},\n  \"activation_bytes\": {},\n", e->arena_bytes(),
                   e->activation_bytes());
  o += fmt::format("  \"machine\": {{\"isa\": {}, \"cpu\": {}, \"cores\": {}, \"threads\": {}}},\n",
                   quoted(m.isa), quoted(m.cpu), m.cores, m.threads);
  std::vector<std::string> prec_flags;
  if (in.options) {
    const PrecisionOptions& p = in.options->precision;
    if (p.bf16) prec_flags.push_back("bf16");
    if (p.fp16) prec_flags.push_back("fp16");
    if (p.best) prec_flags.push_back("best");
    if (p.int8) prec_flags.push_back("int8");
  }
  o += fmt::format("  \"options\": {{\"shapes\": {}{}, \"disabled_passes\": {}, \"precision\": {}}},\n", shapes,
                   profile, string_list(in.options ? in.options->disable_passes : std::vector<std::string>{}),
                   string_list(prec_flags));
  o += fmt::format("  \"inputs\": {},\n  \"outputs\": {},\n", tensors(e->inputs()), tensors(e->outputs()));
  o += fmt::format("  \"fusions\": {},\n", count_map(fusions));
  o += fmt::format("  \"precision_counts\": {},\n  \"kernel_counts\": {},\n", count_map(precisions),
                   count_map(kernels));
  o += fmt::format("  \"precision_summary\": {},\n", string_list(r.precision_summary));
  if (!r.calibration.empty()) o += fmt::format("  \"calibration\": {},\n", quoted(r.calibration));
  o += fmt::format("  \"warnings\": {},\n", string_list(r.warnings));
  if (in.check) o += fmt::format("  \"check\": {},\n", check_json(*in.check));
  o += fmt::format("  \"layers\": [\n{}\n  ]\n}}\n", layers);
  return o;
}

}  // namespace kiln::cli
