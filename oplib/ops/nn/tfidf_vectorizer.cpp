#include "ops/nn/tfidf_vectorizer.h"

#include <algorithm>
#include <map>

namespace kiln::ops {

namespace {
// Columns of Y: a bound so that a hostile ngram_indexes cannot size a huge allocation.
constexpr int64_t kMaxColumns = int64_t(1) << 24;
// Gram lengths and skips far beyond any text-feature model; they bound the loops.
constexpr int64_t kMaxGram = 64;
constexpr int64_t kMaxSkip = int64_t(1) << 20;
}  // namespace

void TfIdfVectorizer::attrs(AttrVisitor& v) {
  v.visit("mode", mode);
  v.visit("min_gram_length", min_gram_length);
  v.visit("max_gram_length", max_gram_length);
  v.visit("max_skip_count", max_skip_count);
  v.visit("ngram_counts", ngram_counts);
  v.visit("ngram_indexes", ngram_indexes);
  v.visit("pool_int64s", pool_int64s);
  v.visit("weights", weights);
}

int64_t TfIdfVectorizer::validate() const {
  check(mode == "TF" || mode == "IDF" || mode == "TFIDF", "TfIdfVectorizer: mode must be TF, IDF or TFIDF, not '" + mode + "'");
  check(min_gram_length >= 1 && min_gram_length <= max_gram_length && max_gram_length <= kMaxGram,
        "TfIdfVectorizer: need 1 <= min_gram_length <= max_gram_length <= " + std::to_string(kMaxGram) + ", got " +
            std::to_string(min_gram_length) + " and " + std::to_string(max_gram_length));
  check(max_skip_count >= 0 && max_skip_count <= kMaxSkip,
        "TfIdfVectorizer: max_skip_count must be in [0, " + std::to_string(kMaxSkip) + "], got " +
            std::to_string(max_skip_count));
  check(!ngram_counts.empty() && ngram_counts[0] == 0, "TfIdfVectorizer: ngram_counts must start with 0");
  const int64_t pool = static_cast<int64_t>(pool_int64s.size());
  int64_t grams = 0;
  for (size_t k = 0; k < ngram_counts.size(); ++k) {
    const int64_t begin = ngram_counts[k];
    const int64_t end = k + 1 < ngram_counts.size() ? ngram_counts[k + 1] : pool;
    check(begin >= 0 && begin <= end && end <= pool,
          "TfIdfVectorizer: ngram_counts must be non-decreasing offsets into pool_int64s (" + std::to_string(pool) +
              " items)");
    const int64_t len = static_cast<int64_t>(k) + 1;
    check((end - begin) % len == 0, "TfIdfVectorizer: the " + std::to_string(len) + "-grams of pool_int64s (" +
                                        std::to_string(end - begin) + " items) are not a whole number of " +
                                        std::to_string(len) + "-grams");
    grams += (end - begin) / len;
  }
  check(static_cast<int64_t>(ngram_indexes.size()) == grams,
        "TfIdfVectorizer: ngram_indexes has " + std::to_string(ngram_indexes.size()) + " entries but the pool holds " +
            std::to_string(grams) + " n-grams");
  check(weights.empty() || weights.size() == ngram_indexes.size(),
        "TfIdfVectorizer: weights has " + std::to_string(weights.size()) + " entries, ngram_indexes " +
            std::to_string(ngram_indexes.size()));
  int64_t cols = 0;
  for (int64_t i : ngram_indexes) {
    check(i >= 0 && i < kMaxColumns, "TfIdfVectorizer: ngram_indexes value " + std::to_string(i) + " is out of [0, " +
                                          std::to_string(kMaxColumns) + ")");
    cols = std::max(cols, i + 1);
  }
  return cols;
}

void TfIdfVectorizer::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 1 && ctx.num_outputs() == 1, "TfIdfVectorizer takes one input and gives one output");
  const int64_t cols = validate();
  const TensorType& x = ctx.input(0);
  check(x.dtype == DType::Int32 || x.dtype == DType::Int64,
        std::string("TfIdfVectorizer: X must be int32 or int64, not ") + dtype_name(x.dtype));
  check(x.shape.size() == 1 || x.shape.size() == 2, "TfIdfVectorizer: X must be [C] or [N, C], not " + shape_str(x.shape));
  if (x.shape.size() == 1)
    ctx.set_output(0, DType::Float32, {cols});
  else
    ctx.set_output(0, DType::Float32, {x.shape[0], cols});
}

void TfIdfVectorizer::reference(const KernelArgs& a) const {
  const int64_t cols = validate();
  const TensorView& x = a.in[0];
  const int64_t rows = x.shape.size() == 2 ? x.shape[0] : 1;
  const int64_t c = x.shape.back();
  // Each n-gram (as its token sequence) -> its position in the pool, per level.
  std::vector<std::map<std::vector<int64_t>, int64_t>> levels(ngram_counts.size());
  int64_t id = 0;
  for (size_t k = 0; k < ngram_counts.size(); ++k) {
    const size_t end = k + 1 < ngram_counts.size() ? static_cast<size_t>(ngram_counts[k + 1]) : pool_int64s.size();
    for (size_t p = static_cast<size_t>(ngram_counts[k]); p < end; p += k + 1)
      levels[k].emplace(std::vector<int64_t>(pool_int64s.begin() + p, pool_int64s.begin() + p + k + 1), id++);
  }
  const bool i32 = x.dtype == DType::Int32;
  auto token = [&](int64_t i) { return i32 ? int64_t(x.as<const int32_t>()[i]) : x.as<const int64_t>()[i]; };
  float* y = a.out[0].as<float>();
  std::vector<int64_t> counts(ngram_indexes.size());
  std::vector<int64_t> gram;
  const int64_t top = std::min<int64_t>(max_gram_length, static_cast<int64_t>(levels.size()));
  for (int64_t r = 0; r < rows; ++r) {
    std::fill(counts.begin(), counts.end(), 0);
    for (int64_t dist = 1; dist <= max_skip_count + 1; ++dist)
      for (int64_t start = 0; start < c; ++start)
        for (int64_t n = min_gram_length; n <= top; ++n) {
          // Unigrams do not depend on the skip: count them at distance 1 only.
          if (n == 1 && dist > 1) continue;
          if (start + (n - 1) * dist >= c) break;
          gram.clear();
          for (int64_t j = 0; j < n; ++j) gram.push_back(token(r * c + start + j * dist));
          auto it = levels[n - 1].find(gram);
          if (it != levels[n - 1].end()) ++counts[it->second];
        }
    float* yr = y + r * cols;
    std::fill(yr, yr + cols, 0.f);
    for (size_t g = 0; g < counts.size(); ++g) {
      if (counts[g] == 0) continue;
      const float w = weights.empty() ? 1.f : weights[g];
      const float f = static_cast<float>(counts[g]);
      yr[ngram_indexes[g]] = mode == "TF" ? f : mode == "IDF" ? w : f * w;
    }
  }
}

KILN_REGISTER_OP(TfIdfVectorizer);

}  // namespace kiln::ops
