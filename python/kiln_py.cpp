// The Python binding's native module (kiln._kiln, re-exported by the `kiln` package): Engine,
// Context and TensorInfo over kiln/runtime.hpp, and compile() over kiln/compiler.hpp. Inputs are
// read straight from the caller's numpy arrays and static outputs written straight into fresh
// numpy arrays (zero-copy bindings), with the GIL released while kiln works.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include "kiln/accuracy.hpp"
#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"

namespace py = pybind11;

namespace {

using kiln::DType;

// numpy has no bfloat16: such tensors travel as their raw 16-bit patterns in uint16 arrays.
py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::Float32: return py::dtype("float32");
    case DType::UInt8: return py::dtype("uint8");
    case DType::Int8: return py::dtype("int8");
    case DType::UInt16: return py::dtype("uint16");
    case DType::Int16: return py::dtype("int16");
    case DType::Int32: return py::dtype("int32");
    case DType::Int64: return py::dtype("int64");
    case DType::Bool: return py::dtype("bool");
    case DType::Float16: return py::dtype("float16");
    case DType::Float64: return py::dtype("float64");
    case DType::UInt32: return py::dtype("uint32");
    case DType::UInt64: return py::dtype("uint64");
    case DType::BFloat16: return py::dtype("uint16");
    default: break;
  }
  throw kiln::Error(std::string("tensors of type ") + kiln::dtype_name(t) + " cannot be exchanged with numpy");
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

bool has_unknown_dims(const std::vector<int64_t>& s) {
  for (int64_t d : s)
    if (d < 0) return true;
  return false;
}

struct TensorInfo {
  std::string name;
  py::dtype dtype;
  py::tuple shape;  // -1 = known only after a run
  DType kiln_dtype;
  py::tuple min_shape, max_shape;  // an input's optimisation profile; both equal shape when static

  static TensorInfo from(const kiln::TensorDesc& d) {
    return {d.name, numpy_dtype(d.dtype), py::cast(d.shape), d.dtype, py::cast(d.min_shape),
            py::cast(d.max_shape)};
  }
  std::string repr() const {
    std::string r = "TensorInfo(name='" + name + "', dtype=" + kiln::dtype_name(kiln_dtype) + ", shape=" +
                    py::str(py::handle(shape)).cast<std::string>();
    if (!min_shape.equal(max_shape))
      r += ", min_shape=" + py::str(py::handle(min_shape)).cast<std::string>() +
           ", max_shape=" + py::str(py::handle(max_shape)).cast<std::string>();
    return r + ")";
  }
};

std::vector<TensorInfo> infos(const std::vector<kiln::TensorDesc>& v) {
  std::vector<TensorInfo> r;
  for (auto& d : v) r.push_back(TensorInfo::from(d));
  return r;
}

class Context;

class Engine {
 public:
  // A str or os.PathLike loads a plan file; bytes, bytearray or memoryview a plan in memory.
  Engine(const py::object& src, bool retune, uint64_t memory_limit) {
    const kiln::LoadOptions opts{retune, memory_limit};
    if (py::isinstance<py::bytes>(src) || py::isinstance<py::bytearray>(src) ||
        py::isinstance<py::memoryview>(src)) {
      py::buffer_info b = py::reinterpret_borrow<py::buffer>(src).request();
      if (b.ndim > 1 && b.strides.back() != b.itemsize)
        throw kiln::Error("a plan in memory must be one contiguous block of bytes");
      std::span<const uint8_t> bytes(static_cast<const uint8_t*>(b.ptr), static_cast<size_t>(b.size * b.itemsize));
      py::gil_scoped_release nogil;  // src keeps the bytes alive; load_memory copies them
      engine_ = kiln::Engine::load_memory(bytes, "<bytes>", opts);
    } else {
      const std::string path = py::module_::import("os").attr("fspath")(src).cast<std::string>();
      py::gil_scoped_release nogil;
      engine_ = kiln::Engine::load_file(path, opts);
    }
  }
  std::vector<TensorInfo> inputs() const { return infos(engine_->inputs()); }
  std::vector<TensorInfo> outputs() const { return infos(engine_->outputs()); }
  const std::vector<std::string>& warnings() const { return engine_->warnings(); }
  size_t arena_bytes() const { return engine_->arena_bytes(); }
  std::string repr() const {
    std::ostringstream s;
    s << "<kiln.Engine: " << engine_->inputs().size() << " input(s), " << engine_->outputs().size()
      << " output(s), " << engine_->layers().size() << " layers>";
    return s.str();
  }
  std::unique_ptr<Context> create_context() const;
  const std::shared_ptr<const kiln::Engine>& get() const { return engine_; }

