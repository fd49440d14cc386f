#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "engine_impl.h"

namespace kiln {

std::string current_isa_name();  // plan/plan_loader.cpp

void AlignedFree::operator()(void* p) const { std::free(p); }

AlignedBytes aligned_bytes(size_t n) {
  size_t rounded = (n + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw Error("out of memory allocating " + std::to_string(n) + " bytes");
  std::memset(p, 0, rounded);
  return AlignedBytes(static_cast<uint8_t*>(p));
}

MachineInfo current_machine() {
  MachineInfo m;
  m.isa = current_isa_name();
  m.cores = static_cast<int>(std::thread::hardware_concurrency());
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) m.cpu = line.substr(p + 2);
      break;
    }
  return m;
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

std::shared_ptr<const Engine> Engine::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(path + ": cannot open the plan file");
  std::streamoff size = in.tellg();
  if (size < 0) throw Error(path + ": cannot read the plan file");
  if (size == 0) throw Error(path + ": the plan file is empty");
  if (size >= (std::streamoff(1) << 31)) throw Error(path + ": file is larger than a plan can be");
  AlignedBytes buf = aligned_bytes(static_cast<size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(buf.get()), size);
  if (!in) throw Error(path + ": reading the plan file failed");
  try {
    return std::shared_ptr<const Engine>(new Engine(load_plan(std::move(buf), static_cast<size_t>(size), path)));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

std::shared_ptr<const Engine> Engine::load_memory(std::span<const uint8_t> bytes, const std::string& origin) {
  AlignedBytes buf = aligned_bytes(bytes.size());
  if (!bytes.empty()) std::memcpy(buf.get(), bytes.data(), bytes.size());
  try {
    return std::shared_ptr<const Engine>(new Engine(load_plan(std::move(buf), bytes.size(), origin)));
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
}

const std::vector<TensorDesc>& Engine::inputs() const { return impl_->inputs; }
const std::vector<TensorDesc>& Engine::outputs() const { return impl_->outputs; }
const std::vector<LayerInfo>& Engine::layers() const { return impl_->layer_info; }
const MachineInfo& Engine::build_machine() const { return impl_->machine; }
uint32_t Engine::schema_version() const { return impl_->schema_version; }
size_t Engine::arena_bytes() const { return impl_->arena_bytes; }
size_t Engine::activation_bytes() const { return impl_->activation_bytes; }
size_t Engine::weight_bytes() const { return impl_->weight_bytes; }
size_t Engine::plan_bytes() const { return impl_->size; }
const std::vector<std::string>& Engine::warnings() const { return impl_->warnings; }

struct ExecutionContext::Impl {
  const Engine::Impl* engine = nullptr;
  AlignedBytes arena, scratch;
  dnnl::stream stream;
  std::vector<BoundKernel> bound;  // empty for dynamic layers
  bool profiling = false;
  std::vector<double> times;
  // Dynamic tensors: this run's shape and buffer, by tensor id (unused for static tensors).
  std::vector<Shape> dyn_shape;
  std::vector<std::vector<uint64_t>> dyn_data;  // uint64_t keeps every element type aligned

  TensorView view(int id) {
    const TensorRec& t = engine->tensors[id];
    if (t.data) return {t.dtype, t.shape, const_cast<void*>(t.data)};
    if (t.dynamic) return {t.dtype, dyn_shape[id], dyn_data[id].data()};
    return {t.dtype, t.shape, arena.get() + t.offset};
  }
  void run_dynamic(const LayerRec& l);
};

// Runs a layer whose shapes depend on input values: infer them from this run's actual inputs
// (all passed as known values), size the outputs, and run the reference kernel.
void ExecutionContext::Impl::run_dynamic(const LayerRec& l) {
  std::vector<ops::TensorType> types;
  std::vector<TensorView> views;
  for (int id : l.inputs) {
    views.push_back(id < 0 ? TensorView{} : view(id));
    types.push_back(id < 0 ? ops::TensorType{} : ops::TensorType{views.back().dtype, views.back().shape});
  }
  std::vector<const TensorView*> values;
  for (auto& v : views) values.push_back(v.data ? &v : nullptr);
  ops::InferContext ctx(types, values, l.outputs.size());
  try {
    l.op->infer(ctx);
  } catch (const Error& e) {
    throw Error("layer '" + l.name + "': " + e.what());
  }
  ops::KernelArgs args{views, {}};
  for (size_t o = 0; o < l.outputs.size(); ++o) {
    const int id = l.outputs[o];
    const TensorRec& t = engine->tensors[id];
    const Shape& got = ctx.outputs()[o].shape;
    bool fits = got.size() == t.shape.size() && shape_static(got);
    for (size_t d = 0; fits && d < got.size(); ++d) fits = t.shape[d] < 0 || t.shape[d] == got[d];
    if (!fits)
      throw Error("layer '" + l.name + "': output '" + t.name + "' came out as " + shape_str(got) +
                  ", which does not fit the plan's " + shape_str(t.shape));
    if (t.dynamic) {
      const uint64_t bytes = static_cast<uint64_t>(shape_elements(got)) * dtype_size(t.dtype);
      if (bytes > (uint64_t(1) << 34))
        throw Error("layer '" + l.name + "': output '" + t.name + "' would need " + std::to_string(bytes >> 20) +
                    " MiB (shape " + shape_str(got) + "); check the input values");
      dyn_shape[id] = got;
      dyn_data[id].resize((bytes + 7) / 8 + 1);
    }
    args.out.push_back(view(id));
  }
  l.op->reference(args);
}

std::unique_ptr<ExecutionContext> Engine::create_context() const {
  auto c = std::make_unique<ExecutionContext::Impl>();
  c->engine = impl_.get();
  c->arena = aligned_bytes(impl_->arena_bytes);
  c->scratch = aligned_bytes(impl_->scratchpad_bytes);
  c->stream = dnnl::stream(impl_->eng);
  auto ptr = [&](int id) -> void* {
    if (id < 0) return nullptr;
    const TensorRec& t = impl_->tensors[id];
    if (t.data) return const_cast<void*>(t.data);
    return c->arena.get() + t.offset;
  };
  c->dyn_shape.resize(impl_->tensors.size());
  c->dyn_data.resize(impl_->tensors.size());
  for (const LayerRec& l : impl_->layers) {
    if (l.dynamic) {
      c->bound.emplace_back();
      continue;
    }
    KernelBinding b;
    for (int id : l.inputs) b.in.push_back(ptr(id));
    for (int id : l.outputs) b.out.push_back(ptr(id));
    b.scratchpad = c->scratch.get();
    c->bound.push_back(l.kernel->bind(b));
  }
  return std::unique_ptr<ExecutionContext>(new ExecutionContext(std::move(c)));
}

ExecutionContext::ExecutionContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ExecutionContext::~ExecutionContext() = default;

static size_t find_binding(const std::vector<TensorDesc>& v, const std::string& name, const char* what) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i].name == name) return i;
  std::string names;
  for (auto& d : v) names += (names.empty() ? "'" : ", '") + d.name + "'";
  throw Error(std::string("the plan has no ") + what + " named '" + name + "'; its " + what + "s are " + names);
}

