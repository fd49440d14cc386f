// float16 models (compiler/import/float16.cpp): kiln computes them in float32. A float16
// Conv+Relu+Mul+Resize model with Cast nodes, as fp16 converters write it, must give the float32
// model's output rounded to float16 (relative error <= 2^-11 < 1e-3: half's 11-bit significand),
// keep its float16 inputs and outputs by name, pass ir::verify, and mark its widened weights as
// storable in float16.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "graph_eval_util.h"
#include "import/importer.h"
#include "onnx_builder_util.h"
#include "ops/tensor/shape.h"

namespace kiln::test {
namespace {

using onnx_import::import_onnx;
constexpr int kF16 = onnx::TensorProto::FLOAT16;
constexpr int kF32 = onnx::TensorProto::FLOAT;

// Random values in [-1, 1] that are exact halves, so float16 and float32 models hold the same weights.
std::vector<float> half_exact(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = ops::half_to_float(ops::float_to_half(u(rng)));
  return v;
}

std::vector<uint16_t> to_half(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = ops::float_to_half(v[i]);
  return h;
}

// A float16 tensor in raw_data, or (int32_data = true) one element per int32_data entry.
void set_half(onnx::TensorProto& t, const std::string& name, std::vector<int64_t> dims,
              const std::vector<float>& v, bool int32_data) {
  t.set_name(name);
  t.set_data_type(kF16);
  for (int64_t d : dims) t.add_dims(d);
  auto h = to_half(v);
  if (int32_data)
    for (uint16_t b : h) t.add_int32_data(b);
  else
    t.set_raw_data(std::string(reinterpret_cast<const char*>(h.data()), h.size() * 2));
}

void init_half(OnnxBuilder& b, const std::string& name, std::vector<int64_t> dims, const std::vector<float>& v,
               bool int32_data = false) {
  set_half(*b.model().mutable_graph()->add_initializer(), name, std::move(dims), v, int32_data);
}

void attr_tensor(onnx::NodeProto& n, const std::string& name, const onnx::TensorProto& t) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::TENSOR);
  *a->mutable_t() = t;
}

void value_info(OnnxBuilder& b, const std::string& name, int elem_type) {
  auto* vi = b.model().mutable_graph()->add_value_info();
  vi->set_name(name);
  vi->mutable_type()->mutable_tensor_type()->set_elem_type(elem_type);
}

const std::vector<float> kW = half_exact(4 * 3 * 3 * 3, 7), kB = half_exact(4, 8);
const float kScale = 0.75f;  // the Constant multiplier: exact in half

