#include "preprocess_flags.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "cli_util.h"

namespace kiln::cli {

namespace {

// "name:rest" -> {name, rest}; no ':' -> {"", all}. The last ':' splits, so names may contain ':'
// (no value contains one).
std::pair<std::string, std::string> split_name(const std::string& item, const char* flag, const char* example) {
  size_t colon = item.rfind(':');
  if (colon == std::string::npos) return {"", item};
  if (colon == 0 || colon + 1 == item.size())
    throw UsageError(fmt::format("{}: '{}' is not [NAME:]VALUES (e.g. {})", flag, item, example));
  return {item.substr(0, colon), item.substr(colon + 1)};
}

std::vector<float> parse_floats(const std::string& item, const std::string& values, const char* flag) {
  std::vector<float> out;
  size_t start = 0;
  while (true) {
    size_t comma = values.find(',', start);
    std::string tok = values.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    errno = 0;
    float v = std::strtof(tok.c_str(), &end);
    if (tok.empty() || *end || errno || !std::isfinite(v))
      throw UsageError(fmt::format("{}: '{}' in '{}' is not a finite number", flag, tok, item));
    out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

std::map<std::string, InputPreprocess> parse_preprocess(const PreprocessFlags& f) {
  std::map<std::string, InputPreprocess> out;
  std::map<std::pair<std::string, std::string>, bool> given;  // (flag, input) already seen
  auto once = [&](const char* flag, const std::string& name) {
    if (given[{flag, name}])
      throw UsageError(name.empty() ? fmt::format("{} is given twice for the model's input", flag)
                                    : fmt::format("{}: input '{}' is given twice", flag, name));
    given[{flag, name}] = true;
  };
  for (const std::string& item : f.mean) {
    auto [name, values] = split_name(item, "--mean", "--mean=123.675,116.28,103.53 or --mean=input:123,117,104");
    once("--mean", name);
    out[name].mean = parse_floats(item, values, "--mean");
  }
  for (const std::string& item : f.scale) {
    auto [name, values] = split_name(item, "--scale", "--scale=58.395,57.12,57.375 or --scale=input:255");
    once("--scale", name);
    std::vector<float> s = parse_floats(item, values, "--scale");
    for (float v : s)
      if (v == 0.f) throw UsageError(fmt::format("--scale: '{}' has a zero; the input is divided by the scale", item));
    out[name].scale = std::move(s);
  }
  for (const std::string& item : f.layout) {
    auto [name, v] = split_name(item, "--inputLayout", "--inputLayout=NHWC");
    once("--inputLayout", name);
    if (v != "NHWC" && v != "NCHW")
      throw UsageError(fmt::format("--inputLayout: '{}' is not a layout; use NHWC or NCHW", v));
    out[name].layout = v;
  }
  for (const std::string& item : f.type) {
    auto [name, v] = split_name(item, "--inputType", "--inputType=u8");
    once("--inputType", name);
    if (v == "u8" || v == "uint8") out[name].dtype = "uint8";
    else if (v == "f32" || v == "float32") out[name].dtype = "float32";
    else throw UsageError(fmt::format("--inputType: '{}' is not an input type; use u8 or f32", v));
  }
  for (const std::string& item : f.reverse) {
    std::string name = item == kReverseOnlyInput ? "" : item;
    once("--reverseInputChannels", name);
    out[name].reverse_channels = true;
  }
  return out;
}

}  // namespace kiln::cli
