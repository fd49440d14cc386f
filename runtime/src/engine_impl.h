// Internal state of a loaded Engine and of an ExecutionContext. The loader fills Engine::Impl
// only after the plan passed every check, so the rest of the runtime may trust it.
#pragma once

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "kernels/kernel.h"
#include "kiln/runtime.hpp"

namespace kiln {

struct AlignedFree {
  void operator()(void* p) const;
};
using AlignedBytes = std::unique_ptr<uint8_t, AlignedFree>;
AlignedBytes aligned_bytes(size_t n, bool zeroed = true);  // 64-byte aligned

// The plan's bytes, read-only: a private mapping of the plan file (Engine::load_file), or an
// aligned copy of the caller's buffer (load_memory). Constants point into it for the engine's life.
using PlanBytes = std::shared_ptr<const uint8_t>;

struct TensorRec {
  std::string name;
  DType dtype = DType::Undefined;
  Dims shape;
  std::string layout;         // "" = row-major, else a oneDNN format tag
  int kind = 0;               // fb::TensorKind
  uint64_t offset = 0;        // arena offset, or weights offset for constants
  uint64_t bytes = 0;         // at the recorded (opt) shape
  uint64_t capacity = 0;      // arena bytes reserved: the size at the profile's max shapes
  const void* data = nullptr; // constants: inside the plan buffer (or widened, see stored_half);
                              // nullptr for a pre-packed constant (see packed)
  // (v7) A constant stored in its kernel's layout. Only its reader's kernel gets these bytes; any
  // other use gets a row-major copy (Engine::Impl::unpacked).
  std::unique_ptr<PackedConst> packed;
  bool stored_half = false;   // a float32 constant stored as IEEE half (v4), widened at load
  bool dynamic = false;       // some dim is -1: shape known only at run time, per-run buffer
  ops::QuantParams quant;     // QUInt8 / QInt8 tensors (v5)
};

struct LayerRec {
  std::string name;
  std::string op_type;             // key in the op and kernel registries
  std::unique_ptr<ops::Op> op;
  std::string impl;
  Tactic tactic;                   // as recorded in the plan (or cleared by LoadOptions::retune)
  std::vector<int> inputs, outputs;
  std::unique_ptr<Kernel> kernel;  // null for dynamic layers: the context makes one per run's shapes
  bool dynamic = false;            // reads or writes a dynamic tensor: shapes inferred per run
  int when = -1;                   // predicated: runs only when this bool tensor holds when_true
  bool when_true = true;
  // (v8) A run-time Loop's body, loaded from Layer.body like any plan; the layer runs it once per
  // iteration (loop_layer.cpp) instead of a kernel, always as a dynamic layer.
  std::shared_ptr<const Engine> body;
};

// What a layer that runs a plan of its own (a run-time Loop) needs of the context running it.
class LayerIO {
 public:
  virtual ~LayerIO() = default;
  virtual TensorView input(size_t i) = 0;  // data == nullptr for an absent optional input
  // Output o's buffer for this run's `shape`: a dynamic output is sized (within the context's
  // memory limit), a static one must have the shape the plan records.
  virtual TensorView output(size_t o, const Dims& shape) = 0;
  // This context's context of the layer's body, created on first use.
  virtual ExecutionContext& body_context() = 0;
  // Bytes the context may still allocate before its memory limit.
  virtual uint64_t memory_left() const = 0;
};

// A byte count for messages: "N bytes" below 1 MiB, else whole MiB rounded up.
std::string mib(uint64_t bytes);

// Runs a run-time Loop layer (rec.body set) on this run's inputs; kiln::Error naming the layer
// on failure.
void run_loop(const LayerRec& rec, LayerIO& io);
// Loads a Loop layer's body (Layer.body's bytes, hostile) as a plan with the loader's own checks,
// then checks it against the layer's op and tensors; kiln::Error (a corrupt plan) otherwise.
std::shared_ptr<const Engine> load_loop_body(const Engine::Impl& impl, const LayerRec& rec,
                                             std::span<const uint8_t> bytes, const LoadOptions& opts,
                                             const std::string& label);

// The optimisation profile of one graph input: each dim may take any value in [min, max].
struct InputRange {
  Dims min, max;
};

// Every tensor's shape and size, and every static layer's kernel, for one tuple of graph input
// shapes. Immutable once built, so contexts on any thread share it.
struct Specialization {
  std::vector<Dims> input_shapes;  // by graph input index
  std::vector<Dims> shapes;        // by tensor id; dynamic tensors keep their -1 dims
  std::vector<uint64_t> bytes;      // by tensor id; 0 for dynamic tensors
  std::vector<const Kernel*> kernels;          // by layer; null for dynamic layers
  std::vector<std::unique_ptr<Kernel>> owned;  // kernels created for this specialisation
  size_t scratchpad_bytes = 0;
  // Weight bytes its kernels hold copies of (repacked for these shapes) rather than reading the
  // plan's pre-packed bytes in place: what keeping it cached costs beyond small objects.
  size_t weight_copy_bytes = 0;
};

struct Engine::Impl {
  std::string origin;
  PlanBytes buffer;
  size_t size = 0;
  PlanBytes weights_buffer;  // (v6) the mapped weights sidecar, when the plan names one (weight_bytes long)
  std::vector<AlignedBytes> widened;  // float32 copies of constants the plan stores as half
  // (offset, bytes) in the weights of constants that kernels copied (repacked, widened) instead of
  // reading in place: their mapped pages can go once loading is done.
  std::vector<std::pair<uint64_t, uint64_t>> copied_weights;
  const uint8_t* weights_base = nullptr;  // the constants' bytes: in the plan buffer or the sidecar
  // Row-major copies of pre-packed constants, made the first time something other than their
  // kernel reads them (a fallback kernel, a dynamic layer), by tensor id.
  mutable std::mutex unpacked_mu;
  mutable std::map<int, AlignedBytes> unpacked_copies;
  // The row-major bytes of constant `id`: its data, or for a pre-packed one a copy made on demand.
  const void* unpacked(int id) const;
  // The copy if one was made, else nullptr (for bindings: a kernel given the packed bytes ignores them).
  const void* unpacked_if_made(int id) const;
  uint32_t schema_version = 0;
  int builder_level = 0;
  std::vector<TensorRec> tensors;
  std::vector<LayerRec> layers;
  std::vector<int> input_ids, output_ids;
  std::vector<TensorDesc> inputs, outputs;
  std::vector<LayerInfo> layer_info;
  MachineInfo machine;
  std::vector<std::string> warnings;
  size_t arena_bytes = 0, activation_bytes = 0, weight_bytes = 0, scratchpad_bytes = 0;
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  std::vector<InputRange> ranges;  // by graph input; empty when every input is static
  uint64_t memory_limit = 0;       // per context, resolved from LoadOptions (never 0)
  // The specialisation at the recorded (opt) shapes, whose kernels were created at load.
  std::shared_ptr<const Specialization> base;

