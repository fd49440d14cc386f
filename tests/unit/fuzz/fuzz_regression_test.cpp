// Replays every input the fuzzers ever crashed on (tests/data/fuzz/<target>/, added by
// scripts/fuzz.sh's workflow) through the same target bodies, in the normal and the sanitizer
// builds, so a fixed crash stays fixed. The bodies swallow kiln::Error only; anything else
// (another exception, a crash, a sanitizer report) fails here.
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "fuzz_targets.h"

namespace kiln::test {
namespace {

namespace fs = std::filesystem;

int replay(const std::string& target, void (*fn)(const uint8_t*, size_t)) {
  fs::path dir = fs::path(KILN_TEST_DATA_DIR) / "fuzz" / target;
  int n = 0;
  for (auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().filename() == "README.md") continue;
    std::ifstream f(entry.path(), std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(fn(bytes.data(), bytes.size()));
    ++n;
  }
  return n;
}

TEST(FuzzRegression, PlanLoaderCrashers) { replay("plan", kiln::fuzz::plan_loader); }
TEST(FuzzRegression, OnnxImporterCrashers) { replay("onnx", kiln::fuzz::onnx_importer); }

// The targets themselves must accept garbage and the empty input quietly.
TEST(FuzzRegression, TrivialInputs) {
  const uint8_t junk[] = {'K', 'I', 'L', 'N', 0, 1, 2, 3, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 9, 9};
  EXPECT_NO_THROW(kiln::fuzz::plan_loader(junk, 0));
  EXPECT_NO_THROW(kiln::fuzz::plan_loader(junk, sizeof junk));
  EXPECT_NO_THROW(kiln::fuzz::onnx_importer(junk, 0));
  EXPECT_NO_THROW(kiln::fuzz::onnx_importer(junk, sizeof junk));
}

}  // namespace
}  // namespace kiln::test
