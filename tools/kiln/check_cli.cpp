#include "check_cli.h"

#include <cmath>

#include <fmt/format.h>

#include "cli_util.h"
#include "json_writer.h"
#include "tensor_io.h"

namespace kiln::cli {

namespace {

// --loadInputs=name:file,... -> one sample, each file read against the plan's input.
InputSample load_inputs(const std::string& spec, const std::vector<TensorDesc>& ins) {
  InputSample s;
  for (auto& [name, file] : parse_bindings(spec, "--loadInputs")) {
    const TensorDesc* d = nullptr;
    if (name.empty()) {
      if (ins.size() != 1)
        throw UsageError(fmt::format("--loadInputs: '{}' has no input name and the model has {} inputs; use name:file",
                                     file, ins.size()));
      d = &ins[0];
    }
    for (auto& in : ins) d = in.name == name ? &in : d;
    if (!d) {
      std::string names;
      for (auto& in : ins) names += (names.empty() ? "'" : ", '") + in.name + "'";
      throw Error(fmt::format("--loadInputs: the model has no input '{}'; its inputs are {}", name, names));
    }
    HostTensor h{d->dtype, d->shape, std::vector<uint8_t>(d->bytes())};
    load_tensor_file(file, *d, h.data.data());
    if (!s.emplace(d->name, std::move(h)).second)
      throw UsageError(fmt::format("--loadInputs: input '{}' is given twice", d->name));
  }
  return s;
}

std::string figure(double v) {
  if (std::isnan(v)) return "nan";
  return fmt::format("{:.3g}", v);
}


}  // namespace

void print_table(const AccuracyReport& r) {
  const std::string from = r.source == "loadInputs" ? fmt::format("--loadInputs ({})", r.detail)
                           : r.source == "calib"    ? fmt::format("--calib {}", r.detail)
                                                    : fmt::format("random inputs ({})", r.detail);
  fmt::print(stderr, "kiln: check: plan vs fp32 reference on {} sample{} from {}\n", r.samples,
             r.samples == 1 ? "" : "s", from);
  size_t w = 6;
  for (auto& o : r.outputs) w = std::max(w, o.name.size());
  fmt::print(stderr, "  {:<{}}  {:>9}  {:>9}  {:>9}  {}\n", "output", w, "max_abs", "rel_l2", "cosine", "top1");
  for (auto& o : r.outputs) {
    const std::string top1 =
        o.top1 ? fmt::format("{:.3f} ({}/{} rows)", *o.top1, o.rows_agreeing, o.rows) : std::string("-");
    fmt::print(stderr, "  {:<{}}  {:>9}  {:>9}  {:>9}  {}{}\n", o.name, w, figure(o.max_abs), figure(o.rel_l2),
               o.cosine == 1 ? "1" : fmt::format("{:.6f}", o.cosine), top1,
               o.nonfinite ? fmt::format("  ({} NaN/Inf values in the plan's output)", o.nonfinite) : "");
  }
  for (auto& n : r.notes) fmt::print(stderr, "warning: --checkTolerance: {}\n", n);
  if (r.tolerance.empty())
    fmt::print(stderr, "kiln: check: no --checkTolerance given; the figures gate nothing\n");
  else if (r.passed())
    fmt::print(stderr, "kiln: check: every output is within --checkTolerance {}\n",
               format_check_tolerance(r.tolerance));
}

void add_check_flags(CLI::App* c, CheckFlags& f) {
  c->add_flag("--check", f.check,
              "Also build an fp32 reference plan, run both on the same inputs and print per-output max_abs, "
              "rel_l2, cosine and top1 agreement (and add them to --report)");
  c->add_option("--checkTolerance", f.tolerance,
                "Fail the build (exit 1, no plan written) when an output misses a limit: "
                "rel_l2:X[,max_abs:X,cosine:X,top1:X]; rel_l2 and max_abs are maxima, cosine and top1 minima. "
                "Implies --check")
      ->type_name("SPEC");
  c->add_option("--loadInputs", f.load_inputs,
                "--check inputs: name:file,... (.pb ONNX TensorProto, .npy, else raw bytes), one file per input")
      ->type_name("FILES");
  f.seed_option = c->add_option("--checkSeed", f.seed,
                "Seed of the random inputs --check uses without --loadInputs or --calib (4 samples; floats uniform "
                "in [-1, 1], integers 0 or 1, uint8 0-255, '*ids*' inputs 0-99)")
      ->default_val(0);
}

bool check_requested(const CheckFlags& f, CheckTolerance& tolerance) {
  const bool on = f.check || !f.tolerance.empty();
  if (!f.tolerance.empty()) {
    try {
      tolerance = parse_check_tolerance(f.tolerance);
    } catch (const OptionError& e) {
      throw UsageError(e.what());
    }
  }
  if (!on && !f.load_inputs.empty())
    throw UsageError("--loadInputs: kiln compile reads input files only for the accuracy check; add --check or "
                     "--checkTolerance");
  if (!on && f.seed_option && f.seed_option->count())
    throw UsageError("--checkSeed: only the accuracy check uses it; add --check or --checkTolerance");
  return on;
}

CheckOptions check_options(const CheckFlags& f, const CheckTolerance& tolerance, const std::string& model,
                           const std::string& calib, const CompileResult& r) {
  CheckOptions c;
  c.tolerance = tolerance;
  c.seed = f.seed;
  c.calib_dir = calib == "random" ? "" : calib;  // random calibration: the check's own random inputs
  if (!f.load_inputs.empty()) {
    auto engine = Engine::load_memory(r.plan, model);
    c.samples.push_back(load_inputs(f.load_inputs, engine->inputs()));
    c.samples_origin = f.load_inputs;
    if (!calib.empty())
      fmt::print(stderr, "kiln: check: --loadInputs given, so the data under --calib {} is not used\n", calib);
  }
  return c;
}

AccuracyReport run_check(const CheckFlags& f, const CheckTolerance& tolerance, const std::string& model,
                         const CompileOptions& opts, const CompileResult& r) {
  AccuracyReport rep = check_accuracy(model, opts, r.plan, check_options(f, tolerance, model, opts.calib_dir, r));
  print_table(rep);
  return rep;
}

std::string check_json(const AccuracyReport& r) {
  JsonWriter w;
  w.begin_object().field("source", r.source).field("detail", r.detail).field("samples", r.samples);
  w.field("reference", "fp32");
  w.key("tolerance");
  if (r.tolerance.empty()) {
    w.value(nullptr);
  } else {
    w.begin_object();
    if (r.tolerance.rel_l2) w.field("rel_l2", *r.tolerance.rel_l2);
    if (r.tolerance.max_abs) w.field("max_abs", *r.tolerance.max_abs);
    if (r.tolerance.cosine) w.field("cosine", *r.tolerance.cosine);
    if (r.tolerance.top1) w.field("top1", *r.tolerance.top1);
    w.end_object();
  }
  w.field("passed", r.passed());
  w.key("outputs").begin_array();
  for (auto& o : r.outputs) {
    w.begin_object().field("name", o.name).field("dtype", dtype_name(o.dtype)).key("shape").begin_array();
    for (int64_t d : o.shape) w.value(d);
    w.end_array().field("max_abs", o.max_abs).field("rel_l2", o.rel_l2).field("cosine", o.cosine).key("top1");
    if (o.top1) w.value(*o.top1);
    else w.value(nullptr);
    w.field("rows", o.rows).field("rows_agreeing", o.rows_agreeing).field("nonfinite", o.nonfinite);
    w.end_object();
  }
  w.end_array().key("misses").begin_array();
  for (auto& m : r.misses)
    w.begin_object().field("output", m.output).field("figure", m.figure).field("value", m.value)
        .field("limit", m.limit).field("kind", m.minimum ? "minimum" : "maximum").end_object();
  w.end_array().key("notes").begin_array();
  for (auto& n : r.notes) w.value(n);
  w.end_array().end_object();
  return w.str();
}

}  // namespace kiln::cli
