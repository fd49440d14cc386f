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
  std::vector<BoundKernel> bound;
  bool profiling = false;
  std::vector<double> times;
};

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
  for (const LayerRec& l : impl_->layers) {
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
  return impl_->arena.get() + e.tensors[e.output_ids[index]].offset;
}

const void* ExecutionContext::output(const std::string& name) const {
  return output(find_binding(impl_->engine->outputs, name, "output"));
}

void ExecutionContext::set_profiling(bool on) { impl_->profiling = on; }
const std::vector<double>& ExecutionContext::layer_times_ms() const { return impl_->times; }

void ExecutionContext::run() {
  auto& s = impl_->stream;
  if (!impl_->profiling) {
    for (auto& k : impl_->bound) k(s);
    s.wait();
    return;
  }
  impl_->times.assign(impl_->bound.size(), 0.0);
  for (size_t i = 0; i < impl_->bound.size(); ++i) {
    auto t0 = std::chrono::steady_clock::now();
    impl_->bound[i](s);
    s.wait();
    impl_->times[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
}

}  // namespace kiln
