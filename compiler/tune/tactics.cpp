#include "tune/tactics.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "tune/select.h"
#include "tune/timer.h"

namespace kiln::tune {

namespace {

// Candidates within this fraction of the fastest are noise on a shared machine: the first
// candidate (the untimed heuristic's pick) keeps the layer, so cold builds rarely disagree.
constexpr double kNoise = 0.03;

class SigWriter final : public ops::AttrVisitor {
 public:
  void visit(const char* name, int64_t& v) override { out += std::string(name) + "=" + std::to_string(v) + ";"; }
  void visit(const char* name, float& v) override { out += std::string(name) + "=" + num(v) + ";"; }
  void visit(const char* name, std::vector<int64_t>& v) override {
    out += std::string(name) + "=[";
    for (int64_t x : v) out += std::to_string(x) + ",";
    out += "];";
  }
  void visit(const char* name, std::vector<float>& v) override {
    out += std::string(name) + "=[";
    for (float x : v) out += num(x) + ",";
    out += "];";
  }
  void visit(const char* name, std::string& v) override { out += std::string(name) + "='" + v + "';"; }
  std::string out;

 private:
  static std::string num(float f) {
    char b[32];
    std::snprintf(b, sizeof b, "%a", static_cast<double>(f));
    return b;
  }
};

bool heavy(const std::string& op, int level) {
  static const char* compute[] = {"Conv", "ConvTranspose", "Gemm", "MatMul"};
  static const char* pools[] = {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"};
  for (const char* c : compute)
    if (op == c) return level >= 1;
  for (const char* p : pools)
    if (op == p) return level >= 2;
  return false;
}

// Samples per candidate, and the shortest sample: on a shared machine a sample of one short run is
// mostly scheduler noise, so higher levels repeat short kernels for longer within a sample.
TimerConfig timer_for(int level) {
  static const int samples[] = {0, 3, 5, 7, 9, 15};
  static const double min_us[] = {0, 200, 500, 1000, 1000, 2000};
  const int l = std::clamp(level, 0, kMaxLevel);
  return {samples[l], min_us[l]};
}

struct Candidate {
  std::string impl;
  Tactic tactic;
  double us = std::numeric_limits<double>::infinity();
};

std::string fmt_us(double us) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f us", us);
  return b;
}

}  // namespace

std::string layer_signature(const ir::Node& n, const std::string& impl) {
  SigWriter w;
  n.op->attrs(w);
  std::string s = std::string(n.type()) + "/" + impl + " {" + w.out + "}";
  auto tensor = [&](const ir::Value* v) {
    if (!v) return std::string("-");
    return std::string(dtype_name(v->type.dtype)) + "[" + shape_str(v->type.shape) + "]" +
           (v->layout.empty() ? "" : ":" + v->layout) +
           (v->is_constant() ? ":const" : "");
  };
  s += " in(";
  for (const ir::Value* v : n.inputs) s += tensor(v) + " ";
  s += ") out(";
  for (const ir::Value* v : n.outputs) s += tensor(v) + " ";
  return s + ")";
}

std::string machine_signature(const MachineInfo& m) {
  return m.isa + ", " + m.cpu + ", " + std::to_string(m.cores) + " cores, " + std::to_string(m.threads) +
         " threads";
}

std::vector<LayerPick> choose_tactics(const ir::Graph& g, const TuneOptions& o, TuneStats& stats,
                                      std::vector<std::string>* log) {
  const auto start = std::chrono::steady_clock::now();
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  auto& reg = KernelRegistry::instance();
  const std::string machine = machine_signature(o.machine);
  const TimerConfig timer = timer_for(o.level);
  std::vector<LayerPick> picks;
  for (auto& np : g.nodes()) {
    const ir::Node& n = *np;
    const std::string op(n.type());
    KernelSpec spec = spec_of(n, eng);
    LayerPick pick;
    // Every implementation that accepts the layer, with the variants it reports, in registry
    // order: the first is the untimed heuristic's pick.
    std::vector<Candidate> cands;
    // What each accepting implementation built with no tactic given.
    std::vector<std::pair<std::string, Tactic>> first_built;
    const bool search = heavy(op, o.level);
    for (const std::string& impl : reg.impls(op)) {
      std::vector<Tactic> variants;
      spec.candidates = search ? &variants : nullptr;
      std::unique_ptr<Kernel> k;
      try {
        k = reg.create(op, impl, spec);
      } catch (const std::exception& e) {
        if (log) log->push_back(ir::node_label(n) + ": kernel '" + impl + "' declined: " + e.what());
      }
      spec.candidates = nullptr;
      if (!k) continue;
      if (!search) {  // level 0, or a layer the level does not search: the first that accepts
        pick = {impl, {k->tactic(), 0, {}}};
        break;
      }
      first_built.emplace_back(impl, k->tactic());
      if (variants.empty()) variants.push_back(k->tactic());
      for (Tactic& t : variants)
        if (o.level >= 2 || t.algorithm.empty()) cands.push_back({impl, t});
    }
    if (search && !cands.empty() && (cands.size() > 1 || o.level >= 3)) {
      ++stats.layers_timed;
      std::vector<std::unique_ptr<Kernel>> owned;
      std::vector<const Kernel*> to_time;
      std::vector<size_t> which;
      for (size_t i = 0; i < cands.size(); ++i) {
        Candidate& c = cands[i];
        const std::string key = TimingCache::key(machine, layer_signature(n, c.impl), c.tactic.id());
        if (auto hit = o.cache ? o.cache->find(key) : std::nullopt) {
          c.us = *hit;
          ++stats.cached;
          continue;
        }
        spec.tactic = &c.tactic;
        std::unique_ptr<Kernel> k = reg.create(op, c.impl, spec);
        spec.tactic = nullptr;
        // A variant the factory listed but could not build again is left out, not guessed at.
        if (!k || !k->tactic().same_choice(c.tactic)) continue;
        to_time.push_back(k.get());
        owned.push_back(std::move(k));
        which.push_back(i);
      }
      if (!to_time.empty()) {
        const std::vector<double> us = time_kernels(to_time, spec, timer);
        for (size_t j = 0; j < which.size(); ++j) {
          Candidate& c = cands[which[j]];
          c.us = us[j];
          ++stats.measured;
          if (o.cache) o.cache->put(TimingCache::key(machine, layer_signature(n, c.impl), c.tactic.id()), c.us);
        }
      }
      size_t best = 0;
      for (size_t i = 1; i < cands.size(); ++i)
        if (cands[i].us < cands[best].us) best = i;
      if (cands[0].us <= cands[best].us * (1 + kNoise)) best = 0;
      if (!std::isfinite(cands[best].us)) best = 0;
      pick.impl = cands[best].impl;
      pick.tuned.tactic = cands[best].tactic;
      pick.tuned.time_us = std::isfinite(cands[best].us) ? cands[best].us : 0;
      std::vector<size_t> order;
      for (size_t i = 0; i < cands.size(); ++i)
        if (i != best && std::isfinite(cands[i].us)) order.push_back(i);
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cands[a].us < cands[b].us; });
      for (size_t i : order)
        pick.tuned.runner_ups.emplace_back(
            (cands[i].impl == pick.impl ? "" : cands[i].impl + ":") + cands[i].tactic.id(), cands[i].us);
      // The winner's weights format is only known once it is built; usually the winner is a
      // kernel's first choice, which was built above already.
      bool known = false;
      for (auto& [impl, t] : first_built)
        if (!known && impl == pick.impl && t.same_choice(pick.tuned.tactic)) pick.tuned.tactic = t, known = true;
      spec.tactic = &pick.tuned.tactic;
      if (!known)
        if (auto k = reg.create(op, pick.impl, spec)) pick.tuned.tactic = k->tactic();
      spec.tactic = nullptr;
    } else if (search && !cands.empty()) {  // one candidate, not worth timing at this level
      pick = {cands[0].impl, {first_built.empty() ? cands[0].tactic : first_built[0].second, 0, {}}};
    }
    if (pick.impl.empty()) {
      if (!make_reference_kernel(spec)) throw Error(ir::node_label(n) + ": no kernel implements this layer");
      pick.impl = "reference";
    }
    if (log) log->push_back(ir::node_label(n) + ": kernel " + pick.impl +
                            (pick.tuned.tactic.impl.empty() ? "" : " (" + pick.tuned.tactic.id() + ")"));
    picks.push_back(std::move(pick));
  }
  stats.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return picks;
}

std::vector<std::string> tactic_table(const ir::Graph& g, const std::vector<LayerPick>& picks) {
  std::vector<std::string> rows;
  char line[512];
  std::snprintf(line, sizeof line, "%-36s %-18s %-44s %10s  %s", "layer", "op", "tactic", "time", "runner-up");
  rows.push_back(line);
  for (size_t i = 0; i < picks.size() && i < g.nodes().size(); ++i) {
    const LayerPick& p = picks[i];
    if (p.tuned.tactic.impl.empty() && p.tuned.tactic.algorithm.empty()) continue;
    const ir::Node& n = *g.nodes()[i];
    std::string runner = p.tuned.runner_ups.empty()
                             ? "-"
                             : p.tuned.runner_ups[0].first + " " + fmt_us(p.tuned.runner_ups[0].second);
    std::snprintf(line, sizeof line, "%-36s %-18s %-44s %10s  %s", n.name.c_str(), std::string(n.type()).c_str(),
                  (p.impl + ":" + p.tuned.tactic.id()).c_str(),
                  p.tuned.time_us > 0 ? fmt_us(p.tuned.time_us).c_str() : "untimed",
                  runner.c_str());
    rows.push_back(line);
  }
  return rows;
}

}  // namespace kiln::tune
