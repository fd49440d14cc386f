#include "serialize/plan_writer.h"

#include <algorithm>
#include <cstring>
#include <list>
#include <optional>
#include <unordered_map>

#include <sys/mman.h>
#include <unistd.h>

#include "kernels/kernel.h"
#include "kiln/plan_generated.h"
#include "ops/tensor/shape.h"
#include "ops/controlflow/loop.h"
#include "plan/plan_format.h"
#include "serialize/prepack.h"

namespace kiln::serialize {

namespace {

// Collects an op's attributes as flatbuffer Attr tables.
class AttrWriter final : public ops::AttrVisitor {
 public:
  explicit AttrWriter(flatbuffers::FlatBufferBuilder& b) : b_(b) {}
  void visit(const char* name, int64_t& v) override {
    add(name, fb::AttrKind::Int, [&](fb::AttrBuilder& a) { a.add_i(v); });
  }
  void visit(const char* name, float& v) override {
    add(name, fb::AttrKind::Float, [&](fb::AttrBuilder& a) { a.add_f(v); });
  }
  void visit(const char* name, std::vector<int64_t>& v) override {
    auto vec = b_.CreateVector(v);
    add(name, fb::AttrKind::Ints, [&](fb::AttrBuilder& a) { a.add_ints(vec); });
  }
  void visit(const char* name, std::vector<float>& v) override {
    std::vector<double> d(v.begin(), v.end());
    auto vec = b_.CreateVector(d);
    add(name, fb::AttrKind::Floats, [&](fb::AttrBuilder& a) { a.add_floats(vec); });
  }
  void visit(const char* name, std::string& v) override {
    auto s = b_.CreateString(v);
    add(name, fb::AttrKind::String, [&](fb::AttrBuilder& a) { a.add_s(s); });
  }
  std::vector<flatbuffers::Offset<fb::Attr>> attrs;

 private:
  template <class F>
  void add(const char* name, fb::AttrKind kind, F&& fill) {
    auto n = b_.CreateString(name);
    fb::AttrBuilder a(b_);
    a.add_name(n);
    a.add_kind(kind);
    fill(a);
    attrs.push_back(a.Finish());
  }
  flatbuffers::FlatBufferBuilder& b_;
};

}  // namespace

// Anonymous pages for the plan being built: zero until written and resident only once written, so
// the plan's pages come in one by one as the weights are copied while the graph frees its copies
// (a std::vector would write every zero first: twice the weights at once). Page-aligned, so 64-byte
// alignment inside holds.
class LazyPages {
 public:
  explicit LazyPages(size_t n) : n_(std::max<size_t>(n, 1)) {
    void* p = mmap(nullptr, n_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    p_ = static_cast<uint8_t*>(p);
  }
  ~LazyPages() { munmap(p_, n_); }
  LazyPages(const LazyPages&) = delete;
  LazyPages& operator=(const LazyPages&) = delete;
  uint8_t* data() const { return p_; }
  size_t size() const { return n_; }
  // [data, data + size) as a vector, copied a chunk at a time with each copied chunk's pages handed
  // back at once: the bytes are resident about once on their way out, not twice.
  std::vector<uint8_t> take(const uint8_t* data, size_t size) {
    std::vector<uint8_t> v;
    v.reserve(size);
    const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    constexpr size_t kChunk = size_t(16) << 20;
    for (size_t at = 0; at < size; at += kChunk) {
      const size_t n = std::min(kChunk, size - at);
      v.insert(v.end(), data + at, data + at + n);
      const uintptr_t lo = (reinterpret_cast<uintptr_t>(data + at) + page - 1) / page * page;
      const uintptr_t hi = reinterpret_cast<uintptr_t>(data + at + n) / page * page;
      if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
    }
    return v;
  }

 private:
  uint8_t* p_ = nullptr;
  size_t n_;
};

// The builder's storage is LazyPages; the finished plan is taken out of it as a vector.
class PlanAllocator : public flatbuffers::Allocator {
 public:
  uint8_t* allocate(size_t size) override {
    bufs_.emplace_back(size);
    return bufs_.back().data();
  }
  void deallocate(uint8_t* p, size_t) override {
    for (auto it = bufs_.begin(); it != bufs_.end(); ++it)
      if (it->data() == p) {
        bufs_.erase(it);
        return;
      }
  }
  // The buffer holding [data, data + size): the finished plan.
  std::vector<uint8_t> take(const uint8_t* data, size_t size) {
    for (auto& b : bufs_)
      if (data >= b.data() && data + size <= b.data() + b.size()) return b.take(data, size);
    throw Error("internal error: the plan builder's buffer is not its allocator's");
  }