 private:
  std::shared_ptr<const kiln::Engine> engine_;
};

class Context {
 public:
  explicit Context(std::shared_ptr<const kiln::Engine> e)
      : engine_(std::move(e)), ctx_(engine_->create_context()) {}

  py::dict run(const py::dict& feeds) {
    // One run at a time per context; wait for another thread's run without holding the GIL.
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) {
      py::gil_scoped_release nogil;
      lock.lock();
    }
    const auto& ins = engine_->inputs();
    const auto& outs = engine_->outputs();
    std::vector<py::array> arrays(ins.size());
    std::vector<bool> given(ins.size(), false);
    for (auto item : feeds) {
      const std::string name = py::str(item.first).cast<std::string>();
      size_t i = 0;
      while (i < ins.size() && ins[i].name != name) ++i;
      if (i == ins.size()) {
        std::string names;
        for (auto& d : ins) names += (names.empty() ? "'" : ", '") + d.name + "'";
        throw kiln::Error("the plan has no input named '" + name + "'; its inputs are " + names);
      }
      arrays[i] = as_input_array(ins[i], py::reinterpret_borrow<py::object>(item.second));
      // An input with an optimisation profile runs at the array's shape (checked against the range).
      if (ins[i].dynamic())
        ctx_->set_input_shape(i, std::vector<int64_t>(arrays[i].shape(), arrays[i].shape() + arrays[i].ndim()));
      given[i] = true;
    }
    for (size_t i = 0; i < ins.size(); ++i)
      if (!given[i])
        throw kiln::Error("missing input '" + ins[i].name + "' (" + kiln::dtype_name(ins[i].dtype) + " " +
                          shape_str(ins[i].shape) + ")");

