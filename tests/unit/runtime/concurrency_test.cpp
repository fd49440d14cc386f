// Stress test for the threading contract in runtime.hpp: one immutable Engine, many
// ExecutionContexts created and run concurrently on many threads. Every output of every run is
// checked against results computed beforehand by one context on one thread, so a data race on
// shared kernel state (weights reordered once, cached primitives, per-context buffers of
// value-dependent shapes) shows up as a wrong number, and under ThreadSanitizer as a report
// (scripts/tsan.sh).
#include <omp.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "kiln/compiler.hpp"
#include "kiln/runtime.hpp"
#include "onnx_builder_util.h"

namespace kiln::test {
namespace {

// Convolutions (oneDNN, blocked layout with reorders), a residual Add fused as a sum post-op,
// pooling, a Gemm and a Softmax: the kernels whose creation-time state is shared by contexts.
std::shared_ptr<const Engine> cnn_engine() {
  OnnxBuilder b;
  b.input("x", {1, 8, 20, 20});
  b.init_random("w1", {16, 8, 3, 3}, 1);
  b.init_random("b1", {16}, 2);
  b.init_random("w2", {16, 16, 3, 3}, 3);
  b.init_random("w3", {16, 8, 1, 1}, 4);
  b.init_random("fc", {10, 16}, 5);
  b.init_random("fb", {10}, 6);
  auto& c1 = b.node("Conv", {"x", "w1", "b1"}, {"c1"});
  OnnxBuilder::attr(c1, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c1"}, {"r1"});
  auto& c2 = b.node("Conv", {"r1", "w2"}, {"c2"});
  OnnxBuilder::attr(c2, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Conv", {"x", "w3"}, {"c3"});
  b.node("Add", {"c2", "c3"}, {"s"});
  b.node("Relu", {"s"}, {"r2"});
  b.node("GlobalAveragePool", {"r2"}, {"p"});
  b.node("Flatten", {"p"}, {"f"});
  auto& g = b.node("Gemm", {"f", "fc", "fb"}, {"logits"});
  OnnxBuilder::attr(g, "transB", int64_t{1});
  b.node("Softmax", {"logits"}, {"y"});
  b.output("y", {1, 10});
  return Engine::load_memory(compile_onnx_file(b.save("concurrency_cnn.onnx"), {}).plan);
}

// A Reshape whose target is an input: its layers run with per-run inference and buffers owned by
// each context, the other place where contexts could step on each other.
std::shared_ptr<const Engine> dynamic_engine() {
  OnnxBuilder b;
  b.input("x", {4, 6});
  b.input("shape", {2}, onnx::TensorProto::INT64);
  b.node("Reshape", {"x", "shape"}, {"r"});
  b.node("Sigmoid", {"r"}, {"y"});
  b.output("y", {-1, -1});
  return Engine::load_memory(compile_onnx_file(b.save("concurrency_dynamic.onnx"), {}).plan);
}

struct Case {
  std::vector<std::vector<uint8_t>> inputs;  // one buffer per engine input
  std::vector<float> output;
  std::vector<int64_t> output_shape;
};

std::vector<uint8_t> random_bytes_f32(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  std::vector<uint8_t> r(n * sizeof(float));
  for (size_t i = 0; i < n; ++i) {
    float v = u(rng);
    std::memcpy(r.data() + i * sizeof(float), &v, sizeof v);
  }
  return r;
}

void set_inputs(ExecutionContext& ctx, const Case& c) {
  for (size_t i = 0; i < c.inputs.size(); ++i) std::memcpy(ctx.input(i), c.inputs[i].data(), c.inputs[i].size());
}

void record_output(const ExecutionContext& ctx, Case& c) {
  c.output_shape = ctx.output_shape(0);
  size_t n = 1;
  for (int64_t d : c.output_shape) n *= static_cast<size_t>(d);
  const float* y = static_cast<const float*>(ctx.output(0));
  c.output.assign(y, y + n);
}

// Expected outputs from one context on one thread, before any concurrency.
void compute_expected(const Engine& e, std::vector<Case>& cases) {
  omp_set_num_threads(1);
  auto ctx = e.create_context();
  for (auto& c : cases) {
    set_inputs(*ctx, c);
    ctx->run();
    record_output(*ctx, c);
  }
}

// Each worker creates its own context (concurrently with the others), then cycles through the
// cases in its own order. Returns the number of mismatching runs.
int hammer(const Engine& e, const std::vector<Case>& cases, int workers, int runs_per_worker) {
  std::atomic<int> mismatches{0}, errors{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) {
    pool.emplace_back([&, w] {
      // Alternate 1 and 2 OpenMP threads per worker: both the serial and the parallel paths of
      // the kernels run at once.
      omp_set_num_threads(1 + w % 2);
      while (!go.load()) std::this_thread::yield();
      try {
        auto ctx = e.create_context();
        if (w % 3 == 2) ctx->set_profiling(true);
        Case got;
        for (int r = 0; r < runs_per_worker; ++r) {
          const Case& c = cases[static_cast<size_t>(w * 7 + r * 3) % cases.size()];
          set_inputs(*ctx, c);
          ctx->run();
          record_output(*ctx, got);
          bool ok = got.output_shape == c.output_shape && got.output.size() == c.output.size();
          for (size_t i = 0; ok && i < got.output.size(); ++i)
            ok = std::fabs(got.output[i] - c.output[i]) <= 1e-5f * (1.f + std::fabs(c.output[i]));
          if (!ok) mismatches++;
        }
      } catch (const std::exception& ex) {
        ADD_FAILURE() << "worker " << w << ": " << ex.what();
        errors++;
      }
    });
  }
  go = true;
  for (auto& t : pool) t.join();
  return mismatches + errors;
}

TEST(Concurrency, ManyContextsOfOneEngineMatchSingleThreadedResults) {
  auto e = cnn_engine();
  std::vector<Case> cases(12);
  for (size_t k = 0; k < cases.size(); ++k)
    cases[k].inputs = {random_bytes_f32(e->inputs()[0].elements(), static_cast<uint32_t>(100 + k))};
  compute_expected(*e, cases);
  // The cases must differ, or a context reading another's input would go unnoticed.
  ASSERT_NE(cases[0].output, cases[1].output);
  EXPECT_EQ(hammer(*e, cases, 8, 400), 0);
}

TEST(Concurrency, ValueDependentShapesPerContext) {
  auto e = dynamic_engine();
  const std::vector<std::vector<int64_t>> shapes = {{4, 6}, {6, 4}, {24, 1}, {2, 12}, {-1, 3}, {8, -1}};
  std::vector<Case> cases;
  for (size_t k = 0; k < shapes.size(); ++k) {
    Case c;
    c.inputs.push_back(random_bytes_f32(24, static_cast<uint32_t>(200 + k)));
    std::vector<uint8_t> s(2 * sizeof(int64_t));
    std::memcpy(s.data(), shapes[k].data(), s.size());
    c.inputs.push_back(s);
    cases.push_back(c);
  }
  compute_expected(*e, cases);
  ASSERT_NE(cases[0].output_shape, cases[1].output_shape);
  EXPECT_EQ(hammer(*e, cases, 8, 1000), 0);
}

}  // namespace
}  // namespace kiln::test