void* ExecutionContext::input(size_t index) {
  const auto& e = *impl_->engine;
  if (index >= e.input_ids.size()) throw Error("input index " + std::to_string(index) + " is out of range");
  return impl_->arena.get() + e.tensors[e.input_ids[index]].offset;
}

void* ExecutionContext::input(const std::string& name) {
  return input(find_binding(impl_->engine->inputs, name, "input"));
}

const void* ExecutionContext::output(size_t index) const {
  const auto& e = *impl_->engine;
  if (index >= e.output_ids.size()) throw Error("output index " + std::to_string(index) + " is out of range");
  return impl_->view(e.output_ids[index]).data;
}

std::vector<int64_t> ExecutionContext::output_shape(size_t index) const {
  const auto& e = *impl_->engine;
  if (index >= e.output_ids.size()) throw Error("output index " + std::to_string(index) + " is out of range");
  return impl_->view(e.output_ids[index]).shape;
}

const void* ExecutionContext::output(const std::string& name) const {
  return output(find_binding(impl_->engine->outputs, name, "output"));
}

void ExecutionContext::set_profiling(bool on) { impl_->profiling = on; }
const std::vector<double>& ExecutionContext::layer_times_ms() const { return impl_->times; }

void ExecutionContext::run() {
  auto& s = impl_->stream;
  const auto& layers = impl_->engine->layers;
  auto step = [&](size_t i) {
    if (!layers[i].dynamic) return impl_->bound[i](s);
    s.wait();  // a reference kernel reads what oneDNN wrote
    impl_->run_dynamic(layers[i]);
  };
  if (!impl_->profiling) {
    for (size_t i = 0; i < layers.size(); ++i) step(i);
    s.wait();
    return;
  }
  impl_->times.assign(impl_->bound.size(), 0.0);
  for (size_t i = 0; i < impl_->bound.size(); ++i) {
    auto t0 = std::chrono::steady_clock::now();
    step(i);
    s.wait();
    impl_->times[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
}

}  // namespace kiln
