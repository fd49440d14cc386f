// `kiln compile` (ONNX -> plan, optionally a JSON build report), `kiln passes` and `kiln ops`.
#include <chrono>
#include <cstdio>
#include <optional>

#include <fmt/format.h>

#include "check_cli.h"
#include "cli_util.h"
#include "commands.h"
#include "compile_report.h"
#include "kiln/compiler.hpp"
#include "preprocess_flags.h"

namespace kiln::cli {

namespace {

// trtexec's default: a plan built on the command line is usually the one deployed, so it times
// tactics unless asked not to (level 0 builds fast and reproducibly); docs/cli-guide.md#tuning.
constexpr int kDefaultBuilderLevel = 3;

struct CompileArgs {
  std::string model, output, shapes, report, timing_cache;
  bool no_builder_cache = false;
  int threads = 0;
  int builder_level = kDefaultBuilderLevel;
  bool verbose = false;
  std::vector<std::string> disable_passes, dump_after, min_shapes, opt_shapes, max_shapes;
  PreprocessFlags pre;
  bool bf16 = false, fp16 = false, best = false, int8 = false, int8_dynamic = false, external_weights = false;
  std::string precision_constraints, activation_layout, calib_method, calib_cache;
  std::vector<std::string> layer_precisions, layer_output_types;
  CheckFlags check;
};

// "conv1:fp32,layer*:bf16" (repeatable) -> ordered (pattern, precision) pairs; the last ':' splits.
std::vector<std::pair<std::string, std::string>> parse_layer_pins(const std::vector<std::string>& specs,
                                                                  const char* flag) {
  std::vector<std::pair<std::string, std::string>> r;
  for (const std::string& spec : specs) {
    size_t start = 0;
    while (start <= spec.size()) {
      size_t end = spec.find(',', start);
      if (end == std::string::npos) end = spec.size();
      const std::string item = spec.substr(start, end - start);
      const size_t colon = item.rfind(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == item.size())
        throw UsageError(std::string(flag) + ": expected NAME:PRECISION (e.g. conv1:fp32 or 'attn*:bf16'), got '" +
                         item + "'");
      r.emplace_back(item.substr(0, colon), item.substr(colon + 1));
      start = end + 1;
    }
  }
  return r;
}

PrecisionOptions parse_precision(const CompileArgs& a) {
  PrecisionOptions p;
  p.bf16 = a.bf16;
  p.fp16 = a.fp16;
  p.best = a.best;
  p.int8 = a.int8;
  p.int8_dynamic = a.int8_dynamic;
  p.constraints = a.precision_constraints;
  p.layer_precisions = parse_layer_pins(a.layer_precisions, "--layerPrecisions");
  p.layer_output_types = parse_layer_pins(a.layer_output_types, "--layerOutputTypes");
  try {
    validate_precision_options(p);
  } catch (const OptionError& e) {
    throw UsageError(e.what());
  }
  return p;
}

int run_compile(const CompileArgs& a) {
  CompileOptions o;
  o.shapes = parse_shapes(a.shapes, "--shapes");
  o.min_shapes = parse_shapes(a.min_shapes, "--minShapes");
  o.opt_shapes = parse_shapes(a.opt_shapes, "--optShapes");
  o.max_shapes = parse_shapes(a.max_shapes, "--maxShapes");
  o.threads = a.threads;
  o.verbose = a.verbose;
  // The sidecar is named after the plan, so a folder of plans keeps each one's weights apart.
  o.weights_file = weights_file_for(a.output);
  o.external_weights = a.external_weights;
  o.disable_passes = a.disable_passes;
  o.dump_after = a.dump_after;
  o.preprocess = parse_preprocess(a.pre);
  o.builder_level = a.builder_level;
  o.timing_cache_file = a.timing_cache;
  o.builder_cache = !a.no_builder_cache;
  o.precision = parse_precision(a);
  o.activation_layout = a.activation_layout;
  o.calib_dir = a.check.calib;
  o.calib_method = a.calib_method;
  o.calib_cache = a.calib_cache;
  if (!a.int8 && (!a.calib_method.empty() || !a.calib_cache.empty()))
    throw UsageError(std::string(!a.calib_method.empty() ? "--calibMethod" : "--calibCache") +
                     ": calibration is for int8 layers; add --int8");
  CheckTolerance tolerance;
  const bool check = check_requested(a.check, tolerance);
  auto t0 = std::chrono::steady_clock::now();
  CompileResult r;
  try {
    r = compile_onnx_file(a.model, o);
  } catch (const OptionError& e) {
    throw UsageError(e.what());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& w : r.warnings) fmt::print(stderr, "warning: {}\n", w);
  for (auto& l : r.precision_summary) fmt::print(stderr, "kiln: precision: {}\n", l);
  if (a.verbose || !a.dump_after.empty())
    for (auto& l : r.log) fmt::print(stderr, "{}\n", l);
  if (a.verbose) {
    fmt::print(stderr, "tactics (--builderOptimizationLevel={}):\n", r.tune.level);
    for (auto& row : r.tactic_table) fmt::print(stderr, "  {}\n", row);
    fmt::print(stderr,
               "tuning: {} layers timed, {} candidates measured, {} from the timing cache, {:.2f} s{}; "
               "total build {:.2f} s\n",
               r.tune.layers_timed, r.tune.measured, r.tune.cached, r.tune.seconds,
               r.tune.layout_choice.empty() ? "" : fmt::format("; layouts: {} (timed end to end)", r.tune.layout_choice),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::optional<AccuracyReport> acc;
  if (check) {
    try {
      acc = run_check(a.check, tolerance, a.model, o, r);
      if (!acc->passed() && o.precision.int8) {
        // kiln's accuracy-driven fallback: the fewest int8 layers to float that meet the tolerance.
        fmt::print(stderr, "kiln: int8 fallback: the all-int8 plan misses --checkTolerance; measuring each int8 "
                           "layer's error alone in int8\n");
        Int8FallbackResult fb =
            compile_int8_with_fallback(a.model, o, check_options(a.check, tolerance, a.model, r), &r);
        if (a.verbose)
          for (auto& l : fb.log) fmt::print(stderr, "kiln: int8 fallback: {}\n", l);
        r = std::move(fb.result);
        acc = std::move(fb.report);
        if (acc->passed()) {
          fmt::print(stderr, "kiln: int8 fallback: moved {} of {} int8 layer(s) to {} to meet the tolerance:\n",
                     fb.moved.size(), fb.int8_layers, o.precision.bf16 || o.precision.best ? "bf16" : "fp32");
          for (auto& m : fb.moved) fmt::print(stderr, "  {}\n", m);
          for (auto& l : r.precision_summary) fmt::print(stderr, "kiln: precision: {}\n", l);
        } else {
          fmt::print(stderr, "kiln: int8 fallback: even with all {} int8 layer(s) in float the plan misses the "
                             "tolerance\n", fb.int8_layers);
        }
        print_table(*acc);
      }
    } catch (const OptionError& e) {
      throw UsageError(e.what());
    }
  }
  const bool passed = !acc || acc->passed();
  if (passed) write_plan_files(a.output, r.plan, r.weights, o.weights_file);
  // A failed check still writes the report (its "check" object says why), never the plan.
  if (!a.report.empty()) {
    std::string json = compile_report_json({a.model, a.output, &o, &r, secs, acc ? &*acc : nullptr, passed});
    if (a.report == "-") {
      fmt::print("{}", json);
      std::fflush(stdout);
    } else {
      write_file_atomic(a.report, json.data(), json.size());
    }
  }
  if (!passed) throw Error(fmt::format("{}: {}; no plan was written", a.model, describe_misses(*acc)));
  fmt::print(stderr, "kiln: compiled {} ({} ONNX nodes) into {} layers in {:.2f} s; wrote {} ({})\n", a.model,
             r.onnx_nodes, r.layers, secs, a.output, human_bytes(r.plan.size()));
  if (!r.weights.empty())
    fmt::print(stderr, "kiln: the weights are in {}.weights ({}); keep it beside the plan\n", a.output,
               human_bytes(r.weights.size()));
  return 0;
}

}  // namespace

void add_compile_command(CLI::App& app) {
  auto args = std::make_shared<CompileArgs>();
  CLI::App* c = app.add_subcommand("compile", "Compile an ONNX model into a plan file");
  c->add_option("model", args->model, "ONNX model file")->required()->type_name("MODEL.onnx");
  c->add_option("-o,--output,--saveEngine", args->output, "Plan file to write")
      ->required()
      ->type_name("PLAN");
  c->add_option("--shapes", args->shapes, "Fixed input shapes: name:1x3x224x224[,name2:...]")
      ->type_name("SHAPES");
  c->add_option("--minShapes", args->min_shapes,
                "Smallest shapes of an optimisation profile: name:1x3x64x64[,name2:...]. Give --minShapes, "
                "--optShapes and --maxShapes for every input whose shape varies")
      ->type_name("SHAPES")
      ->allow_extra_args(false);
  c->add_option("--optShapes", args->opt_shapes,
                "Shapes the profile is optimised for: passes, layouts and kernels are chosen at these")
      ->type_name("SHAPES")
      ->allow_extra_args(false);
  c->add_option("--maxShapes", args->max_shapes,
                "Largest shapes of the profile; the memory plan covers them. `kiln run --shapes` then "
                "picks any shape between min and max")
      ->type_name("SHAPES")
      ->allow_extra_args(false);
  c->add_option("--threads", args->threads, "Threads used while building")
      ->check(CLI::Range(1, 4096))
      ->default_str("OMP_NUM_THREADS or all cores");
  c->add_option("--disable-pass", args->disable_passes, "Skip an optimisation pass (see `kiln passes`)")
      ->type_name("PASS");
  c->add_option("--dump-after", args->dump_after, "Print the graph after this pass (to stderr)")
      ->type_name("PASS");
  c->add_option("--mean", args->pre.mean,
                "Bake input pre-processing into the plan: subtract these per-channel values (model channel "
                "order) from the input. Form [NAME:]M,M,...; NAME selects the input of a multi-input model")
      ->type_name("MEANS");
  c->add_option("--scale", args->pre.scale,
                "Divide the input by these non-zero per-channel values (after --mean, model channel order). "
                "Form [NAME:]S,S,...")
      ->type_name("SCALES");
  c->add_flag("--reverseInputChannels", args->pre.reverse,
              "The application feeds the channels in reverse order (RGB for a BGR model, or the other way); "
              "applied before --mean and --scale. --reverseInputChannels=NAME selects an input")
      ->type_name("[=NAME]");
  c->add_option("--inputLayout", args->pre.layout,
                "Layout the application feeds: NHWC makes the plan's input NHWC (4-D NCHW inputs only). "
                "Form [NAME:]NHWC or [NAME:]NCHW")
      ->type_name("LAYOUT");
  c->add_option("--inputType", args->pre.type,
                "Element type the application feeds: u8 makes the plan's input uint8 (float32 inputs only). "
                "Form [NAME:]u8 or [NAME:]f32")
      ->type_name("TYPE");
  c->add_option("--builderOptimizationLevel", args->builder_level,
                "Tactic search breadth: 0 = heuristic kernel choice, nothing timed (fastest build); 1 = time oneDNN's "
                "implementations of Conv/ConvTranspose/Gemm/MatMul; 2 = also Winograd and pooling; 3 = also "
                "the graph's layout (blocked vs plain, end to end) and every heavy layer; 4-5 = more samples")
      ->check(CLI::Range(0, 5))
      ->default_val(kDefaultBuilderLevel);
  c->add_option("--timingCacheFile", args->timing_cache,
                "Timing cache: measurements keyed by layer and machine signature are read from FILE and "
                "the new ones written back (atomically), so a rebuild times nothing it has seen; a damaged "
                "or foreign file is ignored with a warning")
      ->type_name("FILE");
  c->add_flag("--noBuilderCache", args->no_builder_cache,
              "Use no timing cache, not even within this build: a layer repeated in the model is timed each "
              "time (trtexec's --noBuilderCache); cannot go with --timingCacheFile");
  c->add_flag("--externalWeights", args->external_weights,
              "Write the weights to PLAN.weights beside the plan instead of into it (always done above 1 GiB of "
              "weights, which a plan cannot hold inline); the plan records the file's name, size and checksum");
  c->add_flag("--bf16", args->bf16,
              "Allow bfloat16: conv, matmul, pooling, eltwise, normalisation and softmax layers compute in bf16 "
              "(fp32 accumulation) where this CPU's kernels run it fast; weights stored as bf16");
  c->add_flag("--fp16", args->fp16,
              "Store fp32 weights as IEEE half in the plan (about half the size); layers compute in fp32, or "
              "bf16 with --bf16, after widening at load (oneDNN has no fp16 compute on CPU)");
  c->add_flag("--best", args->best,
              "Allow every precision (bf16 and fp16 weights); with --builderOptimizationLevel >= 1 each heavy "
              "layer's precision is timed, conversions included");
  c->add_flag("--int8", args->int8,
              "Allow int8: Conv, MatMul and Gemm layers compute in int8 (calibrated u8/s8 activations, s8 "
              "per-channel weights, s32 accumulation) where this CPU's kernels run it fast. Needs --calib or "
              "--calibCache");
  c->add_flag("--int8Dynamic", args->int8_dynamic,
              "MatMul and Gemm layers with constant weights (those --int8 leaves float, or all without it) "
              "compute in int8, each source quantized per run over its own range (uint8 with a zero point, as "
              "ONNX Runtime's quantize_dynamic), weights s8 per column; no calibration. Convs are unaffected");
  c->add_option("--calibMethod", args->calib_method,
                "How --int8 turns each activation's calibrated values into a clipping range: percentile[:P] "
                "(the default, P = 99.99: the range holding P% of |x|), entropy (KL divergence, as TensorRT) or "
                "minmax")
      ->type_name("METHOD");
  c->add_option("--calibCache", args->calib_cache,
                "Calibration cache for --int8: read when it exists (and was made for this model), else written "
                "after calibrating on --calib; a diff-able text file of per-tensor ranges")
      ->type_name("FILE");
  c->add_option("--precisionConstraints", args->precision_constraints,
                "none = ignore --layerPrecisions/--layerOutputTypes; prefer = honour them where a kernel can "
                "(else warn); obey = honour them or fail. Default: prefer when pins are given")
      ->type_name("none|prefer|obey");
  c->add_option("--layerPrecisions", args->layer_precisions,
                "Pin layers' compute precision: NAME:PREC[,NAME:PREC...], PREC fp32|bf16|fp16|int8, NAME a layer or "
                "ONNX node name with * and ? wildcards; the first matching entry wins")
      ->type_name("SPEC")
      ->allow_extra_args(false);
  c->add_option("--layerOutputTypes", args->layer_output_types,
                "Pin the type layers write their outputs in: NAME:TYPE[,...], TYPE fp32|bf16|fp16")
      ->type_name("SPEC")
      ->allow_extra_args(false);
  c->add_option("--activationLayout", args->activation_layout,
                "Layout of conv regions: auto = what this CPU's fastest kernels read (channels-last for bf16 on "
                "AMX, else oneDNN's blocked nChw16c), blocked, nhwc, or plain (row-major throughout)")
      ->type_name("auto|blocked|nhwc|plain");
  add_check_flags(c, args->check);
  c->add_flag("-v,--verbose", args->verbose, "Print the build log, the tactic table and the build time to stderr");
  c->add_option("--report", args->report,
                "Write a JSON build report (layers, fusions, precision, sizes, build time, machine); "
                "'-' prints it on stdout")
      ->type_name("FILE");
  c->footer(
      "Prints a one-line summary on stderr and nothing on stdout (unless `--report=-`). The plan and the\n"
      "report are written to a temporary file and renamed, so an interrupted compile never leaves a\n"
      "half-written file. The report's keys are listed in docs/cli-guide.md. --mean, --scale,\n"
      "--reverseInputChannels, --inputLayout and --inputType bake input pre-processing into the plan, so\n"
      "it takes raw images: [cli-guide.md](cli-guide.md#input-pre-processing-baked-into-the-plan). --check and\n"
      "--checkTolerance compare the plan with an fp32 reference build and can fail the build:\n"
      "[cli-guide.md](cli-guide.md#reduced-precision-and-the-accuracy-gate).");
  c->callback([args] {
    int rc = run_compile(*args);
    if (rc) throw CLI::RuntimeError(rc);
  });
}

void add_ops_command(CLI::App& app) {
  CLI::App* c = app.add_subcommand("ops", "Print the operator support matrix (Markdown)");
  static bool markdown = true;  // the only format; the flag is accepted for clarity
  c->add_flag("--markdown", markdown, "Markdown output");
  c->callback([] { fmt::print("{}", operator_matrix_markdown()); });
}

void add_passes_command(CLI::App& app) {
  CLI::App* c = app.add_subcommand("passes", "List the optimisation passes in pipeline order");
  c->callback([] {
    for (auto& [name, why] : pass_list()) fmt::print("{:<18} {}\n", name, why);
  });
}

}  // namespace kiln::cli
