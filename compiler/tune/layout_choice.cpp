#include "tune/layout_choice.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "kiln/runtime.hpp"

namespace kiln::tune {

std::vector<double> time_plans(const std::vector<std::vector<uint8_t>>& plans, int samples) {
  std::vector<std::shared_ptr<const Engine>> engines;
  std::vector<std::unique_ptr<ExecutionContext>> ctxs;
  for (auto& plan : plans) {
    engines.push_back(Engine::load_memory(plan, "<layout candidate>"));
    ctxs.push_back(engines.back()->create_context());
    const Engine& e = *engines.back();
    for (size_t i = 0; i < e.inputs().size(); ++i) {
      const TensorDesc& d = e.inputs()[i];
      if (d.dtype != DType::Float32) continue;  // other types stay zero: valid indices, masks, ...
      auto* p = static_cast<float*>(ctxs.back()->input(i));
      for (size_t k = 0; k < d.elements(); ++k)
        p[k] = 0.01f * static_cast<float>(static_cast<int>(k * 7 % 13) - 6);
    }
    ctxs.back()->run();  // warm-up
  }
  auto now = [] { return std::chrono::steady_clock::now(); };
  std::vector<std::vector<double>> t(plans.size());
  for (int s = 0; s < std::max(samples, 1); ++s)
    for (size_t i = 0; i < plans.size(); ++i) {
      auto t0 = now();
      ctxs[i]->run();
      t[i].push_back(std::chrono::duration<double, std::micro>(now() - t0).count());
    }
  std::vector<double> medians;
  for (auto& v : t) {
    std::sort(v.begin(), v.end());
    medians.push_back(v[v.size() / 2]);
  }
  return medians;
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
