// Plan round trip (compile -> bytes -> Engine -> run matches the reference evaluation of the
// imported graph), determinism, and the loader refusing damaged or foreign bytes cleanly.
#include <cmath>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "graph_eval_util.h"
#include "import/importer.h"
#include "kiln/compiler.hpp"
#include "kiln/plan_generated.h"
#include "kiln/runtime.hpp"
#include "onnx_builder_util.h"
#include "plan/plan_format.h"
#include "plan_edit_util.h"

namespace kiln::test {
namespace {

// Conv -> BN -> Relu -> Conv (+ residual) -> Relu -> GlobalAveragePool -> Flatten -> Gemm.
std::string small_cnn_path() {
  static std::string path = [] {
    OnnxBuilder b;
    b.input("x", {1, 3, 16, 16});
    b.init_random("w1", {8, 3, 3, 3}, 1);
    b.init_random("b1", {8}, 2);
    b.init("bn_s", {8}, {1.1f, 0.9f, 1.f, 1.2f, 0.8f, 1.f, 1.05f, 0.95f});
    b.init("bn_b", {8}, {0.1f, -0.1f, 0.f, 0.2f, 0.f, -0.2f, 0.05f, 0.f});
    b.init("bn_m", {8}, {0.f, 0.1f, -0.1f, 0.f, 0.2f, 0.f, 0.f, 0.1f});
    b.init("bn_v", {8}, {1.f, 0.5f, 2.f, 1.f, 1.5f, 1.f, 0.8f, 1.2f});
    b.init_random("w2", {8, 8, 3, 3}, 3);
    b.init_random("fc_w", {10, 8}, 4);
    b.init_random("fc_b", {10}, 5);
    auto& c1 = b.node("Conv", {"x", "w1", "b1"}, {"c1"}, "conv1");
    OnnxBuilder::attr(c1, "pads", std::vector<int64_t>{1, 1, 1, 1});
    b.node("BatchNormalization", {"c1", "bn_s", "bn_b", "bn_m", "bn_v"}, {"bn1"}, "bn1");
    b.node("Relu", {"bn1"}, {"r1"}, "relu1");
    auto& c2 = b.node("Conv", {"r1", "w2"}, {"c2"}, "conv2");
    OnnxBuilder::attr(c2, "pads", std::vector<int64_t>{1, 1, 1, 1});
    b.node("Add", {"c2", "r1"}, {"s"}, "add");
    b.node("Relu", {"s"}, {"r2"}, "relu2");
    b.node("GlobalAveragePool", {"r2"}, {"p"}, "gap");
    b.node("Flatten", {"p"}, {"f"}, "flatten");
    auto& fc = b.node("Gemm", {"f", "fc_w", "fc_b"}, {"logits"}, "fc");
    OnnxBuilder::attr(fc, "transB", int64_t{1});
    b.output("logits", {1, 10});
    return b.save("small_cnn.onnx");
  }();
  return path;
}

std::vector<uint8_t> compile_small_cnn() { return compile_onnx_file(small_cnn_path(), {}).plan; }

TEST(Plan, RoundTripMatchesReferenceEvaluation) {
  auto plan = compile_small_cnn();
  auto engine = Engine::load_memory(plan);
  ASSERT_EQ(engine->inputs().size(), 1u);
  EXPECT_EQ(engine->inputs()[0].name, "x");
  EXPECT_EQ(engine->outputs()[0].shape, (std::vector<int64_t>{1, 10}));
  // Fusion happened: BN folded, add+relu fused into conv2.
  EXPECT_LT(engine->layers().size(), 9u);

  auto g = onnx_import::import_onnx(small_cnn_path(), {});
  auto in = random_inputs(*g, 42);
  auto want = evaluate(*g, in);

  auto ctx = engine->create_context();
  std::memcpy(ctx->input(0), in["x"].bytes.data(), in["x"].bytes.size());
  ctx->run();
  HostTensor got(DType::Float32, {1, 10});
  std::memcpy(got.bytes.data(), ctx->output("logits"), got.bytes.size());
  EXPECT_TRUE(all_close(got, want["logits"], 1e-4, 1e-5));
  EXPECT_LE(engine->arena_bytes(), engine->activation_bytes() + 64 * 16);
}

TEST(Plan, WeightlessModelRoundTrips) {
  OnnxBuilder b;
  b.input("x", {2, 3});
  b.node("Relu", {"x"}, {"y"});
  b.output("y", {2, 3});
  auto engine = Engine::load_memory(compile_onnx_file(b.save("weightless.onnx"), {}).plan);
  auto ctx = engine->create_context();
  float x[6] = {-1, 2, -3, 4, -5, 6};
  std::memcpy(ctx->input(0), x, sizeof x);
  ctx->run();
  const float* y = static_cast<const float*>(ctx->output(0));
  EXPECT_EQ(y[0], 0.f);
  EXPECT_EQ(y[5], 6.f);
}

TEST(Plan, BuildsAreByteIdentical) {
  EXPECT_EQ(compile_small_cnn(), compile_small_cnn());
}

TEST(Plan, WeightsAreAligned) {
  auto plan = compile_small_cnn();
  const fb::Plan* p = fb::GetPlan(plan.data());
  ASSERT_TRUE(p->weights());
  EXPECT_EQ((p->weights()->data() - plan.data()) % plan::kWeightAlignment, 0);
}

std::string load_error(const std::vector<uint8_t>& bytes) {
  try {
    Engine::load_memory(bytes, "test.plan");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Plan, RejectsEmptyTruncatedAndForeignBytes) {
  auto plan = compile_small_cnn();
  EXPECT_NE(load_error({}).find("too small"), std::string::npos);
  for (size_t cut : {size_t(8), size_t(100), plan.size() / 2, plan.size() - 1}) {
    std::vector<uint8_t> t(plan.begin(), plan.begin() + static_cast<long>(cut));
    EXPECT_NE(load_error(t).find("test.plan"), std::string::npos) << "cut at " << cut;
  }
  std::vector<uint8_t> foreign(4096);
  std::mt19937 rng(3);
  for (auto& b : foreign) b = static_cast<uint8_t>(rng());
  EXPECT_NE(load_error(foreign).find("KILN"), std::string::npos);
  std::string onnx_bytes = OnnxBuilder().bytes();
  EXPECT_FALSE(load_error(std::vector<uint8_t>(onnx_bytes.begin(), onnx_bytes.end())).empty());
}

TEST(Plan, RejectsEveryBitFlipSample) {
  auto plan = compile_small_cnn();
  std::mt19937 rng(11);
  int rejected = 0;
  for (int i = 0; i < 300; ++i) {
    auto bad = plan;
    size_t pos = rng() % bad.size();
    bad[pos] ^= static_cast<uint8_t>(1u << (rng() % 8));
    std::string err = load_error(bad);
    // The checksum covers every byte, so every flip must be caught.
    EXPECT_FALSE(err.empty()) << "flip at " << pos << " was accepted";
    rejected += !err.empty();
  }
  EXPECT_EQ(rejected, 300);
}


TEST(Plan, RejectsOtherSchemaVersions) {
  auto plan = compile_small_cnn();
  std::string newer = load_error(resealed(plan, [](fb::Plan* p) { p->mutate_schema_version(plan::kSchemaVersion + 1); }));
  EXPECT_NE(newer.find("schema version"), std::string::npos) << newer;
  std::string older = load_error(resealed(plan, [](fb::Plan* p) { p->mutate_schema_version(0); }));
  EXPECT_NE(older.find("schema version"), std::string::npos) << older;
}

TEST(Plan, RejectsOutOfRangeIndicesAndOffsets) {
  auto plan = compile_small_cnn();
  std::string e1 = load_error(resealed(plan, [](fb::Plan* p) {
    p->mutable_layers()->GetMutableObject(0)->mutable_inputs()->Mutate(0, 100000);
  }));
  EXPECT_NE(e1.find("does not exist"), std::string::npos) << e1;
  std::string e2 = load_error(resealed(plan, [](fb::Plan* p) { p->mutate_arena_bytes(64); }));
  EXPECT_NE(e2.find("arena"), std::string::npos) << e2;
  std::string e3 = load_error(resealed(plan, [](fb::Plan* p) {
    for (flatbuffers::uoffset_t i = 0; i < p->tensors()->size(); ++i) {
      fb::Tensor* t = p->mutable_tensors()->GetMutableObject(i);
      if (t->kind() == fb::TensorKind::Constant) {
        t->mutate_offset(1ull << 40);
        break;
      }
    }
  }));
  EXPECT_NE(e3.find("outside the weights"), std::string::npos) << e3;
  std::string e4 = load_error(resealed(plan, [](fb::Plan* p) {
    auto* shape = p->mutable_tensors()->GetMutableObject(0)->mutable_shape();
    shape->Mutate(1, shape->Get(1) + 1);
  }));
  EXPECT_FALSE(e4.empty());
}

// Callers fill inputs once and run many times (kiln run's timing loop does): the arena must never
// reuse an input's bytes.
TEST(Plan, RepeatedRunsWithoutRefillingInputsAgree) {
  auto engine = Engine::load_memory(compile_small_cnn());
  auto ctx = engine->create_context();
  size_t n = engine->inputs()[0].bytes();
  std::vector<float> x(n / 4);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7) - 3.f;
  std::memcpy(ctx->input(0), x.data(), n);
  ctx->run();
  std::vector<float> first(10), second(10);
  std::memcpy(first.data(), ctx->output(0), 40);
  ctx->run();
  std::memcpy(second.data(), ctx->output(0), 40);
  EXPECT_EQ(first, second);
}

TEST(Plan, ContextsAreIndependent) {
  auto engine = Engine::load_memory(compile_small_cnn());
  auto a = engine->create_context();
  auto b = engine->create_context();
  size_t n = engine->inputs()[0].bytes();
  std::vector<float> x(n / 4, 0.5f), y(n / 4, -0.25f);
  std::memcpy(a->input(0), x.data(), n);
  std::memcpy(b->input(0), y.data(), n);
  a->run();
  b->run();
  std::vector<float> ra(10), rb(10);
  std::memcpy(ra.data(), a->output(0), 40);
  std::memcpy(rb.data(), b->output(0), 40);
  EXPECT_NE(ra, rb);
  std::memcpy(b->input(0), x.data(), n);
  b->run();
  std::memcpy(rb.data(), b->output(0), 40);
  EXPECT_EQ(ra, rb);
}

// An int8 plan (calibrated on random data): its layers record int8 and their scales, it computes
// the fp32 plan's answer within int8's error, and the loader refuses damaged quantization fields.
std::vector<uint8_t> compile_small_cnn_int8() {
  CompileOptions o;
  o.precision.int8 = true;
  o.calib_dir = "random";
  return compile_onnx_file(small_cnn_path(), o).plan;
}

std::vector<float> run_once(const std::vector<uint8_t>& plan, float fill) {
  auto engine = Engine::load_memory(plan);
  auto ctx = engine->create_context();
  const size_t n = engine->inputs()[0].bytes() / 4;
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = fill * std::sin(0.37f * static_cast<float>(i));
  std::memcpy(ctx->input(0), x.data(), n * 4);
  ctx->run();
  std::vector<float> y(10);
  std::memcpy(y.data(), ctx->output(0), 40);
  return y;
}

TEST(Plan, Int8PlanRecordsScalesAndMatchesFp32) {
  const auto plan = compile_small_cnn_int8();
  auto engine = Engine::load_memory(plan);
  size_t int8_layers = 0;
  for (const LayerInfo& l : engine->layers()) {
    if (!dtype_quantized(l.precision) || l.op == "Reorder") continue;
    ++int8_layers;
    bool weights = false;
    for (auto& q : l.quantized) weights |= !q.output && q.dtype == DType::QInt8 && q.axis == 0 && q.scale.size() > 1;
    EXPECT_TRUE(weights) << l.name << " has no per-channel weight scales";
  }
  EXPECT_GE(int8_layers, 2u);
  const auto want = run_once(compile_small_cnn(), 0.8f), got = run_once(plan, 0.8f);
  double d2 = 0, w2 = 0;
  for (size_t i = 0; i < want.size(); ++i) d2 += (got[i] - want[i]) * (got[i] - want[i]), w2 += want[i] * want[i];
  EXPECT_GT(d2, 0.0) << "bit-identical to fp32: nothing ran in int8";
  EXPECT_LT(std::sqrt(d2 / w2), 0.1);
}

TEST(Plan, RejectsDamagedQuantization) {
  const auto plan = compile_small_cnn_int8();
  // A weight: per-channel scales, axis 0 (stored; flatbuffers omits fields at their default, and
  // only stored fields can be mutated in place).
  auto first_quantized = [](fb::Plan* p) -> fb::Tensor* {
    for (flatbuffers::uoffset_t i = 0; i < p->tensors()->size(); ++i) {
      fb::Tensor* t = p->mutable_tensors()->GetMutableObject(i);
      if (t->quant_scale() && t->quant_scale()->size() > 1 && t->quant_axis() == 0) return t;
    }
    ADD_FAILURE() << "no per-channel quantized weight in the plan";
    return nullptr;
  };
  const std::string e1 = load_error(resealed(plan, [&](fb::Plan* p) {
    if (fb::Tensor* t = first_quantized(p)) t->mutable_quant_scale()->Mutate(0, -1.f);
  }));
  EXPECT_NE(e1.find("quantization scale"), std::string::npos) << e1;
  const std::string e2 = load_error(resealed(plan, [&](fb::Plan* p) {
    if (fb::Tensor* t = first_quantized(p)) t->mutate_dtype(fb::DType::Int8);
  }));
  EXPECT_NE(e2.find("not quantized"), std::string::npos) << e2;
  const std::string e3 = load_error(resealed(plan, [&](fb::Plan* p) {
    if (fb::Tensor* t = first_quantized(p)) t->mutate_quant_axis(7);
  }));
  EXPECT_NE(e3.find("scale per tensor or per channel"), std::string::npos) << e3;
  const std::string e4 = load_error(resealed(plan, [&](fb::Plan* p) {
    fb::Tensor* in = p->mutable_tensors()->GetMutableObject(static_cast<flatbuffers::uoffset_t>(p->inputs()->Get(0)));
    in->mutate_dtype(fb::DType::QUInt8);
  }));
  EXPECT_FALSE(e4.empty()) << "a quantized graph input was accepted";
}

}  // namespace
}  // namespace kiln::test
