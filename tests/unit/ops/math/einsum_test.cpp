// Einsum: the equation forms of onnx's backend cases and numpy's implicit mode, diagonals,
// ellipsis broadcasting, integer types, against hand-computed values; parse/infer errors; the
// importer.
#include <gmock/gmock.h>

#include "ops/onnx_node_model.h"
#include "ops/math/einsum.h"
#include "ops/literal_test_util.h"

namespace kiln::test {
namespace {

using namespace literal;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pointwise;

ops::Einsum eq(const std::string& e) {
  ops::Einsum op;
  op.equation = e;
  return op;
}

HostTensor iota_d(Dims s) {
  HostTensor h(DType::Float64, std::move(s));
  for (int64_t i = 0; i < h.elements(); ++i) h.as<double>()[i] = static_cast<double>(i + 1);
  return h;
}

TEST(Einsum, SingleOperandForms) {
  auto y = ref_n(eq("ij->ji"), {iota_d({2, 3})})[0];
  EXPECT_EQ(y.shape, (Dims{3, 2}));
  EXPECT_THAT(vals<double>(y), ElementsAre(1, 4, 2, 5, 3, 6));
  EXPECT_THAT(vals<double>(ref_n(eq("ij->i"), {iota_d({2, 3})})[0]), ElementsAre(6, 15));
  // Spaces are ignored; repeated labels take the diagonal of each batch.
  y = ref_n(eq("...ii ->...i"), {iota_d({2, 3, 3})})[0];
  EXPECT_EQ(y.shape, (Dims{2, 3}));
  EXPECT_THAT(vals<double>(y), ElementsAre(1, 5, 9, 10, 14, 18));
  // Implicit output: labels used once, in ASCII order; a trace sums to a scalar.
  EXPECT_THAT(vals<double>(ref_n(eq("ba"), {iota_d({2, 3})})[0]), ElementsAre(1, 4, 2, 5, 3, 6));
  y = ref_n(eq("ii"), {iota_d({3, 3})})[0];
  EXPECT_TRUE(y.shape.empty());
  EXPECT_THAT(vals<double>(y), ElementsAre(15));
  // A summed-away ellipsis.
  EXPECT_THAT(vals<double>(ref_n(eq("...j->j"), {iota_d({2, 2, 2})})[0]), ElementsAre(16, 20));
}

TEST(Einsum, TwoOperandForms) {
  EXPECT_THAT(vals<double>(ref_n(eq("i,i"), {D({3}, {1, 2, 3}), D({3}, {4, 5, 6})})[0]), ElementsAre(32));
  // Batched matmul: b=2 of [1x2] @ [2x2].
  auto y = ref_n(eq("bij, bjk -> bik"), {iota_d({2, 1, 2}), iota_d({2, 2, 2})})[0];
  EXPECT_EQ(y.shape, (Dims{2, 1, 2}));
  // [1 2] @ [[1 2] [3 4]] = [7 10]; [3 4] @ [[5 6] [7 8]] = [43 50].
  EXPECT_THAT(vals<double>(y), ElementsAre(7, 10, 43, 50));
  // Implicit matmul and an outer product.
  EXPECT_THAT(vals<double>(ref_n(eq("ij,jk"), {iota_d({1, 2}), iota_d({2, 2})})[0]), ElementsAre(7, 10));
  EXPECT_THAT(vals<double>(ref_n(eq("i,j->ij"), {D({2}, {1, 2}), D({2}, {3, 4})})[0]), ElementsAre(3, 4, 6, 8));
  // Ellipsis broadcasting: [2, 3] . [3] row-wise, and a size-1 batch dim broadcast.
  EXPECT_THAT(vals<double>(ref_n(eq("...i,...i->..."), {iota_d({2, 3}), D({3}, {1, 0, -1})})[0]),
              ElementsAre(-2, -2));
  y = ref_n(eq("...ij,...jk->...ik"), {iota_d({1, 1, 2}), iota_d({2, 2, 2})})[0];
  EXPECT_EQ(y.shape, (Dims{2, 1, 2}));
  EXPECT_THAT(vals<double>(y), ElementsAre(7, 10, 19, 22));
  // Three operands and int64.
  EXPECT_THAT(vals<int64_t>(ref_n(eq("i,i,i->"), {I64({2}, {1, 2}), I64({2}, {3, 4}), I64({2}, {5, 6})})[0]),
              ElementsAre(63));
  // float32 accumulates in double.
  EXPECT_THAT(vals<float>(ref_n(eq("ij->"), {F({1, 3}, {1e8f, 1.f, -1e8f})})[0]), ElementsAre(1.f));
}

TEST(Einsum, RejectsBadEquations) {
  const auto x = iota_d({2, 3});
  EXPECT_THAT(infer_err(eq("ij,jk->ik"), {x}), HasSubstr("2 operand terms"));
  EXPECT_THAT(infer_err(eq("ijk"), {x}), HasSubstr("rank 2"));
  EXPECT_THAT(infer_err(eq("ij->k"), {x}), HasSubstr("does not appear"));
  EXPECT_THAT(infer_err(eq("ij->ii"), {x}), HasSubstr("twice"));
  EXPECT_THAT(infer_err(eq("i1"), {x}), HasSubstr("invalid character"));
  EXPECT_THAT(infer_err(eq("ij->j->i"), {x}), HasSubstr("more than one"));
  EXPECT_THAT(infer_err(eq("i..j"), {x}), HasSubstr("stray"));
  EXPECT_THAT(infer_err(eq("ii"), {x}), HasSubstr("size 3 but the same label has size 2"));
  EXPECT_THAT(infer_err(eq("ij,ij"), {x, F({2, 3}, std::vector<float>(6))}), HasSubstr("input 1 is float32"));
  EXPECT_THAT(infer_err(eq("ij"), {HostTensor(DType::Bool, {2, 3})}), HasSubstr("supports"));
}

TEST(EinsumOnednn, MatmulFormsMatchReference) {
  struct Case {
    std::string eq;
    Dims a, b;
  };
  const Case cases[] = {
      {"bij,bjk->bik", {3, 5, 7}, {3, 7, 4}},           // canonical batched matmul
      {"bhqd,bhkd->bhqk", {2, 3, 5, 8}, {2, 3, 6, 8}},  // attention scores: B transposed in place
      {"ij,jk->ik", {17, 9}, {9, 13}},
      {"ji,jk->ik", {9, 17}, {9, 13}},        // A transposed in place
      {"ik,kj->ji", {4, 6}, {6, 5}},          // output order needs a copy
      {"abc,cd->abd", {2, 3, 5}, {5, 7}},     // M spans two labels
      {"ijk,jil->kl", {3, 4, 5}, {4, 3, 6}},  // K spans two labels; B packed
      {"i,i", {33}, {33}},                    // inner product
      {"i,j->ij", {5}, {6}},                  // outer product (K empty)
      {"...ij,...jk->...ik", {2, 2, 3, 4}, {2, 2, 4, 5}},
      {"...i,...i->...", {6, 7}, {7}},  // the ellipsis only in A: an M group
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.eq);
    for (bool konst : {false, true})
      expect_kernel_n(
          eq(c.eq), "onednn",
          {random_tensor(DType::Float32, c.a, 1), random_tensor(DType::Float32, c.b, 2, -1, 1, konst)}, 1, 1e-4,
          1e-5);
  }
}

TEST(EinsumOnednn, DeclinesNonMatmulForms) {
  std::vector<HostTensor> out;
  auto r = [](Dims s) { return random_tensor(DType::Float32, std::move(s), 3); };
  EXPECT_FALSE(kernel_n(eq("ii,i->i"), "onednn", {r({3, 3}), r({3})}, 1, out));  // diagonal
  EXPECT_FALSE(kernel_n(eq("ij,k->k"), "onednn", {r({3, 4}), r({5})}, 1, out));  // summed in A alone
  EXPECT_FALSE(
      kernel_n(eq("...ij,...jk->...ik"), "onednn", {r({1, 2, 3}), r({2, 3, 4})}, 1, out));  // broadcast
  EXPECT_FALSE(kernel_n(eq("ij->ji"), "onednn", {r({3, 4})}, 1, out));                      // one operand
  EXPECT_FALSE(kernel_n(eq("ij,jk->ik"), "onednn",
                        {random_tensor(DType::Float64, {2, 3}, 1), random_tensor(DType::Float64, {3, 2}, 1)}, 1,
                        out));
}

TEST(Einsum, Import) {
  auto g = OnnxNodeModel("Einsum", {"a", "b"}, {"y"}, 12)
               .input("a", {2, 3})
               .input("b", {3, 4})
               .s("equation", "ij,jk->ik")
               .import();
  ir::Node* n = only_node(*g, "Einsum");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->as<ops::Einsum>()->equation, "ij,jk->ik");
  EXPECT_EQ(n->outputs[0]->type.shape, (Dims{2, 4}));
}

}  // namespace
}  // namespace kiln::test
