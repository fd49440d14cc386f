// int8 calibration statistics: what kiln observes of each activation tensor while running the
// fp32 model on calibration samples, the clipping threshold each method (entropy, min-max,
// percentile) derives from it, and the calibration cache file that stores the result so a
// rebuild skips the samples. Running the model and placing the scales live elsewhere
// (quant/calibrate.cpp, passes/assign_int8.cpp); this module is pure arithmetic and file I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kiln::quant {

enum class CalibMethod { Entropy, MinMax, Percentile };

struct CalibMethodSpec {
  CalibMethod method = CalibMethod::Entropy;
  double percentile = 99.99;  // Percentile only: the percentile of |x| kept unclipped, in (0, 100]
  // "entropy", "minmax" or "percentile:99.99": the --calibMethod spelling, parse_calib_method's input.
  std::string str() const;
};

// "entropy" | "minmax" | "percentile" | "percentile:P" (0 < P <= 100). Throws kiln::OptionError
// naming --calibMethod and the accepted spellings.
CalibMethodSpec parse_calib_method(const std::string& spec);

// Statistics of one tensor over all calibration samples. Two passes make the result independent of
// the order of the samples: pass 1 (observe_range) sees every sample and fixes min/max; pass 2
// (observe_histogram) bins |x| over [0, max(|min|, |max|)] into kBins equal bins. Non-finite
// values are counted apart and ignored.
class TensorObserver {
 public:
  static constexpr size_t kBins = 2048;
  void observe_range(const float* x, size_t n);
  void observe_histogram(const float* x, size_t n);  // after every observe_range call
  float min() const { return min_; }
  float max() const { return max_; }
  float amax() const;  // max(|min|, |max|); 0 before any finite value
  const std::vector<double>& histogram() const { return hist_; }
  size_t count() const { return count_; }          // finite values observe_range saw
  size_t nonfinite() const { return nonfinite_; }  // NaN and +-inf observe_range saw (and skipped)
  double zeros() const { return zeros_; }          // exact zeros (+0 and -0) observe_histogram saw

 private:
  float min_ = 0, max_ = 0;
  bool seen_ = false;
  std::vector<double> hist_;
  double zeros_ = 0;
  size_t count_ = 0, nonfinite_ = 0;
};

// The clipping threshold T > 0 for |x| the method picks (the int8 scale is then T / levels-ish):
// MinMax: amax. Percentile: the smallest bin edge with at least P% of |x| at or below it.
// Entropy: TensorRT's KL-divergence search over the histogram less its exact zeros, with `levels`
// quantization levels (128 for a signed int8 tensor, 256 for an unsigned one). Returns 0 for an
// all-zero tensor.
float choose_threshold(const TensorObserver& obs, const CalibMethodSpec& method, int levels);

// One tensor's calibration result.
struct TensorRange {
  float min = 0, max = 0;   // observed extremes
  float threshold = 0;      // |x| is clipped at this before quantization (0 = all-zero tensor)
};

// The whole result, as the calibration cache file stores it.
struct CalibTable {
  std::string model_hash;   // model_hash() of the ONNX file calibrated
  std::string method;       // CalibMethodSpec::str()
  size_t samples = 0;
  bool random = false;      // --calib=random: samples were random data (speed experiments only)
  std::map<std::string, TensorRange> ranges;  // tensor name (after kiln's fusions) -> range
};

// A stable hash of the file's bytes (hex), recorded in the cache so that a cache made for another
// model is refused. Throws kiln::Error naming an unreadable file.
std::string model_hash(const std::string& onnx_path);

// The cache is a documented, diff-able text file (docs/cli-guide.md#int8): a header with the
// format version, model hash, method, sample count and the random flag, then one line per tensor
// in name order. Tensor names are always quoted (with escapes), so spaces and quotes are safe.
// write_calib_cache replaces the file atomically; floats are written so that they read back bit
// for bit. Throws kiln::Error naming the file when it cannot be written.
void write_calib_cache(const std::string& path, const CalibTable& t);
// Throws kiln::Error naming the file and the line on a malformed file, and naming both hashes
// (and what to do: delete the file or pass the right one) when its model_hash differs from
// `expected_hash` (an empty `expected_hash` skips that check). The caller compares the method.
CalibTable read_calib_cache(const std::string& path, const std::string& expected_hash);

}  // namespace kiln::quant
