// kiln accuracy check: a compiled plan against an fp32 reference plan of the same model, on the
// same inputs. This is what `kiln compile --check/--checkTolerance` and the Python
// `kiln.compile(check=...)` run; docs/cli-guide.md#reduced-precision-and-the-accuracy-gate
// explains the figures.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"

namespace kiln {

// One input tensor supplied by the caller: dense row-major data of `dtype` and `shape`.
struct HostTensor {
  DType dtype = DType::Undefined;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

// One set of inputs: input name -> tensor. The name "" means the model's only input. Every input
// of the plan must be given, with the plan's dtype and shape (for an input with an optimisation
// profile, any shape inside it).
using InputSample = std::map<std::string, HostTensor>;

// Per-output limits. rel_l2 and max_abs are maxima; cosine and top1 are minima. Unset = not checked.
struct CheckTolerance {
  std::optional<double> rel_l2, max_abs, cosine, top1;
  bool empty() const { return !rel_l2 && !max_abs && !cosine && !top1; }
};

// "rel_l2:0.02,max_abs:0.5,cosine:0.999,top1:0.99" -> CheckTolerance. Throws OptionError naming
// `flag` on an unknown key, a missing or non-numeric value, a negative number, a key given twice
// or an empty spec.
CheckTolerance parse_check_tolerance(const std::string& spec, const std::string& flag = "--checkTolerance");
// The spec form again ("rel_l2:0.02,cosine:0.999"); "" when empty.
std::string format_check_tolerance(const CheckTolerance& t);

struct CheckOptions {
  // Inputs, in this order of preference: `samples` if any; else the ONNX test-data sets under
  // `calib_dir` (DIR/test_data_set_*/input_K.pb, K in graph input order; or DIR/input_K.pb); else
  // `random_samples` sets of seeded random inputs (see make_random_sample).
  std::vector<InputSample> samples;
  std::string samples_origin;  // where `samples` came from, for the report (e.g. "--loadInputs input:x.npy")
  std::string calib_dir;
  uint32_t seed = 0;
  size_t random_samples = 4;
  CheckTolerance tolerance;
};

// One output's figures, pooled over all samples (as if the samples' outputs were concatenated).
// a = the plan's output, b = the fp32 reference's.
struct OutputAccuracy {
  std::string name;
  DType dtype = DType::Undefined;
  std::vector<int64_t> shape;  // of the first sample
  double max_abs = 0;          // max |a - b|
  double rel_l2 = 0;           // ||a - b|| / ||b|| (0 when both are zero, inf when only b is)
  double cosine = 1;           // a.b / (||a|| ||b||) (1 when both are zero, 0 when one is)
  // Fraction of rows (all axes but the last) whose argmax over the last axis agrees; unset when
  // the last axis has fewer than 2 elements.
  std::optional<double> top1;
  size_t rows = 0, rows_agreeing = 0;
  size_t nonfinite = 0;  // NaN or Inf values in the plan's output (figures are then NaN)
};

// A figure outside its tolerance.
struct ToleranceMiss {
  std::string output;
  std::string figure;  // "rel_l2", "max_abs", "cosine" or "top1"
  double value = 0, limit = 0;
  bool minimum = false;  // cosine and top1: the value is below the limit; else above it
};

struct AccuracyReport {
  std::string source;  // "loadInputs" (CheckOptions::samples), "calib" or "random"
  std::string detail;  // the files, the folder, or "seed N"
  size_t samples = 0;
  std::vector<OutputAccuracy> outputs;
  CheckTolerance tolerance;
  std::vector<ToleranceMiss> misses;
  std::vector<std::string> notes;  // e.g. a top1 tolerance that no output can be checked against
  bool passed() const { return misses.empty(); }
};

// Builds the fp32 reference plan (`opts` with `precision` reset to its defaults), runs it and
// `plan` (built from `onnx_path` with `opts`) on the same inputs through the runtime API and
// compares every graph output. Throws kiln::Error on unreadable inputs, inputs that do not fit
// the plan, or a plan whose outputs differ in shape from the reference; a tolerance miss is not
// an exception but AccuracyReport::misses.
AccuracyReport check_accuracy(const std::string& onnx_path, const CompileOptions& opts,
                              const std::vector<uint8_t>& plan, const CheckOptions& check);

// check_accuracy for several plans of one model: the fp32 reference is built and run once.
class AccuracyChecker {
 public:
  AccuracyChecker(const std::string& onnx_path, const CompileOptions& opts, const CheckOptions& check);
  ~AccuracyChecker();
  AccuracyReport check(const std::vector<uint8_t>& plan) const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// --int8 with a tolerance (kiln's accuracy-driven fallback). Builds the plan; when it misses
// check.tolerance, measures each int8 layer's sensitivity (the error of a plan where that
// layer alone computes in int8), then moves layers to float (bf16 where allowed, else fp32),
// most sensitive first, until the plan meets the tolerance: the fewest layers this ranking
// finds. Calibration runs once (the ranges are shared by every trial build).
struct Int8FallbackResult {
  CompileResult result;       // the final build (its plan is the one to write when report passes)
  AccuracyReport report;      // its check
  // Layers moved out of int8, with their sensitivity ("NAME (alone in int8: rel_l2 sum 0.031; ...)").
  std::vector<std::string> moved;
  std::vector<std::string> log;  // one line per trial build
  size_t int8_layers = 0;        // int8 layers of the first build
};
// `first`: the all-int8 build and its check, when the caller has them already.
Int8FallbackResult compile_int8_with_fallback(const std::string& onnx_path, const CompileOptions& opts,
                                              const CheckOptions& check, const CompileResult* first = nullptr);

// The inputs of ONNX test-data sets: DIR/test_data_set_*/input_K.pb in name order (or
// DIR/input_K.pb when DIR is one set), input_K for the K-th of `inputs`. Each tensor must have
// the input's dtype and shape (any shape inside an optimisation profile). Throws kiln::Error
// naming the file.
std::vector<InputSample> read_test_data_sets(const std::string& dir, const std::vector<TensorDesc>& inputs);

// Seeded random inputs: float types uniform in [-1, 1]; uint8 uniform in [0, 255] (image
// pixels); bool and other integers in {0, 1}, except integer inputs whose name contains "ids"
// but not "type" (input_ids, token_ids: vocabulary indices), uniform in [0, 99]. The same seed,
// sample index and input order always give the same data.
InputSample make_random_sample(const std::vector<TensorDesc>& inputs, uint32_t seed, size_t sample_index);

// "output 'logits': rel_l2 0.041 exceeds --checkTolerance rel_l2:0.02; output ..." for the
// report's misses, `flag` naming where the tolerance came from.
std::string describe_misses(const AccuracyReport& r, const std::string& flag = "--checkTolerance");

}  // namespace kiln
