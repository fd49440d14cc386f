// ReverseSequence: the reference kernel against hand-computed values and infer() errors.

#include <gtest/gtest.h>

#include "ops/multi_output_test_util.h"
#include "ops/tensor/reverse_sequence.h"

namespace kiln::test {
namespace {

using namespace ops;
using namespace multi_output;

TEST(ReverseSequenceReference, BothAxisOrdersAndDtypes) {
  ReverseSequence op;  // time_axis 0, batch_axis 1
  HostTensor x = f32({4, 4}, {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15});
  expect_near(vals<float>(run_ref(op, {x, i64({4}, {4, 3, 2, 1})}, 1)[0]),
              {3, 6, 9, 12, 2, 5, 8, 13, 1, 4, 10, 14, 0, 7, 11, 15});
  op.time_axis = 1;
  op.batch_axis = 0;
  HostTensor xb = f32({4, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
  expect_near(vals<float>(run_ref(op, {xb, i64({4}, {1, 2, 3, 4})}, 1)[0]),
              {0, 1, 2, 3, 5, 4, 6, 7, 10, 9, 8, 11, 15, 14, 13, 12});
  // Trailing dims move as a block; other dtypes work too.
  auto yi = run_ref(op, {i64({1, 3, 2}, {1, 2, 3, 4, 5, 6}), i64({1}, {3})}, 1)[0];
  EXPECT_EQ(vals<int64_t>(yi), (std::vector<int64_t>{5, 6, 3, 4, 1, 2}));
  EXPECT_NE(run_err(op, {xb, i64({4}, {1, 2, 3, 5})}).find("outside [0, 4]"), std::string::npos);
}

TEST(ReverseSequenceInfer, Errors) {
  ReverseSequence rs;
  EXPECT_NE(infer_err(rs, {f32({4, 3}), {DType::Int64, {4}}}).find("[batch] = [3]"), std::string::npos);
  rs.batch_axis = 0;
  EXPECT_NE(infer_err(rs, {f32({4, 3}), {DType::Int64, {4}}}).find("0 and 1"), std::string::npos);
}

}  // namespace
}  // namespace kiln::test
