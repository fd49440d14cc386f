// Reference kernels and inference of Gather and GatherElements.
#include <cmath>

#include "ops/shape_test_util.h"

namespace kiln::test {
namespace {

using namespace kiln::ops;
using F = std::vector<float>;
using I = std::vector<int64_t>;

TEST(Gather, NegativeIndicesAxis0) {
  Gather op;
  auto y = run1(op, {iota({3, 2}), i64({2}, {-1, 0})});
  EXPECT_EQ(y.shape, (Dims{2, 2}));
  EXPECT_EQ(values<float>(y), (F{4, 5, 0, 1}));
}

TEST(Gather, Axis1With2DIndicesAndInt32) {
  Gather op;
  op.axis = 1;
  auto idx = make_tensor<int32_t>(DType::Int32, {2, 2}, {2, 0, 1, -3});
  auto y = run1(op, {iota({2, 3}), idx});
  ASSERT_EQ(y.shape, (Dims{2, 2, 2}));
  // y[i][j][k] = x[i][idx[j][k]]
  EXPECT_EQ(values<float>(y), (F{2, 0, 1, 0, 5, 3, 4, 3}));
}

TEST(Gather, ScalarIndexDropsAxis) {
  // Gather(Shape(x), 0): the batch size as a scalar, as exported shape code does.
  Gather op;
  auto y = run1(op, {ints({8, 3, 224}), i64({}, {1}, true)});
  EXPECT_EQ(y.shape, Dims{});
  EXPECT_EQ(values<int64_t>(y), (I{3}));
}

TEST(Gather, OutOfRangeIndices) {
  Gather op;
  // Constant indices are checked at compile time...
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({3, 2}), i64({1}, {3}, true)}), "out of range");
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({3, 2}), i64({1}, {-4}, true)}), "out of range");
  // ...and run-time ones when the kernel runs, without touching memory out of bounds.
  std::vector<HostTensor> in{iota({3, 2}), i64({1}, {7})};
  EXPECT_THROW(run_reference(op, in), Error);
  op.axis = 2;
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({3, 2}), i64({1}, {0})}), "out of range");
  op.axis = 0;
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({3, 2}), f32({1}, {0})}), "indices must be");
}

TEST(GatherElements, OnnxExamples) {
  GatherElements op;
  op.axis = 1;
  auto y = run1(op, {f32({2, 2}, {1, 2, 3, 4}), i64({2, 2}, {0, 0, 1, 0})});
  EXPECT_EQ(values<float>(y), (F{1, 1, 4, 3}));
  op.axis = 0;
  y = run1(op, {f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), i64({2, 3}, {1, 2, 0, 2, 0, 0})});
  EXPECT_EQ(y.shape, (Dims{2, 3}));
  EXPECT_EQ(values<float>(y), (F{4, 8, 3, 7, 2, 3}));
  op.axis = -1;  // negative indices too
  y = run1(op, {f32({2, 2}, {1, 2, 3, 4}), i64({2, 1}, {-1, -2})});
  EXPECT_EQ(values<float>(y), (F{2, 3}));
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({2, 2}), i64({2}, {0, 0})}), "same rank");
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({2, 2}), i64({3, 1}, {0, 0, 0})}), "larger");
}

}  // namespace
}  // namespace kiln::test
