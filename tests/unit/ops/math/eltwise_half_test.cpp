// The float16 path of Binary Max/Min/Mod/FMod against numpy's float16 results.
#include <gmock/gmock.h>

#include "ops/literal_test_util.h"
#include "ops/math/eltwise.h"
#include "ops/tensor/shape.h"

namespace kiln::test {
namespace {

using namespace literal;
using ::testing::HasSubstr;

HostTensor H(Dims s, const std::vector<uint16_t>& bits) { return lit(DType::Float16, std::move(s), bits); }

TEST(EltwiseBinaryHalf, MaxMinModFModRoundToNearestEven) {
  auto bin = [](ops::BinaryKind k) {
    ops::Binary b;
    b.kind = k;
    return b;
  };
  auto half = [](std::vector<float> v) {
    std::vector<uint16_t> r;
    for (float f : v) r.push_back(ops::float_to_half(f));
    return r;
  };
  // a = [5, -4, 2050, -7.5, 3.25, -0.3], b = [3, 3, -0.3, 2, -1.5, 0.7] as float16 bits; the
  // expected bits are numpy's float16 np.mod / np.fmod (2050 mod -0.3 needs the rounding).
  HostTensor a = H({6}, {17664, 50176, 26625, 51072, 17024, 46285});
  HostTensor b = H({6}, {16896, 16896, 46285, 16384, 48640, 14746});
  EXPECT_EQ(vals<uint16_t>(ref_n(bin(ops::BinaryKind::Mod), {a, b}).at(0)),
            (std::vector<uint16_t>{16384, 16384, 45946, 14336, 48384, 13927}));
  EXPECT_EQ(vals<uint16_t>(ref_n(bin(ops::BinaryKind::FMod), {a, b}).at(0)),
            (std::vector<uint16_t>{16384, 48128, 11328, 48640, 13312, 46285}));
  // Broadcasting a scalar.
  HostTensor m = H({3}, half({1, -2, 3.5f})), s = H({}, half({0.5f}));
  auto mx = ref_n(bin(ops::BinaryKind::Max), {m, s}).at(0);
  EXPECT_EQ(mx.dtype, DType::Float16);
  EXPECT_EQ(vals<uint16_t>(mx), half({1, 0.5f, 3.5f}));
  EXPECT_EQ(vals<uint16_t>(ref_n(bin(ops::BinaryKind::Min), {m, s}).at(0)), half({0.5f, -2, 0.5f}));
  // Other kinds still refuse float16, and mixed types are still rejected.
  EXPECT_THAT(infer_err(bin(ops::BinaryKind::Add), {m, s}), HasSubstr("does not support"));
  EXPECT_THAT(infer_err(bin(ops::BinaryKind::Max), {m, F({}, {1})}), HasSubstr("same type"));
}


}  // namespace
}  // namespace kiln::test
