// Optimisation profiles: one plan built with min/opt/max shapes runs every shape in between and
// matches, at each, a static plan compiled for exactly that shape and the reference evaluation of
// the model imported at that shape; shapes outside the profile, inconsistent flags, shape-dependent
// graphs and hostile profile fields are clean errors.
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "graph_eval_util.h"
#include "import/importer.h"
#include "kiln/compiler.hpp"
#include "kiln/plan_generated.h"
#include "kiln/runtime.hpp"
#include "onnx_builder_util.h"
#include "plan_edit_util.h"
#include "plan/plan_format.h"

namespace kiln::test {
namespace {

using Shapes = std::map<std::string, std::vector<int64_t>>;

// Conv -> Relu -> Conv (stride 2) -> Relu -> Conv + residual Add -> Relu -> GlobalAveragePool ->
// Flatten -> Gemm, with batch, H and W symbolic.
std::string cnn_path() {
  static std::string path = [] {
    OnnxBuilder b;
    b.input("x", {-1, 3, -1, -1});
    b.init_random("w1", {8, 3, 3, 3}, 1);
    b.init_random("b1", {8}, 2);
    b.init_random("w2", {16, 8, 3, 3}, 3);
    b.init_random("w3", {16, 16, 3, 3}, 4);
    b.init_random("fc_w", {10, 16}, 5);
    b.init_random("fc_b", {10}, 6);
    auto& c1 = b.node("Conv", {"x", "w1", "b1"}, {"c1"}, "conv1");
    OnnxBuilder::attr(c1, "pads", std::vector<int64_t>{1, 1, 1, 1});
    b.node("Relu", {"c1"}, {"r1"}, "relu1");
    auto& c2 = b.node("Conv", {"r1", "w2"}, {"c2"}, "conv2");
    OnnxBuilder::attr(c2, "pads", std::vector<int64_t>{1, 1, 1, 1});
    OnnxBuilder::attr(c2, "strides", std::vector<int64_t>{2, 2});
    b.node("Relu", {"c2"}, {"r2"}, "relu2");
    auto& c3 = b.node("Conv", {"r2", "w3"}, {"c3"}, "conv3");
    OnnxBuilder::attr(c3, "pads", std::vector<int64_t>{1, 1, 1, 1});
    b.node("Add", {"c3", "r2"}, {"s"}, "add");
    b.node("Relu", {"s"}, {"r3"}, "relu3");
    b.node("GlobalAveragePool", {"r3"}, {"p"}, "gap");
    b.node("Flatten", {"p"}, {"f"}, "flatten");
    auto& fc = b.node("Gemm", {"f", "fc_w", "fc_b"}, {"logits"}, "fc");
    OnnxBuilder::attr(fc, "transB", int64_t{1});
    b.output("logits", {-1, 10});
    return b.save("profile_cnn.onnx");
  }();
  return path;
}

// One self-attention block over [1, S, 64] with S symbolic: LayerNormalization, Q/K/V MatMuls,
// scaled Q.K^T, Softmax, attention . V, residual Add.
std::string attention_path() {
  static std::string path = [] {
    OnnxBuilder b(17);
    b.input("x", {1, -1, 64});
    std::vector<float> gamma(64), beta(64);
    for (int i = 0; i < 64; ++i) {
      gamma[i] = 1.f + 0.01f * static_cast<float>(i);
      beta[i] = 0.005f * static_cast<float>(i - 32);
    }
    b.init("gamma", {64}, gamma);
    b.init("beta", {64}, beta);
    b.init_random("wq", {64, 64}, 11);
    b.init_random("wk", {64, 64}, 12);
    b.init_random("wv", {64, 64}, 13);
    b.init("scale", {}, {0.125f});
    auto& ln = b.node("LayerNormalization", {"x", "gamma", "beta"}, {"ln"}, "ln");
    OnnxBuilder::attr(ln, "axis", int64_t{-1});
    b.node("MatMul", {"ln", "wq"}, {"q"}, "q");
    b.node("MatMul", {"ln", "wk"}, {"k"}, "k");
    b.node("MatMul", {"ln", "wv"}, {"v"}, "v");
    auto& t = b.node("Transpose", {"k"}, {"kt"}, "kt");
    OnnxBuilder::attr(t, "perm", std::vector<int64_t>{0, 2, 1});
    b.node("MatMul", {"q", "kt"}, {"qk"}, "qk");
    b.node("Mul", {"qk", "scale"}, {"scores"}, "scaled");
    auto& sm = b.node("Softmax", {"scores"}, {"attn"}, "softmax");
    OnnxBuilder::attr(sm, "axis", int64_t{-1});
    b.node("MatMul", {"attn", "v"}, {"o"}, "attend");
    b.node("Add", {"o", "x"}, {"y"}, "residual");
    b.output("y", {1, -1, 64});
    return b.save("profile_attention.onnx");
  }();
  return path;
}

std::vector<uint8_t> compile_profile(const std::string& path, Shapes min, Shapes opt, Shapes max) {
  CompileOptions o;
  o.min_shapes = std::move(min);
  o.opt_shapes = std::move(opt);
  o.max_shapes = std::move(max);
  return compile_onnx_file(path, o).plan;
}

std::vector<float> random_data(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

struct Result {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// Runs the context at `shape` (set_input_shape only when asked, so static plans run untouched).
Result run_at(ExecutionContext& ctx, const std::vector<int64_t>& shape, const std::vector<float>& x, bool set) {
  if (set) ctx.set_input_shape(0, shape);
  std::memcpy(ctx.input(0), x.data(), x.size() * sizeof(float));
  ctx.run();
  Result r{ctx.output_shape(0), {}};
  const float* y = static_cast<const float*>(ctx.output(0));
  r.data.assign(y, y + shape_elements(r.shape));
  return r;
}

// The independent oracle: the model imported at exactly this shape, run by the reference kernels.
Result reference_at(const std::string& path, const std::vector<int64_t>& shape, const std::vector<float>& x) {
  onnx_import::ImportOptions io;
  io.shapes["x"] = shape;
  auto g = onnx_import::import_onnx(path, io);
  HostTensor in(DType::Float32, shape);
  std::memcpy(in.bytes.data(), x.data(), x.size() * sizeof(float));
  auto out = evaluate(*g, {{"x", in}});
  HostTensor& y = out.begin()->second;
  return {y.shape, std::vector<float>(y.as<float>(), y.as<float>() + y.elements())};
}

// The static plan runs the same kernels on the same shapes: agreement to float rounding. The
// reference kernels accumulate in another order (attention's scores reach |10|): 1e-3.
constexpr float kVsStatic = 1e-4f, kVsReference = 1e-3f;

void expect_close(const Result& got, const Result& want, const std::string& what, float tol) {
  ASSERT_EQ(got.shape, want.shape) << what;
  ASSERT_EQ(got.data.size(), want.data.size()) << what;
  for (size_t i = 0; i < got.data.size(); ++i)
    ASSERT_NEAR(got.data[i], want.data[i], tol * (1.f + std::fabs(want.data[i]))) << what << " element " << i;
}

// At each shape: the profile plan's output equals the static plan's for that shape and the
// reference evaluation. The shapes are visited in an order that switches back and forth.
void check_shapes(const std::string& path, const std::vector<uint8_t>& profile_plan,
                  const std::vector<std::vector<int64_t>>& shapes) {
  auto engine = Engine::load_memory(profile_plan);
  auto ctx = engine->create_context();
  uint32_t seed = 1;
  for (const auto& shape : shapes) {
    const std::string what = "shape " + shape_str(shape);
    auto x = random_data(shape_elements(shape), seed++);
    Result got = run_at(*ctx, shape, x, true);
    CompileOptions o;
    o.shapes["x"] = shape;
    auto fixed = Engine::load_memory(compile_onnx_file(path, o).plan);
    auto fixed_ctx = fixed->create_context();
    expect_close(got, run_at(*fixed_ctx, shape, x, false), what + " vs the static plan", kVsStatic);
    expect_close(got, reference_at(path, shape, x), what + " vs the reference evaluation", kVsReference);
    EXPECT_EQ(ctx->input_shape(0), shape);
  }
}

TEST(Profile, CnnWithDynamicBatchHeightWidthMatchesStaticPlans) {
  auto plan = compile_profile(cnn_path(), {{"x", {1, 3, 8, 8}}}, {{"x", {2, 3, 16, 16}}}, {{"x", {4, 3, 32, 32}}});
  auto e = Engine::load_memory(plan);
  EXPECT_EQ(e->inputs()[0].shape, (std::vector<int64_t>{2, 3, 16, 16}));
  EXPECT_EQ(e->inputs()[0].min_shape, (std::vector<int64_t>{1, 3, 8, 8}));
  EXPECT_EQ(e->inputs()[0].max_shape, (std::vector<int64_t>{4, 3, 32, 32}));
  EXPECT_TRUE(e->inputs()[0].dynamic());
  check_shapes(cnn_path(), plan,
               {{1, 3, 8, 8}, {4, 3, 32, 32}, {3, 3, 13, 21}, {2, 3, 16, 16}, {1, 3, 31, 9}, {3, 3, 13, 21}});
}

TEST(Profile, AttentionWithDynamicSequenceLengthMatchesStaticPlans) {
  auto plan = compile_profile(attention_path(), {{"x", {1, 1, 64}}}, {{"x", {1, 32, 64}}}, {{"x", {1, 128, 64}}});
  check_shapes(attention_path(), plan, {{1, 1, 64}, {1, 77, 64}, {1, 128, 64}, {1, 32, 64}, {1, 5, 64}});
}

TEST(Profile, MemoryPlanCoversTheMaxShapes) {
  auto plan = compile_profile(cnn_path(), {{"x", {1, 3, 8, 8}}}, {{"x", {2, 3, 16, 16}}}, {{"x", {4, 3, 32, 32}}});
  CompileOptions at_max, at_opt;
  at_max.shapes["x"] = {4, 3, 32, 32};
  at_opt.shapes["x"] = {2, 3, 16, 16};
  auto e = Engine::load_memory(plan);
  // The same graph at max: the same memory plan, so the same arena.
  EXPECT_EQ(e->arena_bytes(), Engine::load_memory(compile_onnx_file(cnn_path(), at_max).plan)->arena_bytes());
  EXPECT_GT(e->arena_bytes(), Engine::load_memory(compile_onnx_file(cnn_path(), at_opt).plan)->arena_bytes());
  // Layouts and kernels are the ones chosen at opt.
  auto opt = Engine::load_memory(compile_onnx_file(cnn_path(), at_opt).plan);
  ASSERT_EQ(e->layers().size(), opt->layers().size());
  for (size_t i = 0; i < e->layers().size(); ++i) {
    EXPECT_EQ(e->layers()[i].kernel, opt->layers()[i].kernel) << e->layers()[i].name;
    EXPECT_EQ(e->layers()[i].layout, opt->layers()[i].layout) << e->layers()[i].name;
  }
}

TEST(Profile, ShapesOutsideTheProfileAreCleanErrors) {
  auto e = Engine::load_memory(
      compile_profile(cnn_path(), {{"x", {1, 3, 8, 8}}}, {{"x", {2, 3, 16, 16}}}, {{"x", {4, 3, 32, 32}}}));
  auto ctx = e->create_context();
  for (std::vector<int64_t> bad : {std::vector<int64_t>{1, 3, 7, 8}, {5, 3, 16, 16}, {1, 3, 33, 16}, {1, 4, 16, 16},
                                   {1, 3, 16}}) {
    std::string err = error_of([&] { ctx->set_input_shape(0, bad); });
    EXPECT_NE(err.find("input 'x'"), std::string::npos) << err;
    EXPECT_NE(err.find(shape_str(bad)), std::string::npos) << err;
    EXPECT_NE(err.find("1x3x8x8 to 4x3x32x32"), std::string::npos) << err;
  }
  // The context kept its shape and still runs.
  auto x = random_data(2 * 3 * 16 * 16, 3);
  EXPECT_EQ(run_at(*ctx, {2, 3, 16, 16}, x, false).shape, (std::vector<int64_t>{2, 10}));
  // A static plan accepts only its own shape, through the same call.
  CompileOptions o;
  o.shapes["x"] = {1, 3, 16, 16};
  auto fixed = Engine::load_memory(compile_onnx_file(cnn_path(), o).plan);
  auto fixed_ctx = fixed->create_context();
  std::vector<int64_t> other{1, 3, 17, 16};
  EXPECT_NE(error_of([&] { fixed_ctx->set_input_shape(0, other); }).find("only shape"), std::string::npos);
}

TEST(Profile, ContextsOnOneEngineRunDifferentShapes) {
  auto e = Engine::load_memory(compile_profile(attention_path(), {{"x", {1, 1, 64}}}, {{"x", {1, 16, 64}}},
                                               {{"x", {1, 64, 64}}}));
  auto a = e->create_context(), b = e->create_context();
  auto xa = random_data(1 * 9 * 64, 1), xb = random_data(1 * 40 * 64, 2);
  Result ra = run_at(*a, {1, 9, 64}, xa, true);
  Result rb = run_at(*b, {1, 40, 64}, xb, true);
  expect_close(run_at(*a, {1, 9, 64}, xa, true), ra, "context a rerun", 0.f);
  expect_close(rb, reference_at(attention_path(), {1, 40, 64}, xb), "context b", kVsReference);
  expect_close(ra, reference_at(attention_path(), {1, 9, 64}, xa), "context a", kVsReference);
}

// Threads with their own contexts on one engine switch among more shapes than the engine caches,
// so specialisations are built, shared, evicted and rebuilt concurrently (scripts/tsan.sh runs
// this). Every output must equal the one computed on one thread beforehand.
TEST(ProfileConcurrency, ThreadsSwitchShapesOnOneEngine) {
  auto e = Engine::load_memory(compile_profile(attention_path(), {{"x", {1, 1, 64}}}, {{"x", {1, 16, 64}}},
                                               {{"x", {1, 64, 64}}}));
  std::vector<std::vector<int64_t>> shapes;
  std::vector<std::vector<float>> inputs;
  std::vector<Result> expected;
  auto ctx = e->create_context();
  for (int64_t s = 1; s <= 64; s += 3) {  // 22 shapes, more than the 16 the engine keeps
    shapes.push_back({1, s, 64});
    inputs.push_back(random_data(s * 64, static_cast<uint32_t>(s)));
    expected.push_back(run_at(*ctx, shapes.back(), inputs.back(), true));
  }
  std::vector<std::string> failures(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < failures.size(); ++t)
    threads.emplace_back([&, t] {
      try {
        auto c = e->create_context();
        for (size_t i = 0; i < 3 * shapes.size(); ++i) {
          const size_t k = (i * (2 * t + 1) + t) % shapes.size();
          Result r = run_at(*c, shapes[k], inputs[k], true);
          if (r.shape != expected[k].shape) throw Error("shape mismatch at " + shape_str(shapes[k]));
          for (size_t j = 0; j < r.data.size(); ++j)
            if (std::fabs(r.data[j] - expected[k].data[j]) > 1e-5f * (1.f + std::fabs(expected[k].data[j])))
              throw Error("value mismatch at " + shape_str(shapes[k]) + " element " + std::to_string(j) + ": " +
                          std::to_string(r.data[j]) + " vs " + std::to_string(expected[k].data[j]) + " (run " +
                          std::to_string(i) + ")");
        }
      } catch (const std::exception& ex) {
        failures[t] = ex.what();
      }
    });
  for (auto& th : threads) th.join();
  for (size_t t = 0; t < failures.size(); ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
}

TEST(Profile, CallerBuffersMustHoldTheCurrentShape) {
  auto e = Engine::load_memory(compile_profile(attention_path(), {{"x", {1, 1, 64}}}, {{"x", {1, 16, 64}}},
                                               {{"x", {1, 64, 64}}}));
  auto ctx = e->create_context();
  std::vector<float> x = random_data(1 * 20 * 64, 4), y(20 * 64);
  ctx->set_input_buffer(0, x.data(), x.size() * sizeof(float));
  ctx->set_output_buffer(0, y.data(), y.size() * sizeof(float));
  std::vector<int64_t> s20{1, 20, 64}, s30{1, 30, 64};
  ctx->set_input_shape(0, s20);
  ctx->run();
  expect_close({s20, y}, reference_at(attention_path(), s20, x), "caller buffers", kVsReference);
  ctx->set_input_shape(0, s30);
  EXPECT_NE(error_of([&] { ctx->run(); }).find("bind a larger buffer"), std::string::npos);
}

TEST(Profile, FlagMistakesAreCleanErrors) {
  auto err = [](Shapes min, Shapes opt, Shapes max, Shapes fixed = {}) {
    CompileOptions o;
    o.min_shapes = min;
    o.opt_shapes = opt;
    o.max_shapes = max;
    o.shapes = fixed;
    return error_of([&] { compile_onnx_file(cnn_path(), o); });
  };
  Shapes lo{{"x", {1, 3, 8, 8}}}, mid{{"x", {2, 3, 16, 16}}}, hi{{"x", {4, 3, 32, 32}}};
  EXPECT_NE(err(lo, mid, {}).find("--maxShapes does not name input 'x'"), std::string::npos);
  EXPECT_NE(err(mid, lo, hi).find("min <= opt <= max"), std::string::npos);
  EXPECT_NE(err(lo, mid, {{"x", {4, 3, 32}}}).find("same rank"), std::string::npos);
  EXPECT_NE(err(lo, mid, hi, {{"x", {1, 3, 8, 8}}}).find("both"), std::string::npos);
  EXPECT_NE(err({{"y", {1}}}, {{"y", {1}}}, {{"y", {1}}}).find("--optShapes names 'y', which is not an input"),
            std::string::npos);
  // Without a profile or shapes the symbolic dims are built as 1, as trtexec does, and the warning
  // says how to choose others.
  EXPECT_EQ(err({}, {}, {}), "");
  std::string warnings;
  for (auto& w : compile_onnx_file(cnn_path(), CompileOptions{}).warnings) warnings += w;
  EXPECT_NE(warnings.find("1 for each"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("--minShapes"), std::string::npos) << warnings;
}

// Shape -> Gather -> Concat -> Reshape stays a shape program under a profile: one plan serves
// every shape, with the Reshape's output fully known (a fast, static kernel) at each of them.
TEST(Profile, ShapeProgramsServeTheWholeProfile) {
  OnnxBuilder b;
  b.input("x", {1, -1, 64});
  b.init_i64("idx", {2}, {0, 1});
  b.init_i64("tail", {2}, {8, 8});
  b.node("Shape", {"x"}, {"s"});
  b.node("Gather", {"s", "idx"}, {"head"});
  auto& cat = b.node("Concat", {"head", "tail"}, {"target"});
  OnnxBuilder::attr(cat, "axis", int64_t{0});
  b.node("Reshape", {"x", "target"}, {"r"});
  b.node("Relu", {"r"}, {"y"});
  b.output("y", {1, -1, 8, 8});
  std::string path = b.save("profile_reshape.onnx");
  auto e = Engine::load_memory(compile_profile(path, {{"x", {1, 1, 64}}}, {{"x", {1, 8, 64}}}, {{"x", {1, 16, 64}}}));
  int relus = 0;
  for (const LayerInfo& l : e->layers())
    if (l.op == "Unary") {
      ++relus;
      EXPECT_NE(l.kernel, "reference") << "the Relu's input shape is not static";
    }
  EXPECT_EQ(relus, 1);
  auto ctx = e->create_context();
  for (int64_t n : {int64_t{5}, int64_t{16}, int64_t{1}, int64_t{8}}) {
    std::vector<int64_t> xs{1, n, 64};
    ctx->set_input_shape(0, xs);
    auto* x = static_cast<float*>(ctx->input(0));
    for (int64_t i = 0; i < n * 64; ++i) x[i] = static_cast<float>(i % 7) - 3.f;
    ctx->run();
    EXPECT_EQ(ctx->output_shape(0), (std::vector<int64_t>{1, n, 8, 8}));
    const float* y = static_cast<const float*>(ctx->output(0));
    for (int64_t i = 0; i < n * 64; ++i) ASSERT_EQ(y[i], std::max(0.f, static_cast<float>(i % 7) - 3.f)) << n << " " << i;
  }
}

// A profile input feeding a value-dependent Reshape: the specialisation keeps the reshaped tensor
// dynamic, and the per-run inference sees the profile's current shape.
TEST(Profile, ValueDependentShapesInsideAProfile) {
  OnnxBuilder b;
  b.input("x", {-1, 6});
  b.input("shape", {2}, onnx::TensorProto::INT64);
  b.node("Relu", {"x"}, {"r"});
  b.node("Reshape", {"r", "shape"}, {"y"});
  b.output("y", {-1, -1});
  std::string path = b.save("profile_dynamic_reshape.onnx");
  auto e = Engine::load_memory(compile_profile(path, {{"x", {1, 6}}}, {{"x", {2, 6}}}, {{"x", {8, 6}}}));
  auto ctx = e->create_context();
  for (int64_t rows : {int64_t{3}, int64_t{8}, int64_t{1}}) {
    std::vector<int64_t> xs{rows, 6};
    ctx->set_input_shape(0, xs);
    auto* x = static_cast<float*>(ctx->input(0));
    for (int64_t i = 0; i < rows * 6; ++i) x[i] = static_cast<float>(i % 5) - 2.f;
    const int64_t target[2] = {-1, 3};
    std::memcpy(ctx->input(1), target, sizeof target);
    ctx->run();
    EXPECT_EQ(ctx->output_shape(0), (std::vector<int64_t>{rows * 2, 3}));
    const float* y = static_cast<const float*>(ctx->output(0));
    for (int64_t i = 0; i < rows * 6; ++i) ASSERT_EQ(y[i], std::max(0.f, static_cast<float>(i % 5) - 2.f)) << i;
  }
}

std::string load_error(const std::vector<uint8_t>& bytes) {
  return error_of([&] { Engine::load_memory(bytes, "test.plan"); });
}

TEST(Profile, LoaderRefusesHostileProfileFields) {
  auto plan = compile_profile(cnn_path(), {{"x", {1, 3, 8, 8}}}, {{"x", {2, 3, 16, 16}}}, {{"x", {4, 3, 32, 32}}});
  ASSERT_TRUE(load_error(plan).empty());
  auto range = [](fb::Plan* p) { return p->mutable_input_ranges()->GetMutableObject(0); };
  // min above opt, max below opt, absurd max.
  EXPECT_NE(
      load_error(resealed(plan, [&](fb::Plan* p) { range(p)->mutable_min()->Mutate(2, 17); })).find("profile"),
      std::string::npos);
  EXPECT_NE(load_error(resealed(plan, [&](fb::Plan* p) { range(p)->mutable_max()->Mutate(0, 1); })).find("profile"),
            std::string::npos);
  EXPECT_NE(load_error(resealed(plan, [&](fb::Plan* p) { range(p)->mutable_max()->Mutate(3, 1ll << 40); }))
                .find("profile"),
            std::string::npos);
  // A capacity beyond the arena, or below the tensor's own size.
  EXPECT_NE(load_error(resealed(plan, [](fb::Plan* p) {
              p->mutable_tensors()->GetMutableObject(0)->mutate_capacity(p->arena_bytes() + 64);
            })).find("outside the activation arena"),
            std::string::npos);
  EXPECT_NE(load_error(resealed(plan, [](fb::Plan* p) {
              p->mutable_tensors()->GetMutableObject(0)->mutate_capacity(4);
            })).find("less arena space"),
            std::string::npos);
  // Capacities shrunk to the opt sizes load (nothing overlaps), but a larger shape must then be
  // refused at run time instead of writing past its slot.
  auto shrunk = resealed(plan, [](fb::Plan* p) {
    for (flatbuffers::uoffset_t i = 0; i < p->tensors()->size(); ++i) {
      fb::Tensor* t = p->mutable_tensors()->GetMutableObject(i);
      if (t->kind() != fb::TensorKind::Constant) t->mutate_capacity(t->bytes());
    }
  });
  auto e = Engine::load_memory(shrunk);
  auto ctx = e->create_context();
  std::vector<int64_t> big{4, 3, 32, 32};
  ctx->set_input_shape(0, big);
  EXPECT_NE(error_of([&] { ctx->run(); }).find("reserves"), std::string::npos);
}

}  // namespace
}  // namespace kiln::test
