#include <chrono>

#include <fmt/format.h>

#include "cli_util.h"
#include "commands.h"
#include "kiln/compiler.hpp"

namespace kiln::cli {

namespace {

struct CompileArgs {
  std::string model, output, shapes;
  int threads = 0;
  bool verbose = false;
  std::vector<std::string> disable_passes, dump_after;
};

int run_compile(const CompileArgs& a) {
  CompileOptions o;
  o.shapes = parse_shapes(a.shapes, "--shapes");
  o.threads = a.threads;
  o.verbose = a.verbose;
  o.disable_passes = a.disable_passes;
  o.dump_after = a.dump_after;
  auto t0 = std::chrono::steady_clock::now();
  CompileResult r = compile_onnx_file(a.model, o);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& w : r.warnings) fmt::print(stderr, "warning: {}\n", w);
  if (a.verbose || !a.dump_after.empty())
    for (auto& l : r.log) fmt::print(stderr, "{}\n", l);
  write_file_atomic(a.output, r.plan.data(), r.plan.size());
  fmt::print(stderr, "kiln: compiled {} ({} ONNX nodes) into {} layers in {:.2f} s; wrote {} ({})\n", a.model,
             r.onnx_nodes, r.layers, secs, a.output, human_bytes(r.plan.size()));
  return 0;
}

}  // namespace

void add_compile_command(CLI::App& app) {
  auto args = std::make_shared<CompileArgs>();
  CLI::App* c = app.add_subcommand("compile", "Compile an ONNX model into a plan file");
  c->add_option("model", args->model, "ONNX model file")->required();
  c->add_option("-o,--output,--saveEngine", args->output, "Plan file to write")->required();
  c->add_option("--shapes", args->shapes, "Fixed input shapes: name:1x3x224x224[,name2:...]");
  c->add_option("--threads", args->threads, "Threads used while building")->check(CLI::Range(1, 4096));
  c->add_option("--disable-pass", args->disable_passes, "Skip an optimisation pass (see `kiln passes`)");
  c->add_option("--dump-after", args->dump_after, "Print the graph after this pass (to stderr)");
  c->add_flag("-v,--verbose", args->verbose, "Print the build log to stderr");
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
