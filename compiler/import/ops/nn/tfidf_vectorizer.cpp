// ONNX importer for ops/nn/tfidf_vectorizer.h: TfIdfVectorizer (opset 9), integer pools only.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/nn/tfidf_vectorizer.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_tfidf_vectorizer(NodeContext& c) {
  if (c.has_attr("pool_strings"))
    c.fail("pool_strings is not supported (kiln has no string tensors); only pool_int64s is");
  if (!c.has_attr("pool_int64s")) c.fail("the pool_int64s attribute is required");
  for (const char* a : {"mode", "max_gram_length", "min_gram_length", "max_skip_count", "ngram_counts", "ngram_indexes"})
    if (!c.has_attr(a)) c.fail(std::string("the ") + a + " attribute is required");
  auto op = std::make_unique<TfIdfVectorizer>();
  op->mode = c.attr_string("mode", "TF");
  op->min_gram_length = c.attr_int("min_gram_length", 1);
  op->max_gram_length = c.attr_int("max_gram_length", 1);
  op->max_skip_count = c.attr_int("max_skip_count", 0);
  op->ngram_counts = c.attr_ints("ngram_counts");
  op->ngram_indexes = c.attr_ints("ngram_indexes");
  op->pool_int64s = c.attr_ints("pool_int64s");
  op->weights = c.attr_floats("weights");
  c.emit(std::move(op), {c.required_input(0)});
}

KILN_REGISTER_IMPORTER("TfIdfVectorizer", 9, kMaxOpset, import_tfidf_vectorizer);

}  // namespace
}  // namespace kiln::onnx_import
