// TfIdfVectorizer: n-gram counts of integer token sequences, as ONNX (opset 9) defines them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

// X is [C] or [N, C] int32/int64 tokens; Y is float [max(ngram_indexes) + 1] or [N, that].
// pool_int64s holds the n-grams level by level: level k (k-grams) starts at ngram_counts[k-1].
// The i-th n-gram of the pool (in pool order) is counted in column ngram_indexes[i]. An n-gram's
// items are skip + 1 apart for each skip in [0, max_skip_count]; unigrams count once.
struct TfIdfVectorizer : OpBase<TfIdfVectorizer> {
  static constexpr const char* kType = "TfIdfVectorizer";
  std::string mode = "TF";  // TF, IDF or TFIDF
  int64_t min_gram_length = 1;
  int64_t max_gram_length = 1;
  int64_t max_skip_count = 0;
  std::vector<int64_t> ngram_counts;
  std::vector<int64_t> ngram_indexes;
  std::vector<int64_t> pool_int64s;
  std::vector<float> weights;  // empty: all 1

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
  // Throws when the attributes contradict each other (the plan may be hostile); returns the
  // number of output columns.
  int64_t validate() const;
};

}  // namespace kiln::ops
