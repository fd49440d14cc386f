// kiln's accuracy-driven int8 fallback (kiln/accuracy.hpp): rank the int8 layers by the error
// each causes alone in int8, then move the fewest of them to float that bring the plan within tolerance.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include <unistd.h>

#include "kiln/accuracy.hpp"
#include "passes/pass.h"

namespace kiln {

namespace {

namespace fs = std::filesystem;

// The error a trial minimises: rel. L2 summed over the outputs (NaN counts as infinite).
double score(const AccuracyReport& r) {
  double s = 0;
  for (const OutputAccuracy& o : r.outputs) s += std::isfinite(o.rel_l2) ? o.rel_l2 : 1e30;
  return s;
}

std::string fmt_score(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", s);
  return b;
}

// Removes a temporary calibration cache on the way out.
struct TempFile {
  std::string path;
  ~TempFile() {
    std::error_code ec;
    if (!path.empty()) fs::remove(path, ec);
  }
};

}  // namespace

Int8FallbackResult compile_int8_with_fallback(const std::string& onnx_path, const CompileOptions& opts,
                                              const CheckOptions& check, const CompileResult* first) {
  Int8FallbackResult out;
  CompileOptions o = opts;
  TempFile tmp;
  if (o.calib_cache.empty()) {
    // Every trial build reads the first build's ranges instead of calibrating again.
    std::random_device rd;
    tmp.path = (fs::temp_directory_path() / ("kiln-calib-" + std::to_string(::getpid()) + "-" +
                                             std::to_string(rd()) + ".txt")).string();
    o.calib_cache = tmp.path;
  }
  const AccuracyChecker checker(onnx_path, opts, check);
  // The search runs on untimed (level-0) builds, the all-int8 one included, so its layer list
  // and the trials agree (timing may keep other layers in float from one build to the next). A
  // caller's first build is reused when it is untimed and the ranges are already in a cache file.
  CompileOptions base_opts = o;
  base_opts.builder_level = 0;
  const bool reuse = first && tmp.path.empty() && o.builder_level == 0;
  out.result = reuse ? *first : compile_onnx_file(onnx_path, base_opts);
  out.report = checker.check(out.result.plan);
  const double base = score(out.report);
  out.log.push_back("all int8" + std::string(o.builder_level > 0 ? ", untimed (level 0)" : "") + ": rel_l2 sum " +
                    fmt_score(base) + (out.report.passed() ? " (meets the tolerance)" : ""));
  if (out.report.passed()) return out;  // nothing moves: the untimed plan meets it

  std::vector<std::string> layers;
  {
    auto e = Engine::load_memory(out.result.plan, onnx_path + " (the int8 plan)");
    for (const LayerInfo& l : e->layers())
      if (dtype_quantized(l.precision) && (l.op == "Conv" || l.op == "MatMul" || l.op == "Gemm"))
        layers.push_back(l.name);
  }
  out.int8_layers = layers.size();
  const bool bf16 = opts.precision.bf16 || opts.precision.best;
  // Trials build untimed (level 0): which layers hurt accuracy does not depend on which kernel
  // variant is fastest, and a level-3 build per trial would multiply the search's time by the
  // tuning's. Only the chosen plan is built again at the caller's level.
  auto build_with = [&](const std::vector<std::string>& moved, int level = 0) {
    CompileOptions c = o;
    c.builder_level = level;
    for (const std::string& n : moved) c.precision.layer_precisions.emplace_back(passes::literal_pattern(n), bf16 ? "bf16" : "fp32");
    if (c.precision.constraints.empty() || c.precision.constraints == "none") c.precision.constraints = "prefer";
    return compile_onnx_file(onnx_path, c);
  };
  // Each layer's sensitivity: the error of a plan where it alone computes in int8. Leaving one
  // layer out of an all-int8 plan would change the error by less than the noise of the measure
  // (independent errors add as a root sum of squares: one of 50 moves the total by about 1%);
  // the layer alone shows its own error cleanly, as layer-wise sensitivity analysis does.
  std::vector<std::pair<double, std::string>> contrib;
  for (const std::string& n : layers) {
    std::vector<std::string> others;
    for (const std::string& m : layers)
      if (m != n) others.push_back(m);
    const double s = score(checker.check(build_with(others).plan));
    contrib.emplace_back(s, n);
    out.log.push_back("trial: " + n + " alone in int8: rel_l2 sum " + fmt_score(s));
  }
  std::stable_sort(contrib.begin(), contrib.end(), [](auto& a, auto& b) { return a.first > b.first; });
  std::vector<std::string> ranked;
  for (auto& [c, n] : contrib) ranked.push_back(n);
  // The shortest prefix of the ranking that meets the tolerance (binary search; the error falls as
  // layers leave int8, so a longer prefix that meets it bounds a shorter one from above).
  auto prefix = [&](size_t k) { return std::vector<std::string>(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(k)); };
  auto trial = [&](size_t k, CompileResult& r, AccuracyReport& rep) {
    r = build_with(prefix(k));
    rep = checker.check(r.plan);
    out.log.push_back("trial: the " + std::to_string(k) + " largest contributor(s) in float: rel_l2 sum " +
                      fmt_score(score(rep)) + (rep.passed() ? " (meets the tolerance)" : ""));
    return rep.passed();
  };
  CompileResult best_r;
  AccuracyReport best_rep;
  size_t lo = 0, hi = ranked.size();  // lo fails; hi passes once verified
  if (!trial(hi, best_r, best_rep)) {
    out.result = std::move(best_r);
    out.report = std::move(best_rep);
    out.moved = ranked;
    return out;  // even every int8 layer in float misses: the caller fails the build
  }
  while (hi - lo > 1) {
    const size_t mid = lo + (hi - lo) / 2;
    CompileResult r;
    AccuracyReport rep;
    if (trial(mid, r, rep)) {
      hi = mid;
      best_r = std::move(r);
      best_rep = std::move(rep);
    } else {
      lo = mid;
    }
  }
  if (o.builder_level > 0) {
    // The tuned build may pick other kernels (and keep more layers in float where int8 loses
    // here), so it is checked again; the untimed plan stands if the tuned one misses.
    CompileResult r = build_with(prefix(hi), o.builder_level);
    AccuracyReport rep = checker.check(r.plan);
    out.log.push_back("final: the " + std::to_string(hi) + " largest contributor(s) in float, built at level " +
                      std::to_string(o.builder_level) + ": rel_l2 sum " + fmt_score(score(rep)) +
                      (rep.passed() ? " (meets the tolerance)" : " (misses; the level-0 plan is kept)"));
    if (rep.passed()) {
      best_r = std::move(r);
      best_rep = std::move(rep);
    }
  }
  out.result = std::move(best_r);
  out.report = std::move(best_rep);
  for (size_t k = 0; k < hi; ++k)
    out.moved.push_back(ranked[k] + " (alone in int8: rel_l2 sum " + fmt_score(contrib[k].first) +
                        "; all int8: " + fmt_score(base) + ")");
  return out;
}

}  // namespace kiln
