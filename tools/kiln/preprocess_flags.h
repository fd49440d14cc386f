// `kiln compile`'s input pre-processing flags (--mean, --scale, --reverseInputChannels,
// --inputLayout, --inputType): parsing their text into CompileOptions::preprocess.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kiln/compiler.hpp"

namespace kiln::cli {

struct PreprocessFlags {
  std::vector<std::string> mean, scale, layout, type;
  std::vector<std::string> reverse;  // input names; kReverseOnlyInput for the bare flag
};
// What CLI11 stores for the bare flag (an input literally named "true" is out of luck).
inline constexpr const char* kReverseOnlyInput = "true";

// Each value is "[NAME:]VALUE"; without NAME it is for the model's only input (key ""). Throws
// UsageError (exit 2) for malformed values: non-numbers, zero scales, unknown layouts or types,
// the same input given twice to one flag. Whether the values fit the model is the compiler's check.
std::map<std::string, InputPreprocess> parse_preprocess(const PreprocessFlags& f);

}  // namespace kiln::cli