    // Static outputs are written straight into fresh numpy arrays; the others (value-dependent
    // shapes, or shapes that follow a profile input) are copied out of the context after the run.
    bool profiled = false;
    for (auto& d : ins) profiled |= d.dynamic();
    std::vector<py::array> results(outs.size());
    std::vector<bool> in_place(outs.size());
    for (size_t o = 0; o < outs.size(); ++o) {
      in_place[o] = !profiled && !has_unknown_dims(outs[o].shape);
      if (in_place[o]) results[o] = py::array(numpy_dtype(outs[o].dtype), outs[o].shape);
    }
    Unbind unbind{*ctx_, ins.size(), outs.size()};  // the arrays do not outlive this call
    for (size_t i = 0; i < ins.size(); ++i)
      ctx_->set_input_buffer(i, arrays[i].data(), static_cast<size_t>(arrays[i].nbytes()));
    for (size_t o = 0; o < outs.size(); ++o)
      if (in_place[o]) ctx_->set_output_buffer(o, results[o].mutable_data(), outs[o].bytes());
    {
      py::gil_scoped_release nogil;
      ctx_->run();
    }
    py::dict r;
    for (size_t o = 0; o < outs.size(); ++o) {
      if (!in_place[o]) {
        const std::vector<int64_t> shape = ctx_->output_shape(o);
        results[o] = py::array(numpy_dtype(outs[o].dtype), shape);
        std::memcpy(results[o].mutable_data(), ctx_->output(o), static_cast<size_t>(results[o].nbytes()));
      }
      r[py::str(outs[o].name)] = results[o];
    }
    return r;
  }

 private:
  struct Unbind {
    kiln::ExecutionContext& ctx;
    size_t ins, outs;
    ~Unbind() {
      for (size_t i = 0; i < ins; ++i) ctx.set_input_buffer(i, nullptr, 0);
      for (size_t o = 0; o < outs; ++o) ctx.set_output_buffer(o, nullptr, 0);
    }
  };

  // Arrays must match the plan's dtype and shape exactly (no silent casts); other sequences
  // are converted to the plan's dtype. Non-contiguous or misaligned arrays are copied.
  static py::array as_input_array(const kiln::TensorDesc& d, const py::object& value) {
    const py::dtype want = numpy_dtype(d.dtype);
    const std::string label = "input '" + d.name + "'";
    py::array a;
    if (py::isinstance<py::array>(value)) {
      a = py::reinterpret_borrow<py::array>(value);
      if (!a.dtype().equal(want))
        throw kiln::Error(label + " must be " + kiln::dtype_name(d.dtype) + ", got a " +
                          py::str(py::handle(a.dtype())).cast<std::string>() +
                          " array; convert it with .astype(numpy." + py::str(py::handle(want)).cast<std::string>() +
                          ")");
    } else {
      try {
        a = py::module_::import("numpy").attr("asarray")(value, want);
      } catch (const py::error_already_set& e) {
        throw kiln::Error(label + ": cannot convert the value to a " + kiln::dtype_name(d.dtype) +
                          " array: " + e.what());
      }
    }
    std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
    if (shape != d.shape && !d.dynamic())
      throw kiln::Error(label + " must have shape " + shape_str(d.shape) + ", got " + shape_str(shape));
    const bool aligned = reinterpret_cast<uintptr_t>(a.data()) % static_cast<uintptr_t>(a.itemsize()) == 0;
    if (!(a.flags() & py::array::c_style) || !aligned)
      a = py::module_::import("numpy").attr("array")(a, py::arg("order") = "C", py::arg("copy") = true);
    return a;
  }

  std::shared_ptr<const kiln::Engine> engine_;
  std::unique_ptr<kiln::ExecutionContext> ctx_;
  std::mutex mu_;
};

std::unique_ptr<Context> Engine::create_context() const { return std::make_unique<Context>(engine_); }

using ShapeMap = std::optional<std::map<std::string, std::vector<int64_t>>>;

// {"input": {"mean": [...], "scale": [...], "reverse_channels": True, "layout": "NHWC",
// "dtype": "uint8"}} -> CompileOptions::preprocess; unknown keys are refused, not ignored.
std::map<std::string, kiln::InputPreprocess> parse_preprocess(const py::dict& d) {
  std::map<std::string, kiln::InputPreprocess> out;
  for (auto [k, v] : d) {
    const std::string name = k.cast<std::string>();
    kiln::InputPreprocess p;
    for (auto [key, val] : v.cast<py::dict>()) {
      const std::string f = key.cast<std::string>();
      if (f == "mean") p.mean = val.cast<std::vector<float>>();
      else if (f == "scale") p.scale = val.cast<std::vector<float>>();
      else if (f == "reverse_channels") p.reverse_channels = val.cast<bool>();
      else if (f == "layout") p.layout = val.cast<std::string>();
      else if (f == "dtype") p.dtype = val.cast<std::string>();
      else
        throw kiln::Error("preprocess['" + name + "']: unknown key '" + f +
                          "'; the keys are mean, scale, reverse_channels, layout and dtype");
    }
    out[name] = std::move(p);
  }
  return out;
}

