// IsNaN, IsInf and Sign: reference kernels, infer() errors and the importers.
#include <cmath>
#include <limits>
#include <map>
#include <string>

#include <gmock/gmock.h>

#include "ops/onnx_node_model.h"
#include "ops/math/eltwise.h"
#include "ops/math/is_nan_inf_sign.h"
#include "ops/literal_test_util.h"

namespace kiln::test {
namespace {

using namespace literal;
using ops::Act;
using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

TEST(IsNaNIsInfSign, ClassifiersAndSign) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const auto x = F({5}, {-1.2f, nan, inf, 2.8f, -inf});
  EXPECT_THAT(vals<uint8_t>(ref_n(ops::IsNaN{}, {x})[0]), ElementsAre(0, 1, 0, 0, 0));
  ops::IsInf inf_op;
  EXPECT_THAT(vals<uint8_t>(ref_n(inf_op, {x})[0]), ElementsAre(0, 0, 1, 0, 1));
  inf_op.detect_negative = false;
  EXPECT_THAT(vals<uint8_t>(ref_n(inf_op, {x})[0]), ElementsAre(0, 0, 1, 0, 0));
  inf_op.detect_negative = true;
  inf_op.detect_positive = false;
  EXPECT_THAT(vals<uint8_t>(ref_n(inf_op, {D({2}, {-INFINITY, INFINITY})})[0]), ElementsAre(1, 0));
  EXPECT_EQ(ref_n(ops::IsNaN{}, {x})[0].dtype, DType::Bool);

  auto s = vals<float>(ref_n(ops::Sign{}, {F({4}, {-3.f, 0.f, 2.5f, nan})})[0]);
  EXPECT_THAT(std::vector<float>(s.begin(), s.begin() + 3), ElementsAre(-1, 0, 1));
  EXPECT_TRUE(std::isnan(s[3]));
  EXPECT_THAT(vals<int32_t>(ref_n(ops::Sign{}, {I32({3}, {-7, 0, 9})})[0]), ElementsAre(-1, 0, 1));
  EXPECT_THAT(vals<uint8_t>(ref_n(ops::Sign{}, {lit(DType::UInt8, {2}, std::vector<uint8_t>{0, 200})})[0]),
              ElementsAre(0, 1));

  EXPECT_THAT(infer_err(ops::IsNaN{}, {I32({1}, {1})}), HasSubstr("float32 or float64"));
  EXPECT_THAT(infer_err(ops::Sign{}, {HostTensor(DType::Bool, {1})}), HasSubstr("Sign does not support"));
}

TEST(IsNaNIsInfSignImport, Nodes) {
  auto g = OnnxNodeModel("IsInf", {"x"}, {"y"}, 10).input("x", {3}).i("detect_positive", 0).import();
  auto* i = only_node(*g, "IsInf")->as<ops::IsInf>();
  EXPECT_FALSE(i->detect_positive);
  EXPECT_TRUE(i->detect_negative);
  EXPECT_EQ(only_node(*g, "IsInf")->outputs[0]->type.dtype, DType::Bool);
  g = OnnxNodeModel("Sign", {"x"}, {"y"}, 13).input("x", {3}).import();
  EXPECT_TRUE(only_node(*g, "Sign"));
}

}  // namespace
}  // namespace kiln::test
