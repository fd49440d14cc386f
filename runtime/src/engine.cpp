#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <thread>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <omp.h>

#include "engine_impl.h"
#include "ops/infer_layer.h"

namespace kiln {

std::string current_isa_name();  // plan/plan_loader.cpp

void AlignedFree::operator()(void* p) const { std::free(p); }

AlignedBytes aligned_bytes(size_t n, bool zeroed) {
  size_t rounded = (n + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw Error("out of memory allocating " + std::to_string(n) + " bytes");
  if (zeroed) std::memset(p, 0, rounded);
  return AlignedBytes(static_cast<uint8_t*>(p));
}

namespace {

// Maps a plan file read-only. The pages come from the page cache and are shared by every process
// that maps the same file; nothing is copied. kiln compile replaces plan files atomically (a new
// file renamed over the old), so a running engine keeps the file it mapped; a plan edited in place
// while loaded would change under it, as for any mapped model file.
PlanBytes map_plan(int fd, size_t size) {
  void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED) return nullptr;
  return PlanBytes(static_cast<const uint8_t*>(p), [size](const uint8_t* q) { munmap(const_cast<uint8_t*>(q), size); });
}

// The checksum reads every page once. Weights that kernels copied (repacked for this CPU, widened
// from half) are not read again: dropping their pages from this process keeps RSS at about the
// weights once plus the arena. Pages used in place stay, shared with other processes through the
// page cache. Whole pages only: a page shared with a weight used in place would just fault back.
void release_copied_weights(const Engine::Impl& impl) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  for (auto [offset, bytes] : impl.copied_weights) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(impl.weights_base) + offset;
    const uintptr_t lo = (a + page - 1) / page * page, hi = (a + bytes) / page * page;
    if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
  }
}

}  // namespace

uint64_t default_memory_limit() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return uint64_t(16) << 30;
  return static_cast<uint64_t>(pages) / 4 * 3 * static_cast<uint64_t>(page);
}

std::string mib(uint64_t bytes) {
  return bytes < (1 << 20) ? std::to_string(bytes) + " bytes" : std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB";
}

namespace {

std::string over_limit(uint64_t limit) {
  return "the context's memory limit of " + mib(limit) +
         " (raise it with --memPoolSize, or LoadOptions::memory_limit in the API)";
}

// The C++ API promises a kiln::Error for every failure: out of memory, and anything oneDNN or the
// standard library throws, becomes one at the boundary, with `what` saying what was being done.
template <class F>
auto api_call(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Error(what + ": out of memory");
  } catch (const std::exception& e) {
    throw Error(what + ": " + e.what());
  }
}

}  // namespace

