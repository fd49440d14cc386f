// The compile driver: import -> passes -> plan preparation -> kernel selection -> memory
// plan -> serialization.
#include <thread>

#include <omp.h>

#include "import/importer.h"
#include "import/preprocess.h"
#include "kiln/compiler.hpp"
#include "ops/identity.h"
#include "passes/pass.h"
#include "serialize/memory_plan.h"
#include "serialize/plan_writer.h"
#include "tune/select.h"

namespace kiln {

namespace {

// The runtime needs every shape fixed and every graph output a distinct, node-produced buffer.
void prepare_for_plan(ir::Graph& g, const std::string& origin) {
  for (auto& io : g.inputs)
    if (!shape_static(io.value->type.shape)) {
      std::string dims;
      for (size_t i = 0; i < io.value->type.shape.size(); ++i)
        if (io.value->type.shape[i] < 0)
          dims += (dims.empty() ? "" : ", ") + std::to_string(i) +
                  (io.value->dim_params[i].empty() ? "" : " ('" + io.value->dim_params[i] + "')");
      Shape example = io.value->type.shape;
      for (int64_t& d : example) d = d < 0 ? 1 : d;
      throw Error(origin + ": input '" + io.name + "' has dynamic dimension(s) " + dims +
                  "; fix them with --shapes, e.g. --shapes=" + io.name + ":" + shape_str(example));
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

CompileResult compile_onnx_file(const std::string& path, const CompileOptions& opts) {
  CompileResult res;
  if (opts.threads > 0) omp_set_num_threads(opts.threads);
  onnx_import::ImportOptions io;
  for (auto& [k, v] : opts.shapes) io.shapes[k] = v;
  io.warnings = &res.warnings;
  auto g = onnx_import::import_onnx(path, io);
  res.onnx_nodes = g->nodes().size();
  // Before the passes, so fold-preprocess can absorb the inserted ops into the first layers.
  onnx_import::apply_preprocess(*g, opts.preprocess, path, &res.warnings);

  passes::PipelineOptions po;
  po.disabled = opts.disable_passes;
  po.dump_after = opts.dump_after;
  po.log = &res.log;
  for (auto& name : opts.disable_passes) {
    bool known = false;
    for (auto& p : passes::pipeline()) known |= name == p.name;
    if (!known) throw Error("--disable-pass: no pass named '" + name + "' (see `kiln passes`)");
  }
  try {
    passes::run_pipeline(*g, po);
    prepare_for_plan(*g, path);
    g->topo_sort();
    ir::verify(*g);
  } catch (const Error& e) {
    std::string m = e.what();
    if (m.rfind(path, 0) == 0) throw;
    throw Error(path + ": " + m);
  }
  std::vector<std::string> kernels;
  try {
    kernels = tune::select_kernels(*g, &res.log);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  auto mem = serialize::plan_memory(*g);
  MachineInfo m = current_machine();
  m.threads = opts.threads > 0 ? opts.threads : omp_get_max_threads();
  res.plan = serialize::write_plan({*g, kernels, mem, m});
  res.layers = g->nodes().size();
  return res;
}

}  // namespace kiln
