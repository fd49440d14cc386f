// `kiln run`: trtexec / benchmark_app for kiln plans. This file owns the flags, their checks, loading
// the plan (or compiling a model in memory), binding inputs and the exports; run_loop measures and
// stats formats the report.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <omp.h>
#include <onnx/onnx_pb.h>

#include "build_flags.h"
#include "cli_util.h"
#include "commands.h"
#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"
#include "run_loop.h"
#include "stats.h"
#include "tensor_io.h"

namespace kiln::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Shapes = std::map<std::string, std::vector<int64_t>>;
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct RunArgs {
  std::string mem_pool_spec;
  std::string engine, onnx, shapes, inputs, export_output, export_times, export_profile, percentiles;
  std::string save_engine;      // --saveEngine: keep the plan --onnx built
  bool skip_inference = false;  // --skipInference: load (or build) only
  bool dump_output = false;     // --dumpOutput: print the first inference's outputs
  int iterations = 10;
  int avg_runs = 10;  // --avgRuns, trtexec's default
  int warmup_ms = 200;
  double duration_s = 3.0;
  int threads = 0;
  int streams = 1;
  int batch = 0;
  bool json = false;
  bool retune = false;
  uint64_t mem_pool = 0;  // --memPoolSize in bytes; 0 = the runtime's default
  bool verbose = false;
  bool dump_profile = false;
  bool separate_profile = false;
  BuildFlags build;  // with --onnx: how the plan is built
  bool profiling() const { return dump_profile || !export_profile.empty(); }
  const std::string& source() const { return onnx.empty() ? engine : onnx; }
};

