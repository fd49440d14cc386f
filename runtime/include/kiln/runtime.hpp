// kiln runtime public API: load a compiled plan into an immutable Engine and run it through
// per-thread ExecutionContexts. This is all a deployed application needs; it links oneDNN and
// flatbuffers only, never protobuf or ONNX. What the library exports is marked KILN_API; everything
// else in it is hidden (runtime.exports_only_public_api checks it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "kiln/export.h"

namespace kiln {

// Values are ONNX TensorProto.DataType codes (and plan.fbs's DType).
enum class DType : int8_t {
  Undefined = 0,
  Float32 = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  Bool = 9,
  Float16 = 10,
  Float64 = 11,
  UInt32 = 12,
  UInt64 = 13,
  BFloat16 = 16,
  // Real numbers stored as 8-bit integers with a scale and zero point (value = scale * (q - zero
  // point)), as int8 layers read and write them. Never a graph input or output type; the scales
  // live beside the tensor (the plan's Tensor.quant_*). Named as torch names them; codes far from
  // ONNX's, which the importer and plan otherwise share.
  QUInt8 = 100,
  QInt8 = 101,
};

KILN_API size_t dtype_size(DType t);          // 0 for Undefined or unknown codes
KILN_API const char* dtype_name(DType t);     // "float32", "int64", ...
KILN_API bool dtype_valid(DType t);
// kiln's quantized reals (QUInt8 / QInt8): 8-bit storage with a scale, never an ONNX type.
inline bool dtype_quantized(DType t) { return t == DType::QUInt8 || t == DType::QInt8; }

// Every failure the runtime reports to callers is a kiln::Error whose what() reads as a complete
// sentence naming the file, layer or tensor involved. Exported whole (typeinfo, vtable), so that
// `catch (const kiln::Error&)` matches it in any library or application.
class KILN_API Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TensorDesc {
  std::string name;
  DType dtype = DType::Undefined;
  // The shape the plan was built for: for a plan with an optimisation profile, its opt shapes.
  std::vector<int64_t> shape;
  // Inputs: the optimisation profile's range, every dim in [min_shape[d], max_shape[d]]. Both
  // equal `shape` for a static input (and for outputs, whose shapes follow the inputs).
  std::vector<int64_t> min_shape, max_shape;
  bool dynamic() const { return min_shape != max_shape; }
  KILN_API size_t elements() const;
  size_t bytes() const { return elements() * dtype_size(dtype); }
};

// One candidate the builder timed for a layer.
struct TacticTime {
  std::string tactic;  // "[algorithm/]impl", e.g. "winograd/jit_wino_4x3:avx512_core"
  double time_us = 0;  // median on the build machine
};

struct LayerInfo {
  std::string name;
  std::string op;
  std::string kernel;
  DType precision = DType::Float32;   // what the layer computes in (bfloat16 layers accumulate in fp32)
  DType output_dtype = DType::Float32;  // type of its first output (a bf16 layer may write fp32)
  std::vector<std::string> fused;
  std::string layout;  // of the first output: "" = row-major, else a oneDNN format tag
  // The variant of the kernel running here ("[algorithm/]impl", oneDNN's impl_info_str), "" for
  // kernels without variants; planned_tactic is what the plan recorded, which differs when this
  // CPU cannot run it (or with LoadOptions::retune).
  std::string tactic, planned_tactic;
  std::string weights_format;          // the packed weights' oneDNN format, e.g. "ABcd16b16a"
  // A layer of one branch of an If on a run-time condition runs only when the bool tensor `when`
  // holds `when_true` ("" = always runs).
  std::string when;
  bool when_true = true;
  double time_us = 0;                  // the planned tactic's build-time median; 0 = not timed
  std::vector<TacticTime> runner_ups;  // other candidates timed at build time, fastest first
  uint64_t weight_bytes = 0;           // bytes of the constant inputs (weights, bias) it reads, as run
  uint64_t stored_weight_bytes = 0;    // the same as stored in the plan (half for --fp16 weights)
  // Its kernel reads its weights from the plan as stored, pre-packed in its own layout (schema v7),
  // with no reorder or copy at load; false when it repacked them (another CPU) or has none.
  bool weights_prepacked = false;
  // The quantized tensors (QUInt8 / QInt8) it reads or writes, int8 layers' scales included:
  // real value = scale[c] * (q - zero_point), c along `axis` (-1: one scale for the tensor).
  struct Quantized {
    std::string tensor;
    bool output = false;
    DType dtype = DType::Undefined;
    std::vector<float> scale;
    int32_t zero_point = 0;
    int axis = -1;
  };
  std::vector<Quantized> quantized;
};

struct MachineInfo {
  std::string isa;
  std::string cpu;
  int cores = 0;
  int threads = 0;
  std::string onednn;  // oneDNN version (plans record it from schema v7; "" in older plans)
};

// The machine this process runs on, in the same terms the plan records.
KILN_API MachineInfo current_machine();

class ExecutionContext;

struct LoadOptions {
  // Ignore the tactics the plan recorded and take each kernel's first choice on this machine
  // (a heuristic re-selection; nothing is timed at load).
  bool retune = false;
  // The most memory one ExecutionContext may allocate: its activation arena, scratchpad and the
  // buffers of tensors whose size depends on input values. A run that would need more throws
  // kiln::Error naming the tensor and the size instead of allocating it. 0 = three quarters of
  // this machine's physical memory (the CLI's --memPoolSize).
  uint64_t memory_limit = 0;
};

// The memory_limit a LoadOptions of 0 stands for on this machine.
KILN_API uint64_t default_memory_limit();

// KILN_API is on each public member rather than on the class: on the class it would also export
// the private helpers and the nested Impl.
class Engine {
 public:
  // Reads, verifies (flatbuffers Verifier, schema version, checksum, semantic bounds) and
  // prepares a plan. Throws kiln::Error naming the file on any defect.
  KILN_API static std::shared_ptr<const Engine> load_file(const std::string& path, const LoadOptions& opts = {});
  KILN_API static std::shared_ptr<const Engine> load_memory(std::span<const uint8_t> bytes,
                                                            const std::string& origin = "<memory>",
                                                            const LoadOptions& opts = {});
  KILN_API ~Engine();