// "bf16", "best" or a list such as ["bf16", "fp16"] -> the permissions (trtexec's flags).
kiln::PrecisionOptions parse_precision(const py::object& precision) {
  std::vector<std::string> names;
  if (py::isinstance<py::str>(precision))
    names.push_back(precision.cast<std::string>());
  else
    names = precision.cast<std::vector<std::string>>();
  kiln::PrecisionOptions p;
  for (const std::string& n : names) {
    if (n == "fp32") continue;  // always allowed
    if (n == "bf16") p.bf16 = true;
    else if (n == "fp16") p.fp16 = true;
    else if (n == "best") p.best = true;
    else if (n == "int8") p.int8 = true;
    else if (n == "int8_dynamic") p.int8_dynamic = true;
    else if (n == "int8_dynamic_tensor") {
      p.int8_dynamic = true;
      p.int8_dynamic_scales = "tensor";
    } else
      throw kiln::Error("unknown precision '" + n + "'; kiln knows fp32, bf16, fp16, int8, int8_dynamic, "
                        "int8_dynamic_tensor and best, or "
                        "a list of them such as ['int8', 'bf16']");
  }
  return p;
}

// {pattern: precision} (in order) or [(pattern, precision), ...].
std::vector<std::pair<std::string, std::string>> parse_pins(const py::object& o) {
  std::vector<std::pair<std::string, std::string>> r;
  if (py::isinstance<py::dict>(o)) {
    for (auto [k, v] : o.cast<py::dict>()) r.emplace_back(k.cast<std::string>(), v.cast<std::string>());
    return r;
  }
  return o.cast<std::vector<std::pair<std::string, std::string>>>();
}

// "rel_l2:0.02,cosine:0.999" or {"rel_l2": 0.02, "cosine": 0.999}.
kiln::CheckTolerance parse_tolerance(const py::object& o) {
  std::string spec;
  if (py::isinstance<py::dict>(o)) {
    for (auto [k, v] : o.cast<py::dict>())
      spec += (spec.empty() ? "" : ",") + k.cast<std::string>() + ":" + py::str(v).cast<std::string>();
  } else {
    spec = o.cast<std::string>();
  }
  return kiln::parse_check_tolerance(spec, "check_tolerance");
}

kiln::DType dtype_of(const py::array& a) {
  using T = kiln::DType;
  for (T t : {T::Float32, T::Float64, T::Float16, T::Int8, T::UInt8, T::Int16, T::UInt16, T::Int32, T::UInt32,
              T::Int64, T::UInt64, T::Bool})
    if (a.dtype().equal(numpy_dtype(t))) return t;
  throw kiln::Error("check_inputs: arrays of dtype " + py::str(py::handle(a.dtype())).cast<std::string>() +
                    " cannot be fed to kiln");
}

// {name: array} or a list of such dicts -> samples.
std::vector<kiln::InputSample> parse_samples(const py::object& o) {
  std::vector<py::dict> dicts;
  if (py::isinstance<py::dict>(o)) dicts.push_back(o.cast<py::dict>());
  else
    for (auto d : o.cast<py::list>()) dicts.push_back(d.cast<py::dict>());
  auto contiguous = py::module_::import("numpy").attr("ascontiguousarray");
  std::vector<kiln::InputSample> r;
  for (auto& d : dicts) {
    kiln::InputSample s;
    for (auto [k, v] : d) {
      py::array a = contiguous(v);
      kiln::HostTensor h{dtype_of(a), std::vector<int64_t>(a.shape(), a.shape() + a.ndim()), {}};
      const auto* p = static_cast<const uint8_t*>(a.data());
      h.data.assign(p, p + a.nbytes());
      s[k.cast<std::string>()] = std::move(h);
    }
    r.push_back(std::move(s));
  }
  return r;
}

