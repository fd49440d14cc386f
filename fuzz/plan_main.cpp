// libFuzzer entry point for the plan loader.
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::fuzz::plan_loader(data, size);
  return 0;
}
