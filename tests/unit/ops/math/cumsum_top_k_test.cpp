// CumSum and TopK: the reference against hand-computed values (ties, exclusive/reverse, run-time
// axis, NaN), infer() errors, and the importers' opset forms.
#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

#include "graph_eval_util.h"
#include "import/importer.h"
#include "kernel_test_util.h"
#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"
#include "onnx_builder_util.h"
#include "ops/math/cumsum_top_k.h"

namespace kiln::test {
namespace {

using namespace ops;
using I = std::vector<int64_t>;

template <class T>
HostTensor tensor(DType t, Dims s, const std::vector<T>& v) {
  HostTensor h(t, std::move(s));
  EXPECT_EQ(static_cast<size_t>(h.elements()), v.size());
  std::memcpy(h.bytes.data(), v.data(), v.size() * sizeof(T));
  return h;
}
HostTensor flt(Dims s, const std::vector<float>& v) { return tensor(DType::Float32, std::move(s), v); }
HostTensor dbl(Dims s, const std::vector<double>& v) { return tensor(DType::Float64, std::move(s), v); }

template <class T>
std::vector<T> values(const HostTensor& h) {
  std::vector<T> v(static_cast<size_t>(h.elements()));
  std::memcpy(v.data(), h.bytes.data(), h.bytes.size());
  return v;
}

std::vector<HostTensor> run(const Op& op, std::vector<HostTensor> in) { return run_reference(op, in); }
// ---- CumSum ----

CumSum cumsum(int64_t axis, bool exclusive = false, bool reverse = false) {
  CumSum c;
  c.axis = axis;
  c.exclusive = exclusive;
  c.reverse = reverse;
  return c;
}

TEST(CumSumReference, OnnxExamples) {
  auto x = dbl({5}, {1, 2, 3, 4, 5});
  EXPECT_EQ(values<double>(run(cumsum(0), {x})[0]), (std::vector<double>{1, 3, 6, 10, 15}));
  EXPECT_EQ(values<double>(run(cumsum(0, true), {x})[0]), (std::vector<double>{0, 1, 3, 6, 10}));
  EXPECT_EQ(values<double>(run(cumsum(0, false, true), {x})[0]), (std::vector<double>{15, 14, 12, 9, 5}));
  EXPECT_EQ(values<double>(run(cumsum(0, true, true), {x})[0]), (std::vector<double>{14, 12, 9, 5, 0}));
  auto m = dbl({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(values<double>(run(cumsum(0), {m})[0]), (std::vector<double>{1, 2, 3, 5, 7, 9}));
  EXPECT_EQ(values<double>(run(cumsum(1), {m})[0]), (std::vector<double>{1, 3, 6, 4, 9, 15}));
  EXPECT_EQ(values<double>(run(cumsum(-1), {m})[0]), (std::vector<double>{1, 3, 6, 4, 9, 15}));
  auto i = tensor<int64_t>(DType::Int64, {2, 2}, {1, -2, 3, 4});
  EXPECT_EQ(values<int64_t>(run(cumsum(0, false, true), {i})[0]), (I{4, 2, 3, 4}));
}

TEST(CumSumReference, RuntimeAxisInput) {
  auto m = flt({2, 3}, {1, 2, 3, 4, 5, 6});
  // The attribute is ignored when the axis comes as an input.
  auto y = run(cumsum(0), {m, tensor<int32_t>(DType::Int32, {}, {1})})[0];
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 3, 6, 4, 9, 15}));
  y = run(cumsum(1), {m, tensor<int64_t>(DType::Int64, {1}, {-2})})[0];
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 2, 3, 5, 7, 9}));
  // An out-of-range run-time axis throws instead of reading out of bounds.
  EXPECT_THROW(run(cumsum(0), {m, tensor<int64_t>(DType::Int64, {}, {2})}), Error);
}

TEST(CumSumReference, InferErrors) {
  EXPECT_NE(infer_error(cumsum(2), {f32({2, 3})}).find("out of range"), std::string::npos);
  EXPECT_NE(infer_error(cumsum(0), {f32({})}).find("rank"), std::string::npos);
  EXPECT_NE(infer_error(cumsum(0), {{DType::Int8, {2}}}).find("int8"), std::string::npos);
  EXPECT_NE(infer_error(cumsum(0), {f32({2}), f32({})}).find("int32 or int64"), std::string::npos);
  EXPECT_NE(infer_error(cumsum(0), {f32({2}), {DType::Int64, {2}}}).find("one element"), std::string::npos);
  // A run-time axis is checked at run time only; a constant one at compile time.
  EXPECT_EQ(infer_error(cumsum(9), {f32({2}), {DType::Int64, {}}}), "");
  std::vector<HostTensor> in{flt({2}, {1, 2}), tensor<int64_t>(DType::Int64, {}, {3})};
  in[1].constant = true;
  EXPECT_THROW(infer_outputs(cumsum(0), in), Error);
}

