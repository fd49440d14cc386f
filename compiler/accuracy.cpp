// The accuracy check: the plan against an fp32 reference plan of the same model on the same
// inputs, figures per graph output, and the tolerance gate.
#include "kiln/accuracy.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "ops/tensor/shape.h"

namespace kiln {

namespace {

const char* const kFigures[] = {"rel_l2", "max_abs", "cosine", "top1"};

std::optional<double>& field(CheckTolerance& t, const std::string& key) {
  if (key == "rel_l2") return t.rel_l2;
  if (key == "max_abs") return t.max_abs;
  if (key == "cosine") return t.cosine;
  return t.top1;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

std::string limit_text(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

std::string names_of(const std::vector<TensorDesc>& v) {
  std::string r;
  for (auto& d : v) r += (r.empty() ? "'" : ", '") + d.name + "'";
  return r;
}

// Accumulates one output's figures over the samples.
struct Accumulator {
  double max_abs = 0, d2 = 0, a2 = 0, b2 = 0, ab = 0;
  size_t rows = 0, agree = 0, nonfinite = 0;
  bool has_top1 = false;
};

double element(DType t, const void* p, size_t i) {
  auto get = [&](auto v) {
    std::memcpy(&v, static_cast<const char*>(p) + i * sizeof v, sizeof v);
    return v;
  };
  switch (t) {
    case DType::Float32: return get(float{});
    case DType::Float64: return get(double{});
    case DType::Float16: return ops::half_to_float(get(uint16_t{}));
    case DType::BFloat16: return ops::bf16_to_float(get(uint16_t{}));
    case DType::Int8: return get(int8_t{});
    case DType::UInt8: case DType::Bool: return get(uint8_t{});
    case DType::Int16: return get(int16_t{});
    case DType::UInt16: return get(uint16_t{});
    case DType::Int32: return get(int32_t{});
    case DType::UInt32: return get(uint32_t{});
    case DType::Int64: return static_cast<double>(get(int64_t{}));
    case DType::UInt64: return static_cast<double>(get(uint64_t{}));
    default: throw Error(std::string("cannot compare outputs of type ") + dtype_name(t));
  }
}

struct Output {
  std::vector<int64_t> shape;
  std::vector<double> values;
};

// Runs one sample; returns every output widened to double.
std::vector<Output> run_sample(const Engine& e, ExecutionContext& ctx, const InputSample& s) {
  const auto& ins = e.inputs();
  for (size_t i = 0; i < ins.size(); ++i) {
    const HostTensor& h = s.at(ins[i].name);
    if (ins[i].dynamic()) ctx.set_input_shape(i, h.shape);
    std::memcpy(ctx.input(i), h.data.data(), h.data.size());
  }
  ctx.run();
  std::vector<Output> r;
  for (size_t o = 0; o < e.outputs().size(); ++o) {
    Output out{ctx.output_shape(o), {}};
    size_t n = 1;
    for (int64_t d : out.shape) n *= static_cast<size_t>(d);
    out.values.resize(n);
    for (size_t k = 0; k < n; ++k) out.values[k] = element(e.outputs()[o].dtype, ctx.output(o), k);
    r.push_back(std::move(out));
  }
  return r;
}

void accumulate(Accumulator& acc, const Output& a, const Output& b) {
  const size_t n = a.values.size();
  for (size_t k = 0; k < n; ++k) {
    const double x = a.values[k], y = b.values[k], d = x - y;
    if (!std::isfinite(x)) ++acc.nonfinite;
    acc.max_abs = std::isnan(d) || std::isnan(acc.max_abs) ? std::numeric_limits<double>::quiet_NaN()
                                                           : std::max(acc.max_abs, std::fabs(d));
    acc.d2 += d * d;
    acc.a2 += x * x;
    acc.b2 += y * y;
    acc.ab += x * y;
  }
  const size_t cols = a.shape.empty() ? 1 : static_cast<size_t>(a.shape.back());
  if (cols < 2 || n == 0) return;
  acc.has_top1 = true;
  for (size_t r = 0; r < n / cols; ++r) {
    const double *x = &a.values[r * cols], *y = &b.values[r * cols];
    size_t ia = 0, ib = 0;
    for (size_t c = 1; c < cols; ++c) {
      if (x[c] > x[ia]) ia = c;
      if (y[c] > y[ib]) ib = c;
    }
    ++acc.rows;
    acc.agree += ia == ib;
  }
}

OutputAccuracy finish(const TensorDesc& d, const std::vector<int64_t>& shape, const Accumulator& acc) {
  OutputAccuracy o;
  o.name = d.name;
  o.dtype = d.dtype;
  o.shape = shape;
  o.max_abs = acc.max_abs;
  const double inf = std::numeric_limits<double>::infinity();
  o.rel_l2 = acc.b2 > 0 ? std::sqrt(acc.d2 / acc.b2) : acc.d2 > 0 || std::isnan(acc.d2) ? acc.d2 * inf : 0.0;
  if (acc.a2 > 0 && acc.b2 > 0)
    o.cosine = acc.ab / (std::sqrt(acc.a2) * std::sqrt(acc.b2));
  else
    o.cosine = std::isnan(acc.a2 + acc.b2) ? acc.a2 + acc.b2 : acc.a2 == acc.b2 ? 1.0 : 0.0;
  if (acc.has_top1) o.top1 = static_cast<double>(acc.agree) / static_cast<double>(acc.rows);
  o.rows = acc.rows;
  o.rows_agreeing = acc.agree;
  o.nonfinite = acc.nonfinite;
  return o;
}

// Matches the caller's samples to the plan's inputs ("" = the only input) and checks each tensor.
std::vector<InputSample> bind_samples(const std::vector<InputSample>& given, const std::vector<TensorDesc>& ins,
                                      const std::string& origin) {
  std::vector<InputSample> out;
  for (size_t k = 0; k < given.size(); ++k) {
    InputSample s;
    const std::string where = origin + (given.size() > 1 ? " (sample " + std::to_string(k) + ")" : "");
    for (auto& [name, h] : given[k]) {
      const TensorDesc* d = nullptr;
      if (name.empty()) {
        if (ins.size() != 1)
          throw Error(where + ": a tensor without an input name, but the plan has " + std::to_string(ins.size()) +
                      " inputs (" + names_of(ins) + "); name it");
        d = &ins[0];
      }
      for (auto& in : ins) d = in.name == name ? &in : d;
      if (!d) throw Error(where + ": the model has no input '" + name + "'; its inputs are " + names_of(ins));
      if (s.count(d->name)) throw Error(where + ": input '" + d->name + "' is given twice");
      // numpy has no bfloat16: its bits travel as uint16.
      const DType got = h.dtype == DType::UInt16 && d->dtype == DType::BFloat16 ? DType::BFloat16 : h.dtype;
      bool fits = got == d->dtype && h.shape.size() == d->shape.size();
      size_t n = 1;
      for (size_t i = 0; fits && i < h.shape.size(); ++i) {
        fits = h.shape[i] >= d->min_shape[i] && h.shape[i] <= d->max_shape[i];
        n *= static_cast<size_t>(h.shape[i]);
      }
      if (!fits)
        throw Error(where + ": input '" + d->name + "' is " + dtype_name(h.dtype) + "[" + shape_str(h.shape) +
                    "] but the plan needs " + dtype_name(d->dtype) + "[" +
                    (d->dynamic() ? shape_str(d->min_shape) + " to " + shape_str(d->max_shape)
                                  : shape_str(d->shape)) +
                    "]");
      if (h.data.size() != n * dtype_size(d->dtype))
        throw Error(where + ": input '" + d->name + "' has " + std::to_string(h.data.size()) + " bytes of data, " +
                    "expected " + std::to_string(n * dtype_size(d->dtype)));
      s[d->name] = h;
      s[d->name].dtype = got;
    }
    for (auto& in : ins)
      if (!s.count(in.name))
        throw Error(where + ": no data for input '" + in.name + "'; the accuracy check needs every input (" +
                    names_of(ins) + ")");
    out.push_back(std::move(s));
  }
  return out;
}

void apply_tolerance(AccuracyReport& r) {
  const CheckTolerance& t = r.tolerance;
  bool top1_checked = false;
  for (const OutputAccuracy& o : r.outputs) {
    auto miss_above = [&](const char* fig, double v, const std::optional<double>& lim) {
      if (lim && !(v <= *lim)) r.misses.push_back({o.name, fig, v, *lim, false});  // NaN misses too
    };
    auto miss_below = [&](const char* fig, double v, const std::optional<double>& lim) {
      if (lim && !(v >= *lim)) r.misses.push_back({o.name, fig, v, *lim, true});
    };
    miss_above("rel_l2", o.rel_l2, t.rel_l2);
    miss_above("max_abs", o.max_abs, t.max_abs);
    miss_below("cosine", o.cosine, t.cosine);
    if (o.top1) {
      top1_checked = true;
      miss_below("top1", *o.top1, t.top1);
    }
  }
  if (t.top1 && !top1_checked)
    r.notes.push_back("top1 was not checked: no output has a last axis of 2 or more elements");
}

}  // namespace

CheckTolerance parse_check_tolerance(const std::string& spec, const std::string& flag) {
  CheckTolerance t;
  if (spec.empty())
    throw OptionError(flag + ": empty; give FIGURE:LIMIT[,...], e.g. rel_l2:0.02,cosine:0.999 "
                             "(figures rel_l2, max_abs, cosine, top1)");
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string::npos) end = spec.size();
    const std::string item = spec.substr(start, end - start);
    start = end + 1;
    if (item.empty())
      throw OptionError(flag + ": '" + spec + "' has an empty entry; write FIGURE:LIMIT[,FIGURE:LIMIT...]");
    const size_t colon = item.find(':');
    const std::string key = item.substr(0, colon);
    bool known = false;
    for (const char* f : kFigures) known |= key == f;
    if (!known)
      throw OptionError(flag + ": unknown figure '" + key + "' in '" + item +
                        "'; the figures are rel_l2, max_abs (maxima), cosine and top1 (minima)");
    if (colon == std::string::npos || colon + 1 == item.size())
      throw OptionError(flag + ": '" + key + "' has no value; write " + key + ":LIMIT, e.g. " + key +
                        (key == "cosine" || key == "top1" ? ":0.99" : ":0.02"));
    const std::string text = item.substr(colon + 1);
    char* stop = nullptr;
    const double v = std::strtod(text.c_str(), &stop);
    if (*stop || !std::isfinite(v))
      throw OptionError(flag + ": '" + text + "' in '" + item + "' is not a number");
    if (v < 0) throw OptionError(flag + ": '" + item + "': the limit must not be negative");
    std::optional<double>& slot = field(t, key);
    if (slot) throw OptionError(flag + ": '" + key + "' is given twice");
    slot = v;
  }
  return t;
}

std::string format_check_tolerance(const CheckTolerance& t) {
  std::string r;
  CheckTolerance c = t;
  for (const char* f : kFigures)
    if (auto& v = field(c, f)) r += (r.empty() ? "" : ",") + std::string(f) + ":" + limit_text(*v);
  return r;
}

std::string describe_misses(const AccuracyReport& r, const std::string& flag) {
  std::string s;
  for (const ToleranceMiss& m : r.misses)
    s += (s.empty() ? "" : "; ") + ("output '" + m.output + "': " + m.figure + " " + num(m.value) +
                                    (m.minimum ? " is below " : " exceeds ") + flag + " " + m.figure + ":" +
                                    limit_text(m.limit));
  return s;
}

struct AccuracyChecker::State {
  std::string onnx_path;
  CheckOptions check;
  std::shared_ptr<const Engine> ref_engine;
  std::unique_ptr<ExecutionContext> ref_ctx;
  std::vector<InputSample> samples;
  std::vector<std::vector<Output>> ref_out;  // per sample
  std::string source, detail;
};

AccuracyChecker::AccuracyChecker(const std::string& onnx_path, const CompileOptions& opts, const CheckOptions& check)
    : s_(std::make_unique<State>()) {
  s_->onnx_path = onnx_path;
  s_->check = check;
  CompileOptions ref_opts = opts;
  ref_opts.precision = PrecisionOptions{};
  // A QDQ model's reference is its Q/DQ pairs run as ONNX defines them, not kiln's int8 layers.
  ref_opts.disable_passes.push_back("fold-qdq");
  ref_opts.dump_after.clear();
  ref_opts.verbose = false;
  // The reference is an oracle: untimed tactics compute the same values and build far faster.
  ref_opts.builder_level = 0;
  ref_opts.timing_cache_file.clear();
  CompileResult ref;
  try {
    ref = compile_onnx_file(onnx_path, ref_opts);
  } catch (const OptionError&) {
    throw;
  } catch (const Error& e) {
    throw Error(std::string("building the fp32 reference plan: ") + e.what());
  }
  s_->ref_engine = Engine::load_memory(ref.plan, onnx_path + " (the fp32 reference plan)");
  const auto& ins = s_->ref_engine->inputs();
  if (!check.samples.empty()) {
    s_->source = "loadInputs";
    s_->detail = check.samples_origin;
    s_->samples = bind_samples(check.samples, ins, check.samples_origin.empty() ? "the given inputs" : check.samples_origin);
  } else if (!check.calib_dir.empty()) {
    s_->source = "calib";
    s_->detail = check.calib_dir;
    s_->samples = read_test_data_sets(check.calib_dir, ins);
  } else {
    s_->source = "random";
    s_->detail = "seed " + std::to_string(check.seed);
    for (size_t k = 0; k < std::max<size_t>(check.random_samples, 1); ++k)
      s_->samples.push_back(make_random_sample(ins, check.seed, k));
  }
  s_->ref_ctx = s_->ref_engine->create_context();
  for (const InputSample& x : s_->samples) s_->ref_out.push_back(run_sample(*s_->ref_engine, *s_->ref_ctx, x));
}

AccuracyChecker::~AccuracyChecker() = default;

AccuracyReport AccuracyChecker::check(const std::vector<uint8_t>& plan) const {
  const std::string& onnx_path = s_->onnx_path;
  auto engine = Engine::load_memory(plan, onnx_path + " (the plan)");
  const auto& outs = engine->outputs();
  if (s_->ref_engine->outputs().size() != outs.size() || s_->ref_engine->inputs().size() != engine->inputs().size())
    throw Error(onnx_path + ": the plan and its fp32 reference have different inputs or outputs");
  AccuracyReport r;
  r.tolerance = s_->check.tolerance;
  r.source = s_->source;
  r.detail = s_->detail;
  r.samples = s_->samples.size();
  auto ctx = engine->create_context();
  std::vector<Accumulator> acc(outs.size());
  std::vector<std::vector<int64_t>> first_shape(outs.size());
  for (size_t k = 0; k < s_->samples.size(); ++k) {
    const std::vector<Output> a = run_sample(*engine, *ctx, s_->samples[k]);
    const std::vector<Output>& b = s_->ref_out[k];
    for (size_t o = 0; o < outs.size(); ++o) {
      if (a[o].shape != b[o].shape)
        throw Error(onnx_path + ": output '" + outs[o].name + "' has shape " + shape_str(a[o].shape) +
                    " in the plan but " + shape_str(b[o].shape) + " in the fp32 reference (sample " +
                    std::to_string(k) + ")");
      if (k == 0) first_shape[o] = a[o].shape;
      accumulate(acc[o], a[o], b[o]);
    }
  }
  for (size_t o = 0; o < outs.size(); ++o) r.outputs.push_back(finish(outs[o], first_shape[o], acc[o]));
  apply_tolerance(r);
  return r;
}

AccuracyReport check_accuracy(const std::string& onnx_path, const CompileOptions& opts,
                              const std::vector<uint8_t>& plan, const CheckOptions& check) {
  return AccuracyChecker(onnx_path, opts, check).check(plan);
}

}  // namespace kiln
