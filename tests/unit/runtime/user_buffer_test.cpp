// Zero-copy I/O (ExecutionContext::set_input_buffer / set_output_buffer): every case runs the
// same inputs through the context-owned path and through caller buffers and expects the same
// outputs, and proves the copy really was skipped by poisoning the buffers kiln must not touch.
// The graphs cover the places where a caller buffer could go wrong: an output the memory planner
// gives an in-place operand's buffer (Conv + Add fused as a sum post-op), reshaping views, an
// output that later layers read, value-dependent output shapes, and an output listed twice.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "kiln/plan_generated.h"
#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"
#include "onnx_builder_util.h"

namespace kiln::test {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

std::shared_ptr<const Engine> compile(const OnnxBuilder& b, const std::string& file) {
  return Engine::load_memory(compile_onnx_file(b.save(file), {}).plan);
}

// Outputs of one run on the context-owned buffers, as float vectors.
std::vector<std::vector<float>> owned_run(const Engine& e, const std::vector<std::vector<float>>& inputs) {
  auto ctx = e.create_context();
  for (size_t i = 0; i < inputs.size(); ++i) std::memcpy(ctx->input(i), inputs[i].data(), e.inputs()[i].bytes());
  ctx->run();
  std::vector<std::vector<float>> out;
  for (size_t o = 0; o < e.outputs().size(); ++o) {
    size_t n = 1;
    for (int64_t d : ctx->output_shape(o)) n *= static_cast<size_t>(d);
    const float* p = static_cast<const float*>(ctx->output(o));
    out.emplace_back(p, p + n);
  }
  return out;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-5f * (1.f + std::fabs(want[i]))) << what << " element " << i;
}

bool holds(const void* p, const std::vector<float>& want) {
  const float* f = static_cast<const float*>(p);
  for (size_t i = 0; i < want.size(); ++i)
    if (!(std::fabs(f[i] - want[i]) <= 1e-5f * (1.f + std::fabs(want[i])))) return false;
  return true;
}

bool all_nan(const void* p, size_t n) {
  const float* f = static_cast<const float*>(p);
  for (size_t i = 0; i < n; ++i)
    if (!std::isnan(f[i])) return false;
  return true;
}

void poison(const void* p, size_t bytes) {
  std::vector<float> nan(bytes / sizeof(float), std::numeric_limits<float>::quiet_NaN());
  std::memcpy(const_cast<void*>(p), nan.data(), bytes);
}

// Binds every input and output of a fresh context to caller vectors, poisons the context's own
// buffers, runs, and checks the caller's outputs against the owned path. Returns the context.
std::unique_ptr<ExecutionContext> check_zero_copy(const Engine& e, const std::vector<std::vector<float>>& inputs) {
  const auto want = owned_run(e, inputs);
  auto ctx = e.create_context();
  std::vector<const void*> own_in, own_out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    own_in.push_back(ctx->input(i));
    poison(own_in.back(), e.inputs()[i].bytes());
  }
  ctx->run();  // with poisoned inputs: the owned outputs now hold garbage
  for (size_t o = 0; o < e.outputs().size(); ++o) own_out.push_back(ctx->output(o));

  std::vector<std::vector<float>> in = inputs, out;
  for (size_t i = 0; i < inputs.size(); ++i) ctx->set_input_buffer(i, in[i].data(), e.inputs()[i].bytes());
  for (size_t o = 0; o < want.size(); ++o) {
    out.emplace_back(want[o].size() + 3, -7.f);  // spare room for capacity-bound outputs
    bool dynamic = false;
    for (int64_t d : e.outputs()[o].shape) dynamic |= d < 0;
    ctx->set_output_buffer(o, out[o].data(), dynamic ? out[o].size() * 4 : e.outputs()[o].bytes());
    if (ctx->output_is_zero_copy(o)) poison(own_out[o], e.outputs()[o].bytes());
    EXPECT_TRUE(ctx->output_is_zero_copy(o) || dynamic) << o;
  }
  ctx->run();
  for (size_t o = 0; o < want.size(); ++o) {
    EXPECT_EQ(ctx->output(o), out[o].data());
    std::vector<float> got(out[o].begin(), out[o].begin() + static_cast<long>(want[o].size()));
    expect_close(got, want[o], "output '" + e.outputs()[o].name + "'");
    EXPECT_EQ(out[o].back(), -7.f) << "wrote past the end of output " << o;
    // Zero-copy: the result was never in the context's own output buffer (which other tensors
    // may share, so it need not still hold the poison).
    if (ctx->output_is_zero_copy(o)) EXPECT_FALSE(holds(own_out[o], want[o])) << o;
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(in[i], inputs[i]) << "input " << i << " was modified";
    EXPECT_TRUE(all_nan(own_in[i], e.inputs()[i].bytes() / 4));
  }
  return ctx;
}