// x -> Conv(w, b) -> Relu -> Mul(Constant k) -> [Cast to float] -> Resize(nearest, x2)
//   -> [Cast to float16] -> y. The float16 model is what onnxconverter-common's float16
// conversion writes around ops it keeps in float32 (Resize here); the float32 model has the same
// weights and no Casts.
OnnxBuilder resize_model(bool f16) {
  const int t = f16 ? kF16 : kF32;
  OnnxBuilder b;
  b.input("x", {1, 3, 8, 8}, t);
  if (f16) {
    init_half(b, "w", {4, 3, 3, 3}, kW);
    init_half(b, "b", {4}, kB, /*int32_data=*/true);
  } else {
    b.init("w", {4, 3, 3, 3}, kW);
    b.init("b", {4}, kB);
  }
  b.init("scales", {4}, {1.f, 1.f, 2.f, 2.f});
  auto& conv = b.node("Conv", {"x", "w", "b"}, {"c"}, "conv1");
  OnnxBuilder::attr(conv, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c"}, {"r"}, "relu1");
  auto& k = b.node("Constant", {}, {"k"}, "k");
  onnx::TensorProto kt;
  if (f16) {
    set_half(kt, "k_value", {}, {kScale}, false);
  } else {
    kt.set_data_type(kF32);
    kt.add_float_data(kScale);
  }
  attr_tensor(k, "value", kt);
  b.node("Mul", {"r", "k"}, {"m"}, "mul1");
  std::string resize_in = "m";
  if (f16) {
    OnnxBuilder::attr(b.node("Cast", {"m"}, {"m32"}, "cast_to_fp32"), "to", int64_t{kF32});
    resize_in = "m32";
  }
  auto& rs = b.node("Resize", {resize_in, "", "scales"}, {f16 ? "s32" : "y"}, "resize1");
  auto* mode = rs.add_attribute();
  mode->set_name("mode");
  mode->set_type(onnx::AttributeProto::STRING);
  mode->set_s("nearest");
  if (f16) {
    OnnxBuilder::attr(b.node("Cast", {"s32"}, {"y"}, "cast_to_fp16"), "to", int64_t{kF16});
    value_info(b, "c", kF16);
    value_info(b, "m32", kF32);
  }
  b.output("y", {1, 4, 16, 16}, t);
  return b;
}

std::vector<float> as_floats(const HostTensor& t) {
  std::vector<float> v(static_cast<size_t>(t.elements()));
  if (t.dtype == DType::Float16)
    for (size_t i = 0; i < v.size(); ++i) v[i] = ops::half_to_float(reinterpret_cast<const uint16_t*>(t.bytes.data())[i]);
  else
    std::memcpy(v.data(), t.bytes.data(), v.size() * 4);
  return v;
}

const ir::Value* find_value(const ir::Graph& g, const std::string& name) {
  for (auto& v : g.values())
    if (v->name == name) return v.get();
  return nullptr;
}

TEST(ImportFloat16, ConvReluResizeWithCastsMatchesTheFloat32Model) {
  std::vector<std::string> warnings;
  onnx_import::ImportOptions o;
  o.warnings = &warnings;
  auto g16 = import_onnx(resize_model(true).save("fp16_resize.onnx"), o);
  auto g32 = import_onnx(resize_model(false).save("fp32_resize.onnx"), {});
  ASSERT_NO_THROW(ir::verify(*g16));

  // The boundary keeps float16 under the model's names; nothing inside is float16.
  ASSERT_EQ(g16->inputs.size(), 1u);
  ASSERT_EQ(g16->outputs.size(), 1u);
  EXPECT_EQ(g16->inputs[0].name, "x");
  EXPECT_EQ(g16->inputs[0].value->type.dtype, DType::Float16);
  EXPECT_EQ(g16->outputs[0].name, "y");
  EXPECT_EQ(g16->outputs[0].value->type.dtype, DType::Float16);
  EXPECT_EQ(g16->outputs[0].value->type.shape, (Dims{1, 4, 16, 16}));
  for (auto& n : g16->nodes())
    for (auto* v : n->outputs)
      if (v != g16->outputs[0].value) {
        EXPECT_NE(v->type.dtype, DType::Float16) << "'" << v->name << "' (from " << n->name << ") is float16";
      }

  // The float16 weights are float32 constants now, marked as storable in float16.
  for (const char* name : {"w", "b"}) {
    const ir::Value* v = find_value(*g16, name);
    ASSERT_NE(v, nullptr) << name;
    ASSERT_TRUE(v->is_constant()) << name;
    EXPECT_EQ(v->type.dtype, DType::Float32) << name;
    EXPECT_EQ(v->stored_dtype, DType::Float16) << name;
  }
  const ir::Value* w32 = find_value(*g32, "w");
  ASSERT_NE(w32, nullptr);
  EXPECT_EQ(w32->stored_dtype, DType::Undefined);

  int f16_warnings = 0;
  for (auto& w : warnings) f16_warnings += w.find("model declares float16 tensors") != std::string::npos;
  EXPECT_EQ(f16_warnings, 1) << ::testing::PrintToString(warnings);

  // Same input values: half-exact floats for the float32 model, their bits for the float16 one.
  auto xs = half_exact(3 * 8 * 8, 21);
  std::map<std::string, HostTensor> in32{{"x", host_tensor(DType::Float32, {1, 3, 8, 8}, xs)}};
  std::map<std::string, HostTensor> in16{{"x", host_tensor(DType::Float16, {1, 3, 8, 8}, to_half(xs))}};
  auto want = as_floats(evaluate(*g32, in32).at("y"));
  HostTensor got_t = evaluate(*g16, in16).at("y");
  ASSERT_EQ(got_t.dtype, DType::Float16);
  auto got = as_floats(got_t);
  ASSERT_EQ(got.size(), want.size());
  double worst = 0;
  int nonzero = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    nonzero += want[i] != 0;
    worst = std::max(worst, std::abs(double(got[i]) - want[i]) / std::max(std::abs(double(want[i])), 1e-3));
  }
  EXPECT_LE(worst, 1e-3) << "float16 model vs float32 model";
  EXPECT_GT(nonzero, 100) << "the test input should not be all zero after the Relu";
}

// Graph inputs and outputs: a float16 passthrough output stays the input itself; a float16 output
// that is also read inside the graph is still produced once, by the final Cast.
TEST(ImportFloat16, OutputsThatAreReadAgainAndPassthroughs) {
  OnnxBuilder b;
  b.input("x", {2, 3}, kF16);
  b.node("Relu", {"x"}, {"r"}, "relu");
  b.node("Add", {"r", "r"}, {"y"}, "add");
  b.output("r", {2, 3}, kF16);
  b.output("y", {2, 3}, kF16);
  b.output("x", {2, 3}, kF16);
  auto g = import_onnx(b.save("fp16_outputs.onnx"), {});
  ASSERT_NO_THROW(ir::verify(*g));
  ASSERT_EQ(g->outputs.size(), 3u);
  EXPECT_EQ(g->outputs[0].name, "r");
  EXPECT_EQ(g->outputs[2].value, g->inputs[0].value);
  for (auto& io : g->outputs) EXPECT_EQ(io.value->type.dtype, DType::Float16) << io.name;
  std::vector<uint16_t> x = to_half({-1.5f, 0.25f, 2.f, -0.f, 3.f, 65504.f});
  auto out = evaluate(*g, {{"x", host_tensor(DType::Float16, {2, 3}, x)}});
  EXPECT_EQ(as_floats(out.at("r")), (std::vector<float>{0.f, 0.25f, 2.f, 0.f, 3.f, 65504.f}));
  // 2 * 65504 overflows half: Inf, as a float16 Add would give.
  EXPECT_EQ(as_floats(out.at("y")), (std::vector<float>{0.f, 0.5f, 4.f, 0.f, 6.f, INFINITY}));
  EXPECT_EQ(as_floats(out.at("x")), as_floats(host_tensor(DType::Float16, {2, 3}, x)));
}

