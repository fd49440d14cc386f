// The run-time Loop (a Loop kiln cannot unroll: its trip count is a graph input): the body is a
// plan of its own inside the parent plan (schema v8, Layer.body), compiled by the whole pipeline
// and run per iteration. Checked here against a hand-written loop, with the hostile-plan and
// memory-limit paths; ONNX Runtime's outputs check more shapes of loops in
// tests/conformance/controlflow (test_loop_runtime_*).
#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "kiln/compiler.hpp"
#include "kiln/plan_generated.h"
#include "kiln/runtime.hpp"
#include "onnx_builder_util.h"
#include "ops/controlflow/loop.h"
#include "plan_edit_util.h"

namespace kiln::test {
namespace {

void value_info(onnx::ValueInfoProto* vi, const std::string& name, int elem, std::vector<int64_t> dims) {
  vi->set_name(name);
  auto* t = vi->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem);
  auto* s = t->mutable_shape();
  for (int64_t d : dims) s->add_dim()->set_dim_value(d);
}

const std::vector<float> kW = {0.5f, -0.25f, 0.1f, 0.2f, 0.3f, -0.4f, -0.1f, 0.6f, 0.05f};

// h = Relu(h @ W + x) for M iterations (M a graph input), with every h also a scan output. The
// body reads x (a graph input of the parent: an extra input of the Loop layer) and W (an outer
// initializer: copied into the body, where MatMul + Add + Relu may fuse onto a fast kernel).
std::string loop_model_path() {
  static const std::string path = [] {
    OnnxBuilder b;
    b.input("M", {}, onnx::TensorProto::INT64);
    b.input("x", {2, 3});
    b.input("h0", {2, 3});
    b.init("W", {3, 3}, kW);
    onnx::GraphProto body;
    body.set_name("body");
    value_info(body.add_input(), "iter", onnx::TensorProto::INT64, {});
    value_info(body.add_input(), "cond_in", onnx::TensorProto::BOOL, {});
    value_info(body.add_input(), "h_in", onnx::TensorProto::FLOAT, {2, 3});
    auto add_node = [&](const char* op, std::vector<std::string> ins, const char* out) {
      auto* n = body.add_node();
      n->set_op_type(op);
      for (auto& i : ins) n->add_input(i);
      n->add_output(out);
    };
    add_node("MatMul", {"h_in", "W"}, "mm");
    add_node("Add", {"mm", "x"}, "pre");
    add_node("Relu", {"pre"}, "h_out");
    add_node("Identity", {"cond_in"}, "cond_out");
    add_node("Identity", {"h_out"}, "scan");
    value_info(body.add_output(), "cond_out", onnx::TensorProto::BOOL, {});
    value_info(body.add_output(), "h_out", onnx::TensorProto::FLOAT, {2, 3});
    value_info(body.add_output(), "scan", onnx::TensorProto::FLOAT, {2, 3});
    auto& loop = b.node("Loop", {"M", "", "h0"}, {"h", "hs"}, "loop");
    auto* a = loop.add_attribute();
    a->set_name("body");
    a->set_type(onnx::AttributeProto::GRAPH);
    *a->mutable_g() = body;
    b.output("h", {2, 3});
    b.output("hs", {-1, 2, 3});
    return b.save("runtime_loop.onnx");
  }();
  return path;
}

const std::vector<float> kX = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f};
const std::vector<float> kH0 = {1.f, 0.5f, -1.f, 0.25f, 2.f, -0.5f};

// The hand-written loop: every iteration's h.
std::vector<std::vector<float>> expected(int64_t m) {
  std::vector<std::vector<float>> hs;
  std::vector<float> h = kH0;
  for (int64_t it = 0; it < m; ++it) {
    std::vector<float> next(6);
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 3; ++c) {
        float s = kX[r * 3 + c];
        for (int k = 0; k < 3; ++k) s += h[r * 3 + k] * kW[k * 3 + c];
        next[r * 3 + c] = std::max(s, 0.f);
      }
    h = next;
    hs.push_back(h);
  }
  return hs;
}

void set_inputs(ExecutionContext& ctx, int64_t m) {
  std::memcpy(ctx.input("M"), &m, sizeof m);
  std::memcpy(ctx.input("x"), kX.data(), 6 * sizeof(float));
  std::memcpy(ctx.input("h0"), kH0.data(), 6 * sizeof(float));
}

const std::vector<uint8_t>& loop_plan() {
  static const std::vector<uint8_t> plan = compile_onnx_file(loop_model_path(), {}).plan;
  return plan;
}

TEST(LoopRuntime, TripCountFromAnInputRunsTheBodyPerIteration) {
  auto engine = Engine::load_memory(loop_plan());
  ASSERT_EQ(engine->layers().size(), 1u);
  EXPECT_EQ(engine->layers()[0].op, "Loop");
  auto ctx = engine->create_context();
  // One context, trip counts that differ run to run: the scan output is sized per run.
  for (int64_t m : {3, 0, 7}) {
    set_inputs(*ctx, m);
    ctx->run();
    const auto want = expected(m);
    EXPECT_EQ(ctx->output_shape(1), (std::vector<int64_t>{m, 2, 3})) << m;
    const auto* h = static_cast<const float*>(ctx->output("h"));
    const auto* hs = static_cast<const float*>(ctx->output("hs"));
    const std::vector<float>& last = m ? want.back() : kH0;
    for (int k = 0; k < 6; ++k) EXPECT_NEAR(h[k], last[k], 1e-5) << "m " << m << " h[" << k << "]";
    for (int64_t it = 0; it < m; ++it)
      for (int k = 0; k < 6; ++k) EXPECT_NEAR(hs[it * 6 + k], want[it][k], 1e-5) << "m " << m << " iteration " << it;
  }
}

