// The compile driver: import -> passes -> plan preparation -> tactic selection (timed, with the
// timing cache) -> memory plan -> serialization.
#include <chrono>
#include <optional>
#include <cstdio>
#include <thread>
#include <unordered_set>

#include <omp.h>

#include "import/importer.h"
#include "import/preprocess.h"
#include "kiln/compiler.hpp"
#include "kernels/kernel.h"
#include "plan/plan_format.h"
#include "ops/tensor/identity.h"
#include "passes/pass.h"
#include "profile.h"
#include "quant/calibrate.h"
#include "serialize/memory_plan.h"
#include "serialize/plan_writer.h"
#include "tune/select.h"
#include "tune/layout_choice.h"
#include "tune/tactics.h"
#include "tune/timer.h"

namespace kiln {

namespace {

// The runtime needs every shape fixed and every graph output a distinct, node-produced buffer.
void prepare_for_plan(ir::Graph& g, const std::string& origin) {
  passes::verify_predicates(g);  // whatever the passes did (or were told not to do)
  for (auto& io : g.inputs)
    if (!shape_static(io.value->type.shape)) {
      std::string dims;
      for (size_t i = 0; i < io.value->type.shape.size(); ++i)
        if (io.value->type.shape[i] < 0)
          dims += (dims.empty() ? "" : ", ") + std::to_string(i) +
                  (io.value->dim_params[i].empty() ? "" : " ('" + io.value->dim_params[i] + "')");
      Dims example = io.value->type.shape;
      for (int64_t& d : example) d = d < 0 ? 1 : d;
      throw Error(origin + ": input '" + io.name + "' has dynamic dimension(s) " + dims +
                  "; fix them with --shapes, e.g. --shapes=" + io.name + ":" + shape_str(example) +
                  ", or give a range with --minShapes, --optShapes and --maxShapes");
    }
  // Tensors whose shape depends on input values (Shape -> Reshape, NonZero, ...) stay dynamic:
  // the runtime infers and allocates them on every run. Only their rank must be known.
  std::vector<const ir::Value*> seen;
  for (auto& io : g.outputs) {
    ir::Value* v = io.value;
    bool dup = std::find(seen.begin(), seen.end(), v) != seen.end();
    if (v->is_constant() || g.is_graph_input(v) || dup) {
      // The copy carries the output's name; a constant source gives its name up.
      ir::Value* copy = g.add_value(io.name, v->type);
      if (v->name == io.name && !g.is_graph_input(v)) v->name = g.unique_name(io.name + "/src");
      g.add_node(g.unique_name(io.name + "/copy"), std::make_unique<ops::Identity>(), {v}, {copy});
      io.value = copy;
    }
    if (io.value->name != io.name)
      throw Error("internal error: graph output '" + io.name + "' is bound to tensor '" + io.value->name + "'");
    seen.push_back(io.value);
  }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> pass_list() {
  std::vector<std::pair<std::string, std::string>> r;
  for (auto& p : passes::pipeline()) r.emplace_back(p.name, p.why);
  return r;
}

namespace {

// Import, optimise and verify the model at one set of input shapes.
std::unique_ptr<ir::Graph> build_graph(const std::string& path, const CompileOptions& opts,
                                       const std::map<std::string, std::vector<int64_t>>& profile_shapes,
                                       const char* profile_flag, CompileResult& res,
                                       const quant::CalibTable* calib = nullptr) {
  onnx_import::ImportOptions io;
  for (auto& [k, v] : opts.shapes) io.shapes[k] = v;
  for (auto& [k, v] : profile_shapes) {
    io.shapes[k] = v;
    io.shape_flags[k] = profile_flag;
  }
  io.warnings = &res.warnings;
  io.dynamic_dims_to_one = true;  // plans are built for concrete shapes
  io.shapes_vary = profile::requested(opts);
  io.body_disabled_passes = opts.disable_passes;
  io.body_activation_layout = opts.activation_layout;
  // int8 scales are calibrated on the model's own tensors, and layer pins name its layers: a
  // body is built in float (bf16 where allowed) and without pins.
  io.body_precision.bf16 = opts.precision.bf16 || opts.precision.best;
  io.body_precision.fp16 = opts.precision.fp16 || opts.precision.best;
  auto g = onnx_import::import_onnx(path, io);
  res.onnx_nodes = g->nodes().size();
  // Before the passes, so fold-preprocess can absorb the inserted ops into the first layers.
  onnx_import::apply_preprocess(*g, opts.preprocess, path, &res.warnings);

  passes::PipelineOptions po;
  po.disabled = opts.disable_passes;
  po.dump_after = opts.dump_after;
  po.log = &res.log;
  po.precision = &opts.precision;
  po.warnings = &res.warnings;
  po.precision_summary = &res.precision_summary;
  po.builder_level = opts.builder_level;
  po.activation_layout = opts.activation_layout;
  po.calib = calib;
  try {
    passes::run_pipeline(*g, po);
    prepare_for_plan(*g, path);
    g->topo_sort();
    ir::verify(*g);
  } catch (const OptionError& e) {
    throw OptionError(path + ": " + e.what());
  } catch (const Error& e) {
    std::string m = e.what();
    if (m.rfind(path, 0) == 0) throw;
    throw Error(path + ": " + m);
  }
  return g;
}

// The static plan of a graph with its picks.
std::vector<uint8_t> static_plan(const ir::Graph& g, const std::vector<tune::LayerPick>& picks,
                                 const MachineInfo& m, int level) {
  std::vector<std::string> kernels;
  std::vector<serialize::TunedTactic> tactics;
  for (auto& p : picks) {
    kernels.push_back(p.impl);
    tactics.push_back(p.tuned);
  }
  const serialize::MemoryPlan mem = serialize::plan_memory(g);
  return serialize::write_plan({g, kernels, mem, m, {}, {}, tactics, level});
}

}  // namespace

// A run-time Loop's body gets the model's passes and fast kernels, chosen untimed: its layers are
// small, and a body is built once per Loop node while it is imported, before the model's tuning.
std::vector<uint8_t> onnx_import::compile_subgraph(ir::Graph& g, const std::string& what,
                                                   const onnx_import::ImportOptions& opts) {
  passes::PipelineOptions po;
  po.warnings = opts.warnings;
  po.disabled = opts.body_disabled_passes;
  po.activation_layout = opts.body_activation_layout;
  po.precision = &opts.body_precision;
  passes::run_pipeline(g, po);
  prepare_for_plan(g, what);
  g.topo_sort();
  ir::verify(g);
  MachineInfo m = current_machine();
  m.threads = omp_get_max_threads();
  tune::TuneStats none;
  const auto picks = tune::choose_tactics(g, tune::TuneOptions{0, m, nullptr}, none, nullptr);
  return static_plan(g, picks, m, 0);
}

namespace {

// The graph-level tactic (level >= 3): blocked layout regions as assign-layouts made them, or plain
// layouts throughout, whichever runs the whole plan faster here, reorders included. Within the
// noise margin the blocked graph stays. The end-to-end times go through the timing cache too.
template <class Choose>
void choose_layouts(const std::string& path, const CompileOptions& opts, const tune::TuneOptions& topts,
                    std::unique_ptr<ir::Graph>& g, std::vector<tune::LayerPick>& picks, tune::TuneStats& stats,
                    Choose& choose, CompileResult& res, const quant::CalibTable* calib) {
  for (auto& d : opts.disable_passes)
    if (d == "assign-layouts") return;  // the user chose plain layouts
  if (!tune::has_blocked_layouts(*g)) return;
  // Both end-to-end times are keyed by the blocked graph (with its picks), so a warm build that
  // keeps the blocked graph never builds the plain one.
  const std::string machine = tune::machine_signature(topts.machine);
  const std::string sig = tune::graph_signature(*g, picks);
  const std::string keys[2] = {tune::TimingCache::key(machine, sig, "end-to-end blocked"),
                               tune::TimingCache::key(machine, sig, "end-to-end plain")};
  double us[2] = {0, 0};
  bool cached[2] = {false, false};
  for (int v = 0; v < 2; ++v)
    if (auto hit = topts.cache ? topts.cache->find(keys[v]) : std::nullopt) us[v] = *hit, cached[v] = true;
  const bool plain_may_win = !(cached[0] && cached[1]) || us[1] * 1.03 < us[0];
  std::unique_ptr<ir::Graph> gp;
  std::vector<tune::LayerPick> pp;
  if (plain_may_win) {
    CompileOptions plain_opts = opts;
    plain_opts.disable_passes.push_back("assign-layouts");
    CompileResult scratch;
    gp = build_graph(path, plain_opts, opts.opt_shapes, "--optShapes", scratch, calib);
    pp = choose(*gp, nullptr);
  }
  const int samples = opts.builder_level >= 5 ? 15 : opts.builder_level >= 4 ? 9 : 7;
  std::vector<std::vector<uint8_t>> to_time;
  std::vector<int> which;
  for (int v = 0; v < 2; ++v) {
    if (cached[v]) {
      ++stats.cached;
      continue;
    }
    to_time.push_back(v == 0 ? static_plan(*g, picks, topts.machine, opts.builder_level)
                             : static_plan(*gp, pp, topts.machine, opts.builder_level));
    which.push_back(v);
  }
  if (!to_time.empty()) {
    const std::vector<double> t = tune::time_plans(to_time, samples);
    for (size_t i = 0; i < which.size(); ++i) {
      us[which[i]] = t[i];
      ++stats.measured;
      if (topts.cache) topts.cache->put(keys[which[i]], t[i]);
    }
  }
  const double blocked = us[0], plain = us[1];
  res.tune.graph_variants = 2;
  const bool take_plain = plain * 1.03 < blocked;
  res.tune.layout_choice = take_plain ? "plain" : "blocked";
  char line[160];
  std::snprintf(line, sizeof line, "tune: graph layouts: blocked %.1f us, plain %.1f us end to end: %s", blocked, plain,
                res.tune.layout_choice.c_str());
  res.log.push_back(line);
  if (take_plain) {
    g = std::move(gp);
    picks = std::move(pp);
  }
}

}  // namespace

CompileResult compile_onnx_file(const std::string& path, const CompileOptions& opts) {
  CompileResult res;
  if (opts.threads > 0) omp_set_num_threads(opts.threads);
  // Timed and test-created oneDNN kernels must not plan for threads OMP_THREAD_LIMIT withholds
  // (see the runtime's clamp_threads_to_limit).
  if (omp_get_max_threads() > omp_get_thread_limit()) omp_set_num_threads(omp_get_thread_limit());
  for (auto& name : opts.disable_passes) {
    bool known = false;
    for (auto& p : passes::pipeline()) known |= name == p.name;
    if (!known) throw Error("--disable-pass: no pass named '" + name + "' (see `kiln passes`)");
  }
  const std::string& al = opts.activation_layout;
  if (!al.empty() && al != "auto" && al != "blocked" && al != "nhwc" && al != "plain")
    throw OptionError("--activationLayout: unknown layout '" + al + "'; use auto, blocked, nhwc or plain");
  validate_precision_options(opts.precision);
  const bool profiled = profile::requested(opts);
  if (profiled) profile::check_flags(opts);
  // Passes, layouts and kernels are chosen at the opt shapes.
  if (opts.builder_level < 0 || opts.builder_level > tune::kMaxLevel)
    throw Error("--builderOptimizationLevel must be 0 to " + std::to_string(tune::kMaxLevel) + ", got " +
                std::to_string(opts.builder_level));
  MachineInfo m = current_machine();
  m.threads = opts.threads > 0 ? opts.threads : omp_get_max_threads();
  // Without a file the cache still lives for this build, so repeated layers are timed once.
  if (!opts.builder_cache && !opts.timing_cache_file.empty())
    throw OptionError("a timing cache file (--timingCacheFile) and no builder cache (--noBuilderCache) "
                      "contradict each other; drop one");
  tune::TimingCache cache;
  if (!opts.timing_cache_file.empty()) cache = tune::TimingCache::load(opts.timing_cache_file, res.warnings);
  const tune::TuneOptions topts{opts.builder_level, m, opts.builder_cache ? &cache : nullptr};
  // int8: each activation's range, measured on the fp32 graph (plain layouts: the same tensors by
  // name as the int8 build's) or read from the calibration cache.
  std::optional<quant::CalibTable> calib;
  if (opts.precision.int8) {
    auto fp32_graph = [&] {
      CompileOptions c = opts;
      c.precision = PrecisionOptions{};
      c.disable_passes.push_back("assign-layouts");
      c.disable_passes.push_back("assign-int8");  // a QDQ model's own int8 layers: calibrate in float
      CompileResult scratch;
      return build_graph(path, c, opts.opt_shapes, "--optShapes", scratch);
    };
    auto make_plan = [&](ir::Graph& cg) {
      prepare_for_plan(cg, path);
      cg.topo_sort();
      ir::verify(cg);
      tune::TuneStats none;
      const auto picks = tune::choose_tactics(cg, tune::TuneOptions{0, m, nullptr}, none, nullptr);
      return static_plan(cg, picks, m, 0);
    };
    try {
      calib = quant::calibration_table(path, opts, fp32_graph, make_plan, res.calibration);
    } catch (const OptionError& e) {
      throw OptionError(path + ": " + e.what());
    }
    res.precision_summary.push_back(res.calibration);
  }
  const quant::CalibTable* calib_ptr = calib ? &*calib : nullptr;
  auto g = build_graph(path, opts, opts.opt_shapes, "--optShapes", res, calib_ptr);
  tune::TuneStats stats;
  const auto tune_start = std::chrono::steady_clock::now();
  auto choose = [&](const ir::Graph& graph, std::vector<std::string>* log) {
    try {
      return tune::choose_tactics(graph, topts, stats, log);
    } catch (const Error& e) {
      throw Error(path + ": " + e.what());
    }
  };
  std::vector<tune::LayerPick> picks = choose(*g, &res.log);
  res.tune = {opts.builder_level, 0, 0, 0, 0, 0, ""};
  if (!profiled && opts.builder_level >= 3) choose_layouts(path, opts, topts, g, picks, stats, choose, res, calib_ptr);
  res.tune.layers_timed = stats.layers_timed;
  res.tune.measured = stats.measured;
  res.tune.cached = stats.cached;
  res.tune.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - tune_start).count();
  if (stats.measured) {
    const double pressure = tune::cpu_pressure();
    if (pressure > 20)
      res.warnings.push_back(path + ": other processes kept this build waiting for a CPU " +
                             std::to_string(static_cast<int>(pressure)) + "% of the time while it timed tactics "
                             "(/proc/pressure/cpu); the timings, and so the chosen tactics, may be off: tune on an "
                             "idle machine, or with fewer --threads than cores");
  }
  res.tactic_table = tune::tactic_table(*g, picks);
  std::vector<std::string> kernels;
  std::vector<serialize::TunedTactic> tactics;
  for (auto& p : picks) {
    kernels.push_back(p.impl);
    tactics.push_back(p.tuned);
  }
  serialize::MemoryPlan mem;
  serialize::PlanInput plan_in{*g, kernels, mem, m, {}, {}, tactics, opts.builder_level};
  if (!profiled) {
    mem = serialize::plan_memory(*g);
  } else {
    // The graphs at min and max must be the opt graph with other shapes; the memory plan is made
    // at max and applied to the opt graph's tensors, position by position, each slot holding the
    // tensor's largest size (the runtime checks every specialisation fits).
    CompileResult scratch;
    const CompileOptions ends = profile::ends_options(opts, *g);
    auto gmin = build_graph(path, ends, opts.min_shapes, "--minShapes", scratch, calib_ptr);
    auto gmax = build_graph(path, ends, opts.max_shapes, "--maxShapes", scratch, calib_ptr);
    profile::check_same_structure(*g, *gmin, "--minShapes", path);
    profile::check_same_structure(*g, *gmax, "--maxShapes", path);
    // Kernels are chosen at opt; say where the ends of the profile would choose otherwise (the
    // runtime then falls back to another implementation for such shapes).
    for (auto [other, flag] : {std::pair{gmin.get(), "--minShapes"}, std::pair{gmax.get(), "--maxShapes"}}) {
      std::vector<std::string> picks;
      try {
        picks = tune::select_kernels(*other, nullptr);
      } catch (const Error& e) {
        throw Error(path + ": at the " + flag + " shapes: " + e.what());
      }
      for (size_t i = 0; i < picks.size() && i < kernels.size(); ++i)
        if (picks[i] != kernels[i])
          res.warnings.push_back(path + ": " + ir::node_label(*g->nodes()[i]) + ": kernel '" + kernels[i] +
                                 "', chosen at --optShapes, is not the one chosen at the " + flag + " shapes ('" +
                                 picks[i] + "'); shapes where it declines fall back to another kernel at run time");
    }
    const serialize::MemoryPlan at_max = serialize::plan_memory(*gmax);
    const auto vopt = profile::value_order(*g), vmax = profile::value_order(*gmax);
    if (vopt.size() != vmax.size()) throw Error("internal error: the profile's graphs differ in size");
    for (size_t i = 0; i < vopt.size(); ++i) {
      auto it = at_max.offset.find(vmax[i]);
      if (it == at_max.offset.end()) continue;  // dynamic (value-dependent) tensors: no arena slot
      mem.offset[vopt[i]] = it->second;
      const ir::Value &o = *vopt[i], &x = *vmax[i];
      const uint64_t cap = dnn::physical_bytes(x.type.dtype, x.type.shape, x.layout);
      if (cap < dnn::physical_bytes(o.type.dtype, o.type.shape, o.layout))
        throw Error(path + ": tensor '" + o.name + "' is larger at --optShapes (" + shape_str(o.type.shape) +
                    ") than at --maxShapes (" + shape_str(x.type.shape) + "); kiln plans memory at the max "
                    "shapes, so tensors must not shrink as the inputs grow");
      plan_in.capacity[vopt[i]] = cap;
    }
    mem.arena_bytes = at_max.arena_bytes;
    mem.activation_bytes = at_max.activation_bytes;
    // From the built graphs rather than the flags: pre-processing may have changed an input's
    // layout (--inputLayout=NHWC), and the range must be in the layout the application feeds.
    if (gmin->inputs.size() != g->inputs.size() || gmax->inputs.size() != g->inputs.size())
      throw Error("internal error: the profile's graphs have different inputs");
    for (size_t k = 0; k < g->inputs.size(); ++k)
      plan_in.ranges.push_back({gmin->inputs[k].value->type.shape, gmax->inputs[k].value->type.shape});
    res.log.push_back("profile: memory planned at --maxShapes: arena " + std::to_string(mem.arena_bytes) +
                      " bytes");
  }
  plan_in.prepack = true;
  plan_in.release_constants = true;  // the graph's weights are not read again (only their sizes)
  plan_in.weights_file = opts.weights_file;
  plan_in.external_weights = opts.external_weights;
  if (opts.external_weights && opts.weights_file.empty())
    throw OptionError("external weights need a weights file name (CompileOptions::weights_file)");
  if (!opts.weights_file.empty() && !plan::weights_file_name_ok(opts.weights_file))
    throw OptionError("weights file '" + opts.weights_file + "' must be a plain file name: it lives beside the plan");
  serialize::PlanFiles files = serialize::write_plan_files(plan_in);
  res.plan = std::move(files.plan);
  res.weights = std::move(files.weights);
  res.layers = g->nodes().size();
  // What the plan computes in and stores, for the API's callers (the CLI prints the summary lines).
  std::unordered_set<const ir::Value*> seen;
  for (auto& n : g->nodes()) {
    const DType p = n->precision != DType::Undefined ? n->precision
                    : n->outputs.empty()              ? DType::Float32
                                                      : n->outputs[0]->type.dtype;
    ++res.layers_by_precision[p == DType::BFloat16 ? "bf16" : p == DType::Float32 ? "fp32"
                              : dtype_quantized(p)      ? "int8"
                                                        : dtype_name(p)];
    for (const ir::Value* v : n->inputs)
      if (v && v->is_constant() && seen.insert(v).second) {
        const bool half = v->stored_dtype == DType::Float16 && v->type.dtype == DType::Float32;
        res.weight_bytes_by_type[half ? "fp16" : v->type.dtype == DType::BFloat16 ? "bf16"
                                 : v->type.dtype == DType::Float32 ? "fp32"
                                 : v->type.dtype == DType::QInt8   ? "int8"
                                                                   : dtype_name(v->type.dtype)] +=
            half ? v->constant->size() / 2 : v->constant->size();
      }
  }
  if (cache.dirty() && !opts.timing_cache_file.empty()) {
    try {
      cache.save(opts.timing_cache_file);
    } catch (const Error& e) {  // the plan is good; only the next build loses the measurements
      res.warnings.push_back(std::string(e.what()) + "; the plan was written, the measurements were not kept");
    }
  }
  return res;
}

}  // namespace kiln
