#include "tune/layout_choice.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "kiln/runtime.hpp"

namespace kiln::tune {

double time_plan(const std::vector<uint8_t>& plan, int samples) {
  auto engine = Engine::load_memory(plan, "<layout candidate>");
  auto ctx = engine->create_context();
  for (size_t i = 0; i < engine->inputs().size(); ++i) {
    const TensorDesc& d = engine->inputs()[i];
    if (d.dtype != DType::Float32) continue;  // other types stay zero: valid indices, masks, ...
    auto* p = static_cast<float*>(ctx->input(i));
    for (size_t k = 0; k < d.elements(); ++k) p[k] = 0.01f * static_cast<float>(static_cast<int>(k * 7 % 13) - 6);
  }
  auto now = [] { return std::chrono::steady_clock::now(); };
  ctx->run();
  ctx->run();
  std::vector<double> t;
  for (int s = 0; s < std::max(samples, 1); ++s) {
    auto t0 = now();
    ctx->run();
    t.push_back(std::chrono::duration<double, std::micro>(now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::string graph_signature(const ir::Graph& g, const std::vector<LayerPick>& picks) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const std::string impl = i < picks.size() ? picks[i].impl : "";
    mix(layer_signature(*g.nodes()[i], impl));
    if (i < picks.size()) mix(picks[i].tuned.tactic.id());
  }
  char b[64];
  std::snprintf(b, sizeof b, "graph of %zu layers %016llx", g.nodes().size(), static_cast<unsigned long long>(h));
  return b;
}

bool has_blocked_layouts(const ir::Graph& g) {
  for (auto& n : g.nodes())
    for (const ir::Value* v : n->outputs)
      if (!v->layout.empty()) return true;
  return false;
}

}  // namespace kiln::tune
