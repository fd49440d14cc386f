#include "build_flags.h"

#include <fmt/format.h>

#include "cli_util.h"

namespace kiln::cli {

namespace {

// "conv1:fp32,layer*:bf16" (repeatable) -> ordered (pattern, precision) pairs; the last ':' splits.
std::vector<std::pair<std::string, std::string>> parse_layer_pins(const std::vector<std::string>& specs,
                                                                  const char* flag) {
  std::vector<std::pair<std::string, std::string>> r;
  for (const std::string& spec : specs) {
    size_t start = 0;
    while (start <= spec.size()) {
      size_t end = spec.find(',', start);
      if (end == std::string::npos) end = spec.size();
      const std::string item = spec.substr(start, end - start);
      const size_t colon = item.rfind(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == item.size())
        throw UsageError(std::string(flag) + ": expected NAME:PRECISION (e.g. conv1:fp32 or 'attn*:bf16'), got '" +
                         item + "'");
      r.emplace_back(item.substr(0, colon), item.substr(colon + 1));
      start = end + 1;
    }
  }
  return r;
}

PrecisionOptions parse_precision(const BuildFlags& a) {
  PrecisionOptions p;
  p.bf16 = a.bf16;
  p.fp16 = a.fp16;
  p.best = a.best;
  p.int8 = a.int8;
  p.int8_dynamic = a.int8_dynamic || !a.int8_dynamic_scales.empty();
  p.int8_dynamic_scales = a.int8_dynamic_scales;
  p.constraints = a.precision_constraints;
  p.layer_precisions = parse_layer_pins(a.layer_precisions, "--layerPrecisions");
  p.layer_output_types = parse_layer_pins(a.layer_output_types, "--layerOutputTypes");
  try {
    validate_precision_options(p);
  } catch (const OptionError& e) {
    throw UsageError(e.what());
  }
  return p;
}

}  // namespace

void add_build_flags(CLI::App* c, BuildFlags& f) {
  auto keep = [&f](CLI::Option* o) {
    f.options.push_back(o);
    return o;
  };
  keep(c->add_option("--minShapes", f.min_shapes,
                     "Smallest shapes of an optimisation profile: name:1x3x64x64[,name2:...]. Give --minShapes, "
                     "--optShapes and --maxShapes for every input whose shape varies"))
      ->type_name("SHAPES")
      ->allow_extra_args(false);
  keep(c->add_option("--optShapes", f.opt_shapes,
                     "Shapes the profile is optimised for: passes, layouts and kernels are chosen at these"))
      ->type_name("SHAPES")
      ->allow_extra_args(false);
  keep(c->add_option("--maxShapes", f.max_shapes,
                     "Largest shapes of the profile; the memory plan covers them. `kiln run --shapes` then "
                     "picks any shape between min and max"))
      ->type_name("SHAPES")
      ->allow_extra_args(false);
  keep(c->add_option("--disable-pass", f.disable_passes, "Skip an optimisation pass (see `kiln passes`)"))
      ->type_name("PASS");
  keep(c->add_option("--dump-after", f.dump_after, "Print the graph after this pass (to stderr)"))->type_name("PASS");
  keep(c->add_option("--mean", f.pre.mean,
                     "Bake input pre-processing into the plan: subtract these per-channel values (model channel "
                     "order) from the input. Form [NAME:]M,M,...; NAME selects the input of a multi-input model"))
      ->type_name("MEANS");
  keep(c->add_option("--scale", f.pre.scale,
                     "Divide the input by these non-zero per-channel values (after --mean, model channel order). "
                     "Form [NAME:]S,S,..."))
      ->type_name("SCALES");
  keep(c->add_flag("--reverseInputChannels", f.pre.reverse,
                   "The application feeds the channels in reverse order (RGB for a BGR model, or the other way); "
                   "applied before --mean and --scale. --reverseInputChannels=NAME selects an input"))
      ->type_name("[=NAME]");
  keep(c->add_option("--inputLayout", f.pre.layout,
                     "Layout the application feeds: NHWC makes the plan's input NHWC (4-D NCHW inputs only). "
                     "Form [NAME:]NHWC or [NAME:]NCHW"))
      ->type_name("LAYOUT");
  keep(c->add_option("--inputType", f.pre.type,
                     "Element type the application feeds: u8 makes the plan's input uint8 (float32 inputs only). "
                     "Form [NAME:]u8 or [NAME:]f32"))
      ->type_name("TYPE");
  keep(c->add_option("--builderOptimizationLevel", f.builder_level,
                     "Tactic search breadth: 0 = heuristic kernel choice, nothing timed (fastest build); 1 = time "
                     "oneDNN's implementations of Conv/ConvTranspose/Gemm/MatMul; 2 = also Winograd and pooling; "
                     "3 = also the graph's layout (blocked vs plain, end to end) and every heavy layer; 4-5 = more "
                     "samples"))
      ->check(CLI::Range(0, 5))
      ->default_val(kDefaultBuilderLevel);
  keep(c->add_option("--timingCacheFile", f.timing_cache,
                     "Timing cache: measurements keyed by layer and machine signature are read from FILE and "
                     "the new ones written back (atomically), so a rebuild times nothing it has seen; a damaged "
                     "or foreign file is ignored with a warning"))
      ->type_name("FILE");
  keep(c->add_flag("--noBuilderCache", f.no_builder_cache,
                   "Use no timing cache, not even within this build: a layer repeated in the model is timed each "
                   "time (trtexec's --noBuilderCache); cannot go with --timingCacheFile"));
  keep(c->add_flag("--externalWeights", f.external_weights,
                   "Write the weights to PLAN.weights beside the plan instead of into it (always done above 1 GiB "
                   "of weights, which a plan cannot hold inline); the plan records the file's name, size and "
                   "checksum"));
  keep(c->add_flag("--bf16", f.bf16,
                   "Allow bfloat16: conv, matmul, pooling, eltwise, normalisation and softmax layers compute in "
                   "bf16 (fp32 accumulation) where this CPU's kernels run it fast; weights stored as bf16"));
  keep(c->add_flag("--fp16", f.fp16,
                   "Store fp32 weights as IEEE half in the plan (about half the size); layers compute in fp32, or "
                   "bf16 with --bf16, after widening at load (oneDNN has no fp16 compute on CPU)"));
  keep(c->add_flag("--best", f.best,
                   "Allow every precision (bf16 and fp16 weights); with --builderOptimizationLevel >= 1 each "
                   "heavy layer's precision is timed, conversions included"));
  keep(c->add_flag("--int8", f.int8,
                   "Allow int8: Conv, MatMul and Gemm layers compute in int8 (calibrated u8/s8 activations, s8 "
                   "per-channel weights, s32 accumulation) where this CPU's kernels run it fast. Needs --calib or "
                   "--calibCache"));
  keep(c->add_flag("--int8Dynamic", f.int8_dynamic,
                   "MatMul and Gemm layers with constant weights (those --int8 leaves float, or all without it) "
                   "compute in int8, each source quantized per run over its own range (by default per row, see "
                   "--int8DynamicScales), weights s8 per column; no calibration. Convs are unaffected"));
  keep(c->add_option("--int8DynamicScales", f.int8_dynamic_scales,
                     "How --int8Dynamic quantizes each source (implies --int8Dynamic): row (the default: a "
                     "symmetric int8 scale per row, i.e. per token, so one large row does not coarsen the others) "
                     "or tensor (uint8 with one scale and zero point per tensor, as ONNX Runtime's quantize_dynamic)"))
      ->type_name("row|tensor");
  keep(c->add_option("--calib", f.calib,
                     "Folder of ONNX test-data sets (DIR/test_data_set_*/input_K.pb, K in graph input order): "
                     "--int8 calibrates on them, and kiln compile --check runs every set unless --loadInputs is "
                     "given. 'random': seeded random data, for --int8 speed experiments only"))
      ->type_name("DIR");
  keep(c->add_option("--calibMethod", f.calib_method,
                     "How --int8 turns each activation's calibrated values into a clipping range: percentile[:P] "
                     "(the default, P = 99.99: the range holding P% of |x|), entropy (KL divergence, as TensorRT) "
                     "or minmax"))
      ->type_name("METHOD");
  keep(c->add_option("--calibCache", f.calib_cache,
                     "Calibration cache for --int8: read when it exists (and was made for this model), else "
                     "written after calibrating on --calib; a diff-able text file of per-tensor ranges"))
      ->type_name("FILE");
  keep(c->add_option("--precisionConstraints", f.precision_constraints,
                     "none = ignore --layerPrecisions/--layerOutputTypes; prefer = honour them where a kernel can "
                     "(else warn); obey = honour them or fail. Default: prefer when pins are given"))
      ->type_name("none|prefer|obey");
  keep(c->add_option("--layerPrecisions", f.layer_precisions,
                     "Pin layers' compute precision: NAME:PREC[,NAME:PREC...], PREC fp32|bf16|fp16|int8, NAME a "
                     "layer or ONNX node name with * and ? wildcards; the first matching entry wins"))
      ->type_name("SPEC")
      ->allow_extra_args(false);
  keep(c->add_option("--layerOutputTypes", f.layer_output_types,
                     "Pin the type layers write their outputs in: NAME:TYPE[,...], TYPE fp32|bf16|fp16"))
      ->type_name("SPEC")
      ->allow_extra_args(false);
  keep(c->add_option("--activationLayout", f.activation_layout,
                     "Layout of conv regions: auto = what this CPU's fastest kernels read (channels-last for bf16 "
                     "on AMX, else oneDNN's blocked nChw16c), blocked, nhwc, or plain (row-major throughout)"))
      ->type_name("auto|blocked|nhwc|plain");
}

void apply_build_flags(const BuildFlags& f, CompileOptions& o) {
  o.min_shapes = parse_shapes(f.min_shapes, "--minShapes");
  o.opt_shapes = parse_shapes(f.opt_shapes, "--optShapes");
  o.max_shapes = parse_shapes(f.max_shapes, "--maxShapes");
  o.external_weights = f.external_weights;
  o.disable_passes = f.disable_passes;
  o.dump_after = f.dump_after;
  o.preprocess = parse_preprocess(f.pre);
  o.builder_level = f.builder_level;
  o.timing_cache_file = f.timing_cache;
  o.builder_cache = !f.no_builder_cache;
  o.precision = parse_precision(f);
  o.activation_layout = f.activation_layout;
  o.calib_dir = f.calib;
  o.calib_method = f.calib_method;
  o.calib_cache = f.calib_cache;
  if (!f.int8 && (!f.calib_method.empty() || !f.calib_cache.empty()))
    throw UsageError(std::string(!f.calib_method.empty() ? "--calibMethod" : "--calibCache") +
                     ": calibration is for int8 layers; add --int8");
}

std::string first_build_flag_given(const BuildFlags& f) {
  for (const CLI::Option* o : f.options)
    if (o->count()) return o->get_name();
  return "";
}

void print_build_messages(const CompileResult& r, const BuildFlags& f, bool verbose) {
  for (auto& w : r.warnings) fmt::print(stderr, "warning: {}\n", w);
  for (auto& l : r.precision_summary) fmt::print(stderr, "kiln: precision: {}\n", l);
  if (verbose || !f.dump_after.empty())
    for (auto& l : r.log) fmt::print(stderr, "{}\n", l);
}

}  // namespace kiln::cli
