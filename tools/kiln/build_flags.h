// The flags that say how a plan is built, shared by `kiln compile` and `kiln run --onnx` (as trtexec
// takes its build flags in both modes): defined and mapped to CompileOptions here only, so the two
// commands cannot drift apart. --shapes and --threads are each command's own: `kiln run` uses them
// to run a plan too.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "kiln/compiler.hpp"
#include "preprocess_flags.h"

namespace kiln::cli {

// trtexec's default: a plan built on the command line is usually the one deployed, so it times
// tactics unless asked not to (level 0 builds fast and reproducibly); docs/cli-guide.md#tuning.
inline constexpr int kDefaultBuilderLevel = 3;

struct BuildFlags {
  std::vector<std::string> min_shapes, opt_shapes, max_shapes;
  std::vector<std::string> disable_passes, dump_after;
  PreprocessFlags pre;
  int builder_level = kDefaultBuilderLevel;
  std::string timing_cache;
  bool no_builder_cache = false, external_weights = false;
  bool bf16 = false, fp16 = false, best = false, int8 = false, int8_dynamic = false;
  std::string int8_dynamic_scales;
  std::string precision_constraints, activation_layout, calib, calib_method, calib_cache;
  std::vector<std::string> layer_precisions, layer_output_types;
  std::vector<const CLI::Option*> options;  // every flag above, to find those given
};

void add_build_flags(CLI::App* c, BuildFlags& f);

// Sets the options these flags own (not shapes, threads, weights_file or verbose). UsageError (exit 2)
// for malformed values and combinations the flags alone rule out.
void apply_build_flags(const BuildFlags& f, CompileOptions& o);

// The name of the first build flag given on the command line, or "" when none was.
std::string first_build_flag_given(const BuildFlags& f);

// Whether --minShapes/--optShapes/--maxShapes were given: the plan gets an optimisation profile.
inline bool has_profile(const BuildFlags& f) {
  return !f.min_shapes.empty() || !f.opt_shapes.empty() || !f.max_shapes.empty();
}

// The build's warnings and precision summary on stderr, and its log where --dump-after (or the
// caller's verbose) asks for it.
void print_build_messages(const CompileResult& r, const BuildFlags& f, bool verbose);

}  // namespace kiln::cli