TEST(LoopRuntime, BodyIsCompiledByThePipeline) {
  const fb::Plan* p = fb::GetPlan(loop_plan().data());
  ASSERT_EQ(p->layers()->size(), 1u);
  const auto* body = p->layers()->Get(0)->body();
  ASSERT_TRUE(body && body->size());
  auto b = Engine::load_memory({body->data(), body->size()}, "body");
  // Inputs: iteration number, condition, h, then the outer-scope x (W is a constant inside).
  ASSERT_EQ(b->inputs().size(), 4u);
  EXPECT_EQ(b->inputs()[3].name, "x");
  // MatMul + Add + Relu become one layer on a oneDNN kernel, as in a model's main graph.
  bool fused = false;
  for (const LayerInfo& l : b->layers())
    fused |= l.kernel == "onednn" && l.fused.size() >= 3;
  EXPECT_TRUE(fused);
}

TEST(LoopRuntime, HugeTripCountEndsAtTheMemoryLimit) {
  LoadOptions opts;
  opts.memory_limit = 1 << 20;
  auto engine = Engine::load_memory(loop_plan(), "loop", opts);
  auto ctx = engine->create_context();
  set_inputs(*ctx, int64_t(1) << 50);
  const std::string err = error_of([&] { ctx->run(); });
  EXPECT_NE(err.find("layer 'loop' (Loop)"), std::string::npos) << err;
  EXPECT_NE(err.find("memory limit"), std::string::npos) << err;
}

TEST(LoopRuntime, DamagedBodyIsRefused) {
  // The parent's checksum is recomputed, so only the body's own checks can catch the edit.
  std::vector<uint8_t> flipped = resealed(loop_plan(), [](fb::Plan* p) {
    auto* body = p->mutable_layers()->GetMutableObject(0)->mutable_body();
    body->Mutate(body->size() / 2, static_cast<uint8_t>(body->Get(body->size() / 2) ^ 0x5a));
  });
  std::string err = error_of([&] { Engine::load_memory(flipped); });
  EXPECT_NE(err.find("body"), std::string::npos) << err;
  EXPECT_NE(err.find("rebuild it"), std::string::npos) << err;
  // A body swapped for another plan (here: garbage where the identifier was) fails the same way.
  std::vector<uint8_t> foreign = resealed(loop_plan(), [](fb::Plan* p) {
    auto* body = p->mutable_layers()->GetMutableObject(0)->mutable_body();
    for (flatbuffers::uoffset_t i = 4; i < 8; ++i) body->Mutate(i, 'X');
  });
  err = error_of([&] { Engine::load_memory(foreign); });
  EXPECT_NE(err.find("identifier"), std::string::npos) << err;
}

TEST(LoopRuntime, BodyMustBeTheOneTheLayerNames) {
  std::vector<uint8_t> edited = resealed(loop_plan(), [](fb::Plan* p) {
    auto* attrs = p->mutable_layers()->GetMutableObject(0)->mutable_attrs();
    for (flatbuffers::uoffset_t i = 0; i < attrs->size(); ++i)
      if (attrs->Get(i)->name()->str() == "body_checksum") attrs->GetMutableObject(i)->mutate_i(12345);
  });
  const std::string err = error_of([&] { Engine::load_memory(edited); });
  EXPECT_NE(err.find("not the one its attributes name"), std::string::npos) << err;
}

TEST(LoopRuntime, OlderSchemaCannotCarryABody) {
  std::vector<uint8_t> old = resealed(loop_plan(), [](fb::Plan* p) { p->mutate_schema_version(7); });
  const std::string err = error_of([&] { Engine::load_memory(old); });
  EXPECT_NE(err.find("carries a body, which schema version 7 has not"), std::string::npos) << err;
}

TEST(LoopOp, InferRefusesHostileAttributes) {
  ops::Loop op;
  op.carried = 1;
  op.scan_dtypes = {1};
  op.scan_ranks = {2};
  op.scan_dims = {2, 3};
  const std::vector<ops::TensorType> in = {{DType::Int64, {}}, {}, {DType::Float32, {2, 3}}};
  ops::InferContext ok(in, {nullptr, nullptr, nullptr}, 2);
  op.infer(ok);
  EXPECT_EQ(ok.outputs()[1].shape, (Dims{-1, 2, 3}));
  auto refuses = [&](ops::Loop bad, size_t outs = 2) {
    ops::InferContext c(in, {nullptr, nullptr, nullptr}, outs);
    return !error_of([&] { bad.infer(c); }).empty();
  };
  ops::Loop b = op;
  b.scan_ranks = {-1};
  EXPECT_TRUE(refuses(b));
  b = op;
  b.scan_dims = {2, 3, 4};
  EXPECT_TRUE(refuses(b));
  b = op;
  b.carried = 5;
  EXPECT_TRUE(refuses(b));
  b = op;
  b.scan_dtypes = {1000};
  EXPECT_TRUE(refuses(b));
  EXPECT_TRUE(refuses(op, 3));
}

}  // namespace
}  // namespace kiln::test
