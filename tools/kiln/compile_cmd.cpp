// `kiln compile` (ONNX -> plan, optionally a JSON build report), `kiln passes` and `kiln ops`.
#include <chrono>
#include <cstdio>
#include <optional>

#include <fmt/format.h>

#include "build_flags.h"
#include "check_cli.h"
#include "cli_util.h"
#include "commands.h"
#include "compile_report.h"
#include "kiln/compiler.hpp"

namespace kiln::cli {

namespace {

struct CompileArgs {
  std::string model, output, shapes, report;
  int threads = 0;
  bool verbose = false;
  BuildFlags build;
  CheckFlags check;
};

int run_compile(const CompileArgs& a) {
  CompileOptions o;
  o.shapes = parse_shapes(a.shapes, "--shapes");
  o.threads = a.threads;
  o.verbose = a.verbose;
  // The sidecar is named after the plan, so a folder of plans keeps each one's weights apart.
  o.weights_file = weights_file_for(a.output);
  apply_build_flags(a.build, o);
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
  print_build_messages(r, a.build, a.verbose);
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
            compile_int8_with_fallback(a.model, o, check_options(a.check, tolerance, a.model, o.calib_dir, r), &r);
        if (a.verbose)
          for (auto& l : fb.log) fmt::print(stderr, "kiln: int8 fallback: {}\n", l);
        r = std::move(fb.result);
        acc = std::move(fb.report);
        if (acc->passed()) {
          if (fb.moved.empty())  // timing kept other layers in float in the first build
            fmt::print(stderr, "kiln: int8 fallback: the untimed all-int8 plan (level 0) meets the tolerance; it "
                               "is kept, no layer moved\n");
          else
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
  c->add_option("--threads", args->threads, "Threads used while building")
      ->check(CLI::Range(1, 4096))
      ->default_str("OMP_NUM_THREADS or all cores");
  add_build_flags(c, args->build);
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
