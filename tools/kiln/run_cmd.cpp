#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <omp.h>

#include "cli_util.h"
#include "commands.h"
#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"
#include "stats.h"
#include "tensor_io.h"

namespace kiln::cli {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct RunArgs {
  std::string engine, onnx, shapes, inputs, export_output;
  int iterations = 10;
  int warmup_ms = 200;
  double duration_s = 3.0;
  int threads = 0;
  bool json = false;
  bool verbose = false;
  bool dump_profile = false;
};

std::string shape_text(const std::vector<int64_t>& s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "x" : "") + std::to_string(s[i]);
  return r.empty() ? "scalar" : r;
}

std::shared_ptr<const Engine> load(const RunArgs& a, const std::map<std::string, std::vector<int64_t>>& shapes) {
  if (!a.onnx.empty()) {
    CompileOptions o;
    o.shapes = shapes;
    o.threads = a.threads;
    CompileResult r = compile_onnx_file(a.onnx, o);
    for (auto& w : r.warnings) fmt::print(stderr, "warning: {}\n", w);
    return Engine::load_memory(r.plan, a.onnx);
  }
  auto e = Engine::load_file(a.engine);
  for (auto& [name, dims] : shapes) {
    const TensorDesc* d = nullptr;
    for (auto& in : e->inputs())
      if (in.name == name) d = &in;
    if (!d) throw Error(fmt::format("--shapes names '{}', which is not an input of {}", name, a.engine));
    if (d->shape != dims)
      throw Error(fmt::format("--shapes asks input '{}' for {} but {} was built for {}; rebuild it with "
                              "`kiln compile --shapes={}:{}`", name, shape_text(dims), a.engine, shape_text(d->shape),
                              name, shape_text(dims)));
  }
  return e;
}

void bind_inputs(const RunArgs& a, const Engine& e, ExecutionContext& ctx) {
  auto files = parse_bindings(a.inputs, "--loadInputs");
  std::vector<bool> loaded(e.inputs().size(), false);
  for (auto& [name, file] : files) {
    size_t idx = e.inputs().size();
    if (name.empty()) {
      if (e.inputs().size() != 1)
        throw UsageError(fmt::format("--loadInputs: '{}' has no input name and the model has {} inputs; use name:file",
                                     file, e.inputs().size()));
      idx = 0;
    } else {
      for (size_t i = 0; i < e.inputs().size(); ++i)
        if (e.inputs()[i].name == name) idx = i;
      if (idx == e.inputs().size()) {
        std::string names;
        for (auto& d : e.inputs()) names += (names.empty() ? "'" : ", '") + d.name + "'";
        throw Error(fmt::format("--loadInputs: the model has no input '{}'; its inputs are {}", name, names));
      }
    }
    load_tensor_file(file, e.inputs()[idx], ctx.input(idx));
    loaded[idx] = true;
  }
  for (size_t i = 0; i < e.inputs().size(); ++i)
    if (!loaded[i]) fill_random(e.inputs()[i], ctx.input(i), static_cast<uint32_t>(i + 1));
}

void export_outputs(const std::string& dir, const Engine& e, const ExecutionContext& ctx) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("--exportOutput: cannot create folder '{}': {}", dir, ec.message()));
  for (size_t i = 0; i < e.outputs().size(); ++i) {
    TensorDesc d = e.outputs()[i];
    d.shape = ctx.output_shape(i);  // value-dependent dims are known only after the run
    write_npy((std::filesystem::path(dir) / (sanitize_name(d.name) + ".npy")).string(), d, ctx.output(i));
  }
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// A separate profiling pass after the timed runs, so per-layer synchronisation never skews the
// latency figures. Goes to stderr when stdout carries JSON.
void dump_profile(const Engine& e, ExecutionContext& ctx, bool to_stderr) {
  constexpr int kRuns = 5;
  std::vector<double> total(e.layers().size(), 0.0);
  ctx.set_profiling(true);
  for (int r = 0; r < kRuns; ++r) {
    ctx.run();
    for (size_t i = 0; i < total.size(); ++i) total[i] += ctx.layer_times_ms()[i] / kRuns;
  }
  ctx.set_profiling(false);
  double sum = 0;
  for (double t : total) sum += t;
  FILE* out = to_stderr ? stderr : stdout;
  fmt::print(out, "=== Profile (average of {} runs) ===\n{:>4} {:<44} {:<22} {:<10} {:>10} {:>7}\n", kRuns, "#",
             "layer", "op", "kernel", "ms", "%");
  for (size_t i = 0; i < total.size(); ++i) {
    const LayerInfo& l = e.layers()[i];
    std::string op = l.op;
    if (l.fused.size() > 1) op += "(" + fmt::format("{}", fmt::join(l.fused, "+")) + ")";
    fmt::print(out, "{:>4} {:<44} {:<22} {:<10} {:>10.4f} {:>6.1f}%\n", i, l.name, op, l.kernel, total[i],
               sum > 0 ? 100.0 * total[i] / sum : 0.0);
  }
  fmt::print(out, "total {:.4f} ms\n", sum);
}