py::dict check_dict(const kiln::AccuracyReport& rep) {
  py::dict c, outs, tol;
  c["source"] = rep.source;
  c["detail"] = rep.detail;
  c["samples"] = rep.samples;
  if (rep.tolerance.rel_l2) tol["rel_l2"] = *rep.tolerance.rel_l2;
  if (rep.tolerance.max_abs) tol["max_abs"] = *rep.tolerance.max_abs;
  if (rep.tolerance.cosine) tol["cosine"] = *rep.tolerance.cosine;
  if (rep.tolerance.top1) tol["top1"] = *rep.tolerance.top1;
  c["tolerance"] = tol;
  c["passed"] = rep.passed();
  for (auto& o : rep.outputs) {
    py::dict d;
    d["max_abs"] = o.max_abs;
    d["rel_l2"] = o.rel_l2;
    d["cosine"] = o.cosine;
    d["top1"] = o.top1 ? py::object(py::float_(*o.top1)) : py::object(py::none());
    d["rows"] = o.rows;
    d["nonfinite"] = o.nonfinite;
    outs[py::str(o.name)] = d;
  }
  c["outputs"] = outs;
  c["notes"] = rep.notes;
  return c;
}

py::dict compile(const py::object& onnx_path, const py::object& plan_path, const ShapeMap& shapes,
                 const py::object& precision, const ShapeMap& min_shapes, const ShapeMap& opt_shapes,
                 const ShapeMap& max_shapes, const std::optional<py::dict>& preprocess,
                 const std::optional<std::string>& precision_constraints, const py::object& layer_precisions,
                 const py::object& layer_output_types, bool check, const py::object& check_tolerance,
                 const py::object& check_inputs, const py::object& check_calib, uint32_t check_seed,
                 const py::object& calib, const std::optional<std::string>& calib_method,
                 const py::object& calib_cache, bool external_weights, int builder_level,
                 const py::object& timing_cache, bool builder_cache, int threads) {
  auto fspath = py::module_::import("os").attr("fspath");
  const std::string in = fspath(onnx_path).cast<std::string>(), out = fspath(plan_path).cast<std::string>();
  kiln::CompileOptions opts;
  // Weights past 1 GiB (or all, with external_weights) go to PLAN.weights beside the plan.
  opts.weights_file = std::filesystem::path(out).filename().string() + ".weights";
  opts.external_weights = external_weights;
  // Tuning, as kiln compile --builderOptimizationLevel / --timingCacheFile / --noBuilderCache / --threads.
  if (builder_level < 0 || builder_level > 5)
    throw py::value_error("builder_level must be 0 to 5, got " + std::to_string(builder_level));
  opts.builder_level = builder_level;
  if (!timing_cache.is_none()) opts.timing_cache_file = fspath(timing_cache).cast<std::string>();
  opts.builder_cache = builder_cache;
  if (threads < 0) throw py::value_error("threads must be positive (0 = all cores), got " + std::to_string(threads));
  opts.threads = threads;
  if (shapes) opts.shapes = *shapes;
  if (min_shapes) opts.min_shapes = *min_shapes;
  if (opt_shapes) opts.opt_shapes = *opt_shapes;
  if (max_shapes) opts.max_shapes = *max_shapes;
  if (preprocess) opts.preprocess = parse_preprocess(*preprocess);
  opts.precision = parse_precision(precision);
  if (precision_constraints) opts.precision.constraints = *precision_constraints;
  if (!layer_precisions.is_none()) opts.precision.layer_precisions = parse_pins(layer_precisions);
  if (!layer_output_types.is_none()) opts.precision.layer_output_types = parse_pins(layer_output_types);
  if (!calib.is_none()) opts.calib_dir = fspath(calib).cast<std::string>();
  if (calib_method) opts.calib_method = *calib_method;
  if (!calib_cache.is_none()) opts.calib_cache = fspath(calib_cache).cast<std::string>();
  if (!opts.precision.int8 && (calib_method || !calib_cache.is_none()))
    throw kiln::Error("calib_method and calib_cache are for int8 layers; add 'int8' to precision");
  try {
    kiln::validate_precision_options(opts.precision);
  } catch (const kiln::OptionError& e) {  // the messages name the CLI flags; say the keyword instead
    std::string m = e.what();
    for (auto [flag, kw] : {std::pair{"--layerPrecisions", "layer_precisions"},
                            std::pair{"--layerOutputTypes", "layer_output_types"},
                            std::pair{"--precisionConstraints", "precision_constraints"}})
      if (m.rfind(flag, 0) == 0) m = kw + m.substr(std::string(flag).size());
    throw kiln::Error(m);
  }
  kiln::CheckOptions copts;
  if (!check_tolerance.is_none()) copts.tolerance = parse_tolerance(check_tolerance);
  check |= !copts.tolerance.empty() || !check_inputs.is_none() || !check_calib.is_none();
  if (!check_inputs.is_none()) {
    copts.samples = parse_samples(check_inputs);
    copts.samples_origin = "check_inputs";
  }
  if (!check_calib.is_none()) copts.calib_dir = fspath(check_calib).cast<std::string>();
  copts.seed = check_seed;
  kiln::CompileResult res;
  std::optional<kiln::AccuracyReport> rep;
  std::vector<std::string> moved;  // layers the int8 fallback moved to float
  {
    py::gil_scoped_release nogil;
    res = kiln::compile_onnx_file(in, opts);
    if (check) {
      rep = kiln::check_accuracy(in, opts, res.plan, copts);
      if (!rep->passed() && opts.precision.int8 && !copts.tolerance.empty()) {
        // The accuracy-driven fallback, as kiln compile --int8 --checkTolerance runs it.
        kiln::Int8FallbackResult fb = kiln::compile_int8_with_fallback(in, opts, copts, &res);
        res = std::move(fb.result);
        rep = std::move(fb.report);
        moved = std::move(fb.moved);
      }
      if (!rep->passed())
        throw kiln::Error(in + ": " + kiln::describe_misses(*rep, "check_tolerance") + "; no plan was written");
    }
    auto write = [](const std::string& path, const std::vector<uint8_t>& bytes, const char* what) {
      std::ofstream f(path, std::ios::binary | std::ios::trunc);
      if (f) f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
      if (!f) throw kiln::Error(path + ": cannot write the " + what);
    };
    // The weights first: a plan is never left naming a missing file.
    if (!res.weights.empty()) write(out + ".weights", res.weights, "weights file");
    write(out, res.plan, "plan file");
  }
  py::dict r;
  r["plan_bytes"] = res.plan.size();
  r["weights_file_bytes"] = res.weights.size();
  r["layers"] = res.layers;
  r["onnx_nodes"] = res.onnx_nodes;
  r["warnings"] = res.warnings;
  r["precision_summary"] = res.precision_summary;
  if (!res.calibration.empty()) r["calibration"] = res.calibration;
  if (!moved.empty()) r["int8_fallback"] = moved;
  if (rep) r["check"] = check_dict(*rep);
  return r;
}

}  // namespace