std::string shape_text(const std::vector<int64_t>& s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? "x" : "") + (s[i] < 0 ? std::string("?") : std::to_string(s[i]));
  return r.empty() ? "scalar" : r;
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// "90,99.9" -> {90, 99.9}; each must be a number in [0, 100].
std::vector<double> parse_percentiles(const std::string& spec) {
  std::vector<double> out;
  if (spec.empty()) return out;
  size_t start = 0;
  while (true) {
    const size_t comma = spec.find(',', start);
    const std::string item =
        spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    const double p = std::strtod(item.c_str(), &end);
    if (item.empty() || *end || !std::isfinite(p) || p < 0 || p > 100)
      throw UsageError(
          fmt::format("--percentile: '{}' is not a percentile; give numbers from 0 to 100, e.g. "
                      "--percentile=99,99.9",
                      item));
    out.push_back(p);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Export paths are checked before the (possibly long) run: the folder must exist and take a file.
// The probe is the same kind of temporary file write_file_atomic creates there later.
void check_writable_folder(const char* flag, const std::string& path, const fs::path& folder) {
  const fs::path probe = folder / fmt::format(".kiln-probe.{}", static_cast<long>(getpid()));
  std::ofstream f(probe);
  if (!f)
    throw Error(fmt::format("{}: cannot write '{}': folder '{}' is not writable ({})", flag, path,
                            folder.string(), std::strerror(errno)));
  f.close();
  std::error_code ec;
  fs::remove(probe, ec);
}

void check_writable_file(const char* flag, const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw Error(fmt::format("{}: '{}' is a folder; give a file name", flag, path));
  fs::path folder = fs::path(path).parent_path();
  if (folder.empty()) folder = ".";
  if (!fs::is_directory(folder, ec))
    throw Error(
        fmt::format("{}: cannot write '{}': folder '{}' does not exist", flag, path, folder.string()));
  check_writable_folder(flag, path, folder);
}

void check_export_paths(const RunArgs& a) {
  check_writable_file("--exportTimes", a.export_times);
  check_writable_file("--exportProfile", a.export_profile);
  if (a.export_output.empty()) return;
  if (ends_with(a.export_output, ".json")) return check_writable_file("--exportOutput", a.export_output);
  std::error_code ec;
  fs::create_directories(a.export_output, ec);
  if (ec || !fs::is_directory(a.export_output, ec))
    throw Error(fmt::format("--exportOutput: cannot create folder '{}': {}", a.export_output,
                            ec ? ec.message() : "a file of that name exists"));
  check_writable_folder("--exportOutput", a.export_output, a.export_output);
}

// Declared dims (-1 where symbolic) of the model's real inputs, for --batch with --onnx. Empty when
// the file does not parse: the compile that follows reports that properly.
std::vector<std::pair<std::string, std::vector<int64_t>>> onnx_input_dims(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  onnx::ModelProto m;
  if (!in || !m.ParseFromIstream(&in)) return {};
  std::set<std::string> consts;
  for (const auto& t : m.graph().initializer()) consts.insert(t.name());
  std::vector<std::pair<std::string, std::vector<int64_t>>> r;
  for (const auto& vi : m.graph().input()) {
    if (consts.count(vi.name())) continue;
    std::vector<int64_t> dims;
    const auto& tt = vi.type().tensor_type();
    if (!tt.has_shape())
      throw Error(
          fmt::format("--batch: input '{}' of {} declares no shape; give it with --shapes", vi.name(), path));
    for (const auto& d : tt.shape().dim()) dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
    r.emplace_back(vi.name(), dims);
  }
  return r;
}

// --batch=N sets the first dim of every input that --shapes does not already give.
void apply_batch(const RunArgs& a, const std::vector<std::pair<std::string, std::vector<int64_t>>>& declared,
                 Shapes& shapes, std::map<std::string, std::string>& flag_of) {
  for (auto [name, dims] : declared) {
    if (dims.empty() || shapes.count(name)) continue;
    if (!a.onnx.empty()) {
      if (dims[0] >= 0 && dims[0] != a.batch)
        throw Error(
            fmt::format("--batch={}: {} fixes the first dimension of input '{}' to {} ({}); re-export the "
                        "model with a dynamic batch dimension or drop --batch",
                        a.batch, a.onnx, name, dims[0], shape_text(dims)));
      for (size_t i = 1; i < dims.size(); ++i)
        if (dims[i] < 0)
          throw Error(
              fmt::format("--batch={}: input '{}' of {} has other unknown dimensions ({}); give its whole "
                          "shape with --shapes={}:...",
                          a.batch, name, a.onnx, shape_text(dims), name));
    }
    dims[0] = a.batch;
    shapes[name] = dims;
    flag_of[name] = fmt::format("--batch={}", a.batch);
  }
}

// --memPoolSize: [workspace:]SIZE, SIZE in MiB unless suffixed K, M or G (trtexec's spelling; kiln
// has one pool per context, so the pool name is optional and 'workspace' is the only one).
std::string parse_mem_pool(const std::string& spec, uint64_t& bytes) {
  std::string s = spec;
  if (auto colon = s.find(':'); colon != std::string::npos) {
    if (s.substr(0, colon) != "workspace")
      return "--memPoolSize: unknown pool '" + s.substr(0, colon) + "'; kiln has one, 'workspace' (or give just the size)";
    s = s.substr(colon + 1);
  }
  uint64_t unit = uint64_t(1) << 20;
  if (!s.empty() && std::strchr("KkMmGg", s.back())) {
    const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(s.back())));
    unit = uint64_t(1) << (u == 'K' ? 10 : u == 'M' ? 20 : 30);
    s.pop_back();
  }
  char* end = nullptr;
  errno = 0;
  const double v = s.empty() ? -1 : std::strtod(s.c_str(), &end);
  if (s.empty() || errno || *end || !(v > 0) || v * static_cast<double>(unit) > 9.0e18)
    return "--memPoolSize: '" + spec + "' is not a size; give MiB (4096) or a suffixed size (512M, 8G)";
  bytes = static_cast<uint64_t>(v * static_cast<double>(unit));
  return "";
}