TEST(UserBuffer, BundledModelMatchesOwnedPath) {
  auto e = Engine::load_memory(
      compile_onnx_file(KILN_TEST_DATA_DIR "/../../examples/models/tiny_resnet.onnx", {}).plan);
  check_zero_copy(*e, {random_floats(e->inputs()[0].elements(), 1)});
}

// Conv + Add fuse into a Conv with a Sum post-op whose output the planner places in the Add
// operand's buffer (1-D convs stay row-major, so the graph output itself is written in place);
// bound to a caller buffer, the output no longer aliases the operand. A later layer reads it too.
TEST(UserBuffer, InPlaceSumOutput) {
  OnnxBuilder b;
  b.input("x", {1, 4, 10});
  b.init_random("w1", {8, 4, 3}, 1);
  b.init_random("w2", {8, 4, 1}, 2);
  OnnxBuilder::attr(b.node("Conv", {"x", "w1"}, {"c"}), "pads", std::vector<int64_t>{1, 1});
  b.node("Conv", {"x", "w2"}, {"p"});
  b.node("Add", {"c", "p"}, {"y"});
  b.node("Sigmoid", {"y"}, {"z"});
  b.output("y", {1, 8, 10});
  b.output("z", {1, 8, 10});
  const std::vector<uint8_t> plan = compile_onnx_file(b.save("ub_inplace.onnx"), {}).plan;
  // The case is only meaningful if the plan really aliases the output with another tensor (read
  // from the plan file itself: the same arena offset and size).
  const fb::Plan* p = fb::GetPlan(plan.data());
  const auto out_id = static_cast<flatbuffers::uoffset_t>(p->outputs()->Get(0));
  const fb::Tensor* y = p->tensors()->Get(out_id);
  bool aliased = false;
  for (flatbuffers::uoffset_t i = 0; i < p->tensors()->size(); ++i) {
    const fb::Tensor* t = p->tensors()->Get(i);
    aliased |= i != out_id && t->kind() != fb::TensorKind::Constant && t->bytes() > 0 &&
               t->offset() == y->offset() && t->bytes() == y->bytes();
  }
  ASSERT_TRUE(aliased) << "the planner no longer runs the sum in place; pick another graph";
  check_zero_copy(*Engine::load_memory(plan), {random_floats(40, 2)});
}

// Reshape and Flatten are views the copy kernel skips when input and output share a buffer.
TEST(UserBuffer, ViewOutputs) {
  OnnxBuilder b;
  b.input("x", {2, 3, 4});
  b.init_i64("s", {2}, {6, 4});
  b.node("Sigmoid", {"x"}, {"t"});
  b.node("Reshape", {"t", "s"}, {"y"});
  b.node("Flatten", {"x"}, {"z"});
  b.output("y", {6, 4});
  b.output("z", {2, 12});
  check_zero_copy(*compile(b, "ub_views.onnx"), {random_floats(24, 3)});
}

// An output that later layers read: they must read it from the caller's buffer.
TEST(UserBuffer, OutputReadByLaterLayers) {
  OnnxBuilder b;
  b.input("x", {3, 5});
  b.input("w", {3, 5});
  b.node("Sigmoid", {"x"}, {"y"});
  b.node("Mul", {"y", "w"}, {"m"});
  b.node("Add", {"m", "y"}, {"z"});
  b.output("y", {3, 5});
  b.output("z", {3, 5});
  check_zero_copy(*compile(b, "ub_read_back.onnx"), {random_floats(15, 4), random_floats(15, 5)});
}

// A graph input that is also a graph output, and one value listed as two outputs: the compiler
// gives each output its own tensor (a copy layer), which caller buffers must not break.
TEST(UserBuffer, OutputThatIsAnInputOrListedTwice) {
  OnnxBuilder b;
  b.input("x", {2, 3});
  b.node("Relu", {"x"}, {"y"});
  b.output("x", {2, 3});
  b.output("y", {2, 3});
  b.output("y", {2, 3});
  auto e = compile(b, "ub_passthrough.onnx");
  ASSERT_EQ(e->outputs().size(), 3u);
  auto ctx = check_zero_copy(*e, {random_floats(6, 9)});
  for (size_t o = 0; o < 3; ++o) EXPECT_TRUE(ctx->output_is_zero_copy(o)) << o;
}

