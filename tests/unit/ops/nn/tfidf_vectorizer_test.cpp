// TfIdfVectorizer: the reference kernel against hand-counted n-grams, and infer()'s checks of
// contradictory attributes.
#include <gtest/gtest.h>

#include "ops/multi_output_test_util.h"
#include "ops/nn/tfidf_vectorizer.h"

namespace kiln::test {
namespace {

using namespace ops;
using namespace multi_output;

// Unigrams 2 3 5 4, bigrams (5 6) (7 8) (6 7), one column each.
TfIdfVectorizer uni_and_bigrams(int64_t min_gram, int64_t skip) {
  TfIdfVectorizer op;
  op.min_gram_length = min_gram;
  op.max_gram_length = 2;
  op.max_skip_count = skip;
  op.ngram_counts = {0, 4};
  op.ngram_indexes = {0, 1, 2, 3, 4, 5, 6};
  op.pool_int64s = {2, 3, 5, 4, 5, 6, 7, 8, 6, 7};
  return op;
}

TEST(TfIdfVectorizerReference, SkipsAndUnigrams) {
  auto x = i32({2, 6}, {1, 1, 3, 3, 3, 7, 8, 6, 7, 5, 6, 8});
  // Row 0: three 3s, counted once each although skips up to 5 are allowed. Row 1: 5 once;
  // (5 6) adjacent, (7 8) three apart, (6 7) adjacent.
  auto y = run_ref(uni_and_bigrams(1, 5), {x}, 1)[0];
  EXPECT_EQ(y.shape, (Dims{2, 7}));
  EXPECT_EQ(vals<float>(y), (std::vector<float>{0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1}));
  // Without skips (7 8) is gone; with min_gram_length 2 the unigrams are too.
  EXPECT_EQ(vals<float>(run_ref(uni_and_bigrams(1, 0), {x}, 1)[0]),
            (std::vector<float>{0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1}));
  EXPECT_EQ(vals<float>(run_ref(uni_and_bigrams(2, 5), {x}, 1)[0]),
            (std::vector<float>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1}));
}

TEST(TfIdfVectorizerReference, ModesWeightsAndOneRow) {
  TfIdfVectorizer op = uni_and_bigrams(1, 0);
  op.ngram_indexes = {6, 5, 4, 3, 2, 1, 0};  // columns reversed
  op.weights = {1, 2, 3, 4, 5, 6, 7};
  auto x = make<int64_t>(DType::Int64, {5}, {3, 3, 5, 6, 7});
  // Counts: 3 twice (pool 1), 5 once (pool 2), (5 6) once (pool 4), (6 7) once (pool 6).
  op.mode = "TF";
  auto y = run_ref(op, {x}, 1)[0];
  EXPECT_EQ(y.shape, (Dims{7}));
  EXPECT_EQ(vals<float>(y), (std::vector<float>{1, 0, 1, 0, 1, 2, 0}));
  op.mode = "IDF";
  EXPECT_EQ(vals<float>(run_ref(op, {x}, 1)[0]), (std::vector<float>{7, 0, 5, 0, 3, 2, 0}));
  op.mode = "TFIDF";
  EXPECT_EQ(vals<float>(run_ref(op, {x}, 1)[0]), (std::vector<float>{7, 0, 5, 0, 3, 4, 0}));
}

TEST(TfIdfVectorizerInfer, Errors) {
  auto err = [](TfIdfVectorizer op, TensorType x = {DType::Int32, {2, 6}}) { return infer_err(op, {x}); };
  EXPECT_EQ(err(uni_and_bigrams(1, 5)), "");
  EXPECT_NE(err(uni_and_bigrams(1, 5), {DType::Float32, {2, 6}}).find("int32 or int64"), std::string::npos);
  EXPECT_NE(err(uni_and_bigrams(1, 5), {DType::Int32, {1, 2, 6}}).find("[N, C]"), std::string::npos);
  TfIdfVectorizer op = uni_and_bigrams(1, 5);
  op.ngram_indexes.pop_back();
  EXPECT_NE(err(op).find("ngram_indexes has 6 entries"), std::string::npos);
  op = uni_and_bigrams(1, 5);
  op.ngram_counts = {0, 5};  // bigrams of 5 items
  EXPECT_NE(err(op).find("whole number"), std::string::npos);
  op.ngram_counts = {0, 11};
  EXPECT_NE(err(op).find("offsets into pool_int64s"), std::string::npos);
  op = uni_and_bigrams(1, 5);
  op.ngram_indexes[0] = -1;
  EXPECT_NE(err(op).find("out of"), std::string::npos);
  op = uni_and_bigrams(3, 5);
  EXPECT_NE(err(op).find("min_gram_length"), std::string::npos);
  op = uni_and_bigrams(1, -1);
  EXPECT_NE(err(op).find("max_skip_count"), std::string::npos);
  op = uni_and_bigrams(1, 5);
  op.weights = {1};
  EXPECT_NE(err(op).find("weights"), std::string::npos);
  op = uni_and_bigrams(1, 5);
  op.mode = "BM25";
  EXPECT_NE(err(op).find("mode"), std::string::npos);
}

}  // namespace
}  // namespace kiln::test