std::shared_ptr<const Engine> load(const RunArgs& a, Shapes& shapes) {
  std::map<std::string, std::string> flag_of;
  for (auto& [name, dims] : shapes) flag_of[name] = "--shapes";
  if (!a.onnx.empty()) {
    if (a.batch) apply_batch(a, onnx_input_dims(a.onnx), shapes, flag_of);
    CompileOptions o;
    // With a profile, --shapes picks the shape to run inside it (set on the contexts), as with a plan.
    if (!has_profile(a.build)) o.shapes = shapes;
    o.threads = a.threads;
    // Only used past 1 GiB of weights: the sidecar is named after the plan it belongs to.
    o.weights_file = weights_file_for(a.save_engine.empty() ? "model.plan" : a.save_engine);
    apply_build_flags(a.build, o);
    CompileResult r;
    try {
      r = compile_onnx_file(a.onnx, o);
    } catch (const OptionError& e) {
      throw UsageError(e.what());
    }
    print_build_messages(r, a.build, false);
    // A plan with a weights sidecar loads from files only. Unless --saveEngine names where to keep
    // it, the pair goes to a private folder, removed once mapped (the mapping keeps the bytes).
    std::string path = a.save_engine, dir;
    if (path.empty() && !r.weights.empty()) {
      dir = (fs::temp_directory_path() / "kiln-run-XXXXXX").string();
      if (!mkdtemp(dir.data()))
        throw Error(fmt::format("{}: its weights need a temporary folder, which cannot be made in {} ({}); set TMPDIR",
                                a.onnx, fs::temp_directory_path().string(), std::strerror(errno)));
      path = (fs::path(dir) / "model.plan").string();
    }
    struct RemoveDir {
      const std::string& dir;
      ~RemoveDir() {
        std::error_code ec;
        if (!dir.empty()) fs::remove_all(dir, ec);
      }
    } remove_dir{dir};
    if (!path.empty()) write_plan_files(path, r.plan, r.weights, o.weights_file);
    if (!a.save_engine.empty())
      fmt::print(stderr, "kiln: wrote {} ({}){}\n", path, human_bytes(r.plan.size()),
                 r.weights.empty() ? "" : fmt::format(" and its weights file {}", o.weights_file));
    if (r.weights.empty()) return Engine::load_memory(r.plan, a.onnx, LoadOptions{false, a.mem_pool});
    std::vector<uint8_t>().swap(r.weights);  // the mapping replaces them: never held twice
    return Engine::load_file(path, LoadOptions{false, a.mem_pool});
  }
  auto e = Engine::load_file(a.engine, LoadOptions{a.retune, a.mem_pool});
  if (a.batch) {
    std::vector<std::pair<std::string, std::vector<int64_t>>> declared;
    for (auto& in : e->inputs()) declared.emplace_back(in.name, in.shape);
    apply_batch(a, declared, shapes, flag_of);
  }
  // A static input takes only the shape the plan was built for; an input with an optimisation
  // profile any shape in its range (set on the contexts, which check it).
  for (auto& [name, dims] : shapes) {
    const TensorDesc* d = nullptr;
    for (auto& in : e->inputs())
      if (in.name == name) d = &in;
    if (!d) throw Error(fmt::format("--shapes names '{}', which is not an input of {}", name, a.engine));
    if (!d->dynamic() && d->shape != dims)
      throw Error(fmt::format(
          "{} asks input '{}' for {} but {} was built for {}; rebuild it with "
          "`kiln compile --shapes={}:{}`",
          flag_of[name], name, shape_text(dims), a.engine, shape_text(d->shape), name, shape_text(dims)));
  }
  return e;
}

// Input i as this context will run it: with a profile, the shape given by --shapes.
TensorDesc current_desc(const Engine& e, const ExecutionContext& ctx, size_t i) {
  TensorDesc d = e.inputs()[i];
  d.shape = ctx.input_shape(i);
  return d;
}