 private:
  std::list<LazyPages> bufs_;
};

PlanFiles write_plan_files(const PlanInput& in) {
  const ir::Graph& g = in.graph;

  // Tensor table: every value a layer or binding touches, in first-use order (deterministic).
  std::unordered_map<const ir::Value*, int32_t> index;
  std::vector<const ir::Value*> tensors;
  auto id = [&](const ir::Value* v) -> int32_t {
    if (!v) return -1;
    auto [it, fresh] = index.try_emplace(v, static_cast<int32_t>(tensors.size()));
    if (fresh) tensors.push_back(v);
    return it->second;
  };
  for (auto& io : g.inputs) id(io.value);
  for (auto& n : g.nodes()) {
    for (auto* v : n->inputs) id(v);
    for (auto* v : n->outputs) id(v);
  }
  for (auto& io : g.outputs) id(io.value);

  // Constants their kernels read in a layout of their own are stored in it.
  std::vector<const Tactic*> tactic_of;
  for (auto& t : in.tactics) tactic_of.push_back(&t.tactic);
  const auto packing = in.prepack ? plan_packing(g, in.kernels, tactic_of)
                                  : std::unordered_map<const ir::Value*, Packing>{};
  auto packing_of = [&](const ir::Value* v) {
    auto it = packing.find(v);
    return it == packing.end() ? nullptr : &it->second;
  };

  // Weights: each constant at a 64-byte aligned offset.
  std::vector<uint64_t> weight_offset(tensors.size(), 0);
  uint64_t weight_bytes = 0;
  // A float32 constant marked for half storage (--fp16) is written as IEEE half.
  auto as_half = [](const ir::Value* v) {
    return v->is_constant() && v->stored_dtype == DType::Float16 && v->type.dtype == DType::Float32 &&
           v->layout.empty();
  };
  auto stored_size = [&](const ir::Value* v) -> uint64_t {
    if (const Packing* p = packing_of(v)) return p->stored_bytes(v->constant->size());
    return as_half(v) ? v->constant->size() / 2 : v->constant->size();
  };
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i]->is_constant()) continue;
    weight_offset[i] = weight_bytes;
    weight_bytes += (stored_size(tensors[i]) + plan::kWeightAlignment - 1) / plan::kWeightAlignment *
                    plan::kWeightAlignment;
  }
  const bool external = in.external_weights || weight_bytes > plan::kMaxInlineWeights;
  if (external && in.weights_file.empty())
    throw Error("the model has " + std::to_string(weight_bytes >> 20) + " MiB of weights, more than a plan holds "
                "inline (" + std::to_string(plan::kMaxInlineWeights >> 20) + " MiB); they go to a weights file "
                "beside the plan, which this build cannot write (compile to a file with kiln compile -o, or set "
                "CompileOptions::weights_file)");
  PlanFiles out;
  std::optional<LazyPages> sidecar;  // the weights file's bytes, when the weights go there
  // Sized for the weights up front: growing the builder past them would copy every weight again.
  PlanAllocator alloc;
  flatbuffers::FlatBufferBuilder b((external ? 0 : static_cast<size_t>(weight_bytes)) + (size_t(4) << 20), &alloc);
  b.ForceDefaults(true);  // the checksum field must exist so the loader can find and blank it
  uint8_t* wdata = nullptr;
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> weights;
  if (external) {
    sidecar.emplace(static_cast<size_t>(weight_bytes));
    wdata = sidecar->data();
    weights = b.CreateVector(static_cast<const uint8_t*>(nullptr), 0);
  } else {
    b.ForceVectorAlignment(weight_bytes, 1, plan::kWeightAlignment);
    // Zeros already: the builder's storage starts zeroed, and nothing was written here before.
    weights = b.CreateUninitializedVector(weight_bytes, 1, &wdata);
  }
  // Constants' buffers may be shared by several values: each may be freed once its last value is
  // written (with release_constants). True for that last value.
  std::unordered_map<ir::Constant*, size_t> unwritten;
  for (const ir::Value* v : tensors)
    if (v->is_constant()) ++unwritten[v->constant.get()];
  auto last_use = [&](const ir::Value* v) { return in.release_constants && --unwritten[v->constant.get()] == 0; };
  // Packed constants first: packing one creates its layer's kernel, which reads the layer's other
  // constants, so none may be freed yet. A packed constant has that one reader only.
  for (size_t i = 0; i < tensors.size(); ++i) {
    const ir::Value* v = tensors[i];
    const Packing* p = v->is_constant() && v->constant->size() ? packing_of(v) : nullptr;
    if (!p) continue;
    write_packed(*v, *p, in.kernels.at(p->node), p->node < tactic_of.size() ? tactic_of[p->node] : nullptr,
                 wdata + weight_offset[i]);
    if (last_use(v)) v->constant->release();
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const ir::Value* v = tensors[i];
    if (!v->is_constant() || !v->constant->size() || packing_of(v)) continue;
    const bool last = last_use(v);
    if (as_half(v)) {
      const auto* src = static_cast<const float*>(v->constant->data());
      auto* dst = reinterpret_cast<uint16_t*>(wdata + weight_offset[i]);
      for (size_t k = 0, n = v->constant->size() / 4; k < n; ++k) dst[k] = ops::float_to_half(src[k]);
      if (last) v->constant->release();
    } else if (last) {
      v->constant->move_to(wdata + weight_offset[i]);
    } else {
      std::memcpy(wdata + weight_offset[i], v->constant->data(), v->constant->size());
    }
  }

  std::vector<flatbuffers::Offset<fb::Tensor>> tensor_offsets;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const ir::Value* v = tensors[i];
    fb::TensorKind kind = fb::TensorKind::Activation;
    uint64_t offset = 0;
    if (v->is_constant()) {
      kind = fb::TensorKind::Constant;
      offset = weight_offset[i];
    } else {
      auto it = in.memory.offset.find(v);
      offset = it == in.memory.offset.end() ? 0 : it->second;  // dynamic tensors: no arena slot
      if (g.is_graph_input(v)) kind = fb::TensorKind::Input;
      else if (g.is_graph_output(v)) kind = fb::TensorKind::Output;
    }
    uint64_t bytes = shape_static(v->type.shape) ? dnn::physical_bytes(v->type.dtype, v->type.shape, v->layout) : 0;
    if (as_half(v) || packing_of(v)) bytes = stored_size(v);
    flatbuffers::Offset<fb::Packing> packed;
    if (const Packing* p = packing_of(v)) packed = fb::CreatePackingDirect(b, &p->layout, &p->plain, p->plain_offset());
    auto cap = in.capacity.find(v);
    tensor_offsets.push_back(fb::CreateTensorDirect(b, v->name.c_str(), static_cast<fb::DType>(v->type.dtype),
                                                    &v->type.shape, v->layout.c_str(), kind, offset, bytes,
                                                    cap == in.capacity.end() ? 0 : cap->second,
                                                    as_half(v) ? fb::DType::Float16 : fb::DType::Undefined,
                                                    v->quant.empty() ? nullptr : &v->quant.scale, v->quant.zero_point,
                                                    v->quant.axis, packed));
  }

  std::vector<flatbuffers::Offset<fb::Layer>> layers;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const ir::Node& n = *g.nodes()[i];
    AttrWriter aw(b);
    n.op->attrs(aw);
    auto attrs = b.CreateVectorOfSortedTables(&aw.attrs);
    std::vector<int32_t> ins, outs;
    for (auto* v : n.inputs) ins.push_back(id(v));
    for (auto* v : n.outputs) outs.push_back(id(v));
    std::vector<flatbuffers::Offset<flatbuffers::String>> fused;
    for (auto& f : n.fused) fused.push_back(b.CreateString(f));
    DType precision = n.precision != DType::Undefined ? n.precision
                      : n.outputs.empty()                ? DType::Float32
                                                         : n.outputs[0]->type.dtype;
    flatbuffers::Offset<fb::Tactic> tactic;
    if (i < in.tactics.size()) {
      const TunedTactic& t = in.tactics[i];
      if (!t.tactic.impl.empty() || !t.tactic.algorithm.empty()) {
        std::vector<flatbuffers::Offset<fb::TacticTime>> ru;
        for (auto& [id, us] : t.runner_ups)
          ru.push_back(fb::CreateTacticTimeDirect(b, id.c_str(), static_cast<float>(us)));
        tactic = fb::CreateTacticDirect(b, t.tactic.impl.c_str(), t.tactic.algorithm.c_str(),
                                        t.tactic.weights_format.c_str(), static_cast<float>(t.time_us), &ru);
      }
    }
    flatbuffers::Offset<flatbuffers::Vector<uint8_t>> body;
    if (const auto* loop = n.as<ops::Loop>()) {
      if (!loop->body) throw Error("internal error: " + ir::node_label(n) + " has no body plan");
      body = b.CreateVector(*loop->body);
    }
    layers.push_back(fb::CreateLayer(b, b.CreateString(n.name), b.CreateString(std::string(n.type())),
                                     b.CreateString(in.kernels.at(i)), static_cast<fb::DType>(precision),
                                     b.CreateVector(ins), b.CreateVector(outs), attrs, b.CreateVector(fused),
                                     tactic, n.when ? id(n.when) : -1, n.when_true, body));
  }
  std::vector<int32_t> inputs, outputs;
  for (auto& io : g.inputs) inputs.push_back(id(io.value));
  for (auto& io : g.outputs) outputs.push_back(id(io.value));
  auto machine = fb::CreateMachineDirect(b, in.machine.isa.c_str(), in.machine.cpu.c_str(), in.machine.cores,
                                         in.machine.threads, in.machine.onednn.c_str());
  auto producer = b.CreateString("kiln " KILN_VERSION);
  std::vector<flatbuffers::Offset<fb::InputRange>> ranges;
  for (auto& [lo, hi] : in.ranges) ranges.push_back(fb::CreateInputRangeDirect(b, &lo, &hi));
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::InputRange>>> range_vec;
  if (!ranges.empty()) range_vec = b.CreateVector(ranges);
  flatbuffers::Offset<flatbuffers::String> weights_file;
  if (external) weights_file = b.CreateString(in.weights_file);
  uint64_t sidecar_sum = 0;
  if (external) {
    sidecar_sum = plan::sidecar_checksum({sidecar->data(), static_cast<size_t>(weight_bytes)});
    out.weights = sidecar->take(sidecar->data(), static_cast<size_t>(weight_bytes));
    sidecar.reset();
  }
  auto plan = fb::CreatePlan(b, plan::kSchemaVersion, producer, machine, b.CreateVector(tensor_offsets),
                             b.CreateVector(layers), b.CreateVector(inputs), b.CreateVector(outputs),
                             in.memory.arena_bytes, in.memory.activation_bytes, weights, 0,
                             range_vec, in.builder_level, weights_file, external ? weight_bytes : 0, sidecar_sum);
  fb::FinishPlanBuffer(b, plan);

  const size_t size = b.GetSize();
  flatbuffers::DetachedBuffer finished = b.Release();
  std::vector<uint8_t> bytes = alloc.take(finished.data(), size);
  auto* root = fb::GetMutablePlan(bytes.data());
  const auto* table = reinterpret_cast<const flatbuffers::Table*>(root);
  const uint8_t* field = table->GetAddressOf(fb::Plan::VT_CHECKSUM);
  if (!field) throw Error("internal error: plan checksum field missing");
  size_t pos = static_cast<size_t>(field - bytes.data());
  root->mutate_checksum(plan::checksum(bytes, pos));
  out.plan = std::move(bytes);
  return out;
}

std::vector<uint8_t> write_plan(const PlanInput& in) {
  if (in.external_weights || !in.weights_file.empty())
    throw Error("internal error: write_plan makes plans with inline weights only; use write_plan_files");
  return write_plan_files(in).plan;  // refuses weights past kMaxInlineWeights: there is no file to name
}

}  // namespace kiln::serialize
