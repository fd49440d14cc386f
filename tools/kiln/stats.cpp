#include "stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli_util.h"
#include "json_writer.h"

namespace kiln::cli {

namespace {

std::string percent_text(double p) { return fmt::format("{:.10g}", p); }

std::string op_text(const LayerInfo& l) {
  if (l.fused.size() <= 1) return l.op;
  return fmt::format("{}({})", l.op, fmt::join(l.fused, "+"));
}

std::string layout_text(const LayerInfo& l) { return l.layout.empty() ? "row-major" : l.layout; }

}  // namespace

double percentile(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(rank)), hi = static_cast<size_t>(std::ceil(rank));
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

LatencyStats summarize(std::vector<double> v, const std::vector<double>& extra_percentiles) {
  LatencyStats s;
  std::vector<double> ps(std::begin(kDefaultPercentiles), std::end(kDefaultPercentiles));
  ps.insert(ps.end(), extra_percentiles.begin(), extra_percentiles.end());
  std::sort(ps.begin(), ps.end());
  // Keys, not values, must be unique: two spellings of one key would make duplicate JSON keys.
  ps.erase(std::unique(ps.begin(), ps.end(),
                       [](double a, double b) { return percentile_key(a) == percentile_key(b); }),
           ps.end());
  std::sort(v.begin(), v.end());
  for (double p : ps) s.percentiles.emplace_back(p, percentile(v, p));
  if (v.empty()) return s;
  s.min = v.front();
  s.max = v.back();
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  s.median = percentile(v, 50);
  double var = 0;
  for (double x : v) var += (x - s.mean) * (x - s.mean);
  s.stddev = std::sqrt(var / static_cast<double>(v.size()));
  return s;
}

std::string percentile_key(double p) { return "p" + percent_text(p); }

WindowStats window_averages(std::vector<QueryTime> q, int runs) {
  WindowStats w;
  w.runs = runs;
  if (q.empty() || runs < 1) return w;
  std::stable_sort(q.begin(), q.end(),
                   [](const QueryTime& a, const QueryTime& b) { return a.start_ms < b.start_ms; });
  const size_t n = static_cast<size_t>(runs);
  const size_t windows = std::max<size_t>(1, q.size() / n);
  const size_t width = std::min(n, q.size());
  w.runs = static_cast<int>(width);
  std::vector<double> avg;
  for (size_t k = 0; k < windows; ++k) {
    double sum = 0;
    for (size_t i = k * width; i < (k + 1) * width; ++i) sum += q[i].end_ms - q[i].start_ms;
    avg.push_back(sum / static_cast<double>(width));
  }
  std::sort(avg.begin(), avg.end());
  w.windows = static_cast<int64_t>(windows);
  w.min = avg.front();
  w.max = avg.back();
  w.mean = std::accumulate(avg.begin(), avg.end(), 0.0) / static_cast<double>(avg.size());
  w.median = percentile(avg, 50);
  return w;
}

void LayerProfile::add(const std::vector<double>& layer_ms) {
  if (total_ms.empty()) total_ms.assign(layer_ms.size(), 0.0);
  for (size_t i = 0; i < layer_ms.size() && i < total_ms.size(); ++i) total_ms[i] += layer_ms[i];
  ++runs;
  if (samples.size() + total_ms.size() > kMaxSamples) return;
  for (size_t i = 0; i < total_ms.size(); ++i)
    samples.push_back(i < layer_ms.size() ? static_cast<float>(layer_ms[i]) : 0.f);
  ++sampled_runs;
}

void LayerProfile::merge(const LayerProfile& o) {
  if (!o.runs) return;
  if (total_ms.empty()) total_ms.assign(o.total_ms.size(), 0.0);
  for (size_t i = 0; i < total_ms.size() && i < o.total_ms.size(); ++i) total_ms[i] += o.total_ms[i];
  runs += o.runs;
  const size_t width = total_ms.size(), room = kMaxSamples - std::min(kMaxSamples, samples.size());
  const size_t rows = width ? std::min(static_cast<size_t>(o.sampled_runs), room / width) : 0;
  samples.insert(samples.end(), o.samples.begin(),
                 o.samples.begin() + static_cast<std::ptrdiff_t>(rows * width));
  sampled_runs += static_cast<int64_t>(rows);
}

double LayerProfile::median_ms(size_t layer) const {
  if (!sampled_runs) return 0;
  std::vector<double> col;
  col.reserve(static_cast<size_t>(sampled_runs));
  for (int64_t r = 0; r < sampled_runs; ++r)
    col.push_back(samples[static_cast<size_t>(r) * total_ms.size() + layer]);
  std::sort(col.begin(), col.end());
  return percentile(col, 50);
}

double LayerProfile::average_total_ms() const {
  double sum = 0;
  for (size_t i = 0; i < total_ms.size(); ++i) sum += average_ms(i);
  return sum;
}

double LayerProfile::median_total_ms() const {
  double sum = 0;
  for (size_t i = 0; i < total_ms.size(); ++i) sum += median_ms(i);
  return sum;
}

void print_summary(std::FILE* out, const RunReport& r) {
  const Engine& e = *r.engine;
  fmt::print(out, "=== Model ===\n{}: {} layers, plan {}, arena {} per stream (activations {}), weights {}\n",
             r.source, e.layers().size(), human_bytes(e.plan_bytes()), human_bytes(e.arena_bytes()),
             human_bytes(e.activation_bytes()), human_bytes(e.weight_bytes()));
  const LatencyStats& s = r.latency;
  fmt::print(out, "=== Performance summary ===\n");
  fmt::print(out, "Throughput: {:.3f} qps\n", r.throughput_qps());
  std::string pcts;
  for (auto& [p, v] : s.percentiles) pcts += fmt::format(", percentile({}%) = {:.4f} ms", percent_text(p), v);
  fmt::print(out, "Latency: min = {:.4f} ms, max = {:.4f} ms, mean = {:.4f} ms, median = {:.4f} ms{}\n",
             s.min, s.max, s.mean, s.median, pcts);
  const WindowStats& a = r.averaged;
  if (a.windows)
    fmt::print(out, "Average on {} runs: min = {:.4f} ms, max = {:.4f} ms, mean = {:.4f} ms, median = {:.4f} ms "
                    "(over {} window{} of consecutive queries)\n",
               a.runs, a.min, a.max, a.mean, a.median, a.windows, a.windows == 1 ? "" : "s");
  fmt::print(out, "Total Host Walltime: {:.3f} s\n", r.wall_s);
  fmt::print(out, "Iterations: {}{}\n", r.iterations,
             r.streams > 1 ? fmt::format(" (all {} streams together)", r.streams) : "");
  fmt::print(out, "Streams: {}, threads per stream: {}{}\n", r.streams, r.threads,
             r.threads_note.empty() ? "" : " (" + r.threads_note + ")");
  fmt::print(out, "Load time: {:.3f} ms, first inference: {:.3f} ms, RSS after load: {:.1f} MiB, peak RSS: {:.1f} MiB\n",
             r.load_ms, r.first_inference_ms, r.load_rss_mb, r.peak_rss_mb);
  if (r.latency_includes_profiling)
    fmt::print(out,
               "Note: the timed iterations were profiled per layer, so the latencies include the profiler's "
               "synchronisation; add --separateProfileRun for clean latencies.\n");
}

std::string report_json(const RunReport& r) {
  const LatencyStats& s = r.latency;
  JsonWriter w;
  w.begin_object().field("plan", r.source);
  w.key("latency_ms").begin_object();
  w.field("min", s.min).field("max", s.max).field("mean", s.mean).field("median", s.median);
  for (auto& [p, v] : s.percentiles) w.field(percentile_key(p), v);
  w.field("stddev", s.stddev).end_object();
  const WindowStats& a = r.averaged;
  w.key("averaged_ms").begin_object().field("runs", a.runs).field("windows", a.windows);
  w.field("min", a.min).field("max", a.max).field("mean", a.mean).field("median", a.median).end_object();
  w.field("throughput_qps", r.throughput_qps()).field("iterations", r.iterations).field("streams", r.streams);
  w.field("threads", r.threads).field("wall_time_s", r.wall_s).field("load_ms", r.load_ms);
  w.field("first_inference_ms", r.first_inference_ms).field("load_rss_mb", r.load_rss_mb).field("peak_rss_mb", r.peak_rss_mb).field("cv", s.cv());
  w.field("latency_includes_profiling", r.latency_includes_profiling);
  return w.end_object().str();
}

std::string times_json(std::vector<QueryTime> q) {
  std::stable_sort(q.begin(), q.end(),
                   [](const QueryTime& a, const QueryTime& b) { return a.start_ms < b.start_ms; });
  JsonWriter w;
  w.begin_array(true);
  for (const QueryTime& t : q)
    w.begin_object()
        .field("stream", t.stream)
        .field("start_ms", t.start_ms)
        .field("end_ms", t.end_ms)
        .field("latency_ms", t.end_ms - t.start_ms)
        .end_object();
  return w.end_array().str() + "\n";
}

void print_profile(std::FILE* out, const Engine& e, const LayerProfile& p) {
  const double sum = p.average_total_ms();
  fmt::print(
      out, "=== Profile (average of {} runs{}) ===\n", p.runs,
      p.during_timed_run ? ", taken during the timed iterations" : ", separate from the timed iterations");
  fmt::print(out, "{:>4} {:<40} {:<24} {:<14} {:<9} {:<10} {:>10} {:>10} {:>6}\n", "#", "layer", "op (fused)",
             "tactic", "precision", "layout", "avg ms", "median ms", "%");
  for (size_t i = 0; i < e.layers().size(); ++i) {
    const LayerInfo& l = e.layers()[i];
    const double t = p.average_ms(i);
    fmt::print(out, "{:>4} {:<40} {:<24} {:<14} {:<9} {:<10} {:>10.4f} {:>10.4f} {:>5.1f}%\n", i, l.name,
               op_text(l), l.kernel, dtype_name(l.precision), layout_text(l), t, p.median_ms(i),
               sum > 0 ? 100.0 * t / sum : 0.0);
  }
  fmt::print(out, "Total: {:.4f} ms average, {:.4f} ms as the sum of medians, per run over {} layers\n", sum,
             p.median_total_ms(), e.layers().size());
}

std::string profile_json(const Engine& e, const LayerProfile& p) {
  const double sum = p.average_total_ms();
  JsonWriter w;
  w.begin_object().field("runs", p.runs).field("total_ms", sum).field("total_median_ms", p.median_total_ms());
  w.field("median_runs", p.sampled_runs).field("during_timed_run", p.during_timed_run);
  w.key("layers").begin_array(true);
  for (size_t i = 0; i < e.layers().size(); ++i) {
    const LayerInfo& l = e.layers()[i];
    const double t = p.average_ms(i);
    w.begin_object().field("name", l.name).field("op", op_text(l)).key("fused").begin_array();
    for (auto& f : l.fused) w.value(f);
    w.end_array()
        .field("tactic", l.kernel)
        .field("precision", dtype_name(l.precision))
        .field("layout", layout_text(l));
    w.field("average_ms", t)
        .field("median_ms", p.median_ms(i))
        .field("percent", sum > 0 ? 100.0 * t / sum : 0.0)
        .end_object();
  }
  w.end_array();
  return w.end_object().str() + "\n";
}

}  // namespace kiln::cli