void bind_inputs(const RunArgs& a, const Engine& e, ExecutionContext& ctx) {
  auto files = parse_bindings(a.inputs, "--loadInputs");
  std::vector<bool> loaded(e.inputs().size(), false);
  for (auto& [name, file] : files) {
    size_t idx = e.inputs().size();
    if (name.empty()) {
      if (e.inputs().size() != 1)
        throw UsageError(
            fmt::format("--loadInputs: '{}' has no input name and the model has {} inputs; use name:file",
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
    load_tensor_file(file, current_desc(e, ctx, idx), ctx.input(idx));
    loaded[idx] = true;
  }
  for (size_t i = 0; i < e.inputs().size(); ++i)
    if (!loaded[i]) fill_random(current_desc(e, ctx, i), ctx.input(i), static_cast<uint32_t>(i + 1));
}

// The outputs of the last run, with the shapes they came out in (value-dependent dims are known
// only after a run).
std::pair<std::vector<TensorDesc>, std::vector<const void*>> outputs_of(const Engine& e, const ExecutionContext& ctx) {
  std::vector<TensorDesc> descs;
  std::vector<const void*> data;
  for (size_t i = 0; i < e.outputs().size(); ++i) {
    descs.push_back(e.outputs()[i]);
    descs.back().shape = ctx.output_shape(i);
    data.push_back(ctx.output(i));
  }
  return {descs, data};
}

void export_outputs(const std::string& path, const Engine& e, const ExecutionContext& ctx) {
  auto [descs, data] = outputs_of(e, ctx);
  if (ends_with(path, ".json")) return write_outputs_json(path, descs, data);
  for (size_t i = 0; i < descs.size(); ++i)
    write_npy((fs::path(path) / (sanitize_name(descs[i].name) + ".npy")).string(), descs[i], data[i]);
}

void write_text(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

// -v: how the queries spread over the streams, to spot a starved or slow stream.
void print_streams(const std::vector<QueryTime>& queries, int streams) {
  std::vector<std::vector<double>> lat(streams);
  for (const QueryTime& q : queries) lat[q.stream].push_back(q.end_ms - q.start_ms);
  for (int s = 0; s < streams; ++s) {
    LatencyStats st = summarize(lat[s]);
    fmt::print(stderr, "stream {}: {} queries, median {:.4f} ms, mean {:.4f} ms, max {:.4f} ms\n", s,
               lat[s].size(), st.median, st.mean, st.max);
  }
}

// The resident set now (/proc/self/statm), in MiB; 0 where it cannot be read.
double current_rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

int run(const RunArgs& a) {
  if (a.engine.empty() == a.onnx.empty())
    throw UsageError("give exactly one of --loadEngine=PLAN or --onnx=MODEL");
  if (!a.save_engine.empty() && a.onnx.empty())
    throw UsageError("--saveEngine keeps the plan that --onnx builds; with --loadEngine the plan is already a "
                     "file (to build one, use kiln compile or kiln run --onnx=MODEL --saveEngine=PLAN)");
  if (const std::string flag = first_build_flag_given(a.build); !flag.empty() && a.onnx.empty())
    throw UsageError(flag + " is a build flag: it applies to --onnx=MODEL; a plan keeps the options it was built "
                            "with (rebuild it with kiln compile or kiln run --onnx)");
  check_writable_file("--saveEngine", a.save_engine);
  const std::vector<double> extra_percentiles = parse_percentiles(a.percentiles);
  Shapes shapes = parse_shapes(a.shapes, "--shapes");
  for (auto& [name, dims] : shapes)
    if (a.batch && dims[0] != a.batch)
      throw UsageError(fmt::format("--batch={} contradicts --shapes={}:{}; drop one or make them agree",
                                   a.batch, name, shape_text(dims)));
  if (a.separate_profile && !a.profiling())
    fmt::print(stderr,
               "warning: --separateProfileRun does nothing without --dumpProfile or --exportProfile\n");

  RunReport rep;
  rep.streams = a.streams;
  const int available = omp_get_max_threads();  // OMP_NUM_THREADS, else the cores this process may use
  if (a.threads > 0) {
    rep.threads = a.threads;
  } else if (a.streams > 1) {
    rep.threads = std::max(1, available / a.streams);
    rep.threads_note = fmt::format("{} threads available divided among {} streams; --threads overrides",
                                   available, a.streams);
  } else {
    rep.threads = available;
    rep.threads_note = "all available; --threads overrides";
  }
  // libgomp binds a team's threads starting at the first place for every thread that is not its
  // own, so with binding on, all streams' teams land on the same cores.
  if (a.streams > 1 && omp_get_proc_bind() != omp_proc_bind_false)
    fmt::print(
        stderr,
        "warning: OMP_PROC_BIND is set, and GNU OpenMP pins every stream's threads starting at the same "
        "first core, so the {} streams share cores; unset OMP_PROC_BIND with --streams (see "
        "docs/cli-guide.md)\n",
        a.streams);
  // Before loading: oneDNN may size a primitive's work split for the thread count current when the
  // primitive is created, and the runtime creates them at load.
  omp_set_num_threads(rep.threads);
  check_export_paths(a);

  auto t_load = Clock::now();
  auto engine = load(a, shapes);
  std::vector<std::unique_ptr<ExecutionContext>> owned;
  std::vector<ExecutionContext*> contexts;
  for (int s = 0; s < a.streams; ++s) {
    owned.push_back(engine->create_context());
    contexts.push_back(owned.back().get());
    for (size_t i = 0; i < engine->inputs().size(); ++i)
      if (engine->inputs()[i].dynamic() && shapes.count(engine->inputs()[i].name))
        contexts.back()->set_input_shape(i, shapes.at(engine->inputs()[i].name));
  }
  rep.load_ms = ms_since(t_load);
  rep.load_rss_mb = current_rss_mb();
  rep.engine = engine.get();
  rep.source = a.source();
  for (auto& w : engine->warnings()) fmt::print(stderr, "warning: {}\n", w);
  if (a.skip_inference) {  // trtexec's --skipInference: the plan built (and saved) and loaded, nothing run
    if (a.json)
      fmt::print("{{\"source\": \"{}\", \"load_ms\": {:.3f}, \"load_rss_mb\": {:.1f}, \"inference\": \"skipped\"}}\n",
                 json_escape(a.source()), rep.load_ms, rep.load_rss_mb);
    else
      fmt::print("Load time: {:.3f} ms, RSS after load: {:.1f} MiB; inference skipped (--skipInference)\n",
                 rep.load_ms, rep.load_rss_mb);
    return 0;
  }
  bind_inputs(a, *engine, *contexts[0]);
  for (int s = 1; s < a.streams; ++s)  // every stream serves the same data
    for (size_t i = 0; i < engine->inputs().size(); ++i)
      std::memcpy(contexts[s]->input(i), contexts[0]->input(i), current_desc(*engine, *contexts[0], i).bytes());

  auto t_first = Clock::now();
  contexts[0]->run();
  rep.first_inference_ms = ms_since(t_first);
  if (!a.export_output.empty()) export_outputs(a.export_output, *engine, *contexts[0]);
  if (a.dump_output) {  // to stderr with --json, whose stdout holds the report alone
    auto [descs, data] = outputs_of(*engine, *contexts[0]);
    fmt::print(a.json ? stderr : stdout, "Output tensors of the first inference:\n{}", outputs_json(descs, data));
  }

  LoopConfig cfg;
  cfg.iterations = a.iterations;
  cfg.duration_s = a.duration_s;
  cfg.warmup_ms = a.warmup_ms;
  cfg.threads = rep.threads;
  cfg.profile = a.profiling() && !a.separate_profile;
  LoopResult res = run_streams(contexts, cfg);
  LayerProfile profile = res.profile;
  if (a.profiling() && a.separate_profile) profile = profile_pass(*contexts[0], cfg);

  std::vector<double> lat;
  lat.reserve(res.queries.size());
  for (const QueryTime& q : res.queries) lat.push_back(q.end_ms - q.start_ms);
  rep.latency = summarize(lat, extra_percentiles);
  rep.averaged = window_averages(res.queries, a.avg_runs);
  rep.iterations = static_cast<int64_t>(lat.size());
  rep.wall_s = res.wall_ms / 1000.0;
  rep.peak_rss_mb = peak_rss_mb();
  rep.latency_includes_profiling = cfg.profile;

  // In JSON mode stdout carries exactly one object; everything else goes to stderr.
  if (a.json)
    fmt::print("{}\n", report_json(rep));
  else
    print_summary(stdout, rep);
  if (a.verbose) print_streams(res.queries, a.streams);
  if (a.dump_profile) print_profile(a.json ? stderr : stdout, *engine, profile);
  if (!a.export_profile.empty()) write_text(a.export_profile, profile_json(*engine, profile));
  if (!a.export_times.empty()) write_text(a.export_times, times_json(res.queries));
  if (rep.latency.cv() > 0.05 && lat.size() > 2)
    fmt::print(stderr,
               "warning: latency varies a lot (coefficient of variation {:.1f}% > 5%); the machine may be "
               "busy. Use --duration for longer runs.\n",
               rep.latency.cv() * 100.0);
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* c =
      app.add_subcommand("run", "Run a plan (or an ONNX model compiled on the fly) and report performance");
  auto opt = [c](const char* name, auto& value, const char* type, const char* help) {
    return c->add_option(name, value, help)->type_name(type);
  };
  opt("--loadEngine", a->engine, "PLAN", "Plan file to run");
  opt("--onnx", a->onnx, "MODEL", "ONNX model to compile in memory and run");
  opt("--shapes", a->shapes, "SHAPES",
      "Input shapes name:dims,..., e.g. input:1x3x224x224; with --onnx the shapes to compile for; with a plan "
      "they must equal the plan's, or lie inside its optimisation profile (kiln compile --minShapes/--maxShapes)");
  opt("--batch", a->batch, "N",
      "Set the first dimension of every input (shorthand for --shapes); with a plan it must equal the plan's "
      "batch or lie inside its optimisation profile")
      ->check(CLI::Range(1, 1 << 30))
      ->default_str("");
  opt("--loadInputs", a->inputs, "FILES",
      "Input files name:file,... (.pb ONNX TensorProto, .npy, else raw bytes); inputs without a file get fixed-seed random "
      "data");
  opt("--exportOutput", a->export_output, "PATH",
      "Write the outputs of the first inference: PATH.json as trtexec-style JSON, any other PATH as a folder "
      "of <name>.npy files");
  opt("--exportTimes", a->export_times, "FILE",
      "Write every timed query as JSON [{stream, start_ms, end_ms, latency_ms}], times from the start of the "
      "timed run");
  opt("--exportProfile", a->export_profile, "FILE",
      "Write the per-layer profile as JSON (op, fused ops, tactic, precision, layout, average and median ms, "
      "%)");
  opt("--iterations", a->iterations, "N",
      "Run at least this many timed queries (over all streams together); the run ends when both --iterations "
      "and --duration are satisfied")
      ->check(CLI::Range(1, 100000000));
  opt("--duration", a->duration_s, "SECONDS", "Run the timed queries for at least this long")
      ->check(CLI::Range(0.0, 86400.0));
  opt("--warmUp", a->warmup_ms, "MS", "Warm up each stream for this many milliseconds before timing")
      ->check(CLI::Range(0, 3600000));
  opt("--avgRuns", a->avg_runs, "N",
      "Also report the latency averaged over windows of N consecutive queries (min, max, mean and median of "
      "the window averages), as trtexec's --avgRuns")
      ->check(CLI::Range(1, 100000000));
  opt("--percentile", a->percentiles, "P,...",
      "Extra latency percentiles to report, numbers in [0, 100] such as 99.9; 90, 95 and 99 are always "
      "reported");
  opt("--threads", a->threads, "N",
      "OpenMP threads each stream uses (default: all available, divided among the streams when --streams > 1)")
      ->check(CLI::Range(1, 4096))
      ->default_str("");
  opt("--streams", a->streams, "N",
      "Run this many execution contexts concurrently on one engine, each on its own thread")
      ->check(CLI::Range(1, 256));
  opt("--saveEngine", a->save_engine, "PLAN",
      "With --onnx: also write the plan it builds to PLAN (and PLAN.weights past 1 GiB of weights), as kiln "
      "compile -o does");
  c->add_flag("--dumpOutput", a->dump_output,
              "Print the outputs of the first inference (names, shapes, values; the --exportOutput JSON form), to "
              "stderr with --json");
  c->add_flag("--skipInference", a->skip_inference,
              "Build (with --onnx) and load the plan, report the load time, and run nothing");
  c->add_flag("--retune", a->retune,
              "Ignore the tactics recorded in the plan and re-select every layer's kernel variant for this CPU "
              "(each kernel's first choice here; nothing is timed). Without it, only tactics this CPU cannot "
              "run are re-selected, with one warning");
  opt("--memPoolSize", a->mem_pool_spec, "[workspace:]SIZE",
      "The most memory each stream's context may allocate (activations, scratchpad, tensors sized by input "
      "values), in MiB or with a K/M/G suffix; a run that needs more ends in an error naming the tensor "
      "(default: three quarters of physical memory)")
      ->check([a](const std::string& v) { return parse_mem_pool(v, a->mem_pool); });
  c->add_flag("--json", a->json, "Print exactly one JSON object on stdout (everything else goes to stderr)");
  c->add_flag("-v,--verbose", a->verbose, "Also print each stream's query count and latencies to stderr");
  c->add_flag("--dumpProfile", a->dump_profile,
              "Print a per-layer profile table (to stderr with --json); without --separateProfileRun the timed "
              "queries are profiled");
  c->add_flag("--separateProfileRun", a->separate_profile,
              "Profile in a separate pass after the timed run, so the latencies carry no profiling overhead");
  add_build_flags(c, a->build);  // after the run's own flags: they matter with --onnx only
  c->footer(
      "With --onnx, the build flags (--minShapes to --activationLayout) are kiln compile's, with the same "
      "defaults; with --loadEngine they are a usage error. "
      "The timed run ends when both --iterations and --duration are satisfied, as in trtexec. Latency is per "
      "query; throughput counts the queries of all streams over the wall time of the timed run. Without "
      "--separateProfileRun, --dumpProfile and --exportProfile profile the timed queries themselves and the "
      "report says that the latencies include the profiler's overhead. kiln sets each stream's OpenMP thread "
      "count and never pins threads (OMP_PROC_BIND pins, but does not mix with --streams). Details: "
      "[cli-guide.md](cli-guide.md#kiln-run).");
  c->callback([a] {
    int rc = run(*a);
    if (rc) throw CLI::RuntimeError(rc);
  });
}

}  // namespace kiln::cli
