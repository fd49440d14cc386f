// The int8 calibrator (compiler/quant/calibrator.cpp): --calibMethod spellings, the observer's
// range, histogram and non-finite count, thresholds worked out by hand and by numpy
// (tests/quant/calib_reference.py), and results that do not depend on the order of the samples.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include <gmock/gmock.h>

#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"
#include "quant/calibrator.h"

namespace kiln::quant {
namespace {

using ::testing::HasSubstr;

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

TensorObserver observe(const std::vector<std::vector<float>>& samples) {
  TensorObserver o;
  for (auto& s : samples) o.observe_range(s.data(), s.size());
  for (auto& s : samples) o.observe_histogram(s.data(), s.size());
  return o;
}

CalibMethodSpec spec(const std::string& s) { return parse_calib_method(s); }

TEST(CalibMethod, ParsesEverySpelling) {
  EXPECT_EQ(spec("entropy").method, CalibMethod::Entropy);
  EXPECT_EQ(spec("minmax").method, CalibMethod::MinMax);
  EXPECT_EQ(spec("percentile").method, CalibMethod::Percentile);
  EXPECT_EQ(spec("percentile").percentile, 99.99);
  EXPECT_EQ(spec("percentile:99.9").percentile, 99.9);
  EXPECT_EQ(spec("percentile:100").percentile, 100.0);
  EXPECT_EQ(spec("percentile:1e-3").percentile, 1e-3);
  EXPECT_EQ(spec("percentile:50").str(), "percentile:50");
  EXPECT_EQ(spec("percentile").str(), "percentile:99.99");
  EXPECT_EQ(spec("entropy").str(), "entropy");
  EXPECT_EQ(spec("minmax").str(), "minmax");
  // str() is parse's input: every spec survives the trip exactly.
  for (double p : {99.99, 99.999, 0.1 + 0.2, 100.0, 1e-9}) {
    CalibMethodSpec s;
    s.method = CalibMethod::Percentile;
    s.percentile = p;
    EXPECT_EQ(spec(s.str()).percentile, p) << s.str();
  }
}

TEST(CalibMethod, RefusesBadSpellingsNamingTheFlag) {
  for (const char* bad : {"", "Entropy", "max", "min-max", "kl", "entropy:1", "minmax:2", "percentile:",
                          "percentile:0", "percentile:-1", "percentile:100.5", "percentile:abc", "percentile:99x",
                          "percentile: 99", "percentile:nan", "percentile:inf", "percentile:+99", "percentile99"}) {
    try {
      parse_calib_method(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const OptionError& e) {
      EXPECT_THAT(e.what(), HasSubstr("--calibMethod=" + std::string(bad))) << bad;
      EXPECT_THAT(e.what(), HasSubstr("percentile:99.99")) << "no example spelling: " << e.what();
    }
  }
}

TEST(TensorObserver, RangeCountsAndSkipsNonFinite) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> a = {1.5f, nan, -3.0f, inf}, b = {2.5f, -inf, 0.0f};
  TensorObserver o = observe({a, b});
  EXPECT_EQ(o.min(), -3.0f);
  EXPECT_EQ(o.max(), 2.5f);
  EXPECT_EQ(o.amax(), 3.0f);
  EXPECT_EQ(o.count(), 4u);
  EXPECT_EQ(o.nonfinite(), 3u);
  // |x| over [0, 3] in 2048 bins: 0 -> bin 0, 1.5 -> 1024, 2.5 -> floor(2.5/3*2048) = 1706, 3 -> 2047.
  const auto& h = o.histogram();
  ASSERT_EQ(h.size(), TensorObserver::kBins);
  EXPECT_EQ(h[0], 1);
  EXPECT_EQ(h[1024], 1);
  EXPECT_EQ(h[1706], 1);
  EXPECT_EQ(h[2047], 1);
  double total = 0;
  for (double c : h) total += c;
  EXPECT_EQ(total, 4);
}

TEST(TensorObserver, HistogramMustFollowEveryRangeCall) {
  TensorObserver o;
  std::vector<float> x = {1, 2};
  o.observe_range(x.data(), x.size());
  o.observe_histogram(x.data(), x.size());
  EXPECT_THROW(o.observe_range(x.data(), x.size()), Error);
}

TEST(Thresholds, AllZeroAndEmptyTensorsGiveZero) {
  std::vector<float> zeros = {0.0f, -0.0f, 0.0f, std::numeric_limits<float>::quiet_NaN()};
  TensorObserver o = observe({zeros});
  EXPECT_EQ(bits(o.min()), bits(0.0f));  // one zero, whatever order -0 and +0 came in
  EXPECT_EQ(bits(o.max()), bits(0.0f));
  TensorObserver empty;
  for (const char* m : {"entropy", "minmax", "percentile:99.99"})
    for (int levels : {128, 256}) {
      EXPECT_EQ(choose_threshold(o, spec(m), levels), 0.0f) << m;
      EXPECT_EQ(choose_threshold(empty, spec(m), levels), 0.0f) << m;
    }
}

TEST(Thresholds, MinMaxIsTheLargerMagnitude) {
  EXPECT_EQ(choose_threshold(observe({{-3.0f, 2.5f}}), spec("minmax"), 128), 3.0f);
  EXPECT_EQ(choose_threshold(observe({{-1.0f}, {7.25f}}), spec("minmax"), 128), 7.25f);
}

TEST(Thresholds, PercentileIsTheFirstUpperEdgeHoldingPPercent) {
  // 1..1000: bin b holds b*1000/2048 <= |x| < (b+1)*1000/2048.
  std::vector<float> x;
  for (int v = 1000; v >= 1; --v) x.push_back(v % 2 ? float(v) : -float(v));
  TensorObserver o = observe({x});
  // 10%: the 100th value, 100, is in bin 204 = [99.609, 100.098); bins 0..203 hold only 1..99.
  EXPECT_EQ(choose_threshold(o, spec("percentile:10"), 128), 205 * 1000.0f / 2048);
  // 50%: 500 is in bin 1024 = [500, 500.488).
  EXPECT_EQ(choose_threshold(o, spec("percentile:50"), 128), 1025 * 1000.0f / 2048);
  EXPECT_EQ(choose_threshold(o, spec("percentile:100"), 128), 1000.0f);
}

TEST(Thresholds, EntropyKeepsWhatQuantizesExactly) {
  // One value in each bin of width 1 (the 2048 itself is the last bin's): at i = 2048 every group
  // of Q is flat like P, so KL = 0, while any clipping piles values into P's last bin.
  std::vector<float> even;
  for (int b = 0; b < 2047; ++b) even.push_back(b % 2 ? b + 0.5f : -(b + 0.5f));
  even.push_back(2048.0f);
  for (int levels : {128, 256}) EXPECT_EQ(choose_threshold(observe({even}), spec("entropy"), levels), 2048.0f);
  // A lone value far out alone in its group: for any i < 2048, P holds it in its last bin where
  // Q is zero (its group has no other counts), an infinite divergence, so it is never clipped.
  std::vector<float> spike(1000, 0.25f);
  spike.push_back(-100.0f);
  EXPECT_EQ(choose_threshold(observe({spike}), spec("entropy"), 128), 100.0f);
  EXPECT_THROW(choose_threshold(observe({spike}), spec("entropy"), 0), Error);
  EXPECT_THROW(choose_threshold(observe({spike}), spec("entropy"), 4096), Error);
}

TEST(Thresholds, EntropyIsBlindToExactZeros) {
  // A ReLU's output: exact zeros quantize exactly at any threshold, so how many there are must not
  // move the clipping point. Kept in the search, a spike of them made it cut the range to its
  // first 256 of 2048 bins (1/8 of amax) whatever the rest looked like.
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.5f, 1.0f);
  std::vector<float> positive;
  while (positive.size() < 20000)
    if (float v = normal(rng); v > 0) positive.push_back(v);
  const TensorObserver alone = observe({positive});
  const float want = choose_threshold(alone, spec("entropy"), 256);
  EXPECT_GT(want, 0.5f * alone.amax());
  for (size_t zeros : {size_t(20000), size_t(200000)}) {
    std::vector<float> x = positive;
    x.insert(x.end(), zeros, 0.0f);
    EXPECT_EQ(choose_threshold(observe({x}), spec("entropy"), 256), want) << zeros << " zeros";
  }
}

TEST(Thresholds, DoNotDependOnTheOrderOfTheSamples) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.5f, 2.0f);
  std::vector<std::vector<float>> samples(12);
  for (size_t s = 0; s < samples.size(); ++s) {
    samples[s].resize(1000 + 337 * s);
    for (float& v : samples[s]) v = normal(rng);
  }
  samples[3][17] = 60.0f;  // an outlier in one sample only
  samples[8][5] = -0.0f;
  std::vector<std::vector<float>> shuffled = samples;
  std::reverse(shuffled.begin(), shuffled.end());
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  for (auto& s : shuffled) std::shuffle(s.begin(), s.end(), rng);
  // The same values cut into other samples.
  std::vector<float> all;
  for (auto& s : shuffled) all.insert(all.end(), s.begin(), s.end());
  std::vector<std::vector<float>> recut = {std::vector<float>(all.begin(), all.begin() + 5),
                                           std::vector<float>(all.begin() + 5, all.end())};

  const TensorObserver a = observe(samples), b = observe(shuffled), c = observe(recut);
  for (const TensorObserver* o : {&b, &c}) {
    EXPECT_EQ(bits(a.min()), bits(o->min()));
    EXPECT_EQ(bits(a.max()), bits(o->max()));
    EXPECT_EQ(a.histogram(), o->histogram());
    for (const char* m : {"entropy", "minmax", "percentile:99.99", "percentile:99", "percentile:50"})
      for (int levels : {128, 256})
        EXPECT_EQ(bits(choose_threshold(a, spec(m), levels)), bits(choose_threshold(*o, spec(m), levels)))
            << m << " levels " << levels;
  }
  EXPECT_LT(choose_threshold(a, spec("entropy"), 128), 60.0f);  // the search did clip the outlier
}

