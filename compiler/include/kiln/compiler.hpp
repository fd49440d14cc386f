// kiln compiler public API: ONNX model in, serialized plan out. Links protobuf and ONNX; a
// deployed application needs only the runtime (kiln/runtime.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kiln/runtime.hpp"

namespace kiln {

// Pre-processing baked into the plan for one graph input, as OpenVINO's mo offers: the application
// feeds raw images and the plan's first layers normalise them. The model's input is assumed to be
// (N)CHW float32 with the channel on axis 1. kiln inserts, in front of the model: Cast (uint8 ->
// float32), Transpose (NHWC -> NCHW), channel reversal, subtract mean, divide by scale; the
// fold-preprocess pass then absorbs what it exactly can into the first convolution.
struct InputPreprocess {
  std::vector<float> mean;   // one per channel, in the model's channel order; empty = none
  std::vector<float> scale;  // one non-zero divisor per channel, in the model's channel order; empty = none
  // The application's channel order is the reverse of the model's (RGB data for a BGR model); the
  // reversal is applied first, so mean and scale stay in the model's order.
  bool reverse_channels = false;
  std::string layout;  // layout the application feeds: "" or "NCHW" (the model's), or "NHWC" (4-D inputs)
  std::string dtype;   // element type the application feeds: "" or "float32" (the model's), or "uint8"
  bool empty() const { return mean.empty() && scale.empty() && !reverse_channels && layout.empty() && dtype.empty(); }
};

// Reduced precision, trtexec's spellings. Flags are permissions: the builder picks each layer's
// precision from what they allow and what this CPU's kernels run fast, and the plan records what
// each layer computes in (`kiln inspect`). Graph inputs and outputs keep their declared types.
struct PrecisionOptions {
  bool bf16 = false;  // layers may compute in bfloat16 (fp32 accumulation); weights stored as bf16
  bool fp16 = false;  // fp32 weights are stored as IEEE half and widened at load (no f16 compute on CPU)
  bool best = false;  // every precision allowed; timed per layer where builder_level >= 1
  // Conv, MatMul and Gemm layers may compute in int8 (u8/s8 activations with calibrated scales,
  // s8 per-channel weights, s32 accumulation) where a fast kernel takes them; needs calibration
  // (CompileOptions::calib_dir or calib_cache). Layers next to int8 ones exchange int8 tensors.
  bool int8 = false;
  // MatMul and Gemm layers with constant weights that are not int8 by the rule above compute in
  // int8 with their activation quantized at run time over its own range, as int8_dynamic_scales
  // says (s8 per-column weights); no calibration. Convs are unaffected.
  bool int8_dynamic = false;
  // How int8_dynamic quantizes each activation: "" or "row" (a symmetric scale per row of the
  // [M, K] source, i.e. per token), or "tensor" (one scale and zero point over the whole tensor, as
  // ONNX Runtime's DynamicQuantizeLinear).
  std::string int8_dynamic_scales;
  // "none": --layerPrecisions/--layerOutputTypes are ignored (a warning says so); "prefer": honoured
  // where a kernel can run them (else a warning); "obey": honoured or the build fails. "" = "prefer"
  // when layer pins are given, else "none".
  std::string constraints;
  // Layer name pattern ('*' and '?' wildcards, matched against the layer's name or any ONNX node
  // fused into it) -> "fp32" | "bf16" | "fp16" | "int8". The first matching pattern wins.
  std::vector<std::pair<std::string, std::string>> layer_precisions;
  // The same, for the type a layer writes its outputs in: "fp32" | "bf16" | "fp16".
  std::vector<std::pair<std::string, std::string>> layer_output_types;
  bool any() const { return bf16 || fp16 || best || int8 || int8_dynamic || !layer_precisions.empty() || !layer_output_types.empty(); }
};

// A compile option that names something the model lacks or is malformed (a --layerPrecisions
// pattern matching no layer, an unknown precision): a usage mistake, which the CLI exits 2 for.
class OptionError : public Error {
 public:
  using Error::Error;
};

// Checks the spellings in `p` ("fp32"/"bf16"/"fp16", constraints none/prefer/obey); throws
// OptionError naming the flag and the bad value.
void validate_precision_options(const PrecisionOptions& p);

struct CompileOptions {
  // Input name -> fixed shape, replacing symbolic dims (trtexec's --shapes).
  std::map<std::string, std::vector<int64_t>> shapes;
  // An optimisation profile (trtexec's --minShapes/--optShapes/--maxShapes): input name -> dims.
  // Each input named must be named in all three, with min <= opt <= max. The graph is optimised,
  // laid out and its kernels chosen at opt; the memory plan covers max; the plan runs any shape
  // in [min, max] (ExecutionContext::set_input_shape).
  std::map<std::string, std::vector<int64_t>> min_shapes, opt_shapes, max_shapes;
  int threads = 0;  // threads used while building (0 = runtime default)
  std::vector<std::string> disable_passes;  // pass names from passes/pipeline.cpp
  std::vector<std::string> dump_after;      // pass names: log the graph after them
  bool verbose = false;
  // Input name -> pre-processing to bake in; the name "" means the model's only input.
  std::map<std::string, InputPreprocess> preprocess;
  // Tactic search breadth, 0..5 (trtexec's --builderOptimizationLevel): 0 picks each layer's
  // kernel by heuristic and times nothing; higher levels time more candidates, more often
  // (docs/cli-guide.md#tuning). The API default is 0: builds are fast and reproducible without a
  // timing cache.
  int builder_level = 0;
  // Timing cache file: read if present (a damaged one is ignored with a warning), rewritten
  // atomically with the new measurements. "" = no cache.
  std::string timing_cache_file;
  // false: no timing cache at all, not even within this build, so a layer repeated in the model is
  // timed each time it appears (trtexec's --noBuilderCache). Cannot go with timing_cache_file.
  bool builder_cache = true;
  PrecisionOptions precision;
  // int8 calibration (--calib, --calibMethod, --calibCache; docs/cli-guide.md#int8). calib_dir:
  // ONNX test-data sets (DIR/test_data_set_*/input_K.pb) or .npy files of a one-input model, run
  // through the fp32 model to measure each activation's range; "random" = seeded random inputs,
  // for speed experiments only (the plan says so). calib_method: "percentile:99.99" (default), "entropy"
  // or "minmax". calib_cache: read when it exists and was made for this model and
  // method; else written after calibrating.
  std::string calib_dir;
  std::string calib_method;
  std::string calib_cache;
  // Layout of conv regions (--activationLayout): "" or "auto" = what this CPU's fastest kernels
  // read (channels-last "nhwc" for bf16 on AMX, else oneDNN's blocked nChw16c/nChw8c); "blocked",
  // "nhwc", or "plain" (row-major NCHW throughout).
  std::string activation_layout;
  // Weights outside the plan (schema v6): a plan holds at most 1 GiB of weights inline (flatbuffers'
  // offsets are 32-bit); above that, or always with external_weights, they go to a sidecar file
  // whose plain name (no folder) the plan records: CompileResult::weights holds its bytes, to be
  // written beside the plan under that name (kiln compile -o m.plan writes m.plan.weights).
  // "" = the weights must stay inline (a larger model is refused with an error).
  std::string weights_file;
  bool external_weights = false;
};

// What the tactic search did.
struct TuneSummary {
  int level = 0;
  size_t layers_timed = 0;   // layers with a choice that was timed (or found in the cache)
  size_t measured = 0;       // candidates timed in this build
  size_t cached = 0;         // candidate times taken from the timing cache
  double seconds = 0;        // wall time of the search, kernel creation included
  size_t graph_variants = 0; // whole-graph layout variants timed end to end (level >= 3)
  std::string layout_choice; // "blocked" or "plain" when the layouts were timed, else ""
};

struct CompileResult {
  std::vector<uint8_t> plan;
  // The sidecar weights file's bytes (CompileOptions::weights_file); empty when the plan holds them.
  std::vector<uint8_t> weights;
  std::vector<std::string> warnings;
  std::vector<std::string> log;  // verbose build log lines
  size_t layers = 0;
  size_t onnx_nodes = 0;
  TuneSummary tune;
  std::vector<std::string> tactic_table;  // layer, op, winning tactic, time, runner-up (text rows)
  // What the precision assignment did, one line each ("42 of 55 layers compute in bf16", ...), for
  // the CLI to print and reports to record.
  std::vector<std::string> precision_summary;
  // Layers per computing precision ("fp32", "bf16") and bytes of weights per stored type.
  std::map<std::string, size_t> layers_by_precision;
  std::map<std::string, size_t> weight_bytes_by_type;
  // int8: where the scales came from ("calibrated on 16 samples from DIR, entropy", "cache F",
  // "RANDOM data: speed only"); empty without --int8.
  std::string calibration;
};

// Throws kiln::Error whose message names the file, node or tensor at fault.
CompileResult compile_onnx_file(const std::string& path, const CompileOptions& opts);

// Names and one-line reasons of the optimisation passes, in pipeline order.
std::vector<std::pair<std::string, std::string>> pass_list();

// The operator support matrix as Markdown (docs/operators.md is generated from it and a test
// keeps the two equal): ONNX ops with opset ranges, and kiln ops with their kernels.
std::string operator_matrix_markdown();

}  // namespace kiln
