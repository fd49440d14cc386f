// Validation of the precision flags' spellings (trtexec's): done before any work so a typo is a
// usage error, not a failed build.
#include "kiln/compiler.hpp"

namespace kiln {

namespace {
void check_pins(const std::vector<std::pair<std::string, std::string>>& pins, const char* flag) {
  for (auto& [pattern, prec] : pins) {
    if (pattern.empty()) throw OptionError(std::string(flag) + ": an entry has an empty layer name");
    if (prec != "fp32" && prec != "bf16" && prec != "fp16" && prec != "int8")
      throw OptionError(std::string(flag) + ": unknown precision '" + prec + "' for '" + pattern +
                        "'; use fp32, bf16, fp16 or int8");
  }
}
}  // namespace

void validate_precision_options(const PrecisionOptions& p) {
  if (!p.constraints.empty() && p.constraints != "none" && p.constraints != "prefer" && p.constraints != "obey")
    throw OptionError("--precisionConstraints: unknown value '" + p.constraints + "'; use none, prefer or obey");
  if (!p.int8_dynamic_scales.empty() && p.int8_dynamic_scales != "tensor" && p.int8_dynamic_scales != "row")
    throw OptionError("--int8DynamicScales: unknown value '" + p.int8_dynamic_scales + "'; use tensor or row");
  check_pins(p.layer_precisions, "--layerPrecisions");
  check_pins(p.layer_output_types, "--layerOutputTypes");
  for (auto& [pattern, prec] : p.layer_precisions)
    if (prec == "int8" && !p.int8)
      throw OptionError("--layerPrecisions: '" + pattern + ":int8' needs --int8 (and calibration data: --calib or "
                        "--calibCache)");
  for (auto& [pattern, t] : p.layer_output_types)
    if (t == "int8")
      throw OptionError("--layerOutputTypes: '" + pattern + ":int8': an int8 layer's output type follows its "
                        "readers; pin the layers with --layerPrecisions instead");
  for (auto& [pattern, t] : p.layer_output_types)
    if (t == "fp16")
      throw OptionError("--layerOutputTypes: '" + pattern + ":fp16': oneDNN has no fp16 compute on CPU, so layers "
                        "write fp32 or bf16 (graph outputs declared fp16 keep that type); use fp32 or bf16");
}

}  // namespace kiln
