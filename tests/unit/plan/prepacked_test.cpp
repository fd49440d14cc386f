// Pre-packed constants (plan schema v7): the compiler stores conv and matmul weights in the layout
// their kernel reads, the runtime uses those bytes in place, and a packing read from a plan is as
// hostile as any other byte: a layout that would reach outside its bytes is refused at load.
#include <cstring>

#include <gtest/gtest.h>

#include "kiln/compiler.hpp"
#include "kiln/plan_generated.h"
#include "kiln/runtime.hpp"
#include "onnx_builder_util.h"
#include "plan/plan_format.h"
#include "plan_edit_util.h"

namespace kiln::test {
namespace {

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// x -> Conv 3x3 (+bias, ReLU) -> GlobalAveragePool -> Flatten -> Gemm (transB) -> y
std::vector<uint8_t> conv_gemm_plan(int level = 0) {
  OnnxBuilder b;
  b.input("x", {1, 8, 12, 12});
  b.init_random("w", {32, 8, 3, 3}, 1);
  b.init_random("b", {32}, 2);
  b.init_random("fc_w", {10, 32}, 3);
  b.init_random("fc_b", {10}, 4);
  auto& conv = b.node("Conv", {"x", "w", "b"}, {"c"});
  OnnxBuilder::attr(conv, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c"}, {"r"});
  b.node("GlobalAveragePool", {"r"}, {"p"});
  b.node("Flatten", {"p"}, {"f"});
  auto& gemm = b.node("Gemm", {"f", "fc_w", "fc_b"}, {"y"});
  OnnxBuilder::attr(gemm, "transB", int64_t(1));
  b.output("y", {1, 10});
  CompileOptions o;
  o.builder_level = level;
  return compile_onnx_file(b.save("prepacked.onnx"), o).plan;
}

std::vector<float> run(const Engine& e) {
  auto ctx = e.create_context();
  std::vector<float> x(8 * 12 * 12);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 13) / 13.f - 0.5f;
  std::memcpy(ctx->input(0), x.data(), x.size() * sizeof(float));
  ctx->run();
  const float* y = static_cast<const float*>(ctx->output(0));
  return std::vector<float>(y, y + 10);
}

// The packed constant tensors of a plan, by tensor index.
std::vector<flatbuffers::uoffset_t> packed_tensors(const std::vector<uint8_t>& plan) {
  std::vector<flatbuffers::uoffset_t> r;
  const fb::Plan* p = fb::GetPlan(plan.data());
  for (flatbuffers::uoffset_t i = 0; i < p->tensors()->size(); ++i)
    if (p->tensors()->Get(i)->packing()) r.push_back(i);
  return r;
}

TEST(Prepacked, ConvAndGemmWeightsAreStoredPackedAndReadInPlace) {
  const auto plan = conv_gemm_plan();
  EXPECT_EQ(fb::GetPlan(plan.data())->schema_version(), plan::kSchemaVersion);
  EXPECT_EQ(packed_tensors(plan).size(), 2u);  // the two weights; biases stay row-major
  for (bool from_memory : {true, false}) {
    std::shared_ptr<const Engine> e;
    if (from_memory) {
      e = Engine::load_memory(plan);
    } else {
      const std::string path = ::testing::TempDir() + "prepacked.plan";
      FILE* f = std::fopen(path.c_str(), "wb");
      ASSERT_TRUE(f);
      std::fwrite(plan.data(), 1, plan.size(), f);
      std::fclose(f);
      e = Engine::load_file(path);
    }
    size_t prepacked = 0;
    for (auto& l : e->layers()) {
      if (l.op == "Conv" || l.op == "Gemm") EXPECT_TRUE(l.weights_prepacked) << l.name;
      prepacked += l.weights_prepacked;
    }
    EXPECT_EQ(prepacked, 2u);
    for (auto& w : e->warnings()) EXPECT_FALSE(has(w, "pre-packed")) << w;
    // Retuning re-selects each kernel's first choice; where that wants another layout, the
    // weights are repacked from the packed ones. Either way the outputs agree.
    LoadOptions retune;
    retune.retune = true;
    auto again = Engine::load_memory(plan, "retuned", retune);
    const auto a = run(*e), b = run(*again);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5f * (1 + std::abs(a[i])));
  }
}

TEST(Prepacked, PlansAreStillDeterministic) {
  EXPECT_EQ(conv_gemm_plan(), conv_gemm_plan());
}

// Edits one packed tensor's layout key in place and reseals the plan.
std::string load_error_with_key_edit(const std::function<void(flatbuffers::Vector<int64_t>*)>& edit) {
  auto plan = conv_gemm_plan();
  const auto ids = packed_tensors(plan);
  auto hostile = resealed(plan, [&](fb::Plan* p) {
    edit(p->mutable_tensors()->GetMutableObject(ids[0])->mutable_packing()->mutable_layout());
  });
  return error_of([&] { Engine::load_memory(hostile, "hostile.plan"); });
}

TEST(Prepacked, LayoutsReachingOutsideTheirBytesAreRefused) {
  // key: version, kind, ndims, dtype, (dim, padded dim) per dim, stride per dim, blocks...
  const char* want = "packed layout that does not describe its bytes";
  // A stride far past the stored bytes.
  std::string err = load_error_with_key_edit([](auto* k) {
    const int64_t nd = k->Get(2);
    k->Mutate(4 + 2 * static_cast<flatbuffers::uoffset_t>(nd), int64_t(1) << 30);
  });
  EXPECT_TRUE(has(err, "hostile.plan") && has(err, want)) << err;
  // A padded dim larger than the bytes hold.
  err = load_error_with_key_edit([](auto* k) { k->Mutate(5, int64_t(1) << 20); });
  EXPECT_TRUE(has(err, want)) << err;
  // Dims that do not multiply to the tensor's elements.
  err = load_error_with_key_edit([](auto* k) { k->Mutate(4, k->Get(4) + 1); });
  EXPECT_TRUE(has(err, want)) << err;
  // An unknown key version, data type or format kind.
  for (flatbuffers::uoffset_t at : {0u, 1u, 3u}) {
    err = load_error_with_key_edit([at](auto* k) { k->Mutate(at, 99); });
    EXPECT_TRUE(has(err, want)) << at << ": " << err;
  }
}

TEST(Prepacked, OlderSchemasCannotClaimPackedConstants) {
  auto plan = conv_gemm_plan();
  auto old = resealed(plan, [](fb::Plan* p) { p->mutate_schema_version(6); });
  const std::string err = error_of([&] { Engine::load_memory(old, "old.plan"); });
  EXPECT_TRUE(has(err, "packed where that is not allowed")) << err;
}

}  // namespace
}  // namespace kiln::test
