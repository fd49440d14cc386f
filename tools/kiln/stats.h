// Latency statistics and the `kiln run` report, trtexec-style: the human performance summary, the
// --json object, the --exportTimes records and the per-layer profile (--dumpProfile table and
// --exportProfile JSON). Measuring lives in run_loop; this file only computes and formats.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "kiln/runtime.hpp"

namespace kiln::cli {

// Always reported; --percentile adds more.
inline constexpr double kDefaultPercentiles[] = {90, 95, 99};

struct LatencyStats {
  double min = 0, max = 0, mean = 0, median = 0, stddev = 0;
  // (percentile, value): the defaults plus any requested, ascending, without duplicates.
  std::vector<std::pair<double, double>> percentiles;
  double cv() const { return mean > 0 ? stddev / mean : 0; }  // coefficient of variation
};

// Percentile of ascending-sorted values by linear interpolation between closest ranks (numpy's
// default); p in [0, 100].
double percentile(const std::vector<double>& sorted, double p);
LatencyStats summarize(std::vector<double> latencies_ms, const std::vector<double>& extra_percentiles = {});
// The JSON key of a percentile: 99 -> "p99", 99.9 -> "p99.9".
std::string percentile_key(double p);

// One timed query; times are relative to the start of the timed run.
struct QueryTime {
  int stream = 0;
  double start_ms = 0, end_ms = 0;
};

// Per-layer times of the profiled runs (in Engine::layers() order): sums over all runs for the
// averages, and each run's times for the medians, kept for the first kMaxSamples values so a long
// run of a deep model cannot exhaust memory.
struct LayerProfile {
  static constexpr size_t kMaxSamples = size_t(1) << 22;
  std::vector<double> total_ms;
  std::vector<float> samples;  // run-major: sampled_runs rows of total_ms.size() layers
  int64_t runs = 0, sampled_runs = 0;
  // True when the profiled runs were the timed runs (their latencies carry the per-layer
  // synchronisation); false for a --separateProfileRun pass.
  bool during_timed_run = false;

  void add(const std::vector<double>& layer_ms);
  void merge(const LayerProfile& other);
  double average_ms(size_t layer) const { return runs ? total_ms[layer] / static_cast<double>(runs) : 0; }
  double median_ms(size_t layer) const;
  double average_total_ms() const;
  double median_total_ms() const;  // sum of the layers' medians
};

// --avgRuns: the latency averaged over windows of `runs` consecutive queries (in start order, all
// streams together), as trtexec's "Average on N runs"; the spread of the window averages shows drift
// (thermal, a neighbour) that per-query percentiles mix with jitter.
struct WindowStats {
  int runs = 0;         // queries per window: --avgRuns, or all of them when fewer ran
  int64_t windows = 0;  // complete windows; a short final one is dropped unless it is the only one
  double min = 0, mean = 0, median = 0, max = 0;
};
WindowStats window_averages(std::vector<QueryTime> queries, int runs);

struct RunReport {
  std::string source;  // plan or model path
  const Engine* engine = nullptr;
  LatencyStats latency;
  WindowStats averaged;
  int64_t iterations = 0;  // timed queries over all streams
  int streams = 1;
  int threads = 1;           // per stream
  std::string threads_note;  // how the thread count was chosen, when kiln chose it
  double wall_s = 0, load_ms = 0, first_inference_ms = 0, peak_rss_mb = 0;
  double load_rss_mb = 0;  // resident set right after loading and creating the contexts
  bool latency_includes_profiling = false;
  double throughput_qps() const { return wall_s > 0 ? static_cast<double>(iterations) / wall_s : 0; }
};

void print_summary(std::FILE* out, const RunReport& r);
// Exactly one JSON object (no trailing newline).
std::string report_json(const RunReport& r);
// --exportTimes: an array of {"stream", "start_ms", "end_ms", "latency_ms"}, in start order.
std::string times_json(std::vector<QueryTime> queries);
void print_profile(std::FILE* out, const Engine& e, const LayerProfile& p);
std::string profile_json(const Engine& e, const LayerProfile& p);

}  // namespace kiln::cli