PYBIND11_MODULE(_kiln, m) {
  m.doc() = "kiln: an ahead-of-time neural-network compiler and runtime for CPUs";
  m.attr("__version__") = KILN_VERSION;
  py::register_exception<kiln::Error>(m, "Error", PyExc_RuntimeError);

  py::class_<TensorInfo>(m, "TensorInfo", "A graph input or output as the plan declares it.")
      .def_readonly("name", &TensorInfo::name)
      .def_readonly("dtype", &TensorInfo::dtype, "numpy dtype (bfloat16 tensors: uint16 bit patterns)")
      .def_readonly("shape", &TensorInfo::shape,
                    "tuple of dims; -1 = known only after a run; for an input with a profile, its opt shape")
      .def_readonly("min_shape", &TensorInfo::min_shape, "smallest shape of the input's profile (= shape if static)")
      .def_readonly("max_shape", &TensorInfo::max_shape, "largest shape of the input's profile (= shape if static)")
      .def("__repr__", &TensorInfo::repr);

  py::class_<Context>(m, "Context", "Per-thread inference state; create one with Engine.create_context().")
      .def("run", &Context::run, py::arg("feeds"),
           "run({name: array}) -> {output name: numpy array}. Arrays must have the plan's dtype and shape, or for "
           "an input with an optimisation profile any shape inside it.");

  py::class_<Engine>(m, "Engine", "An immutable compiled plan, shared by any number of contexts and threads.")
      .def(py::init<const py::object&, bool, uint64_t>(), py::arg("plan"), py::kw_only(), py::arg("retune") = false,
           py::arg("memory_limit") = 0,
           "Engine(path) loads a .plan file (and its .weights sidecar, if it has one); Engine(bytes) loads a plan "
           "held in memory. retune=True re-selects every layer's kernel variant for this CPU (kiln run --retune); "
           "memory_limit caps what one context may allocate, in bytes (0 = three quarters of physical memory; "
           "kiln run --memPoolSize).")
      .def_property_readonly("inputs", &Engine::inputs)
      .def_property_readonly("outputs", &Engine::outputs)
      .def_property_readonly("warnings", &Engine::warnings)
      .def_property_readonly("arena_bytes", &Engine::arena_bytes)
      .def("create_context", &Engine::create_context)
      .def("__repr__", &Engine::repr);

  m.def("compile", &compile, py::arg("onnx_path"), py::arg("plan_path"),
        py::arg("shapes") = py::none(), py::arg("precision") = "fp32", py::arg("min_shapes") = py::none(),
        py::arg("opt_shapes") = py::none(), py::arg("max_shapes") = py::none(), py::arg("preprocess") = py::none(),
        py::kw_only(), py::arg("precision_constraints") = py::none(), py::arg("layer_precisions") = py::none(),
        py::arg("layer_output_types") = py::none(), py::arg("check") = false, py::arg("check_tolerance") = py::none(),
        py::arg("check_inputs") = py::none(), py::arg("check_calib") = py::none(), py::arg("check_seed") = 0,
        py::arg("calib") = py::none(), py::arg("calib_method") = py::none(), py::arg("calib_cache") = py::none(),
        py::arg("external_weights") = false, py::arg("builder_level") = 0, py::arg("timing_cache") = py::none(),
        py::arg("builder_cache") = true, py::arg("threads") = 0,
        "compile(onnx_path, plan_path, shapes={'input': [1, 3, 224, 224]}, precision='fp32') builds a plan "
        "file and returns {'plan_bytes', 'layers', 'onnx_nodes', 'warnings', 'precision_summary'}. "
        "min_shapes/opt_shapes/max_shapes (same form) build an optimisation profile instead of fixed shapes for "
        "the inputs they name. preprocess={'input': {'mean': [...], 'scale': [...], 'reverse_channels': True, "
        "'layout': 'NHWC', 'dtype': 'uint8'}} bakes input pre-processing into the plan, as kiln compile --mean/"
        "--scale/--reverseInputChannels/--inputLayout/--inputType do (name '' = the only input). "
        "precision: 'fp32', 'bf16', 'fp16', 'int8', 'int8_dynamic', 'int8_dynamic_tensor', 'best' or a list such as ['int8', 'bf16'] "
        "(permissions, as --bf16/--fp16/--int8/--int8Dynamic/--best); int8 needs calib (a folder of ONNX test-data sets, or 'random' for speed "
        "experiments) or calib_cache (as --calibCache), calib_method 'entropy'|'minmax'|'percentile[:P]'; "
        "precision_constraints 'none'|'prefer'|'obey'; layer_precisions and layer_output_types "
        "{pattern: 'fp32'|'bf16'|'fp16'|'int8'} (as --layerPrecisions/--layerOutputTypes). check=True also builds an "
        "fp32 reference plan, runs both and returns the figures under 'check'; check_tolerance='rel_l2:0.02,...' "
        "(or a dict) raises kiln.Error and writes no plan when an output misses it; check_inputs ({name: array} "
        "or a list of them), check_calib (a folder of ONNX test-data sets) or check_seed choose the inputs. "
        "Weights past 1 GiB, or all with external_weights=True, go to plan_path + '.weights' (as --externalWeights); "
        "keep it beside the plan. builder_level (0-5), timing_cache (a file), builder_cache=False and threads tune "
        "as --builderOptimizationLevel, --timingCacheFile, --noBuilderCache and --threads do.");
}