// Output shape depends on an input's values: computed per run and copied into the caller buffer.
TEST(UserBuffer, DynamicOutputIsCopiedAndChecked) {
  OnnxBuilder b;
  b.input("x", {4, 6});
  b.input("shape", {2}, onnx::TensorProto::INT64);
  b.node("Reshape", {"x", "shape"}, {"r"});
  b.node("Sigmoid", {"r"}, {"y"});
  b.output("y", {-1, -1});
  auto e = compile(b, "ub_dynamic.onnx");
  auto ctx = e->create_context();
  EXPECT_FALSE(ctx->output_is_zero_copy(0));
  std::vector<float> x = random_floats(24, 6), y(24 + 1, -7.f), small(23);
  std::vector<int64_t> shape{3, 8};
  ctx->set_input_buffer(0, x.data(), x.size() * 4);
  ctx->set_input_buffer(1, shape.data(), 16);
  ctx->set_output_buffer(0, y.data(), y.size() * 4);
  ctx->run();
  EXPECT_EQ(ctx->output_shape(0), (std::vector<int64_t>{3, 8}));
  EXPECT_EQ(ctx->output(0), y.data());
  for (size_t i = 0; i < 24; ++i) ASSERT_NEAR(y[i], 1.f / (1.f + std::exp(-x[i])), 1e-6f) << i;
  EXPECT_EQ(y[24], -7.f);
  ctx->set_output_buffer(0, small.data(), small.size() * 4);
  try {
    ctx->run();
    FAIL() << "a 23-float buffer took a 24-float result";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("holds 92 bytes"), std::string::npos) << err.what();
  }
}

TEST(UserBuffer, RebindingAndRestoring) {
  OnnxBuilder b;
  b.input("x", {16});
  b.node("Relu", {"x"}, {"y"});
  b.output("y", {16});
  auto e = compile(b, "ub_rebind.onnx");
  auto ctx = e->create_context();
  std::vector<float> x1 = random_floats(16, 7), x2 = random_floats(16, 8), a(16, 5.f), c(16, 5.f);
  auto relu = [](std::vector<float> v) {
    for (float& f : v) f = std::max(f, 0.f);
    return v;
  };
  ctx->set_input_buffer(0, x1.data(), 64);
  ctx->set_output_buffer(0, a.data(), 64);
  ctx->run();
  EXPECT_EQ(a, relu(x1));
  // A new output buffer and a new input: the old ones are left alone.
  ctx->set_output_buffer(0, c.data(), 64);
  ctx->set_input_buffer(0, x2.data(), 64);
  ctx->run();
  EXPECT_EQ(c, relu(x2));
  EXPECT_EQ(a, relu(x1));
  // Back to the context's own buffers: the caller's are no longer touched.
  ctx->set_input_buffer(0, nullptr, 0);
  ctx->set_output_buffer(0, nullptr, 0);
  EXPECT_NE(ctx->output(0), c.data());
  std::memcpy(ctx->input(0), x1.data(), 64);
  ctx->run();
  EXPECT_EQ(c, relu(x2));
  const float* own = static_cast<const float*>(ctx->output(0));
  EXPECT_EQ(std::vector<float>(own, own + 16), relu(x1));
}

TEST(UserBuffer, BadBindingsAreRejectedAndChangeNothing) {
  OnnxBuilder b;
  b.input("x", {16});
  b.node("Relu", {"x"}, {"y"});
  b.output("y", {16});
  auto e = compile(b, "ub_errors.onnx");
  auto ctx = e->create_context();
  std::vector<float> buf(40, 0.f);
  auto message = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& err) {
      return err.what();
    }
    return "no error";
  };
  EXPECT_NE(message([&] { ctx->set_input_buffer(0, buf.data(), 60); }).find("exactly 64 bytes"),
            std::string::npos);
  EXPECT_NE(message([&] { ctx->set_output_buffer(0, buf.data(), 68); }).find("exactly 64 bytes"),
            std::string::npos);
  const char* odd = reinterpret_cast<const char*>(buf.data()) + 2;
  EXPECT_NE(message([&] { ctx->set_input_buffer(0, odd, 64); }).find("not aligned"), std::string::npos);
  EXPECT_NE(message([&] { ctx->set_input_buffer(1, buf.data(), 64); }).find("out of range"), std::string::npos);
  EXPECT_NE(message([&] { ctx->set_output_buffer(3, buf.data(), 64); }).find("out of range"), std::string::npos);
  ctx->set_input_buffer(0, buf.data(), 64);
  EXPECT_NE(message([&] { ctx->set_output_buffer(0, buf.data() + 8, 64); }).find("overlaps"), std::string::npos);
  // None of the rejected calls bound anything: the output is still the context's own.
  EXPECT_NE(ctx->output(0), buf.data() + 8);
  for (size_t i = 0; i < 16; ++i) buf[i] = static_cast<float>(i) - 8.f;
  ctx->run();
  const float* y = static_cast<const float*>(ctx->output(0));
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(y[i], std::max(static_cast<float>(i) - 8.f, 0.f));
  // Input buffers may share memory (nothing writes them); two outputs may not.
  ctx->set_output_buffer(0, buf.data() + 16, 64);
  EXPECT_NE(message([&] { ctx->set_input_buffer(0, buf.data() + 20, 64); }).find("overlaps"), std::string::npos);
}

}  // namespace
}  // namespace kiln::test