int run(const RunArgs& a) {
  if (a.engine.empty() == a.onnx.empty()) throw UsageError("give exactly one of --loadEngine=PLAN or --onnx=MODEL");
  if (a.threads > 0) omp_set_num_threads(a.threads);
  const int threads = omp_get_max_threads();
  auto shapes = parse_shapes(a.shapes, "--shapes");

  auto t_load = Clock::now();
  auto engine = load(a, shapes);
  auto ctx = engine->create_context();
  double load_ms = ms_since(t_load);
  for (auto& w : engine->warnings()) fmt::print(stderr, "warning: {}\n", w);
  bind_inputs(a, *engine, *ctx);

  auto t_first = Clock::now();
  ctx->run();
  double first_ms = ms_since(t_first);
  if (!a.export_output.empty()) export_outputs(a.export_output, *engine, *ctx);

  auto t_warm = Clock::now();
  while (ms_since(t_warm) < a.warmup_ms) ctx->run();

  std::vector<double> lat;
  auto t_start = Clock::now();
  while (static_cast<int>(lat.size()) < a.iterations || ms_since(t_start) < a.duration_s * 1000.0) {
    auto t = Clock::now();
    ctx->run();
    lat.push_back(ms_since(t));
  }
  double wall_ms = ms_since(t_start);
  LatencyStats s = summarize(lat);
  double qps = lat.empty() ? 0.0 : static_cast<double>(lat.size()) / (wall_ms / 1000.0);
  double cv = s.mean > 0 ? s.stddev / s.mean : 0;
  const std::string source = a.onnx.empty() ? a.engine : a.onnx;

  if (a.json) {
    fmt::print("{{\"plan\": \"{}\", \"latency_ms\": {{\"min\": {:.6f}, \"max\": {:.6f}, \"mean\": {:.6f}, "
               "\"median\": {:.6f}, \"p90\": {:.6f}, \"p95\": {:.6f}, \"p99\": {:.6f}, \"stddev\": {:.6f}}}, "
               "\"throughput_qps\": {:.6f}, \"iterations\": {}, \"threads\": {}, \"streams\": 1, "
               "\"wall_time_s\": {:.6f}, \"load_ms\": {:.6f}, \"first_inference_ms\": {:.6f}, "
               "\"peak_rss_mb\": {:.3f}, \"cv\": {:.6f}}}\n",
               json_escape(source), s.min, s.max, s.mean, s.median, s.p90, s.p95, s.p99, s.stddev, qps, lat.size(),
               threads, wall_ms / 1000.0, load_ms, first_ms, peak_rss_mb(), cv);
  } else {
    fmt::print("=== Model ===\n{}: {} layers, plan {}, arena {} (activations {}), weights {}\n", source,
               engine->layers().size(), human_bytes(engine->plan_bytes()), human_bytes(engine->arena_bytes()),
               human_bytes(engine->activation_bytes()), human_bytes(engine->weight_bytes()));
    fmt::print("=== Performance summary ===\n");
    fmt::print("Throughput: {:.3f} qps\n", qps);
    fmt::print("Latency: min = {:.4f} ms, max = {:.4f} ms, mean = {:.4f} ms, median = {:.4f} ms, "
               "percentile(90%) = {:.4f} ms, percentile(95%) = {:.4f} ms, percentile(99%) = {:.4f} ms\n",
               s.min, s.max, s.mean, s.median, s.p90, s.p95, s.p99);
    fmt::print("Iterations: {}, threads: {}\n", lat.size(), threads);
    fmt::print("Total Host Walltime: {:.3f} s\n", wall_ms / 1000.0);
    fmt::print("Load time: {:.3f} ms, first inference: {:.3f} ms, peak RSS: {:.1f} MiB\n", load_ms, first_ms,
               peak_rss_mb());
  }
  if (a.dump_profile) dump_profile(*engine, *ctx, a.json);
  if (cv > 0.05 && lat.size() > 2)
    fmt::print(stderr, "warning: latency varies a lot (coefficient of variation {:.1f}% > 5%); the machine may be "
                       "busy. Use --duration for longer runs.\n", cv * 100.0);
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* c = app.add_subcommand("run", "Run a plan (or an ONNX model compiled on the fly) and report latency");
  c->add_option("--loadEngine", a->engine, "Plan file to run");
  c->add_option("--onnx", a->onnx, "ONNX model to compile in memory and run");
  c->add_option("--shapes", a->shapes, "Input shapes name:1x3x224x224,... (must match the plan)");
  c->add_option("--loadInputs", a->inputs, "Input files name:file.{pb,npy,raw},...; others get random data");
  c->add_option("--exportOutput", a->export_output, "Folder to write each output as <name>.npy");
  c->add_option("--iterations", a->iterations, "Run at least this many timed iterations")->check(CLI::Range(1, 100000000));
  c->add_option("--warmUp", a->warmup_ms, "Warm up for this many milliseconds")->check(CLI::Range(0, 3600000));
  c->add_option("--duration", a->duration_s, "Run for at least this many seconds")->check(CLI::Range(0.0, 86400.0));
  c->add_option("--threads", a->threads, "Threads per inference")->check(CLI::Range(1, 4096));
  c->add_flag("--json", a->json, "Print exactly one JSON object on stdout");
  c->add_flag("-v,--verbose", a->verbose, "More detail");
  c->add_flag("--dumpProfile", a->dump_profile, "Print a per-layer profile (from a separate profiling run)");
  c->callback([a] {
    int rc = run(*a);
    if (rc) throw CLI::RuntimeError(rc);
  });
}

}  // namespace kiln::cli
