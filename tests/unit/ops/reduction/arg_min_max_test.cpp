// ArgMax/ArgMin (ArgMinMax): the reference against hand-computed values (ties,
// select_last_index, NaN), infer() errors, and the importer.
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
#include "ops/reduction/arg_min_max.h"

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

template <class T>
std::vector<T> values(const HostTensor& h) {
  std::vector<T> v(static_cast<size_t>(h.elements()));
  std::memcpy(v.data(), h.bytes.data(), h.bytes.size());
  return v;
}

std::vector<HostTensor> run(const Op& op, std::vector<HostTensor> in) { return run_reference(op, in); }

ArgMinMax arg(bool max, int64_t axis, bool keep = true, bool last = false) {
  ArgMinMax a;
  a.max = max;
  a.axis = axis;
  a.keepdims = keep;
  a.select_last_index = last;
  return a;
}

TEST(ArgMinMaxReference, OnnxExamples) {
  auto x = flt({2, 2}, {2, 1, 3, 10});
  auto y = run(arg(true, 0), {x})[0];
  EXPECT_EQ(y.dtype, DType::Int64);
  EXPECT_EQ(y.shape, (Dims{1, 2}));
  EXPECT_EQ(values<int64_t>(y), (I{1, 1}));
  y = run(arg(true, 1, false), {x})[0];
  EXPECT_EQ(y.shape, (Dims{2}));
  EXPECT_EQ(values<int64_t>(y), (I{0, 1}));
  EXPECT_EQ(values<int64_t>(run(arg(false, -1), {x})[0]), (I{1, 0}));
  // Ties: first occurrence, or last with select_last_index.
  auto t = flt({2, 2}, {2, 2, 3, 10});
  EXPECT_EQ(values<int64_t>(run(arg(true, 1, true, false), {t})[0]), (I{0, 1}));
  EXPECT_EQ(values<int64_t>(run(arg(true, 1, true, true), {t})[0]), (I{1, 1}));
  auto m = flt({4}, {5, 1, 9, 1});
  EXPECT_EQ(values<int64_t>(run(arg(false, 0, false, true), {m})[0]), (I{3}));
  EXPECT_EQ(values<int64_t>(run(arg(false, 0, false, false), {m})[0]), (I{1}));
  // A middle axis of a 3-D tensor, integer input.
  auto i = tensor<int32_t>(DType::Int32, {2, 3, 2}, {0, 9, 5, 1, 4, 4, -1, -2, -3, 7, -1, 0});
  auto r = run(arg(true, 1, false), {i})[0];
  EXPECT_EQ(r.shape, (Dims{2, 2}));
  EXPECT_EQ(values<int64_t>(r), (I{1, 0, 0, 1}));
  EXPECT_EQ(values<int64_t>(run(arg(true, 1, false, true), {i})[0]), (I{1, 0, 2, 1}));
}

TEST(ArgMinMaxReference, NaNIsTheExtreme) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto x = flt({4}, {1, nan, 7, nan});
  EXPECT_EQ(values<int64_t>(run(arg(true, 0), {x})[0]), (I{1}));
  EXPECT_EQ(values<int64_t>(run(arg(false, 0), {x})[0]), (I{1}));
  EXPECT_EQ(values<int64_t>(run(arg(true, 0, true, true), {x})[0]), (I{3}));
}

TEST(ArgMinMaxReference, InferErrors) {
  EXPECT_NE(infer_error(arg(true, 2), {f32({2, 3})}).find("out of range"), std::string::npos);
  EXPECT_NE(infer_error(arg(true, 0), {f32({})}).find("rank"), std::string::npos);
  EXPECT_NE(infer_error(arg(true, 1), {f32({2, 0})}).find("size 0"), std::string::npos);
  EXPECT_NE(infer_error(arg(false, 0), {{DType::Bool, {2}}}).find("bool"), std::string::npos);
  EXPECT_EQ(infer_error(arg(false, -2), {f32({2, 3})}), "");
}

std::unique_ptr<ir::Graph> import(OnnxBuilder& b) { return onnx_import::import_onnx_bytes(b.bytes(), "s.onnx", {}); }

TEST(ArgMinMaxImport, ArgMaxArgMin) {
  OnnxBuilder b(12);
  b.input("x", {2, 2});
  auto& n = b.node("ArgMin", {"x"}, {"y"});
  OnnxBuilder::attr(n, "axis", int64_t{1});
  OnnxBuilder::attr(n, "keepdims", int64_t{0});
  OnnxBuilder::attr(n, "select_last_index", int64_t{1});
  b.output("y", {2}, onnx::TensorProto::INT64);
  auto g = import(b);
  auto* a = g->nodes()[0]->as<ArgMinMax>();
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->max);
  EXPECT_EQ(a->axis, 1);
  EXPECT_FALSE(a->keepdims);
  EXPECT_TRUE(a->select_last_index);
  auto out = evaluate(*g, {{"x", flt({2, 2}, {3, 3, 1, 2})}});
  EXPECT_EQ(values<int64_t>(out.at("y")), (I{1, 0}));

  OnnxBuilder d(7);
  d.input("x", {2, 2});
  d.node("ArgMax", {"x"}, {"y"});
  d.output("y", {1, 2}, onnx::TensorProto::INT64);
  auto gd = import(d);  // keep the graph alive while its node is inspected
  auto* m = gd->nodes()[0]->as<ArgMinMax>();
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->max);
  EXPECT_EQ(m->axis, 0);
  EXPECT_TRUE(m->keepdims);
}

}  // namespace
}  // namespace kiln::test
