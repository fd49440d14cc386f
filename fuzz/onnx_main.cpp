// libFuzzer entry point for the ONNX importer and compiler.
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::fuzz::onnx_importer(data, size);
  return 0;
}