MachineInfo current_machine() {
  MachineInfo m;
  m.isa = current_isa_name();
  const dnnl_version_t* v = dnnl_version();
  m.onednn = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
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

namespace {

// oneDNN splits a primitive's work for omp_get_max_threads() threads, but OMP_THREAD_LIMIT caps
// the team without lowering that number, and the share of the threads that never start is never
// computed: BERT-base under OMP_THREAD_LIMIT=1 gave garbage (relative error 1.4). Keep the calling
// thread's count within the limit before kernels are created and before every run.
void clamp_threads_to_limit() {
  const int limit = omp_get_thread_limit();
  if (omp_get_max_threads() > limit) omp_set_num_threads(limit);
}

}  // namespace

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

std::shared_ptr<const Engine> Engine::load_file(const std::string& path, const LoadOptions& opts) {
  return api_call(path + ": loading the plan", [&] { return load_file_impl(path, opts); });
}

std::shared_ptr<const Engine> Engine::load_file_impl(const std::string& path, const LoadOptions& opts) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory, not a plan file");
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open the plan file (" + std::strerror(errno) + ")");
  struct stat st {};
  const bool stat_ok = fstat(fd, &st) == 0;
  const bool regular = stat_ok && S_ISREG(st.st_mode);
  auto fail = [&](const std::string& why) {
    close(fd);
    throw Error(path + ": " + why);
  };
  if (!stat_ok) fail("cannot read the plan file");
  if (regular && st.st_size == 0) fail("the plan file is empty");
  if (regular && st.st_size >= (off_t(1) << 31)) fail("file is larger than a plan can be");
  clamp_threads_to_limit();
  size_t size = regular ? static_cast<size_t>(st.st_size) : 0;
  PlanBytes buf = regular ? map_plan(fd, size) : nullptr;
  const bool mapped = buf != nullptr;
  if (!mapped) {  // a pipe or a file system without mmap: read it into memory
    std::vector<uint8_t> bytes;
    uint8_t chunk[1 << 16];
    for (ssize_t n; (n = read(fd, chunk, sizeof chunk)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("reading the plan file failed (" + std::string(std::strerror(errno)) + ")");
      bytes.insert(bytes.end(), chunk, chunk + n);
      if (bytes.size() >= (size_t(1) << 31)) fail("file is larger than a plan can be");
    }
    if (bytes.empty()) fail("the plan file is empty");
    size = bytes.size();
    AlignedBytes copy = aligned_bytes(size, false);
    std::memcpy(copy.get(), bytes.data(), size);
    buf = PlanBytes(copy.release(), [](const uint8_t* q) { std::free(const_cast<uint8_t*>(q)); });
  }
  close(fd);
  // A v6 plan's weights sidecar lives beside it, under the name the plan records.
  SidecarOpener sidecar = [&](const std::string& name, size_t& n) -> PlanBytes {
    const std::string side = (std::filesystem::path(path).parent_path() / name).string();
    const int wfd = open(side.c_str(), O_RDONLY | O_CLOEXEC);
    if (wfd < 0)
      throw Error("the plan keeps its weights in '" + side + "', which cannot be opened (" + std::strerror(errno) +
                  "); copy it together with the plan");
    struct stat ws {};
    PlanBytes w;
    if (fstat(wfd, &ws) == 0 && S_ISREG(ws.st_mode) && ws.st_size > 0) {
      n = static_cast<size_t>(ws.st_size);
      w = map_plan(wfd, n);
    }
    close(wfd);
    if (!w) throw Error("the plan's weights file '" + side + "' cannot be mapped (empty or not a regular file)");
    return w;
  };
  try {
    auto impl = load_plan(std::move(buf), size, path, opts, sidecar);
    if (mapped || impl->weights_buffer) release_copied_weights(*impl);
    return std::shared_ptr<const Engine>(new Engine(std::move(impl)));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

std::shared_ptr<const Engine> Engine::load_memory(std::span<const uint8_t> bytes, const std::string& origin,
                                                  const LoadOptions& opts) {
  return api_call(origin + ": loading the plan", [&] {
    clamp_threads_to_limit();
    AlignedBytes copy = aligned_bytes(bytes.size(), false);
    if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
    PlanBytes buf(copy.release(), [](const uint8_t* q) { std::free(const_cast<uint8_t*>(q)); });
    try {
      return std::shared_ptr<const Engine>(new Engine(load_plan(std::move(buf), bytes.size(), origin, opts)));
    } catch (const Error& e) {
      throw Error(origin + ": " + e.what());
    }
  });
}

const std::vector<TensorDesc>& Engine::inputs() const { return impl_->inputs; }
const std::vector<TensorDesc>& Engine::outputs() const { return impl_->outputs; }
const std::vector<LayerInfo>& Engine::layers() const { return impl_->layer_info; }
const MachineInfo& Engine::build_machine() const { return impl_->machine; }
uint32_t Engine::schema_version() const { return impl_->schema_version; }
int Engine::builder_level() const { return impl_->builder_level; }
size_t Engine::arena_bytes() const { return impl_->arena_bytes; }
size_t Engine::activation_bytes() const { return impl_->activation_bytes; }
size_t Engine::weight_bytes() const { return impl_->weight_bytes; }
size_t Engine::plan_bytes() const { return impl_->size; }
const std::vector<std::string>& Engine::warnings() const { return impl_->warnings; }

struct ExecutionContext::Impl {
  const Engine::Impl* engine = nullptr;
  AlignedBytes arena, scratch;
  size_t scratch_bytes = 0;
  // The shapes and kernels the layers are bound to, and the input shapes the next run() uses.
  std::shared_ptr<const Specialization> spec;
  std::vector<Dims> want_shapes;
  dnnl::stream stream;
  std::vector<BoundKernel> bound;  // empty for dynamic layers
  bool profiling = false;
  std::vector<double> times;
  // Dynamic tensors: this run's shape and buffer, by tensor id (unused for static tensors).
  std::vector<Dims> dyn_shape;
  std::vector<std::vector<uint64_t>> dyn_data;  // uint64_t keeps every element type aligned
  uint64_t dyn_bytes = 0;  // the sum of dyn_data's sizes, counted against the memory limit
  // Dynamic layers' kernels for the shapes this context met, by layer and its tensors' shapes;
  // null where only the reference kernel takes them. Bounded: cleared past kMaxDynKernels.
  static constexpr size_t kMaxDynKernels = 256;
  std::map<std::pair<size_t, std::vector<Dims>>, std::unique_ptr<Kernel>> dyn_kernels;
  std::vector<Dims> kernel_shapes;  // by tensor id; only the current layer's entries are set
  AlignedBytes dyn_scratch;         // for dynamic layers' kernels needing more than `scratch`
  size_t dyn_scratch_bytes = 0;

  // Caller buffers (set_input_buffer / set_output_buffer), by graph input / output index.
  struct UserBuffer {
    void* data = nullptr;
    size_t bytes = 0;
  };
  std::vector<UserBuffer> user_in, user_out;
  // By tensor id: caller memory that replaces the tensor's arena slot (zero-copy), or nullptr.
  std::vector<void*> redirect;
  // By output index: the output is computed in context memory and copied to the caller's buffer.
  std::vector<bool> copy_out;
  // By tensor id, for graph inputs and outputs only: the static layers that read or write it.
  std::vector<std::vector<size_t>> io_layers;
  std::vector<int> stale;  // tensors whose redirect changed since their layers were bound

  uint64_t arena_bytes_held() const { return engine->arena_bytes + scratch_bytes; }
  void* ptr(int id) const {
    if (id < 0) return nullptr;
    const TensorRec& t = engine->tensors[id];
    if (t.data) return const_cast<void*>(t.data);
    // Its kernel holds the packed bytes itself; a fallback kernel reads the row-major copy.
    if (t.packed) return const_cast<void*>(engine->unpacked_if_made(id));
    if (redirect[id]) return redirect[id];
    return arena.get() + t.offset;
  }
  TensorView view(int id) const {
    const TensorRec& t = engine->tensors[id];
    if (t.data) return {t.dtype, t.shape, const_cast<void*>(t.data)};
    if (t.packed) return {t.dtype, t.shape, const_cast<void*>(engine->unpacked(id))};
    if (t.dynamic && dyn_shape[id].empty()) return {t.dtype, spec->shapes[id], nullptr};  // before the first run
    if (t.dynamic) return {t.dtype, dyn_shape[id], const_cast<uint64_t*>(dyn_data[id].data())};
    return {t.dtype, spec->shapes[id], ptr(id)};
  }
  void bind(size_t layer) {
    const LayerRec& l = engine->layers[layer];
    KernelBinding b;
    for (int id : l.inputs) b.in.push_back(ptr(id));
    for (int id : l.outputs) b.out.push_back(ptr(id));
    b.scratchpad = scratch.get();
    bound[layer] = spec->kernels[layer]->bind(b);
  }
  void switch_specialization();
  void check_bound_sizes() const;
  void rebind_stale();
  void copy_outputs();
  void run_dynamic(size_t layer);
  const Kernel* dynamic_kernel(size_t layer);
  TensorView size_output(const LayerRec& l, size_t o, const Dims& got);
  // Run-time Loop layers' body contexts, by layer, made on first use.
  std::vector<std::unique_ptr<ExecutionContext>> bodies;
  void check_user_buffer(const TensorRec& t, const char* what, const void* data, size_t bytes, bool capacity,
                         const UserBuffer* self) const;
};

// The fast kernel for a dynamic layer at this run's shapes (created on first use, like a
// specialisation's), or null when only the reference kernel takes them.
const Kernel* ExecutionContext::Impl::dynamic_kernel(size_t layer) {
  const LayerRec& l = engine->layers[layer];
  std::pair<size_t, std::vector<Dims>> key{layer, {}};
  for (const auto* ids : {&l.inputs, &l.outputs})
    for (int id : *ids) key.second.push_back(id < 0 ? Dims{} : view(id).shape);
  auto it = dyn_kernels.find(key);
  if (it != dyn_kernels.end()) return it->second.get();
  if (dyn_kernels.size() >= kMaxDynKernels) dyn_kernels.clear();
  kernel_shapes.resize(engine->tensors.size());
  size_t k = 0;
  for (const auto* ids : {&l.inputs, &l.outputs})
    for (int id : *ids) {
      if (id >= 0) kernel_shapes[id] = key.second[k];
      ++k;
    }
  std::string used;
  std::unique_ptr<Kernel> kernel = create_layer_kernel(*engine, l, kernel_shapes, used);
  if (used == "reference") kernel.reset();
  if (kernel && kernel->scratchpad_bytes() > std::max(scratch_bytes, dyn_scratch_bytes)) {
    dyn_scratch = aligned_bytes(kernel->scratchpad_bytes(), false);
    dyn_scratch_bytes = kernel->scratchpad_bytes();
  }
  return dyn_kernels.emplace(std::move(key), std::move(kernel)).first->second.get();
}

// Runs a layer whose shapes depend on input values: infer them from this run's actual inputs
// (all passed as known values), size the outputs, and run the layer's fast kernel for these
// shapes, else its reference kernel. A run-time Loop runs its body's plan instead, and sizes its
// outputs as the iterations tell.
void ExecutionContext::Impl::run_dynamic(size_t layer) {
  const LayerRec& l = engine->layers[layer];
  if (l.body) {
    struct IO final : LayerIO {
      Impl& c;
      const LayerRec& l;
      std::unique_ptr<ExecutionContext>& body;
      IO(Impl& c_, const LayerRec& l_, std::unique_ptr<ExecutionContext>& b) : c(c_), l(l_), body(b) {}
      TensorView input(size_t i) override { return l.inputs[i] < 0 ? TensorView{} : c.view(l.inputs[i]); }
      TensorView output(size_t o, const Dims& shape) override { return c.size_output(l, o, shape); }
      ExecutionContext& body_context() override {
        if (!body) body = l.body->create_context();
        return *body;
      }
      uint64_t memory_left() const override {
        const uint64_t used = c.arena_bytes_held() + c.dyn_bytes;
        return used >= c.engine->memory_limit ? 0 : c.engine->memory_limit - used;
      }
    } io(*this, l, bodies[layer]);
    return run_loop(l, io);
  }
  std::vector<ops::TensorType> types;
  std::vector<TensorView> views;
  for (int id : l.inputs) {
    views.push_back(id < 0 ? TensorView{} : view(id));
    types.push_back(id < 0 ? ops::TensorType{} : ops::TensorType{views.back().dtype, views.back().shape});
  }
  const std::vector<ops::TensorType> inferred =
      ops::infer_layer(*l.op, types, views, l.outputs.size(), "layer '" + l.name + "'");
  ops::KernelArgs args{views, {}};
  for (size_t o = 0; o < l.outputs.size(); ++o) args.out.push_back(size_output(l, o, inferred[o].shape));
  const Kernel* k = dynamic_kernel(layer);
  if (!k) return l.op->reference(args);
  KernelBinding b;
  for (size_t i = 0; i < l.inputs.size(); ++i) {
    const int id = l.inputs[i];
    // A kernel holding packed weights ignores their pointer, as in bind().
    b.in.push_back(id < 0 ? nullptr : engine->tensors[id].packed ? ptr(id) : args.in[i].data);
  }
  for (const TensorView& v : args.out) b.out.push_back(v.data);
  b.scratchpad = k->scratchpad_bytes() <= scratch_bytes ? scratch.get() : dyn_scratch.get();
  k->bind(b)(stream);
  stream.wait();
}

// Output o of a dynamic layer as this run computed its shape: checked against the plan's, and a
// dynamic tensor's buffer sized within the memory limit.
TensorView ExecutionContext::Impl::size_output(const LayerRec& l, size_t o, const Dims& got) {
  const int id = l.outputs[o];
  const TensorRec& t = engine->tensors[id];
  const Dims& want = spec->shapes[id];
  bool fits = got.size() == want.size() && shape_static(got);
  for (size_t d = 0; fits && d < got.size(); ++d) fits = want[d] < 0 || want[d] == got[d];
  if (!fits)
    throw Error("layer '" + l.name + "': output '" + t.name + "' came out as " + shape_str(got) +
                ", which does not fit the plan's " + shape_str(want));
  if (t.dynamic) {
    const uint64_t bytes = (shape_bytes(got, t.dtype) + 7) / 8 * 8 + 8;
    const uint64_t held = dyn_data[id].size() * 8;
    const uint64_t total = arena_bytes_held() + dyn_bytes - held + bytes;
    if (total > engine->memory_limit)
      throw Error("layer '" + l.name + "' (" + l.op_type + "): output '" + t.name + "' would need " + mib(bytes) +
                  " (shape " + shape_str(got) + "), beyond " + over_limit(engine->memory_limit) +
                  "; check the input values that determine its shape");
    dyn_shape[id] = got;
    dyn_data[id].resize(bytes / 8);
    dyn_bytes = dyn_bytes - held + bytes;
  }
  return view(id);
}

std::unique_ptr<ExecutionContext> Engine::create_context() const {
  return api_call(impl_->origin + ": creating a context", [&] { return create_context_impl(); });
}

std::unique_ptr<ExecutionContext> Engine::create_context_impl() const {
  auto c = std::make_unique<ExecutionContext::Impl>();
  const Impl& e = *impl_;
  c->engine = &e;
  c->spec = e.base;
  c->want_shapes = e.base->input_shapes;
  if (e.arena_bytes + e.scratchpad_bytes > e.memory_limit)
    throw Error(e.origin + ": a context needs " + mib(e.arena_bytes) + " of activations and " + mib(e.scratchpad_bytes) +
                " of scratchpad, beyond " + over_limit(e.memory_limit));
  // The arena starts zeroed: blocked layouts' padding channels are read (times zero weights) and
  // must not hold NaNs. Kernels write their scratchpad before reading it, so it is left as
  // allocated: its pages cost memory only once a layer uses them.
  c->arena = aligned_bytes(e.arena_bytes);
  c->scratch = aligned_bytes(e.scratchpad_bytes, false);
  c->scratch_bytes = e.scratchpad_bytes;
  c->stream = dnnl::stream(e.eng);
  const size_t nt = e.tensors.size();
  c->dyn_shape.resize(nt);
  c->dyn_data.resize(nt);
  c->redirect.assign(nt, nullptr);
  c->io_layers.resize(nt);
  c->user_in.resize(e.input_ids.size());
  c->user_out.resize(e.output_ids.size());
  // Outputs whose size is only known during the run, or that share one tensor with another
  // output, cannot take a caller buffer in place.
  for (size_t o = 0; o < e.output_ids.size(); ++o) {
    const int id = e.output_ids[o];
    const bool twice = std::count(e.output_ids.begin(), e.output_ids.end(), id) > 1;
    c->copy_out.push_back(e.tensors[id].dynamic || twice);
  }
  std::vector<bool> io(nt, false);
  for (int id : e.input_ids) io[id] = true;
  for (size_t o = 0; o < e.output_ids.size(); ++o) io[e.output_ids[o]] = !c->copy_out[o];
  c->bound.resize(e.layers.size());
  c->bodies.resize(e.layers.size());
  for (size_t i = 0; i < e.layers.size(); ++i) {
    const LayerRec& l = e.layers[i];
    if (l.dynamic) continue;  // reads view() at run time, so a redirect needs no rebinding
    for (const auto* ids : {&l.inputs, &l.outputs})
      for (int id : *ids)
        if (id >= 0 && io[id] && (c->io_layers[id].empty() || c->io_layers[id].back() != i))
          c->io_layers[id].push_back(i);
    c->bind(i);
  }
  return std::unique_ptr<ExecutionContext>(new ExecutionContext(std::move(c)));
}

// The first run after set_input_shape() changed a shape: take the engine's specialisation for the
// new shapes and bind every static layer to its kernels (pointers into the arena do not move).
void ExecutionContext::Impl::switch_specialization() {
  auto next = engine->specialize(want_shapes);
  if (next->scratchpad_bytes > scratch_bytes) {
    if (engine->arena_bytes + next->scratchpad_bytes + dyn_bytes > engine->memory_limit)
      throw Error("the kernels for these input shapes need " + mib(next->scratchpad_bytes) + " of scratchpad, beyond " +
                  over_limit(engine->memory_limit));
    scratch = aligned_bytes(next->scratchpad_bytes, false);
    scratch_bytes = next->scratchpad_bytes;
  }
  spec = std::move(next);
  for (size_t i = 0; i < engine->layers.size(); ++i)
    if (!engine->layers[i].dynamic) bind(i);
  stale.clear();
}

// Caller buffers hold at least this run's bytes (with a profile, sizes follow the input shapes).
void ExecutionContext::Impl::check_bound_sizes() const {
  auto check = [&](const UserBuffer& u, int id, const char* what) {
    if (!u.data || engine->tensors[id].dynamic || u.bytes >= spec->bytes[id]) return;
    throw Error(std::string(what) + " '" + engine->tensors[id].name + "' has shape " + shape_str(spec->shapes[id]) +
                " (" + std::to_string(spec->bytes[id]) + " bytes) but the buffer bound to it holds " +
                std::to_string(u.bytes) + " bytes; bind a larger buffer");
  };
  for (size_t i = 0; i < user_in.size(); ++i) check(user_in[i], engine->input_ids[i], "input");
  for (size_t o = 0; o < user_out.size(); ++o)
    if (!copy_out[o]) check(user_out[o], engine->output_ids[o], "output");
}

void ExecutionContext::Impl::rebind_stale() {
  std::vector<size_t> layers;
  for (int id : stale) layers.insert(layers.end(), io_layers[id].begin(), io_layers[id].end());
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  for (size_t i : layers) bind(i);
  stale.clear();
}

// Outputs that could not be written in place go to their caller buffers after the run.
void ExecutionContext::Impl::copy_outputs() {
  for (size_t o = 0; o < user_out.size(); ++o) {
    if (!copy_out[o] || !user_out[o].data) continue;
    const int id = engine->output_ids[o];
    const TensorView v = view(id);
    const size_t bytes = shape_bytes(v.shape, v.dtype);
    if (bytes > user_out[o].bytes)
      throw Error("output '" + engine->tensors[id].name + "' came out as " + shape_str(v.shape) + " (" +
                  std::to_string(bytes) + " bytes) but the buffer bound to it holds " +
                  std::to_string(user_out[o].bytes) + " bytes; bind a larger buffer or read output() instead");
    if (bytes) std::memcpy(user_out[o].data, v.data, bytes);
  }
}

void ExecutionContext::Impl::check_user_buffer(const TensorRec& t, const char* what, const void* data,
                                               size_t bytes, bool capacity, const UserBuffer* self) const {
  const std::string label = std::string(what) + " '" + t.name + "'";
  if (!capacity && engine->ranges.empty() && bytes != t.bytes)
    throw Error(label + " needs a buffer of exactly " + std::to_string(t.bytes) + " bytes (" +
                dtype_name(t.dtype) + " " + shape_str(t.shape) + "), got " + std::to_string(bytes));
  const size_t align = dtype_size(t.dtype);
  if (align > 1 && reinterpret_cast<uintptr_t>(data) % align)
    throw Error(label + ": the buffer is not aligned to its " + std::to_string(align) + "-byte " +
                dtype_name(t.dtype) + " elements; kiln reads and writes it in place, so pass aligned memory " +
                "(malloc and new always return it)");
  // Outputs are written while inputs and other outputs are read or written: no overlaps with them.
  const bool is_output = std::string_view(what) == "output";
  auto overlaps = [&](const UserBuffer& u) {
    auto a = reinterpret_cast<uintptr_t>(data), b = reinterpret_cast<uintptr_t>(u.data);
    return &u != self && u.data && bytes && u.bytes && a < b + u.bytes && b < a + bytes;
  };
  for (size_t i = 0; i < user_out.size(); ++i)
    if (overlaps(user_out[i]))
      throw Error(label + ": the buffer overlaps the one bound to output '" +
                  engine->tensors[engine->output_ids[i]].name + "'");
  if (is_output)
    for (size_t i = 0; i < user_in.size(); ++i)
      if (overlaps(user_in[i]))
        throw Error(label + ": the buffer overlaps the one bound to input '" +
                    engine->tensors[engine->input_ids[i]].name + "'");
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

static void check_index(size_t index, size_t count, const char* what) {
  if (index >= count)
    throw Error(std::string(what) + " index " + std::to_string(index) + " is out of range: the plan has " +
                std::to_string(count) + " " + what + (count == 1 ? "" : "s"));
}

void* ExecutionContext::input(size_t index) {
  const auto& e = *impl_->engine;
  check_index(index, e.input_ids.size(), "input");
  return impl_->ptr(e.input_ids[index]);
}

void ExecutionContext::set_input_buffer(size_t index, const void* data, size_t bytes) {
  auto& c = *impl_;
  check_index(index, c.engine->input_ids.size(), "input");
  const int id = c.engine->input_ids[index];
  if (data) c.check_user_buffer(c.engine->tensors[id], "input", data, bytes, false, &c.user_in[index]);
  void* p = const_cast<void*>(data);  // kernels take void*, but nothing writes a graph input
  c.user_in[index] = {p, data ? bytes : 0};
  if (c.redirect[id] != p) c.stale.push_back(id);
  c.redirect[id] = p;
}

void ExecutionContext::set_output_buffer(size_t index, void* data, size_t bytes) {
  auto& c = *impl_;
  check_index(index, c.engine->output_ids.size(), "output");
  const int id = c.engine->output_ids[index];
  const TensorRec& t = c.engine->tensors[id];
  if (data) c.check_user_buffer(t, "output", data, bytes, t.dynamic, &c.user_out[index]);
  c.user_out[index] = {data, data ? bytes : 0};
  if (c.copy_out[index]) return;
  if (c.redirect[id] != data) c.stale.push_back(id);
  c.redirect[id] = data;
}

bool ExecutionContext::output_is_zero_copy(size_t index) const {
  check_index(index, impl_->engine->output_ids.size(), "output");
  return !impl_->copy_out[index];
}

void* ExecutionContext::input(const std::string& name) {
  return input(find_binding(impl_->engine->inputs, name, "input"));
}

const void* ExecutionContext::output(size_t index) const {
  const auto& e = *impl_->engine;
  check_index(index, e.output_ids.size(), "output");
  if (impl_->user_out[index].data) return impl_->user_out[index].data;
  return impl_->view(e.output_ids[index]).data;
}

std::vector<int64_t> ExecutionContext::output_shape(size_t index) const {
  const auto& e = *impl_->engine;
  check_index(index, e.output_ids.size(), "output");
  return impl_->view(e.output_ids[index]).shape;
}

const void* ExecutionContext::output(const std::string& name) const {
  return output(find_binding(impl_->engine->outputs, name, "output"));
}

void ExecutionContext::set_profiling(bool on) { impl_->profiling = on; }
const std::vector<double>& ExecutionContext::layer_times_ms() const { return impl_->times; }

void ExecutionContext::set_input_shape(size_t index, std::span<const int64_t> shape) {
  auto& c = *impl_;
  check_index(index, c.engine->input_ids.size(), "input");
  api_call("set_input_shape", [&] {
    Dims s(shape.begin(), shape.end());
    c.engine->check_input_shape(index, s);
    c.want_shapes[index] = std::move(s);
  });
}

void ExecutionContext::set_input_shape(const std::string& name, std::span<const int64_t> shape) {
  set_input_shape(find_binding(impl_->engine->inputs, name, "input"), shape);
}

std::vector<int64_t> ExecutionContext::input_shape(size_t index) const {
  check_index(index, impl_->engine->input_ids.size(), "input");
  return impl_->want_shapes[index];
}

void ExecutionContext::run() {
  api_call(impl_->engine->origin + ": run", [&] { run_impl(); });
}

void ExecutionContext::run_impl() {
  clamp_threads_to_limit();
  if (impl_->want_shapes != impl_->spec->input_shapes) impl_->switch_specialization();
  if (!impl_->stale.empty()) impl_->rebind_stale();
  impl_->check_bound_sizes();
  auto& s = impl_->stream;
  const auto& layers = impl_->engine->layers;
  auto step = [&](size_t i) {
    if (layers[i].when >= 0) {  // a branch of an If: run only the taken one
      s.wait();
      const bool c = *static_cast<const uint8_t*>(impl_->ptr(layers[i].when)) != 0;
      if (c != layers[i].when_true) return;
    }
    if (!layers[i].dynamic) return impl_->bound[i](s);
    s.wait();  // a reference kernel reads what oneDNN wrote
    impl_->run_dynamic(i);
  };
  if (!impl_->profiling) {
    for (size_t i = 0; i < layers.size(); ++i) step(i);
    s.wait();
    impl_->copy_outputs();
    return;
  }
  impl_->times.assign(impl_->bound.size(), 0.0);
  for (size_t i = 0; i < impl_->bound.size(); ++i) {
    auto t0 = std::chrono::steady_clock::now();
    step(i);
    s.wait();
    impl_->times[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  impl_->copy_outputs();
}

}  // namespace kiln