// --- numpy's thresholds (tests/quant/calib_reference.py), generated by the ctest fixture --------

std::map<std::string, std::vector<std::string>> read_reference(const std::string& path) {
  std::ifstream f(path);
  if (!f) ADD_FAILURE() << "cannot read " << path;
  std::map<std::string, std::vector<std::string>> rows;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string key, w;
    in >> key;
    std::vector<std::string> words;
    while (in >> w) words.push_back(w);
    if (key == "percentile" && !words.empty()) {  // "percentile P threshold": keyed by P
      key += " " + words[0];
      words.erase(words.begin());
    }
    rows[key] = words;
  }
  return rows;
}

double num(const std::string& s) { return std::strtod(s.c_str(), nullptr); }  // hex, decimal, inf

TEST(CalibReference, MatchesNumpy) {
  const char* dir = std::getenv("KILN_CALIB_REFERENCE_DIR");
  if (!dir)
    GTEST_SKIP() << "KILN_CALIB_REFERENCE_DIR is unset: run the ctest quant.calibrator_matches_numpy, which "
                    "generates the reference with tests/quant/calib_reference.py";
  const std::filesystem::path root(dir);
  std::ifstream manifest(root / "manifest.txt");
  ASSERT_TRUE(manifest) << (root / "manifest.txt") << " is missing: did tests/quant/calib_reference.py run?";
  std::vector<std::string> names;
  for (std::string n; manifest >> n;) names.push_back(n);
  ASSERT_GE(names.size(), 4u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    auto ref = read_reference((root / (name + ".txt")).string());
    std::ifstream raw(root / (name + ".f32"), std::ios::binary);
    ASSERT_TRUE(raw) << (root / (name + ".f32")) << " is missing";
    std::vector<float> x;
    for (float v; raw.read(reinterpret_cast<char*>(&v), sizeof v);) x.push_back(v);
    ASSERT_FALSE(x.empty());
    // Sixteen uneven "samples", as calibration would feed them.
    std::vector<std::vector<float>> samples;
    for (size_t at = 0, k = 0; at < x.size(); ++k) {
      const size_t n = std::min(x.size() - at, x.size() / 20 + 97 * k);
      samples.emplace_back(x.begin() + at, x.begin() + at + n);
      at += n;
    }
    const TensorObserver o = observe(samples);
    const int levels = std::stoi(ref["levels"].at(0));
    EXPECT_EQ(o.count(), std::stoul(ref["count"].at(0)));
    EXPECT_EQ(o.nonfinite(), std::stoul(ref["nonfinite"].at(0)));
    EXPECT_EQ(o.min(), static_cast<float>(num(ref["min"].at(0))));
    EXPECT_EQ(o.max(), static_cast<float>(num(ref["max"].at(0))));
    ASSERT_EQ(ref["hist"].size(), TensorObserver::kBins);
    size_t differing = 0;
    for (size_t b = 0; b < TensorObserver::kBins; ++b) differing += o.histogram()[b] != num(ref["hist"][b]);
    EXPECT_EQ(differing, 0u) << "bins differ from numpy.histogram";

    EXPECT_EQ(choose_threshold(o, spec("minmax"), levels), static_cast<float>(num(ref["minmax"].at(0))));
    size_t percentiles = 0;
    for (auto& [key, words] : ref) {
      if (key.rfind("percentile ", 0) != 0) continue;
      const std::string p = key.substr(11);
      EXPECT_EQ(choose_threshold(o, spec("percentile:" + p), levels), static_cast<float>(num(words.at(0))))
          << "percentile " << p;
      ++percentiles;
    }
    EXPECT_GE(percentiles, 3u);

    // Entropy: the same candidate as numpy, unless numpy's divergences of the two are a rounding
    // apart (the sums run in another order); the file carries numpy's whole curve to tell.
    const float t = choose_threshold(o, spec("entropy"), levels);
    const float want = static_cast<float>(num(ref["entropy"].at(0)));
    if (t != want) {
      const double amax = o.amax();
      const long mine = std::lround(double(t) / amax * TensorObserver::kBins - 0.5);
      const long theirs = std::stol(ref["entropy"].at(1));
      const auto& kl = ref["kl"];
      ASSERT_EQ(kl.size(), TensorObserver::kBins - levels + 1);
      ASSERT_GE(mine, levels);
      ASSERT_LE(mine, long(TensorObserver::kBins));
      const double kl_mine = num(kl[size_t(mine - levels)]), kl_best = num(kl[size_t(theirs - levels)]);
      std::printf("note: %s: entropy picks bin %ld, numpy bin %ld; numpy's KL %.17g vs %.17g\n", name.c_str(),
                  mine, theirs, kl_mine, kl_best);
      EXPECT_LE(kl_mine, kl_best * (1 + 1e-12) + 1e-15)
          << "entropy threshold " << t << " (bin " << mine << ", numpy's KL " << kl_mine << ") but numpy picks "
          << want << " (bin " << theirs << ", KL " << kl_best << ")";
    }
  }
}

}  // namespace
}  // namespace kiln::quant
