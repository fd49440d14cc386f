// The arithmetic of int8 calibration: the --calibMethod spelling, TensorObserver's two passes
// (range, then a histogram of |x|) and the clipping threshold each method derives from them.
#include "quant/calibrator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"

namespace kiln::quant {

namespace {

constexpr const char* kSpellings =
    "use entropy, minmax, percentile or percentile:P with 0 < P <= 100 (e.g. percentile:99.99)";

// Upper edge of the first `bins` bins, rounded to float once. bins * amax needs at most 12 + 24
// bits and the division is by a power of two, so the double is exact and the only rounding is the
// final one: the numpy reference (tests/quant/calib_reference.py) gets the same float.
float edge(double bins, double amax) {
  return static_cast<float>(bins * amax / static_cast<double>(TensorObserver::kBins));
}

float percentile_threshold(const std::vector<double>& hist, double total, double amax, double percentile) {
  // Counts are whole numbers held exactly in doubles, so `cum` is exact; `need` is rounded once,
  // the same way in the reference.
  const double need = percentile / 100.0 * total;
  double cum = 0;
  for (size_t k = 0; k < hist.size(); ++k) {
    cum += hist[k];
    if (cum >= need) return edge(static_cast<double>(k + 1), amax);
  }
  return static_cast<float>(amax);
}

// TensorRT's KL-divergence search (Migacz, "8-bit Inference with TensorRT", GTC 2017). For each
// candidate i (bins kept), P = hist[0:i] with every clipped value counted in P's last bin (P is
// what the tensor looks like after clipping at bin i), and Q = hist[0:i] merged into `levels`
// groups (what int8 can represent) and spread back evenly over each group's bins where P is not
// zero. Q is made from hist[0:i] without the clipped values, as in TensorRT and NVIDIA's
// pytorch-quantization, so clipping a heavy tail costs divergence in P's last bin; the mask is P's
// (as the task's definition and MXNet/ONNX Runtime have it), so a last bin that holds only clipped
// values still gets its group's share. The histogram comes without the tensor's exact zeros (see
// choose_threshold).
float entropy_threshold(const std::vector<double>& hist, double total, double amax, int levels) {
  const size_t n = hist.size(), L = static_cast<size_t>(levels);
  std::vector<double> prefix(n + 1, 0.0);  // exact: sums of whole numbers below 2^53
  for (size_t j = 0; j < n; ++j) prefix[j + 1] = prefix[j] + hist[j];
  std::vector<double> p(n), mass(L), nonzero(L);
  size_t best_i = 0;
  double best_kl = std::numeric_limits<double>::infinity();
  for (size_t i = L; i <= n; ++i) {
    const double kept = prefix[i];
    if (kept == 0) continue;  // Q is all zero where P is not: infinite divergence
    std::copy(hist.begin(), hist.begin() + static_cast<std::ptrdiff_t>(i), p.begin());
    p[i - 1] += total - kept;
    std::fill(mass.begin(), mass.end(), 0.0);
    std::fill(nonzero.begin(), nonzero.end(), 0.0);
    // Bin j belongs to group floor(j * levels / i): integer arithmetic, so no bin lands in a
    // neighbouring group through rounding, and the groups differ in size by at most one bin.
    for (size_t j = 0; j < i; ++j) {
      const size_t g = j * L / i;
      mass[g] += hist[j];
      if (p[j] != 0) nonzero[g] += 1;
    }
    // Both distributions sum to whole counts: P to `total`, Q to `kept` (every group with mass has
    // a bin where P is not zero, so spreading loses nothing). Terms where P is zero add nothing;
    // a bin where P is not zero but Q is makes the divergence infinite (scipy.stats.entropy's
    // convention), which rules the candidate out rather than smoothing it in.
    double kl = 0;
    bool infinite = false;
    for (size_t j = 0; j < i && !infinite; ++j) {
      if (p[j] == 0) continue;
      const size_t g = j * L / i;
      const double q = mass[g] / nonzero[g];
      if (q == 0) {
        infinite = true;
        break;
      }
      const double pn = p[j] / total, qn = q / kept;
      kl += pn * std::log(pn / qn);
    }
    // On a tie the larger i wins (as pytorch-quantization's last argmin): clip no more than needed.
    if (!infinite && kl <= best_kl) {
      best_kl = kl;
      best_i = i;
    }
  }
  if (best_i == 0) return static_cast<float>(amax);  // unreachable: i = n always has a finite KL
  // TensorRT's convention, (m + 0.5) bin widths, half a bin beyond the kept range's upper edge
  // i * width (where pytorch-quantization stops): it keeps TensorRT's thresholds and ours
  // comparable, and half a bin is at most half an int8 step (a step spans T / levels >= one bin,
  // since i >= levels), usually far less. Capped at amax, which the last candidate (nothing
  // clipped) would otherwise pass by half a bin.
  return std::min(edge(static_cast<double>(best_i) + 0.5, amax), static_cast<float>(amax));
}

}  // namespace

std::string CalibMethodSpec::str() const {
  switch (method) {
    case CalibMethod::Entropy:
      return "entropy";
    case CalibMethod::MinMax:
      return "minmax";
    case CalibMethod::Percentile: {
      // Shortest spelling that reads back to the same double, independent of the C locale.
      char buf[64];
      auto r = std::to_chars(buf, buf + sizeof buf, percentile);
      return "percentile:" + std::string(buf, r.ptr);
    }
  }
  return "entropy";
}

CalibMethodSpec parse_calib_method(const std::string& spec) {
  CalibMethodSpec s;
  if (spec == "entropy") return s;
  if (spec == "minmax") {
    s.method = CalibMethod::MinMax;
    return s;
  }
  s.method = CalibMethod::Percentile;
  if (spec == "percentile") return s;
  const std::string head = "percentile:";
  if (spec.rfind(head, 0) != 0)
    throw OptionError("--calibMethod=" + spec + ": unknown calibration method; " + kSpellings);
  const std::string num = spec.substr(head.size());
  double p = 0;
  const auto r = std::from_chars(num.data(), num.data() + num.size(), p);
  if (num.empty() || r.ec != std::errc() || r.ptr != num.data() + num.size() || !std::isfinite(p))
    throw OptionError("--calibMethod=" + spec + ": '" + num +
                      "' is not a number; give the percentile of |x| to keep unclipped, 0 < P <= 100 "
                      "(e.g. percentile:99.99)");
  if (!(p > 0 && p <= 100))
    throw OptionError("--calibMethod=" + spec + ": the percentile must be above 0 and at most 100 " +
                      "(e.g. percentile:99.99)");
  s.percentile = p;
  return s;
}

void TensorObserver::observe_range(const float* x, size_t n) {
  if (!hist_.empty())
    throw Error("TensorObserver: observe_range after observe_histogram; feed every sample to "
                "observe_range first, since the histogram's bins depend on the final range");
  for (size_t k = 0; k < n; ++k) {
    float v = x[k];
    if (!std::isfinite(v)) {
      ++nonfinite_;
      continue;
    }
    // -0 and +0 compare equal, so which one min/max keeps would depend on the order of the
    // samples; one zero keeps the recorded range order-independent bit for bit.
    if (v == 0) v = 0;
    ++count_;
    if (!seen_) {
      min_ = max_ = v;
      seen_ = true;
    } else {
      min_ = std::min(min_, v);
      max_ = std::max(max_, v);
    }
  }
}

void TensorObserver::observe_histogram(const float* x, size_t n) {
  if (hist_.empty()) hist_.assign(kBins, 0.0);
  const double a = amax();
  const double bins = static_cast<double>(kBins);
  for (size_t k = 0; k < n; ++k) {
    const float v = x[k];
    if (!std::isfinite(v)) continue;
    size_t b = 0;
    if (a > 0) {
      // One correctly rounded division in double: with 24-bit floats it never rounds across a bin
      // edge, so bin b holds exactly b*a/kBins <= |x| < (b+1)*a/kBins (the last bin includes a),
      // numpy.histogram's rule. Values beyond the range pass's amax land in the last bin.
      const double q = std::fabs(static_cast<double>(v)) / a * bins;
      b = q >= bins ? kBins - 1 : static_cast<size_t>(q);
    }
    hist_[b] += 1;
    if (v == 0) zeros_ += 1;
  }
}

float TensorObserver::amax() const {
  if (!seen_) return 0;
  return std::max(std::fabs(min_), std::fabs(max_));
}

float choose_threshold(const TensorObserver& obs, const CalibMethodSpec& method, int levels) {
  if (levels < 1 || static_cast<size_t>(levels) > TensorObserver::kBins)
    throw Error("choose_threshold: " + std::to_string(levels) + " quantization levels; use 128 for a signed " +
                "int8 tensor or 256 for an unsigned one (at most " + std::to_string(TensorObserver::kBins) + ")");
  const double a = obs.amax();
  if (a == 0) return 0;
  if (method.method == CalibMethod::MinMax) return static_cast<float>(a);
  const std::vector<double>& hist = obs.histogram();
  double total = 0;
  for (double c : hist) total += c;
  if (hist.size() != TensorObserver::kBins || total == 0)
    throw Error("choose_threshold: method " + method.str() + " needs the histogram; call observe_histogram " +
                "with every sample after the observe_range calls");
  if (method.method == CalibMethod::Percentile) return percentile_threshold(hist, total, a, method.percentile);
  // Exact zeros (after a ReLU, a hardswish, or in a sparse tensor, often half the values or more)
  // are represented exactly at any threshold, so they say nothing about where to clip. Left in bin
  // 0 they decide the search: every candidate that merges bin 0 with its neighbours into one int8
  // step pays for flattening the spike, so the smallest candidate (the range cut to 1/16 or 1/8)
  // won, and the zoo's ResNet-50 came out at a relative error of 0.47 instead of 0.18. NVIDIA's
  // pytorch-quantization works around the same spike by copying bin 1's count over bin 0.
  if (obs.zeros() > 0 && obs.zeros() < total) {
    std::vector<double> nonzero = hist;
    nonzero[0] -= obs.zeros();
    return entropy_threshold(nonzero, total - obs.zeros(), a, levels);
  }
  return entropy_threshold(hist, total, a, levels);
}

}  // namespace kiln::quant
