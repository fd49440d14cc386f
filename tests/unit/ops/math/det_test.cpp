// Det: the reference kernel against hand-computed values and infer() errors.

#include <gtest/gtest.h>

#include "ops/multi_output_test_util.h"
#include "ops/math/det.h"

namespace kiln::test {
namespace {

using namespace ops;
using namespace multi_output;

TEST(DetReference, PivotsSingularAndBatches) {
  Det op;
  expect_near(vals<float>(run_ref(op, {f32({2, 2}, {0, 1, 2, 3})}, 1)[0]), {-2});
  // Needs a row exchange (zero pivot); a singular matrix; a batch.
  expect_near(vals<float>(run_ref(op, {f32({3, 3}, {0, 1, 2, 1, 0, 3, 4, -3, 8})}, 1)[0]), {-2});
  auto y = run_ref(op, {f32({3, 2, 2}, {1, 2, 3, 4, 1, 2, 2, 4, 2, 0, 0, 3})}, 1)[0];
  EXPECT_EQ(y.shape, (Dims{3}));
  expect_near(vals<float>(y), {-2, 0, 6});
  auto yd = run_ref(op, {make<double>(DType::Float64, {1, 1}, {-2.5})}, 1)[0];
  EXPECT_EQ(vals<double>(yd), (std::vector<double>{-2.5}));
}

TEST(DetInfer, Errors) {
  EXPECT_NE(infer_err(Det{}, {f32({2, 3})}).find("square"), std::string::npos);
  EXPECT_NE(infer_err(Det{}, {f32({3})}).find("[*, M, M]"), std::string::npos);
}

}  // namespace
}  // namespace kiln::test