// ---- TopK ----

TopK topk(int64_t k, int64_t axis = -1, bool largest = true) {
  TopK t;
  t.k = k;
  t.axis = axis;
  t.largest = largest;
  return t;
}

TEST(TopKReference, OnnxExamples) {
  auto x = flt({3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  auto out = run(topk(3, 1), {x});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].shape, (Dims{3, 3}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{3, 2, 1, 7, 6, 5, 11, 10, 9}));
  EXPECT_EQ(out[1].dtype, DType::Int64);
  EXPECT_EQ(values<int64_t>(out[1]), (I{3, 2, 1, 3, 2, 1, 3, 2, 1}));
  auto s = flt({3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 11, 10, 9, 8});
  out = run(topk(3, 1, false), {s});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 1, 2, 4, 5, 6, 8, 9, 10}));
  EXPECT_EQ(values<int64_t>(out[1]), (I{0, 1, 2, 0, 1, 2, 3, 2, 1}));
}

TEST(TopKReference, OuterAxisTiesNaNAndZeroK) {
  // axis 0 of [3, 2]: each column separately.
  auto x = flt({3, 2}, {1, 6, 5, 2, 3, 4});
  auto out = run(topk(2, 0), {x});
  EXPECT_EQ(out[0].shape, (Dims{2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{5, 6, 3, 4}));
  EXPECT_EQ(values<int64_t>(out[1]), (I{1, 0, 2, 2}));
  // Equal values: lower index first, for largest and smallest alike.
  auto t = flt({5}, {2, 7, 2, 7, 2});
  EXPECT_EQ(values<int64_t>(run(topk(3), {t})[1]), (I{1, 3, 0}));
  EXPECT_EQ(values<int64_t>(run(topk(2, 0, false), {t})[1]), (I{0, 2}));
  // NaN sorts above every number.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto n = flt({3}, {1, nan, 3});
  EXPECT_EQ(values<int64_t>(run(topk(2), {n})[1]), (I{1, 2}));
  EXPECT_EQ(values<int64_t>(run(topk(2, 0, false), {n})[1]), (I{0, 2}));
  EXPECT_EQ(run(topk(0), {n})[0].shape, (Dims{0}));
  auto i = tensor<int64_t>(DType::Int64, {4}, {-5, 40, 3, 40});
  auto io = run(topk(2), {i});
  EXPECT_EQ(values<int64_t>(io[0]), (I{40, 40}));
  EXPECT_EQ(values<int64_t>(io[1]), (I{1, 3}));
}

TEST(TopKReference, InferErrors) {
  std::vector<HostTensor> x{flt({2, 3}, {1, 2, 3, 4, 5, 6})};
  EXPECT_THROW(infer_outputs(topk(4), x), Error);
  EXPECT_THROW(infer_outputs(topk(-1), x), Error);
  EXPECT_THROW(infer_outputs(topk(1, 2), x), Error);
  std::vector<HostTensor> scalar{flt({}, {1})};
  EXPECT_THROW(infer_outputs(topk(1, 0), scalar), Error);
  auto types = infer_outputs(topk(2, 0), x);
  ASSERT_EQ(types.size(), 2u);
  EXPECT_EQ(types[0].shape, (Dims{2, 3}));
  EXPECT_EQ(types[1].dtype, DType::Int64);
}

// ---- importers ----

std::unique_ptr<ir::Graph> import(OnnxBuilder& b) { return onnx_import::import_onnx_bytes(b.bytes(), "s.onnx", {}); }

TEST(CumSumImport, ConstantAndRuntimeAxis) {
  OnnxBuilder c(14);
  c.input("x", {2, 3});
  c.init_i64("axis", {}, {1});
  OnnxBuilder::attr(c.node("CumSum", {"x", "axis"}, {"y"}), "reverse", int64_t{1});
  c.output("y", {2, 3});
  auto g = import(c);
  auto* op = g->nodes()[0]->as<CumSum>();
  ASSERT_TRUE(op);
  EXPECT_EQ(op->axis, 1);
  EXPECT_TRUE(op->reverse);
  EXPECT_EQ(g->nodes()[0]->inputs.size(), 1u);
  EXPECT_EQ(values<float>(evaluate(*g, {{"x", flt({2, 3}, {1, 2, 3, 4, 5, 6})}}).at("y")),
            (std::vector<float>{6, 5, 3, 15, 11, 6}));

  OnnxBuilder r(11);
  r.input("x", {2, 3});
  r.input("axis", {}, onnx::TensorProto::INT32);
  r.node("CumSum", {"x", "axis"}, {"y"});
  r.output("y", {2, 3});
  auto gr = import(r);
  ASSERT_EQ(gr->nodes()[0]->inputs.size(), 2u);
  auto out = evaluate(*gr, {{"x", flt({2, 3}, {1, 2, 3, 4, 5, 6})}, {"axis", tensor<int32_t>(DType::Int32, {}, {0})}});
  EXPECT_EQ(values<float>(out.at("y")), (std::vector<float>{1, 2, 3, 5, 7, 9}));
}

TEST(TopKImport, AcrossOpsets) {
  OnnxBuilder a(9);
  a.input("x", {3, 4});
  auto& n9 = a.node("TopK", {"x"}, {"v", "i"});
  OnnxBuilder::attr(n9, "k", int64_t{2});
  a.output("v", {3, 2});
  a.output("i", {3, 2}, onnx::TensorProto::INT64);
  auto ga = import(a);  // keep the graph alive while its node is inspected
  auto* t9 = ga->nodes()[0]->as<TopK>();
  ASSERT_TRUE(t9);
  EXPECT_EQ(t9->k, 2);
  EXPECT_EQ(t9->axis, -1);

  OnnxBuilder b(11);
  b.input("x", {3, 4});
  b.init_i64("k", {1}, {3});
  auto& n11 = b.node("TopK", {"x", "k"}, {"v", "i"});
  OnnxBuilder::attr(n11, "axis", int64_t{1});
  OnnxBuilder::attr(n11, "largest", int64_t{0});
  b.output("v", {3, 3});
  b.output("i", {3, 3}, onnx::TensorProto::INT64);
  auto g = import(b);
  auto* t11 = g->nodes()[0]->as<TopK>();
  ASSERT_TRUE(t11);
  EXPECT_EQ(t11->k, 3);
  EXPECT_FALSE(t11->largest);
  auto out = evaluate(*g, {{"x", flt({3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 11, 10, 9, 8})}});
  EXPECT_EQ(values<int64_t>(out.at("i")), (I{0, 1, 2, 0, 1, 2, 3, 2, 1}));

}

// k known only at run time: the outputs' size along the axis is inferred per run.
TEST(TopKImport, RuntimeKThroughThePlan) {
  OnnxBuilder r(11);
  r.input("x", {3, 4});
  r.input("k", {1}, onnx::TensorProto::INT64);
  OnnxBuilder::attr(r.node("TopK", {"x", "k"}, {"v", "i"}), "axis", int64_t{1});
  r.output("v", {3, -1});
  r.output("i", {3, -1}, onnx::TensorProto::INT64);
  auto e = Engine::load_memory(compile_onnx_file(r.save("topk_rt_k.onnx"), {}).plan);
  auto ctx = e->create_context();
  auto x = flt({3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 11, 10, 9, 8});
  std::memcpy(ctx->input("x"), x.bytes.data(), x.bytes.size());
  auto run_k = [&](int64_t k) {
    std::memcpy(ctx->input("k"), &k, sizeof k);
    ctx->run();
    EXPECT_EQ(ctx->output_shape(0), (Dims{3, k}));
    EXPECT_EQ(ctx->output_shape(1), (Dims{3, k}));
    const auto* idx = static_cast<const int64_t*>(ctx->output(1));
    return I(idx, idx + 3 * k);
  };
  EXPECT_EQ(run_k(2), (I{3, 2, 3, 2, 0, 1}));
  EXPECT_EQ(run_k(1), (I{3, 3, 0}));
  EXPECT_THROW(run_k(5), Error);
  EXPECT_THROW(run_k(-1), Error);
  EXPECT_EQ(run_k(0), I{});
}

TEST(TopKReference, RuntimeKInfer) {
  std::vector<HostTensor> in{flt({2, 3}, {1, 2, 3, 4, 5, 6}), tensor<int64_t>(DType::Int64, {1}, {2})};
  ops::InferContext unknown({f32({2, 3}), {DType::Int64, {1}}}, {nullptr, nullptr}, 2);
  topk(1).infer(unknown);
  EXPECT_EQ(unknown.outputs()[0].shape, (Dims{2, -1}));
  in[1].constant = true;
  EXPECT_EQ(infer_outputs(topk(1), in)[1].shape, (Dims{2, 2}));
  auto out = run(topk(1), in);  // the input's k wins over the attribute
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{3, 2, 6, 5}));
  in[1] = tensor<int64_t>(DType::Int64, {1}, {-1});
  in[1].constant = true;
  EXPECT_THROW(infer_outputs(topk(1), in), Error);
  ops::InferContext bad({f32({2, 3}), {DType::Int32, {1}}}, {nullptr, nullptr}, 2);
  EXPECT_THROW(topk(1).infer(bad), Error);
}

}  // namespace
}  // namespace kiln::test