// Attributes that carry a dtype: ConstantOfShape's float16 value, EyeLike's dtype, Cast's to.
TEST(ImportFloat16, DtypeAttributesFollowTheLowering) {
  OnnxBuilder b;
  b.input("x", {3, 3}, kF32);
  b.init_i64("shape", {2}, {3, 3});
  auto& cos = b.node("ConstantOfShape", {"shape"}, {"half_fill"}, "fill");
  onnx::TensorProto v;
  set_half(v, "", {1}, {0.5f}, false);
  attr_tensor(cos, "value", v);
  auto& eye = b.node("EyeLike", {"x"}, {"eye"}, "eye");
  OnnxBuilder::attr(eye, "dtype", int64_t{kF16});
  OnnxBuilder::attr(b.node("Cast", {"x"}, {"x16"}, "to_half"), "to", int64_t{kF16});
  b.node("Add", {"x16", "half_fill"}, {"s"}, "add1");
  b.node("Add", {"s", "eye"}, {"y"}, "add2");
  b.output("y", {3, 3}, kF16);
  auto g = import_onnx(b.save("fp16_dtype_attrs.onnx"), {});
  ASSERT_NO_THROW(ir::verify(*g));
  EXPECT_EQ(g->inputs[0].value->type.dtype, DType::Float32);
  EXPECT_EQ(g->outputs[0].value->type.dtype, DType::Float16);
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  auto y = as_floats(evaluate(*g, {{"x", host_tensor(DType::Float32, {3, 3}, x)}}).at("y"));
  EXPECT_EQ(y, (std::vector<float>{2.5f, 2.5f, 3.5f, 4.5f, 6.5f, 6.5f, 7.5f, 8.5f, 10.5f}));
}

// A float16 weight in an external data file is widened too.
TEST(ImportFloat16, ExternalFloat16Initializer) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(temp_dir()) / "fp16_external";
  fs::create_directories(dir);
  auto w = half_exact(16, 3);
  auto h = to_half(w);
  std::ofstream(dir / "w.bin", std::ios::binary).write(reinterpret_cast<const char*>(h.data()), 32);
  OnnxBuilder b;
  b.input("x", {1, 4}, kF16);
  auto* t = b.model().mutable_graph()->add_initializer();
  t->set_name("w");
  t->set_data_type(kF16);
  t->add_dims(4);
  t->add_dims(4);
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* kv = t->add_external_data();
  kv->set_key("location");
  kv->set_value("w.bin");
  b.node("MatMul", {"x", "w"}, {"y"}, "mm");
  b.output("y", {1, 4}, kF16);
  std::string path = (dir / "model.onnx").string();
  std::ofstream(path, std::ios::binary) << b.bytes();
  auto g = import_onnx(path, {});
  const ir::Value* wv = find_value(*g, "w");
  ASSERT_NE(wv, nullptr);
  ASSERT_TRUE(wv->is_constant());
  EXPECT_EQ(wv->type.dtype, DType::Float32);
  EXPECT_EQ(wv->stored_dtype, DType::Float16);
  std::vector<float> got(16);
  std::memcpy(got.data(), wv->constant->data(), 64);
  EXPECT_EQ(got, w);
}

TEST(ImportFloat16, ShortFloat16DataIsReported) {
  OnnxBuilder b;
  b.input("x", {1, 4}, kF16);
  init_half(b, "w", {4, 4}, std::vector<float>(5, 1.f));
  b.node("MatMul", {"x", "w"}, {"y"}, "mm");
  b.output("y", {1, 4}, kF16);
  try {
    import_onnx(b.save("fp16_short.onnx"), {});
    FAIL() << "a float16 initializer with 5 of 16 values was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'w'"), std::string::npos) << e.what();
  }
}

TEST(ImportFloat16, Float32ModelsAreUntouched) {
  std::vector<std::string> warnings;
  onnx_import::ImportOptions o;
  o.warnings = &warnings;
  auto g = import_onnx(resize_model(false).save("fp32_resize_untouched.onnx"), o);
  for (auto& w : warnings) EXPECT_EQ(w.find("float16"), std::string::npos) << w;
  for (auto& n : g->nodes()) EXPECT_NE(n->type(), "Cast") << n->name;
}

}  // namespace
}  // namespace kiln::test
