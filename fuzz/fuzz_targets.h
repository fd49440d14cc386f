// The bodies of kiln's fuzz targets, shared by the libFuzzer entry points (fuzz/*_main.cpp,
// built by scripts/fuzz.sh with clang) and by the regression test that replays every crasher
// ever found (tests/unit/fuzz/fuzz_regression_test.cpp, built in the normal test suite).
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln::fuzz {

// Loads bytes as a plan. When they pass the flatbuffers Verifier, the checksum is recomputed
// first, so mutations reach the semantic checks and the kernels instead of dying at the checksum.
// A plan that loads and is small is run once. Any kiln::Error is an accepted outcome; a crash,
// a sanitizer report or another exception type is a finding.
void plan_loader(const uint8_t* data, size_t size);

// Imports bytes as an ONNX model and compiles it; a model that compiles is loaded and, if small,
// run once. Same contract as plan_loader.
void onnx_importer(const uint8_t* data, size_t size);

}  // namespace kiln::fuzz
