// fold-qdq on a small QDQ CNN as ONNX Runtime's quantize_static writes one (s8 per-channel weights
// and int32 biases behind DequantizeLinear, a Q/DQ pair on every activation, the ReLUs folded into
// uint8 pairs with zero point 0, a residual Add and a max pooling): the pairs go, the model's
// scales land on the tensors, clipping pairs become Relus, and after the pipeline every conv is
// int8 at the model's own weight scales; through the plan and the int8 kernels the output stays
// within a few quantization steps of the reference kernels running the QDQ graph as ONNX defines
// it. Pairs that cannot fold stay and keep their values. A QOperator CNN (QLinearConv, uint8
// MaxPool) takes the same path, and a QLinearConv on a graph input keeps its exact kernel.
#include <cmath>
#include <cstring>
#include <random>

#include "fuse_test_util.h"
#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"

namespace kiln::test {
namespace {

void init_raw(OnnxBuilder& b, const std::string& name, std::vector<int64_t> dims, int type, const void* data,
              size_t bytes) {
  auto* t = b.model().mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(data, bytes);
}

template <class T>
void init_scalar(OnnxBuilder& b, const std::string& name, int type, T v) {
  init_raw(b, name, {}, type, &v, sizeof v);
}

// A Q/DQ pair on `x` with per-tensor parameters; returns the dequantized tensor's name.
std::string qdq(OnnxBuilder& b, const std::string& x, float scale, int type, int zp, std::string out = "") {
  if (out.empty()) out = x + ".dq";
  init_scalar(b, x + ".s", onnx::TensorProto::FLOAT, scale);
  if (type == onnx::TensorProto::UINT8) init_scalar(b, x + ".z", type, static_cast<uint8_t>(zp));
  else init_scalar(b, x + ".z", type, static_cast<int8_t>(zp));
  b.node("QuantizeLinear", {x, x + ".s", x + ".z"}, {x + ".q"});
  b.node("DequantizeLinear", {x + ".q", x + ".s", x + ".z"}, {out});
  return out;
}

struct QConv {
  std::vector<float> w_scale;
};

// A conv whose s8 weights (random levels) and int32 bias come through DequantizeLinear, as
// quantize_static writes them: bias scale = input scale * weight scale.
QConv conv(OnnxBuilder& b, const std::string& name, const std::string& x, float x_scale, int64_t cin, int64_t cout,
           int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> level(-127, 127), bias(-2000, 2000);
  std::uniform_real_distribution<float> sc(0.001f, 0.003f);
  QConv q;
  std::vector<int8_t> w(static_cast<size_t>(cout * cin * k * k));
  for (auto& v : w) v = static_cast<int8_t>(level(rng));
  std::vector<int8_t> wz(static_cast<size_t>(cout), 0);
  std::vector<int32_t> bq(static_cast<size_t>(cout));
  std::vector<float> bs;
  for (int64_t c = 0; c < cout; ++c) {
    q.w_scale.push_back(sc(rng));
    bs.push_back(x_scale * q.w_scale.back());
    bq[static_cast<size_t>(c)] = bias(rng);
  }
  std::vector<int32_t> bz(static_cast<size_t>(cout), 0);
  init_raw(b, name + ".wq", {cout, cin, k, k}, onnx::TensorProto::INT8, w.data(), w.size());
  init_raw(b, name + ".ws", {cout}, onnx::TensorProto::FLOAT, q.w_scale.data(), q.w_scale.size() * 4);
  init_raw(b, name + ".wz", {cout}, onnx::TensorProto::INT8, wz.data(), wz.size());
  init_raw(b, name + ".bq", {cout}, onnx::TensorProto::INT32, bq.data(), bq.size() * 4);
  init_raw(b, name + ".bs", {cout}, onnx::TensorProto::FLOAT, bs.data(), bs.size() * 4);
  init_raw(b, name + ".bz", {cout}, onnx::TensorProto::INT32, bz.data(), bz.size() * 4);
  auto& dw = b.node("DequantizeLinear", {name + ".wq", name + ".ws", name + ".wz"}, {name + ".w"});
  OnnxBuilder::attr(dw, "axis", int64_t{0});
  auto& db = b.node("DequantizeLinear", {name + ".bq", name + ".bs", name + ".bz"}, {name + ".b"});
  OnnxBuilder::attr(db, "axis", int64_t{0});
  auto& c = b.node("Conv", {x, name + ".w", name + ".b"}, {name}, name);
  OnnxBuilder::attr(c, "pads", std::vector<int64_t>{k / 2, k / 2, k / 2, k / 2});
  return q;
}

constexpr float kXs = 1.f / 127, kS1 = 3.f / 255, kS2 = 12.f / 255, kS3 = 6.f / 255, kS4 = 4.f / 255;

// x -> conv1 (ReLU as a uint8 pair) -> max pool -> conv2 + residual (asymmetric pair) -> ReLU
// pair -> conv3 -> pair at the graph output (stays).
OnnxBuilder qdq_cnn(std::vector<QConv>& convs) {
  OnnxBuilder b(13);
  b.input("x", {1, 8, 10, 10});
  const auto u8 = onnx::TensorProto::UINT8, s8 = onnx::TensorProto::INT8;
  convs.push_back(conv(b, "conv1", qdq(b, "x", kXs, s8, 0), kXs, 8, 16, 3, 1));
  const std::string r1 = qdq(b, "conv1", kS1, u8, 0);
  auto& mp = b.node("MaxPool", {r1}, {"pool"});
  OnnxBuilder::attr(mp, "kernel_shape", std::vector<int64_t>{2, 2});
  OnnxBuilder::attr(mp, "strides", std::vector<int64_t>{2, 2});
  const std::string p = qdq(b, "pool", kS1, u8, 0);
  convs.push_back(conv(b, "conv2", p, kS1, 16, 16, 3, 2));
  b.node("Add", {qdq(b, "conv2", kS2, u8, 128), p}, {"sum"});
  convs.push_back(conv(b, "conv3", qdq(b, "sum", kS3, u8, 0), kS3, 16, 8, 1, 3));
  qdq(b, "conv3", kS4, u8, 128, "y");
  b.output("y", {1, 8, 5, 5});
  return b;
}

const ir::Value* value(const ir::Graph& g, const std::string& name) {
  for (auto& v : g.values())
    if (v->name == name) return v.get();
  return nullptr;
}

TEST(FoldQdq, PairsFoldAndScalesLandOnTensors) {
  std::vector<QConv> convs;
  OnnxBuilder b = qdq_cnn(convs);
  auto g = import_model(b);
  for (passes::PassFn pass : {passes::fold_qdq, passes::dead_code})
    for (int rounds = 0; rounds < 8 && pass(*g); ++rounds) {
      g->compact();
      g->topo_sort();
      ir::verify(*g);
    }
  // Only the pair at the graph output is left.
  EXPECT_EQ(count_type(*g, "QuantizeLinear"), 1u) << ir::dump(*g);
  EXPECT_EQ(count_type(*g, "DequantizeLinear"), 1u) << ir::dump(*g);
  const ir::Value* x = value(*g, "x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->model_qtype, DType::Int8);
  EXPECT_EQ(x->model_quant.scale, std::vector<float>{kXs});
  EXPECT_EQ(x->model_quant.zero_point, 0);
  const ir::Value* c2 = value(*g, "conv2");
  ASSERT_NE(c2, nullptr);
  EXPECT_EQ(c2->model_qtype, DType::UInt8);
  EXPECT_EQ(c2->model_quant.zero_point, 128);
  // The uint8 zero-point-0 pairs after conv1 and after the Add clip at 0: Relus. The pair after the
  // pooling of a ReLU output does not need one.
  EXPECT_EQ(count_type(*g, "Unary"), 2u) << ir::dump(*g);
  for (auto& n : g->nodes()) {
    if (n->type() == "MaxPool") {
      ASSERT_NE(n->inputs[0]->producer, nullptr);
      EXPECT_EQ(n->inputs[0]->producer->type(), "Unary");
      EXPECT_EQ(n->inputs[0]->model_qtype, DType::UInt8);
      EXPECT_EQ(n->outputs[0]->model_quant.scale, std::vector<float>{kS1});
    }
    if (n->type() != "Conv") continue;
    const size_t i = static_cast<size_t>(n->name.back() - '1');
    ASSERT_LT(i, convs.size());
    const ir::Value* w = n->inputs[1];
    EXPECT_TRUE(w->is_constant() && w->type.dtype == DType::Float32) << n->name;
    EXPECT_EQ(w->model_qtype, DType::Int8) << n->name;
    EXPECT_EQ(w->model_quant.scale, convs[i].w_scale) << n->name;
    EXPECT_EQ(w->model_quant.axis, 0) << n->name;
    EXPECT_TRUE(n->inputs[2]->is_constant() && n->inputs[2]->type.dtype == DType::Float32) << n->name;
    EXPECT_NE(n->inputs[0]->model_qtype, DType::Undefined) << n->name;
  }
}

TEST(FoldQdq, PipelineRunsTheConvsInInt8AtTheModelsScales) {
  std::vector<QConv> convs;
  OnnxBuilder b = qdq_cnn(convs);
  auto g = import_model(b);
  PrecisionOptions none;  // no --int8: the model asks for int8 itself
  passes::PipelineOptions po;
  po.precision = &none;
  passes::run_pipeline(*g, po);
  size_t int8 = 0;
  for (auto& n : g->nodes()) {
    if (n->type() != "Conv") continue;
    EXPECT_TRUE(dtype_quantized(n->precision)) << n->name << "\n" << ir::dump(*g);
    int8 += dtype_quantized(n->precision);
    const ir::Value* w = n->inputs[1];
    EXPECT_EQ(w->type.dtype, DType::QInt8) << n->name;
    for (size_t i = 0; i < convs.size(); ++i)
      if (n->name == "conv" + std::to_string(i + 1)) {
        EXPECT_EQ(w->quant.scale, convs[i].w_scale) << n->name;
      }
  }
  EXPECT_EQ(int8, 3u) << ir::dump(*g);
  EXPECT_EQ(count_type(*g, "Unary"), 0u) << "the Relus fuse into the convs\n" << ir::dump(*g);
}

TEST(FoldQdq, PlanMatchesTheQdqGraphWithinQuantizationSteps) {
  std::vector<QConv> convs;
  OnnxBuilder b = qdq_cnn(convs);
  auto g = import_model(b);
  auto in = random_inputs(*g, 5);
  HostTensor want = evaluate(*g, in).at("y");  // the reference kernels on the QDQ graph

  const std::string path = b.save("qdq_cnn.onnx");
  auto e = Engine::load_memory(compile_onnx_file(path, {}).plan);
  size_t int8 = 0;
  for (auto& l : e->layers()) int8 += l.op == "Conv" && dtype_quantized(l.precision);
  EXPECT_EQ(int8, 3u);
  auto ctx = e->create_context();
  const HostTensor& x = in.at("x");
  std::memcpy(ctx->input("x"), x.bytes.data(), x.bytes.size());
  ctx->run();
  HostTensor y(DType::Float32, {1, 8, 5, 5});
  std::memcpy(y.bytes.data(), ctx->output(0), y.bytes.size());
  EXPECT_TRUE(all_close(y, want, 0, 4 * kS4));
  double err = 0, mag = 0;
  for (int64_t k = 0; k < y.elements(); ++k) {
    err += std::fabs(y.as<float>()[k] - want.as<float>()[k]);
    mag += std::fabs(want.as<float>()[k]);
  }
  EXPECT_LT(err / static_cast<double>(y.elements()), 1.0 * kS4);
  EXPECT_GT(mag / static_cast<double>(y.elements()), 4 * kS4) << "the test model's output is all but zero";

  // Without the pass the pairs run as ONNX defines them and the convs stay float.
  CompileOptions off;
  off.disable_passes = {"fold-qdq"};
  auto e_off = Engine::load_memory(compile_onnx_file(path, off).plan);
  for (auto& l : e_off->layers()) EXPECT_FALSE(dtype_quantized(l.precision)) << l.name;
  auto ctx_off = e_off->create_context();
  std::memcpy(ctx_off->input("x"), x.bytes.data(), x.bytes.size());
  ctx_off->run();
  std::memcpy(y.bytes.data(), ctx_off->output(0), y.bytes.size());
  EXPECT_TRUE(all_close(y, want, 1e-5, 1e-5));
}

// Transformer-style QDQ: a MatMul with per-column s8 weights (axis 1) and an int8 source.
TEST(FoldQdq, MatMulRunsInInt8AtTheModelsScales) {
  OnnxBuilder b(13);
  b.input("x", {2, 4, 16});
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> level(-127, 127);
  std::vector<int8_t> w(16 * 8), wz(8, 0);
  for (auto& v : w) v = static_cast<int8_t>(level(rng));
  std::vector<float> ws;
  for (int c = 0; c < 8; ++c) ws.push_back(0.01f + 0.001f * static_cast<float>(c));
  init_raw(b, "wq", {16, 8}, onnx::TensorProto::INT8, w.data(), w.size());
  init_raw(b, "ws", {8}, onnx::TensorProto::FLOAT, ws.data(), ws.size() * 4);
  init_raw(b, "wz", {8}, onnx::TensorProto::INT8, wz.data(), wz.size());
  auto& dw = b.node("DequantizeLinear", {"wq", "ws", "wz"}, {"w"});
  OnnxBuilder::attr(dw, "axis", int64_t{1});
  b.node("MatMul", {qdq(b, "x", 1.f / 127, onnx::TensorProto::INT8, 0), "w"}, {"mm"}, "mm");
  b.node("Tanh", {qdq(b, "mm", 0.05f, onnx::TensorProto::INT8, 0)}, {"y"});
  b.output("y", {2, 4, 8});
  auto g = import_model(b);
  auto in = random_inputs(*g, 2);
  const HostTensor want = evaluate(*g, in).at("y");
  PrecisionOptions none;
  passes::PipelineOptions po;
  po.precision = &none;
  passes::run_pipeline(*g, po);
  const ir::Node* mm = only_node(*g, "MatMul");
  ASSERT_NE(mm, nullptr);
  EXPECT_TRUE(dtype_quantized(mm->precision)) << ir::dump(*g);
  EXPECT_EQ(mm->inputs[1]->quant.scale, ws);
  EXPECT_EQ(mm->inputs[1]->quant.axis, 1);
  EXPECT_EQ(count_type(*g, "QuantizeLinear") + count_type(*g, "DequantizeLinear"), 0u) << ir::dump(*g);
  // The x pair's rounding is the int8 source's; the mm pair's (step 0.05) is not applied: 2 steps.
  auto e = Engine::load_memory(compile_onnx_file(b.save("qdq_matmul.onnx"), {}).plan);
  auto ctx = e->create_context();
  std::memcpy(ctx->input("x"), in.at("x").bytes.data(), in.at("x").bytes.size());
  ctx->run();
  HostTensor y(DType::Float32, {2, 4, 8});
  std::memcpy(y.bytes.data(), ctx->output(0), y.bytes.size());
  EXPECT_TRUE(all_close(y, want, 0, 0.1));
}

TEST(FoldQdq, MismatchedPairsStay) {
  OnnxBuilder b(13);
  b.input("x", {2, 6});
  init_scalar(b, "s1", onnx::TensorProto::FLOAT, 0.02f);
  init_scalar(b, "s2", onnx::TensorProto::FLOAT, 0.03f);
  init_scalar(b, "z", onnx::TensorProto::UINT8, uint8_t{10});
  b.node("QuantizeLinear", {"x", "s1", "z"}, {"q"});
  b.node("DequantizeLinear", {"q", "s2", "z"}, {"d"});
  b.node("Relu", {"d"}, {"y"});
  b.output("y", {2, 6});
  auto g = import_model(b);
  EXPECT_FALSE(run_and_compare(*g, passes::fold_qdq));
  EXPECT_EQ(count_type(*g, "QuantizeLinear"), 1u);
  EXPECT_FALSE(passes::has_model_quant(*g));
}

// ---- QOperator models ----

// QLinearConv `name` of x (scale xs, zero point xz) with random per-channel s8 weights and int32
// bias, output uint8 at (ys, yz); returns the weight scales.
std::vector<float> qlinear_conv(OnnxBuilder& b, const std::string& name, const std::string& x, int x_type, float xs,
                                int xz, int64_t cin, int64_t cout, float ys, int yz, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> level(-127, 127), bias(-20000, 20000);
  std::uniform_real_distribution<float> sc(0.001f, 0.003f);
  std::vector<int8_t> w(static_cast<size_t>(cout * cin * 9)), wz(static_cast<size_t>(cout), 0);
  for (auto& v : w) v = static_cast<int8_t>(level(rng));
  std::vector<float> ws;
  std::vector<int32_t> bq;
  for (int64_t c = 0; c < cout; ++c) {
    ws.push_back(sc(rng));
    bq.push_back(bias(rng));
  }
  init_scalar(b, name + ".xs", onnx::TensorProto::FLOAT, xs);
  if (x_type == onnx::TensorProto::UINT8) init_scalar(b, name + ".xz", x_type, static_cast<uint8_t>(xz));
  else init_scalar(b, name + ".xz", x_type, static_cast<int8_t>(xz));
  init_raw(b, name + ".w", {cout, cin, 3, 3}, onnx::TensorProto::INT8, w.data(), w.size());
  init_raw(b, name + ".ws", {cout}, onnx::TensorProto::FLOAT, ws.data(), ws.size() * 4);
  init_raw(b, name + ".wz", {cout}, onnx::TensorProto::INT8, wz.data(), wz.size());
  init_scalar(b, name + ".ys", onnx::TensorProto::FLOAT, ys);
  init_scalar(b, name + ".yz", onnx::TensorProto::UINT8, static_cast<uint8_t>(yz));
  init_raw(b, name + ".b", {cout}, onnx::TensorProto::INT32, bq.data(), bq.size() * 4);
  auto& c = b.node("QLinearConv", {x, name + ".xs", name + ".xz", name + ".w", name + ".ws", name + ".wz",
                                   name + ".ys", name + ".yz", name + ".b"}, {name}, name);
  OnnxBuilder::attr(c, "pads", std::vector<int64_t>{1, 1, 1, 1});
  return ws;
}

// x -> QuantizeLinear (s8) -> QLinearConv (ReLU: uint8 zero point 0) -> MaxPool on uint8 ->
// QLinearConv (uint8, zero point 128) -> DequantizeLinear -> y, as quantize_static's QOperator
// format writes a CNN.
OnnxBuilder qoperator_cnn(std::vector<std::vector<float>>& w_scales) {
  OnnxBuilder b(13);
  b.input("x", {1, 8, 10, 10});
  const auto u8 = onnx::TensorProto::UINT8, s8 = onnx::TensorProto::INT8;
  init_scalar(b, "x.s", onnx::TensorProto::FLOAT, kXs);
  init_scalar(b, "x.z", s8, int8_t{0});
  b.node("QuantizeLinear", {"x", "x.s", "x.z"}, {"xq"});
  w_scales.push_back(qlinear_conv(b, "conv1", "xq", s8, kXs, 0, 8, 16, kS1, 0, 1));
  auto& mp = b.node("MaxPool", {"conv1"}, {"pool"});
  OnnxBuilder::attr(mp, "kernel_shape", std::vector<int64_t>{2, 2});
  OnnxBuilder::attr(mp, "strides", std::vector<int64_t>{2, 2});
  w_scales.push_back(qlinear_conv(b, "conv2", "pool", u8, kS1, 0, 16, 8, kS2, 128, 2));
  init_scalar(b, "y.s", onnx::TensorProto::FLOAT, kS2);
  init_scalar(b, "y.z", u8, uint8_t{128});
  b.node("DequantizeLinear", {"conv2", "y.s", "y.z"}, {"y"});
  b.output("y", {1, 8, 5, 5});
  return b;
}

TEST(FoldQdq, QOperatorModelRunsOnTheQdqPath) {
  std::vector<std::vector<float>> w_scales;
  OnnxBuilder b = qoperator_cnn(w_scales);
  auto g = import_model(b);
  auto in = random_inputs(*g, 4);
  HostTensor want = evaluate(*g, in).at("y");  // the QLinearConv reference kernels
  PrecisionOptions none;
  passes::PipelineOptions po;
  po.precision = &none;
  passes::run_pipeline(*g, po);
  EXPECT_EQ(count_type(*g, "QLinearConv"), 0u) << ir::dump(*g);
  size_t int8 = 0;
  for (auto& n : g->nodes()) {
    if (n->type() != "Conv") continue;
    ++int8;
    EXPECT_TRUE(dtype_quantized(n->precision)) << n->name << "\n" << ir::dump(*g);
    EXPECT_EQ(n->inputs[1]->quant.scale, w_scales.at(n->name.rfind("conv2", 0) == 0 ? 1 : 0)) << n->name;
  }
  EXPECT_EQ(int8, 2u) << ir::dump(*g);

  auto e = Engine::load_memory(compile_onnx_file(b.save("qoperator_cnn.onnx"), {}).plan);
  auto ctx = e->create_context();
  std::memcpy(ctx->input("x"), in.at("x").bytes.data(), in.at("x").bytes.size());
  ctx->run();
  HostTensor y(DType::Float32, {1, 8, 5, 5});
  std::memcpy(y.bytes.data(), ctx->output(0), y.bytes.size());
  // conv2's output (zero point 128) runs as symmetric int8 over the same range: up to twice the
  // step, plus rounding on the way.
  EXPECT_TRUE(all_close(y, want, 0, 4 * kS2));
  double err = 0, mag = 0;
  for (int64_t k = 0; k < y.elements(); ++k) {
    err += std::fabs(y.as<float>()[k] - want.as<float>()[k]);
    mag += std::fabs(want.as<float>()[k]);
  }
  EXPECT_LT(err / static_cast<double>(y.elements()), 1.0 * kS2);
  EXPECT_GT(mag / static_cast<double>(y.elements()), 4 * kS2) << "the test model's output is all but zero";
}

// A QLinearConv reading a graph input (a model of the op alone) keeps its exact kernel.
TEST(FoldQdq, QLinearConvOnAGraphInputStays) {
  OnnxBuilder b(13);
  b.input("x", {1, 4, 6, 6}, onnx::TensorProto::UINT8);
  qlinear_conv(b, "c", "x", onnx::TensorProto::UINT8, 0.02f, 3, 4, 4, 0.05f, 7, 5);
  b.output("c", {1, 4, 6, 6}, onnx::TensorProto::UINT8);
  auto g = import_model(b);
  EXPECT_FALSE(run_and_compare(*g, passes::fold_qdq));
  EXPECT_EQ(count_type(*g, "QLinearConv"), 1u);
}

}  // namespace
}  // namespace kiln::test