  KILN_API const std::vector<TensorDesc>& inputs() const;
  KILN_API const std::vector<TensorDesc>& outputs() const;
  KILN_API const std::vector<LayerInfo>& layers() const;
  KILN_API const MachineInfo& build_machine() const;
  KILN_API uint32_t schema_version() const;
  KILN_API int builder_level() const;         // --builderOptimizationLevel of the build (0 = untimed)
  KILN_API size_t arena_bytes() const;        // activation arena per context
  KILN_API size_t activation_bytes() const;   // sum of activation tensors, what the arena saves against
  KILN_API size_t weight_bytes() const;
  KILN_API size_t plan_bytes() const;
  // Warnings raised while loading (e.g. kernel fallbacks on a different CPU).
  KILN_API const std::vector<std::string>& warnings() const;

  // Each context owns its arena, scratchpad and oneDNN stream; use one per thread.
  KILN_API std::unique_ptr<ExecutionContext> create_context() const;

  struct Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  static std::shared_ptr<const Engine> load_file_impl(const std::string& path, const LoadOptions& opts);
  std::unique_ptr<ExecutionContext> create_context_impl() const;
  std::unique_ptr<Impl> impl_;
};

// One inference stream: owns its activation arena, scratchpad and oneDNN stream. A context is
// used by one thread at a time; it does not keep its Engine alive (keep the shared_ptr).
class ExecutionContext {
 public:
  KILN_API ~ExecutionContext();
  // The buffers run() reads graph input i from and writes graph output i to: dense row-major,
  // sized TensorDesc::bytes(). By default they are the context's own and stay valid for the life
  // of the context; after set_input_buffer()/set_output_buffer() they are the caller's.
  KILN_API void* input(size_t index);
  KILN_API void* input(const std::string& name);
  KILN_API const void* output(size_t index) const;
  KILN_API const void* output(const std::string& name) const;
  // The output's shape after the last run(). It equals Engine::outputs()[i].shape unless that has
  // unknown (-1) dims, which depend on input values (e.g. Shape -> Reshape); then the buffer
  // returned by output() is valid until the next run().
  KILN_API std::vector<int64_t> output_shape(size_t index) const;
  KILN_API void run();

  // Optimisation profiles: a plan built with --minShapes/--optShapes/--maxShapes runs any input
  // shape inside Engine::inputs()[i].min_shape..max_shape. set_input_shape() checks the shape
  // against that range (kiln::Error naming the input, the shape and the range; nothing changes)
  // and takes effect at the next run(), which fills input i from the first elements*dtype bytes
  // of input(i) (the buffer holds the largest shape). The first run at a new tuple of input shapes
  // re-infers every layer and creates its kernels (kernel choices and layouts stay the ones made
  // at the opt shapes); the engine caches these per shape tuple and shares them among contexts, so
  // switching back is cheap. output_shape() then reports the outputs' shapes. Bound buffers must
  // hold at least the current shape's bytes; run() checks it.
  KILN_API void set_input_shape(size_t index, std::span<const int64_t> shape);
  KILN_API void set_input_shape(const std::string& name, std::span<const int64_t> shape);
  KILN_API std::vector<int64_t> input_shape(size_t index) const;

  // Zero-copy I/O: bind graph input or output `index` to caller memory, which run() then reads
  // from or writes to directly instead of the context's own buffer (no memcpy). Rebinding is
  // cheap: the layers touching that tensor are re-bound lazily at the next run().
  //  - `bytes` must equal TensorDesc::bytes(); for an output with unknown (-1) dims it is the
  //    buffer's capacity instead, and so it is for every input and output of a plan with an
  //    optimisation profile: run() checks that it holds the current shape's bytes.
  //  - `data` must be aligned to the element size (4 bytes for float32); kiln does not copy
  //    misaligned memory, it rejects it.
  //  - an output buffer must not overlap any other bound buffer (input buffers may share memory).
  //  - nullptr restores the context's own buffer (and `bytes` is ignored).
  // A violation throws kiln::Error and leaves the binding as it was. The memory must stay valid
  // until it is unbound, rebound, or the context is destroyed. kiln never writes to an input.
  // Two kinds of outputs cannot be written in place: those with unknown dims (their size is only
  // known during the run) and an output listed twice in the plan. run() computes them in context
  // memory and copies them into the caller's buffer at its end, throwing kiln::Error if the
  // result does not fit. output_is_zero_copy(i) tells which way a buffer bound to output i is
  // filled: true = written in place, false = copied at the end of run().
  KILN_API void set_input_buffer(size_t index, const void* data, size_t bytes);
  KILN_API void set_output_buffer(size_t index, void* data, size_t bytes);
  KILN_API bool output_is_zero_copy(size_t index) const;

  // Per-layer wall time of the last run() in milliseconds, when profiling is on.
  KILN_API void set_profiling(bool on);
  KILN_API const std::vector<double>& layer_times_ms() const;

  struct Impl;

 private:
  friend class Engine;
  explicit ExecutionContext(std::unique_ptr<Impl> impl);
  void run_impl();
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln
