// ONNX importer fuzz target: see fuzz_targets.h.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "fuzz_targets.h"
#include "fuzz_util.h"
#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"

namespace kiln::fuzz {

namespace {

// The importer reads models from files (external data is resolved against the model's folder),
// so each input goes through a private file.
const std::string& model_path() {
  static const std::string path = [] {
    auto dir = std::filesystem::temp_directory_path() / ("kiln-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    return (dir / "model.onnx").string();
  }();
  return path;
}

}  // namespace

void onnx_importer(const uint8_t* data, size_t size) {
  const std::string& path = model_path();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  std::vector<uint8_t> plan;
  try {
    CompileOptions o;
    o.threads = 1;
    plan = compile_onnx_file(path, o).plan;
  } catch (const Error&) {
    return;
  }
  try_load_and_run(plan, path);
}

}  // namespace kiln::fuzz
