// Latency statistics and the run report (human summary and --json), trtexec-style.
#pragma once

#include <string>
#include <vector>

namespace kiln::cli {

struct LatencyStats {
  double min = 0, max = 0, mean = 0, median = 0, p90 = 0, p95 = 0, p99 = 0, stddev = 0;
};

// Percentile by linear interpolation between closest ranks (numpy's default).
double percentile(std::vector<double> sorted, double p);
LatencyStats summarize(std::vector<double> latencies_ms);

}  // namespace kiln::cli
