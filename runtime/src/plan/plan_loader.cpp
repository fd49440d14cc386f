// Plan loading treats every byte as hostile: identifier, flatbuffers Verifier, schema version
// and checksum first; then every index, offset and size is bounds-checked, and each layer's op
// re-infers its output types, which must equal the recorded ones, before any kernel sees a
// pointer.
#include <cmath>
#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>
#include <limits>

#include "engine_impl.h"
#include "kiln/plan_generated.h"
#include "kernels/first_kernel.h"
#include "ops/infer_layer.h"
#include "ops/tensor/shape.h"
#include "plan/plan_format.h"

namespace kiln {

namespace {

// The Verifier checks that a vector lies inside the buffer and that its length prefix is 4-byte
// aligned, not that 8-byte elements are 8-byte aligned; a hostile file can misalign them. Copy the
// bytes out instead of dereferencing them in place.
template <class T>
std::vector<T> read_vector(const flatbuffers::Vector<T>* v) {
  std::vector<T> r;
  if (!v) return r;
  r.resize(v->size());
  if (!r.empty()) std::memcpy(r.data(), v->Data(), r.size() * sizeof(T));
  return r;
}

class AttrReader final : public ops::AttrVisitor {
 public:
  AttrReader(const flatbuffers::Vector<flatbuffers::Offset<fb::Attr>>* attrs, const std::string& where)
      : attrs_(attrs), where_(where) {}
  void visit(const char* name, int64_t& v) override {
    if (auto* a = find(name, fb::AttrKind::Int)) v = a->i();
  }
  void visit(const char* name, float& v) override {
    if (auto* a = find(name, fb::AttrKind::Float)) v = static_cast<float>(a->f());
  }
  void visit(const char* name, std::vector<int64_t>& v) override {
    if (auto* a = find(name, fb::AttrKind::Ints)) v = read_vector(a->ints());
  }
  void visit(const char* name, std::vector<float>& v) override {
    if (auto* a = find(name, fb::AttrKind::Floats)) {
      v.clear();
      for (double d : read_vector(a->floats())) v.push_back(static_cast<float>(d));
    }
  }
  void visit(const char* name, std::string& v) override {
    if (auto* a = find(name, fb::AttrKind::String)) v = a->s() ? a->s()->str() : "";
  }