  // Specialisations for other input shapes, most recently used first. Engine is immutable from
  // the caller's view and shared across threads: this cache is the one mutable part, behind a
  // mutex. Kernels are immutable after creation, so sharing a specialisation is safe.
  // Kernels that cannot read the plan's pre-packed weights in place keep repacked copies, so a
  // specialisation can cost up to the plan's weight bytes: the cache keeps at most 64, and drops
  // the least recently used while their measured copies (Specialization::weight_copy_bytes)
  // exceed 256 MiB; the newest always stays.
  // Without copies a specialisation is its primitives: about 1.5 MiB for BERT-base.
  static constexpr size_t kMaxSpecializations = 64;
  static constexpr size_t kSpecializationBudget = size_t(256) << 20;
  mutable std::mutex spec_mu;
  mutable std::list<std::shared_ptr<const Specialization>> specs;

  // Checks input shapes against the profile (kiln::Error naming the input, the shape and the
  // allowed range) and returns the specialisation for them, building it on first use.
  std::shared_ptr<const Specialization> specialize(const std::vector<Dims>& input_shapes) const;
  void check_input_shape(size_t input, const Dims& s) const;
};

// Whether a kernel's packed weights are the plan's pre-packed bytes of constant t, read in place
// (else the kernel holds a copy of its own).
inline bool reads_in_place(const TensorRec& t, const PackedWeights& w) {
  return t.packed && w.packed.get_data_handle() == t.packed->data;
}

// Creates the layer's kernel for the given tensor shapes (by tensor id): the recorded
// implementation (for a dynamic layer, at this run's shapes: the one the builder would pick), else
// another registered one, else the reference kernel. `used` gets the name of
// the one created; nullptr when none can run the layer.
std::unique_ptr<Kernel> create_layer_kernel(const Engine::Impl& impl, const LayerRec& rec,
                                            const std::vector<Dims>& shapes, std::string& used);

// Verifies and decodes a plan; throws kiln::Error prefixed with origin.
// Maps a plan's weights sidecar (schema v6) by the name the plan records, setting its size.
using SidecarOpener = std::function<PlanBytes(const std::string& name, size_t& size)>;
std::unique_ptr<Engine::Impl> load_plan(PlanBytes buffer, size_t size, const std::string& origin,
                                        const LoadOptions& opts = {}, const SidecarOpener& sidecar = {});

}  // namespace kiln
