// IfGuard, the run-time check left where an If branch could not be built (ops/controlflow/if_guard.h).
// The lowering of If, Loop and Scan itself is checked against ONNX Runtime's outputs by the
// conformance suites (tests/conformance/controlflow, the onnx backend cases).
#include "ops/controlflow/if_guard.h"

#include "ops/shape_test_util.h"

namespace kiln::test {
namespace {

using namespace kiln::ops;

HostTensor flag(bool b) { return make_tensor<uint8_t>(DType::Bool, {}, {static_cast<uint8_t>(b)}); }

TEST(IfGuard, PassesTheValueWhenTheConditionIsTheBuiltOne) {
  IfGuard g;
  g.expected = 1;
  g.message = "selected the else branch";
  auto y = run1(g, {flag(true), f32({2, 2}, {1, 2, 3, 4})});
  EXPECT_EQ(y.shape, (Dims{2, 2}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 2, 3, 4}));
  g.expected = 0;
  EXPECT_EQ(values<float>(run1(g, {flag(false), f32({1}, {7})})), (std::vector<float>{7}));
}

TEST(IfGuard, FailsTheRunWithItsMessageOtherwise) {
  IfGuard g;
  g.expected = 1;
  g.message = "node 'If_0' (If): the condition selected the else branch";
  try {
    run1(g, {flag(false), f32({1}, {7})});
    ADD_FAILURE() << "IfGuard let the other branch through";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("selected the else branch"), std::string::npos) << e.what();
  }
}

TEST(IfGuard, InferChecksTheCondition) {
  IfGuard g;
  const std::vector<HostTensor> float_cond{f32({1}, {1}), f32({1}, {1})};
  EXPECT_INFER_FAILS(g, float_cond, "bool");
  const std::vector<HostTensor> two_conds{make_tensor<uint8_t>(DType::Bool, {2}, {1, 0}), f32({1}, {1})};
  EXPECT_INFER_FAILS(g, two_conds, "one bool element");
}

}  // namespace
}  // namespace kiln::test