 private:
  const fb::Attr* find(const char* name, fb::AttrKind kind) {
    if (!attrs_) return nullptr;
    const fb::Attr* a = attrs_->LookupByKey(name);
    if (a && a->kind() != kind) throw Error(where_ + ": attribute '" + name + "' has the wrong kind");
    return a;
  }
  const flatbuffers::Vector<flatbuffers::Offset<fb::Attr>>* attrs_;
  std::string where_;
};

[[noreturn]] void corrupt(const std::string& what) {
  throw Error(what + "; the plan is corrupt or was not written by kiln: rebuild it with `kiln compile`");
}

std::string isa_name(dnnl::cpu_isa isa) {
  using I = dnnl::cpu_isa;
  switch (isa) {
    case I::sse41: return "sse41";
    case I::avx: return "avx";
    case I::avx2: return "avx2";
    case I::avx2_vnni: return "avx2_vnni";
    case I::avx512_core: return "avx512_core";
    case I::avx512_core_vnni: return "avx512_core_vnni";
    case I::avx512_core_bf16: return "avx512_core_bf16";
    case I::avx512_core_amx: return "avx512_core_amx";
    default: return "isa_" + std::to_string(static_cast<int>(isa));
  }
}

}  // namespace

const void* Engine::Impl::unpacked(int id) const {
  const TensorRec& t = tensors[static_cast<size_t>(id)];
  if (!t.packed) return t.data;
  if (t.packed->plain_data) return t.packed->plain_data;
  std::lock_guard<std::mutex> lock(unpacked_mu);
  auto it = unpacked_copies.find(id);
  if (it != unpacked_copies.end()) return it->second.get();
  AlignedBytes copy = aligned_bytes(std::max<uint64_t>(t.bytes, 1));
  try {
    dnnl::memory src(t.packed->layout, eng, const_cast<void*>(t.packed->data)), dst(t.packed->plain, eng, copy.get());
    dnnl::stream st(eng);
    dnnl::reorder(src, dst).execute(st, src, dst);
    st.wait();
  } catch (const dnnl::error& e) {
    throw Error("constant '" + t.name + "': its packed layout cannot be read back on this machine (" + e.what() +
                "); rebuild the plan");
  }
  return unpacked_copies.emplace(id, std::move(copy)).first->second.get();
}

const void* Engine::Impl::unpacked_if_made(int id) const {
  const TensorRec& t = tensors[static_cast<size_t>(id)];
  if (t.packed && t.packed->plain_data) return t.packed->plain_data;
  std::lock_guard<std::mutex> lock(unpacked_mu);
  auto it = unpacked_copies.find(id);
  return it == unpacked_copies.end() ? nullptr : it->second.get();
}

std::string current_isa_name() { return isa_name(dnnl::get_effective_cpu_isa()); }

std::unique_ptr<Kernel> create_layer_kernel(const Engine::Impl& impl, const LayerRec& rec,
                                            const std::vector<Dims>& shapes, std::string& used) {
  // Pre-packed constants go, packed, to the recorded kernel only; every other kernel (and that one,
  // should it not keep them as they are) gets row-major copies.
  bool packed_inputs = false;
  auto make_spec = [&](bool packed) {
    KernelSpec spec{*rec.op, {}, {}, impl.eng};
    for (int i : rec.inputs) {
      KernelTensor kt;
      if (i >= 0) {
        const TensorRec& t = impl.tensors[i];
        kt = {t.dtype, shapes[i], t.layout, t.data, t.quant};
        if (t.packed && packed) kt.packed = t.packed.get();
        else if (t.packed) kt.const_data = impl.unpacked(i);
        packed_inputs |= t.packed != nullptr;
      }
      spec.in.push_back(kt);
    }
    for (int i : rec.outputs)
      spec.out.push_back({impl.tensors[i].dtype, shapes[i], impl.tensors[i].layout, nullptr, impl.tensors[i].quant});
    return spec;
  };
  // A dynamic layer records the reference kernel (its shapes were unknown at build time); at
  // known shapes it gets the kernel the builder would pick, reading row-major weights.
  KernelSpec spec = make_spec(!rec.dynamic);
  auto& reg = KernelRegistry::instance();
  const bool tuned = !rec.tactic.impl.empty() || !rec.tactic.algorithm.empty();
  auto attempt = [&](const std::string& name) -> std::unique_ptr<Kernel> {
    // The recorded tactic names a variant of the recorded implementation only.
    spec.tactic = tuned && name == rec.impl ? &rec.tactic : nullptr;
    try {
      return name == "reference" ? make_reference_kernel(spec) : reg.create(rec.op_type, name, spec);
    } catch (const std::exception&) {
      return nullptr;
    }
  };
  std::unique_ptr<Kernel> k = rec.dynamic ? nullptr : attempt(rec.impl);
  if (packed_inputs && !rec.dynamic) {
    // A kernel given packed bytes must hold them as weights of its own; one that does not (a
    // hostile plan naming another reader) would read them as row-major.
    if (k) {
      const auto held = k->packed_weights();
      for (size_t j = 0; j < spec.in.size() && k; ++j)
        if (spec.in[j].packed &&
            std::none_of(held.begin(), held.end(), [&](const PackedWeights& w) { return w.input == j; }))
          k.reset();
    }
    if (!k) {
      KernelSpec plain = make_spec(false);
      spec.in = std::move(plain.in);
      k = attempt(rec.impl);
    }
  }
  used = rec.impl;
  if (!k) {
    // Unavailable here (another CPU, an older runtime): the kernel the builder would pick, untuned.
    spec.tactic = nullptr;
    KernelChoice c = first_kernel(rec.op_type, spec);
    k = std::move(c.kernel);
    used = c.impl;
  }
  return k;
}

namespace {

std::string tactic_id(const Tactic& t) { return t.impl.empty() && t.algorithm.empty() ? "" : t.id(); }

// Creates the layer's recorded kernel, or falls back (with a warning) when this machine or runtime
// cannot create it. Returns false when the kernel runs another tactic than the recorded one (this
// CPU lacks it): the caller counts those and warns once.
bool create_kernel(Engine::Impl& impl, LayerRec& rec, const std::string& label) {
  std::vector<Dims> shapes;
  for (const TensorRec& t : impl.tensors) shapes.push_back(t.shape);
  std::string used;
  rec.kernel = create_layer_kernel(impl, rec, shapes, used);
  if (!rec.kernel) {
    bool bf16 = false;
    for (int i : rec.inputs) bf16 |= i >= 0 && impl.tensors[i].dtype == DType::BFloat16;
    for (int i : rec.outputs) bf16 |= impl.tensors[i].dtype == DType::BFloat16;
    throw Error(label + ": no kernel on this machine can run this layer" +
                (bf16 ? std::string(" in bfloat16 (oneDNN needs AVX-512 for bf16; this CPU offers ") +
                            isa_name(dnnl::get_effective_cpu_isa()) + "); rebuild the plan without --bf16/--best for this machine"
                      : std::string()));
  }
  impl.scratchpad_bytes = std::max(impl.scratchpad_bytes, rec.kernel->scratchpad_bytes());
  if (used != rec.impl) {
    // The chosen kernel is unavailable here (another CPU, an older runtime).
    impl.warnings.push_back(label + ": kernel '" + rec.impl + "' is unavailable here; using '" + used + "'");
    rec.impl = used;
    return false;
  }
  return tactic_id(rec.tactic).empty() || rec.kernel->tactic().same_choice(rec.tactic);
}

void read_tactic(const fb::Tactic* t, LayerRec& rec, LayerInfo& info) {
  if (!t) return;
  auto s = [](const flatbuffers::String* x) { return x ? x->str() : std::string(); };
  rec.tactic = {s(t->impl()), s(t->algorithm()), s(t->weights_format())};
  info.planned_tactic = tactic_id(rec.tactic);
  info.weights_format = rec.tactic.weights_format;
  info.time_us = t->time_us();
  if (t->runner_ups())
    for (const fb::TacticTime* r : *t->runner_ups()) info.runner_ups.push_back({s(r->tactic()), r->time_us()});
}

// Kernels assume their outputs overlap neither each other nor their inputs, except the one
// input the op runs in place on (a Conv's residual operand), at exactly the same place. The
// memory planner guarantees that; a hostile plan could place tensors anywhere in the arena.
void check_no_aliasing(const Engine::Impl& impl, const LayerRec& rec, const std::string& label) {
  auto in_arena = [&](int i) {
    if (i < 0) return false;
    const TensorRec& t = impl.tensors[i];
    return !t.dynamic && t.kind != static_cast<int>(fb::TensorKind::Constant) && t.capacity > 0;
  };
  auto overlap = [&](int a, int b) {
    const TensorRec &x = impl.tensors[a], &y = impl.tensors[b];
    return x.offset < y.offset + y.capacity && y.offset < x.offset + x.capacity;
  };
  const int inplace = rec.op->inplace_input();
  for (size_t o = 0; o < rec.outputs.size(); ++o) {
    int out = rec.outputs[o];
    if (!in_arena(out)) continue;
    for (size_t p = 0; p < o; ++p)
      if (in_arena(rec.outputs[p]) && overlap(out, rec.outputs[p])) corrupt(label + " has overlapping outputs");
    for (size_t k = 0; k < rec.inputs.size(); ++k) {
      int in = rec.inputs[k];
      if (!in_arena(in) || !overlap(out, in)) continue;
      const TensorRec &x = impl.tensors[out], &y = impl.tensors[in];
      bool allowed = o == 0 && static_cast<int>(k) == inplace && x.offset == y.offset && x.capacity == y.capacity &&
                     x.bytes == y.bytes;
      if (!allowed) corrupt(label + ": output '" + x.name + "' overlaps input '" + y.name + "' in the arena");
    }
  }
}

// The optimisation profile: per graph input, each dim's [min, max], which must hold the recorded
// (opt) shape. An input whose min equals its max everywhere is static.
void read_ranges(Engine::Impl& impl, const flatbuffers::Vector<flatbuffers::Offset<fb::InputRange>>* ranges) {
  if (!ranges || ranges->size() == 0) return;
  if (ranges->size() != impl.input_ids.size())
    corrupt("the profile has " + std::to_string(ranges->size()) + " input ranges for " +
            std::to_string(impl.input_ids.size()) + " inputs");
  for (size_t i = 0; i < impl.input_ids.size(); ++i) {
    const fb::InputRange* r = ranges->Get(static_cast<flatbuffers::uoffset_t>(i));
    TensorRec& t = impl.tensors[impl.input_ids[i]];
    InputRange range{read_vector(r->min()), read_vector(r->max())};
    if (range.min.size() != t.shape.size() || range.max.size() != t.shape.size())
      corrupt("the profile range of input '" + t.name + "' has the wrong rank");
    for (size_t d = 0; d < t.shape.size(); ++d)
      if (range.min[d] < 1 || range.min[d] > t.shape[d] || t.shape[d] > range.max[d] ||
          range.max[d] > (int64_t(1) << 31))
        corrupt("the profile range of input '" + t.name + "' does not hold its shape " + shape_str(t.shape));
    // Each dim is bounded above; their product must be too, or sizes computed from it could wrap.
    uint64_t elems = 1;
    for (int64_t d : range.max)
      if (__builtin_mul_overflow(elems, static_cast<uint64_t>(d), &elems) || elems > static_cast<uint64_t>(kMaxElements))
        corrupt("the profile range of input '" + t.name + "' allows " + shape_str(range.max) +
                ", more than 2^40 elements");
    impl.inputs[i].min_shape = range.min;
    impl.inputs[i].max_shape = range.max;
    impl.ranges.push_back(std::move(range));
  }
}

// Which constants' plan bytes the kernels copied (repacked, widened) rather than use in place: the
// loader releases those pages after load. Pre-packed constants that had to be repacked (the plan
// was packed for another CPU or oneDNN) get one warning.
void note_weight_copies(Engine::Impl& impl, const uint8_t* weights) {
  size_t packed = 0, repacked = 0;
  std::vector<bool> in_place(impl.tensors.size(), false), copied(impl.tensors.size(), false);
  for (size_t li = 0; li < impl.layers.size(); ++li) {
    const LayerRec& l = impl.layers[li];
    if (!l.kernel) continue;
    for (const PackedWeights& w : l.kernel->packed_weights()) {
      const int id = w.input < l.inputs.size() ? l.inputs[w.input] : -1;
      if (id < 0) continue;
      const TensorRec& t = impl.tensors[id];
      const bool mapped = reads_in_place(t, w);
      (mapped ? in_place : copied)[id] = true;
      impl.layer_info[li].weights_prepacked |= mapped;
    }
  }
  for (size_t id = 0; id < impl.tensors.size(); ++id) {
    const TensorRec& t = impl.tensors[id];
    if (t.kind != static_cast<int>(fb::TensorKind::Constant)) continue;
    packed += t.packed != nullptr;
    repacked += t.packed && !in_place[id];
    if (!weights) continue;
    // A packed constant's stored bytes: the packing, then (Winograd) padding and the row-major copy.
    const uint64_t plain_at = t.packed && t.packed->plain_data
                                  ? static_cast<uint64_t>(static_cast<const uint8_t*>(t.packed->plain_data) -
                                                          static_cast<const uint8_t*>(t.packed->data))
                                  : 0;
    const uint64_t stored = !t.packed ? (t.stored_half ? t.bytes / 2 : t.bytes) : plain_at ? plain_at + t.bytes : t.packed->bytes;
    if ((copied[id] || t.stored_half) && !in_place[id]) impl.copied_weights.push_back({t.offset, stored});
    else if (in_place[id] && plain_at) impl.copied_weights.push_back({t.offset + plain_at, t.bytes});  // copy unread
  }
  if (!repacked) return;
  const MachineInfo here = current_machine();
  impl.warnings.push_back(std::to_string(repacked) + " of " + std::to_string(packed) +
                          " pre-packed weights are not in the layout this CPU's kernels want (packed for " +
                          (impl.machine.isa.empty() ? "another CPU" : impl.machine.isa) + " with oneDNN " +
                          (impl.machine.onednn.empty() ? "?" : impl.machine.onednn) + "; this is " +
                          here.isa + " with oneDNN " + here.onednn +
                          "): they were repacked at load, which costs load time and memory; rebuild the plan "
                          "with `kiln compile` on this kind of machine to load it without repacking");
}

// Everything after the plan's identity checks and its weights' location: the machine, tensors,
// profile and layers, each layer's kernel created.
void read_plan(Engine::Impl& loading, const fb::Plan* plan, const LoadOptions& opts, const uint8_t* weights,
               uint64_t weight_size) {
  Engine::Impl* impl = &loading;
  if (plan->machine()) {
    auto s = [](const flatbuffers::String* x) { return x ? x->str() : std::string(); };
    impl->machine = {s(plan->machine()->isa()), s(plan->machine()->cpu()), plan->machine()->cores(),
                     plan->machine()->threads(), s(plan->machine()->onednn())};
  }
  if (weight_size && reinterpret_cast<uintptr_t>(weights) % plan::kWeightAlignment)
    corrupt("weights are not 64-byte aligned");
  impl->arena_bytes = plan->arena_bytes();
  impl->activation_bytes = plan->activation_bytes();
  impl->weight_bytes = weight_size;
  impl->weights_base = weights;
  if (impl->arena_bytes > (uint64_t(1) << 40)) corrupt("arena size is absurd");

  // Tensors.
  if (!plan->tensors() || !plan->layers()) corrupt("tensor or layer table missing");
  const size_t nt = plan->tensors()->size();
  for (size_t i = 0; i < nt; ++i) {
    const fb::Tensor* t = plan->tensors()->Get(static_cast<flatbuffers::uoffset_t>(i));
    TensorRec r;
    r.name = t->name() ? t->name()->str() : "";
    std::string label = "tensor " + std::to_string(i) + " ('" + r.name + "')";
    r.dtype = static_cast<DType>(t->dtype());
    if (!dtype_valid(r.dtype)) corrupt(label + " has an invalid dtype");
    uint64_t elems = 1;
    if (t->shape()) {
      if (t->shape()->size() > 8) corrupt(label + " has rank above 8");
      for (int64_t d : read_vector(t->shape())) {
        if (d < -1 || d > (int64_t(1) << 40)) corrupt(label + " has an invalid dimension");
        r.shape.push_back(d);
        if (d < 0) {
          r.dynamic = true;
          continue;
        }
        if (d && elems > (uint64_t(1) << 40) / static_cast<uint64_t>(d)) corrupt(label + " is absurdly large");
        elems *= static_cast<uint64_t>(d);
      }
    }
    // (v5) A quantized real carries its scales (positive, finite, one per tensor or one per index
    // of its axis) and a zero point its type can hold; no other tensor has any.
    const auto* qs = t->quant_scale();
    if (dtype_quantized(r.dtype)) {
      auto& q = r.quant;
      q.axis = t->quant_axis();
      q.zero_point = t->quant_zero_point();
      const bool axis_ok = q.axis == -1 || (q.axis >= 0 && static_cast<size_t>(q.axis) < r.shape.size());
      const int64_t want = !axis_ok ? -1 : q.axis < 0 ? 1 : r.shape[static_cast<size_t>(q.axis)];
      if (r.dynamic || !qs || want < 0 || static_cast<int64_t>(qs->size()) != want)
        corrupt(label + " is quantized without one scale per tensor or per channel");
      for (float s : *qs)
        if (!(std::isfinite(s) && s > 0)) corrupt(label + " has a quantization scale that is not a positive number");
      const int lo = r.dtype == DType::QUInt8 ? 0 : -128, hi = r.dtype == DType::QUInt8 ? 255 : 127;
      if (q.zero_point < lo || q.zero_point > hi) corrupt(label + " has a zero point its type cannot hold");
      q.scale.assign(qs->begin(), qs->end());
    } else if (qs && qs->size()) {
      corrupt(label + " has quantization scales but is not quantized");
    }
    if (r.dynamic) {
      // Value-dependent shapes: only activations and outputs, row-major, no arena space.
      bool ok = (t->kind() == fb::TensorKind::Activation || t->kind() == fb::TensorKind::Output) &&
                (!t->layout() || t->layout()->size() == 0) && t->bytes() == 0 && t->capacity() == 0;
      if (!ok) corrupt(label + " has an unknown dimension where that is not allowed");
      r.kind = static_cast<int>(t->kind());
      impl->tensors.push_back(std::move(r));
      continue;
    }
    r.layout = t->layout() ? t->layout()->str() : "";
    if (!dnn::layout_known(r.layout, r.shape.size()) || (!r.layout.empty() && !ops::real_storage(r.dtype)))
      corrupt(label + " has a layout this runtime does not know");
    try {
      r.bytes = r.layout.empty() ? elems * dtype_size(r.dtype) : dnn::physical_bytes(r.dtype, r.shape, r.layout);
    } catch (const dnnl::error&) {  // oneDNN refuses the shape for this layout (zero or odd dims)
      corrupt(label + " has a shape its layout cannot hold");
    }
    // (v4) A float32 constant stored as half: its bytes in the plan are half as many.
    const auto stored = static_cast<DType>(t->stored_dtype());
    if (stored != DType::Undefined && stored != r.dtype) {
      if (stored != DType::Float16 || r.dtype != DType::Float32 || t->kind() != fb::TensorKind::Constant ||
          !r.layout.empty())
        corrupt(label + " has a stored type this runtime does not know");
      r.stored_half = true;
    }
    // (v7) A pre-packed constant: `bytes` is its packed size, checked against its layout below.
    const fb::Packing* packing = t->packing();
    if (packing) {
      if (plan->schema_version() < 7 || t->kind() != fb::TensorKind::Constant || r.stored_half || !r.layout.empty())
        corrupt(label + " is packed where that is not allowed");
    } else if (t->bytes() != (r.stored_half ? elems * 2 : r.bytes)) {
      corrupt(label + " size does not match its shape");
    }
    // The arena slot holds the tensor at the profile's max shapes; specialisations check that
    // their sizes fit it before binding.
    r.capacity = t->capacity() ? t->capacity() : r.bytes;
    if (r.capacity < r.bytes) corrupt(label + " reserves less arena space than its shape needs");
    if (t->kind() == fb::TensorKind::Constant && !r.layout.empty()) corrupt(label + " is a constant with a layout");
    r.kind = static_cast<int>(t->kind());
    r.offset = t->offset();
    if (t->kind() == fb::TensorKind::Constant) {
      if (r.capacity != r.bytes) corrupt(label + " is a constant with a capacity");
      const uint64_t in_plan = packing ? t->bytes() : r.stored_half ? elems * 2 : r.bytes;
      if (r.offset > weight_size || in_plan > weight_size - r.offset) corrupt(label + " lies outside the weights");
      if (r.offset % plan::kWeightAlignment) corrupt(label + " is not aligned");
      r.data = weights + r.offset;
      if (packing) {
        // [packed bytes][padding][row-major bytes, when plain_offset is set]
        const uint64_t plain_at = packing->plain_offset();
        if (plain_at && (plain_at % plan::kWeightAlignment || plain_at > in_plan || r.bytes > in_plan - plain_at))
          corrupt(label + " has its row-major copy outside its bytes");
        const uint64_t packed_bytes = plain_at ? plain_at : in_plan;
        const auto layout = dnn::desc_from_key(read_vector(packing->layout()), r.dtype, static_cast<int64_t>(elems), packed_bytes);
        const auto plain = dnn::desc_from_key(read_vector(packing->plain()), r.dtype, static_cast<int64_t>(elems), r.bytes);
        if (!layout || !plain || !dnn::desc_blocked(*plain) || (!dnn::desc_blocked(*layout) && !plain_at))
          corrupt(label + " has a packed layout that does not describe its bytes");
        r.packed = std::make_unique<PackedConst>(
            PackedConst{r.data, packed_bytes, *layout, *plain, plain_at ? weights + r.offset + plain_at : nullptr});
        r.data = nullptr;
      }
      if (r.stored_half) {  // oneDNN has no f16 compute on CPU: kernels read the widened copy
        AlignedBytes wide = aligned_bytes(std::max<uint64_t>(r.bytes, 1));
        const auto* h = reinterpret_cast<const uint16_t*>(weights + r.offset);
        auto* f = reinterpret_cast<float*>(wide.get());
        for (uint64_t k = 0; k < elems; ++k) f[k] = ops::half_to_float(h[k]);
        r.data = wide.get();
        impl->widened.push_back(std::move(wide));
      }
    } else if (static_cast<int>(t->kind()) <= 3) {
      if (r.offset > impl->arena_bytes || r.capacity > impl->arena_bytes - r.offset)
        corrupt(label + " lies outside the activation arena");
      // Kernels load elements as their type; the memory planner aligns every tensor.
      if (r.offset % plan::kArenaAlignment) corrupt(label + " is not aligned in the activation arena");
    } else {
      corrupt(label + " has an unknown kind");
    }
    impl->tensors.push_back(std::move(r));
  }
  auto tensor_index = [&](int32_t id, const std::string& where, bool allow_absent) -> int {
    if (id == -1 && allow_absent) return -1;
    if (id < 0 || static_cast<size_t>(id) >= nt) corrupt(where + " refers to tensor " + std::to_string(id) + ", which does not exist");
    return id;
  };
  auto bindings = [&](const flatbuffers::Vector<int32_t>* v, int kind, std::vector<int>& ids, std::vector<TensorDesc>& descs, const char* what) {
    if (!v) corrupt(std::string("graph ") + what + " missing");
    for (int32_t id : *v) {
      int i = tensor_index(id, std::string("graph ") + what, false);
      if (impl->tensors[i].kind != kind || !impl->tensors[i].layout.empty() || dtype_quantized(impl->tensors[i].dtype) ||
          (impl->tensors[i].dynamic && kind == static_cast<int>(fb::TensorKind::Input)))
        corrupt(std::string("graph ") + what + " '" + impl->tensors[i].name + "' has the wrong kind or layout");
      ids.push_back(i);
      const Dims& shape = impl->tensors[i].shape;
      descs.push_back({impl->tensors[i].name, impl->tensors[i].dtype, shape, shape, shape});
    }
  };
  bindings(plan->inputs(), static_cast<int>(fb::TensorKind::Input), impl->input_ids, impl->inputs, "input");
  bindings(plan->outputs(), static_cast<int>(fb::TensorKind::Output), impl->output_ids, impl->outputs, "output");
  read_ranges(*impl, plan->input_ranges());

  // Layers: rebuild each op, re-infer, and create its kernel.
  std::vector<bool> written(nt, false);
  for (int id : impl->input_ids) written[id] = true;
  // Shape programs' values at the recorded shapes, so their consumers check out (ops::evaluate_shape_layer).
  std::vector<std::vector<uint8_t>> known(nt);
  size_t tuned = 0, reselected = 0;
  for (size_t li = 0; li < plan->layers()->size(); ++li) {
    const fb::Layer* l = plan->layers()->Get(static_cast<flatbuffers::uoffset_t>(li));
    LayerRec rec;
    rec.name = l->name() ? l->name()->str() : "";
    std::string op_name = l->op() ? l->op()->str() : "";
    rec.op_type = op_name;
    std::string label = "layer " + std::to_string(li) + " ('" + rec.name + "', " + op_name + ")";
    rec.op = ops::OpRegistry::instance().create(op_name);
    if (!rec.op) corrupt(label + " uses an op this runtime does not know");
    rec.impl = l->kernel() ? l->kernel()->str() : "reference";
    try {
      AttrReader reader(l->attrs(), label);
      rec.op->attrs(reader);
    } catch (const Error& e) {
      corrupt(label + ": " + e.what());
    }
    if (!l->inputs() || !l->outputs()) corrupt(label + " has no input or output list");
    std::vector<ops::TensorType> in_types;
    std::vector<TensorView> views;
    for (int32_t id : *l->inputs()) {
      int i = tensor_index(id, label, true);
      rec.inputs.push_back(i);
      if (i >= 0 && !written[i] && impl->tensors[i].kind != static_cast<int>(fb::TensorKind::Constant))
        corrupt(label + " reads tensor '" + impl->tensors[i].name + "' before any layer writes it");
      in_types.push_back(i < 0 ? ops::TensorType{} : ops::TensorType{impl->tensors[i].dtype, impl->tensors[i].shape});
      const void* data = i < 0 ? nullptr : impl->tensors[i].data ? impl->tensors[i].data
                                                         : known[i].empty() ? nullptr : known[i].data();
      views.push_back(data ? TensorView{impl->tensors[i].dtype, impl->tensors[i].shape, const_cast<void*>(data)}
                           : TensorView{});
    }
    for (int32_t id : *l->outputs()) {
      int i = tensor_index(id, label, false);
      int kind = impl->tensors[i].kind;
      if (kind == static_cast<int>(fb::TensorKind::Constant) || kind == static_cast<int>(fb::TensorKind::Input))
        corrupt(label + " writes to a constant or input tensor");
      rec.outputs.push_back(i);
      written[i] = true;
    }
    check_no_aliasing(*impl, rec, label);
    if (l->when() >= 0) {
      const int w = tensor_index(l->when(), label, false);
      const TensorRec& t = impl->tensors[w];
      if (t.dtype != DType::Bool || t.dynamic || shape_elements(t.shape) != 1 || !written[w])
        corrupt(label + "'s predicate '" + t.name + "' is not a one-element bool tensor written before it");
      rec.when = w;
      rec.when_true = l->when_true();
    }
    std::vector<ops::TensorType> inferred;
    try {
      inferred = ops::infer_layer(*rec.op, in_types, views, rec.outputs.size(), label);
    } catch (const Error& e) {
      corrupt(e.what());
    }
    for (size_t o = 0; o < rec.outputs.size(); ++o) {
      const TensorRec& t = impl->tensors[rec.outputs[o]];
      if (!ops::stored_type_ok(inferred[o].dtype, t.dtype) || inferred[o].shape != t.shape)
        corrupt(label + ": output '" + t.name + "' does not match what the layer computes");
    }
    // Also without ranges: a plan built from a profile's graph at one shape (int8 calibration's).
    std::vector<std::vector<uint8_t>> values;
    try {
      values = ops::evaluate_shape_layer(*rec.op, in_types, views, inferred, label);
    } catch (const Error& e) {
      corrupt(e.what());
    }
    for (size_t o = 0; o < values.size(); ++o) known[rec.outputs[o]] = std::move(values[o]);
    for (int i : rec.inputs) rec.dynamic |= i >= 0 && impl->tensors[i].dynamic;
    for (int i : rec.outputs) rec.dynamic |= impl->tensors[i].dynamic;
    if (l->body() && l->body()->size()) {  // (v8) a run-time Loop: runs its body, never a kernel
      if (plan->schema_version() < 8) corrupt(label + " carries a body, which schema version " +
                                              std::to_string(plan->schema_version()) + " has not");
      rec.body = load_loop_body(*impl, rec, {l->body()->data(), l->body()->size()}, opts, label);
      rec.dynamic = true;
    } else if (rec.op_type == "Loop") {
      corrupt(label + " has no body to run");
    }
    LayerInfo info;
    info.name = rec.name;
    info.op = op_name;
    info.kernel = rec.impl;
    info.precision = static_cast<DType>(l->precision());
    info.layout = rec.outputs.empty() ? "" : impl->tensors[rec.outputs[0]].layout;
    for (const auto* list : {&rec.inputs, &rec.outputs})
      for (int i : *list)
        if (i >= 0 && dtype_quantized(impl->tensors[i].dtype)) {
          const TensorRec& t = impl->tensors[i];
          info.quantized.push_back({t.name, list == &rec.outputs, t.dtype, t.quant.scale, t.quant.zero_point, t.quant.axis});
        }
    read_tactic(l->tactic(), rec, info);
    if (opts.retune) rec.tactic = {};
    tuned += !info.planned_tactic.empty();
    // Dynamic layers' shapes are only known per run: the context picks their kernel per run's
    // shapes (engine.cpp), else the reference one; a run-time Loop runs its body plan.
    if (rec.dynamic) rec.impl = rec.body ? "body" : "reference";
    else reselected += !create_kernel(*impl, rec, label) && !info.planned_tactic.empty();
    info.kernel = rec.impl;
    if (rec.kernel) info.tactic = tactic_id(rec.kernel->tactic());
    if (l->fused())
      for (auto* f : *l->fused()) info.fused.push_back(f->str());
    for (int i : rec.inputs)
      if (i >= 0 && impl->tensors[i].kind == static_cast<int>(fb::TensorKind::Constant)) {
        info.weight_bytes += impl->tensors[i].bytes;
        info.stored_weight_bytes += impl->tensors[i].stored_half ? impl->tensors[i].bytes / 2 : impl->tensors[i].bytes;
      }
    if (!rec.outputs.empty()) info.output_dtype = impl->tensors[rec.outputs[0]].dtype;
    if (rec.when >= 0) {
      info.when = impl->tensors[rec.when].name;
      info.when_true = rec.when_true;
    }
    impl->layer_info.push_back(std::move(info));
    impl->layers.push_back(std::move(rec));
  }
  for (int id : impl->output_ids)
    if (!written[id]) corrupt("graph output '" + impl->tensors[id].name + "' is never written");
  note_weight_copies(*impl, weights);
  // One line for the whole plan: on another CPU most tuned layers are affected at once.
  if (reselected)
    impl->warnings.push_back(std::to_string(reselected) + " of " + std::to_string(tuned) +
                             " tuned layers' tactics are not available on this CPU (plan tuned for " +
                             (impl->machine.isa.empty() ? "another CPU" : impl->machine.isa) + ", running on " +
                             current_isa_name() + "): re-selected each kernel's first choice here; rebuild "
                             "the plan on this machine for tuned speed");
  auto base = std::make_shared<Specialization>();
  for (int id : impl->input_ids) base->input_shapes.push_back(impl->tensors[id].shape);
  for (const TensorRec& t : impl->tensors) {
    base->shapes.push_back(t.shape);
    base->bytes.push_back(t.bytes);
  }
  for (const LayerRec& l : impl->layers) base->kernels.push_back(l.kernel.get());
  base->scratchpad_bytes = impl->scratchpad_bytes;
  impl->base = std::move(base);
}

}  // namespace

std::unique_ptr<Engine::Impl> load_plan(PlanBytes buffer, size_t size, const std::string& origin,
                                        const LoadOptions& opts, const SidecarOpener& sidecar) {
  auto impl = std::make_unique<Engine::Impl>();
  impl->origin = origin;
  impl->memory_limit = opts.memory_limit ? opts.memory_limit : default_memory_limit();
  const uint8_t* buf = buffer.get();
  if (size < 16) corrupt("file is too small to be a plan (" + std::to_string(size) + " bytes)");
  if (size >= (size_t(1) << 31)) corrupt("file is larger than a plan can be");
  if (!fb::PlanBufferHasIdentifier(buf)) corrupt("file identifier 'KILN' missing");
  flatbuffers::Verifier verifier(buf, size, 64, 10'000'000);
  if (!fb::VerifyPlanBuffer(verifier)) corrupt("flatbuffers verification failed");
  const fb::Plan* plan = fb::GetPlan(buf);
  impl->schema_version = plan->schema_version();
  impl->builder_level = plan->builder_level();
  if (plan->schema_version() > plan::kSchemaVersion || plan->schema_version() < plan::kMinReadableSchemaVersion)
    throw Error("plan schema version " + std::to_string(plan->schema_version()) + " is not supported by this runtime (reads " +
                std::to_string(plan::kMinReadableSchemaVersion) + "-" + std::to_string(plan::kSchemaVersion) +
                "); rebuild the plan with a matching `kiln compile`");
  const uint8_t* field = reinterpret_cast<const flatbuffers::Table*>(plan)->GetAddressOf(fb::Plan::VT_CHECKSUM);
  if (!field) corrupt("checksum missing");

  const uint8_t* weights = plan->weights() ? plan->weights()->data() : nullptr;
  uint64_t weight_size = plan->weights() ? plan->weights()->size() : 0;
  std::string side_name;
  if (plan->weights_file() && plan->weights_file()->size()) {  // (v6) the weights live beside the plan
    side_name = plan->weights_file()->str();
    if (plan->schema_version() < 6) corrupt("names a weights file, which schema version " + std::to_string(plan->schema_version()) + " has not");
    if (weight_size) corrupt("holds weights and also names a weights file");
    if (!plan::weights_file_name_ok(side_name))
      corrupt("names a weights file outside its folder ('" + side_name + "')");
    if (!sidecar)
      throw Error("the plan keeps its weights in the file '" + side_name + "' beside it; load it from its file "
                  "(Engine::load_file, kiln run --loadEngine), not from memory");
    size_t n = 0;
    impl->weights_buffer = sidecar(side_name, n);
    if (n != plan->weights_file_bytes())
      throw Error("its weights file '" + side_name + "' holds " + std::to_string(n) + " bytes where the plan expects " +
                  std::to_string(plan->weights_file_bytes()) + "; it belongs to another build: copy the plan and "
                  "its weights file together");
    weights = impl->weights_buffer.get();
    weight_size = n;
  }

  // Parsing and kernel creation read only bounds-checked bytes, so they need not wait for the
  // checksums: a helper thread hashes while this one creates kernels, then this one joins in.
  // The load fails if either sum mismatches, reported over any other complaint about the bytes.
  plan::ChecksumJob plan_sum({buf, size}, static_cast<size_t>(field - buf), plan->schema_version());
  std::optional<plan::ChecksumJob> side_job;
  if (!side_name.empty()) side_job.emplace(std::span<const uint8_t>(weights, weight_size), weight_size, plan->schema_version());
  std::jthread helper([&] {
    plan_sum.work();
    if (side_job) side_job->work();
  });
  auto check_sums = [&] {
    plan_sum.work();
    if (side_job) side_job->work();
    helper.join();
    if (plan_sum.sum() != plan->checksum()) corrupt("checksum mismatch");
    if (side_job && side_job->sum() != plan->weights_file_checksum())
      throw Error("its weights file '" + side_name + "' does not match the plan (checksum mismatch): it is corrupted "
                  "or belongs to another build; copy the plan and its weights file together");
  };
  try {
    read_plan(*impl, plan, opts, weights, weight_size);
  } catch (const Error&) {
    check_sums();
    throw;
  }
  check_sums();
  impl->buffer = std::move(buffer);
  impl->size = size;
  return impl;
}

}  // namespace kiln
