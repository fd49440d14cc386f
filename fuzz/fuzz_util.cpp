// See fuzz_util.h.
#include "fuzz_util.h"

#include <cstring>

#include "kiln/runtime.hpp"

namespace kiln::fuzz {

namespace {
// Running is where kernels meet hostile attributes, but a fuzzer iteration must stay fast:
// only plans with small buffers run, and graphs whose shapes depend on input values are
// skipped (their sizes come from the zero-filled inputs and could be anything).
constexpr size_t kMaxRunBytes = 1 << 20;
constexpr size_t kMaxRunLayers = 64;

bool cheap_to_run(const Engine& e) {
  if (e.arena_bytes() > kMaxRunBytes || e.weight_bytes() > kMaxRunBytes || e.layers().size() > kMaxRunLayers)
    return false;
  for (auto* list : {&e.inputs(), &e.outputs()})
    for (auto& d : *list)
      for (int64_t dim : d.shape)
        if (dim < 0) return false;
  return true;
}
}  // namespace

void try_load_and_run(const std::vector<uint8_t>& plan, const std::string& origin) {
  std::shared_ptr<const Engine> e;
  try {
    e = Engine::load_memory(plan, origin);
  } catch (const Error&) {
    return;
  }
  if (!cheap_to_run(*e)) return;
  try {
    auto ctx = e->create_context();
    for (size_t i = 0; i < e->inputs().size(); ++i) std::memset(ctx->input(i), 0, e->inputs()[i].bytes());
    ctx->run();
  } catch (const Error&) {
  }
}

}  // namespace kiln::fuzz
