// Extreme shapes and values against the loader and run(): crafted profiles whose dims multiply
// past 64 bits, input values that ask value-dependent ops (Range, ConstantOfShape, Tile, Expand,
// Reshape) for absurd or merely too large outputs, and contexts beyond the memory limit. Each must
// end in a kiln::Error that names what went wrong -- never a wrapped size, an out-of-bounds write
// or the OOM killer. CI also runs this file under ASan and UBSan (scripts/sanitize.sh).
#include <cstring>
#include <functional>
#include <limits>

#include <gtest/gtest.h>

#include "kiln/compiler.hpp"
#include "kiln/plan_generated.h"
#include "kiln/runtime.hpp"
#include "onnx_builder_util.h"
#include "plan_edit_util.h"
#include "ops/tensor_view.h"
#include "plan/plan_format.h"

namespace kiln::test {
namespace {

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// x [B, C, S] -> Relu, with every dim inside a small profile.
std::vector<uint8_t> profile_plan() {
  OnnxBuilder b;
  b.input("x", {-1, -1, -1});
  b.node("Relu", {"x"}, {"y"});
  b.output("y", {-1, -1, -1});
  CompileOptions o;
  o.min_shapes = {{"x", {1, 1, 1}}};
  o.opt_shapes = {{"x", {2, 2, 2}}};
  o.max_shapes = {{"x", {4, 4, 4}}};
  return compile_onnx_file(b.save("robust_profile.onnx"), o).plan;
}

TEST(Robustness, ProfilesWhoseDimsMultiplyPast64BitsAreRefusedAtLoad) {
  auto plan = profile_plan();
  ASSERT_TRUE(error_of([&] { Engine::load_memory(plan); }).empty());
  // Each dim alone is within the per-dim bound (2^31); together 2^93 elements, which a 64-bit
  // product wraps to 0 -- small enough to pass a capacity check.
  auto hostile = resealed(plan, [](fb::Plan* p) {
    auto* max = p->mutable_input_ranges()->GetMutableObject(0)->mutable_max();
    for (flatbuffers::uoffset_t d = 0; d < 3; ++d) max->Mutate(d, int64_t(1) << 31);
  });
  const std::string err = error_of([&] { Engine::load_memory(hostile, "hostile.plan"); });
  EXPECT_TRUE(has(err, "hostile.plan") && has(err, "'x'") && has(err, "2^40")) << err;
}

TEST(Robustness, ShapesPastTheElementLimitAreErrorsNotWrappedSizes) {
  EXPECT_EQ(shape_elements({int64_t(1) << 20, int64_t(1) << 20}), int64_t(1) << 40);
  EXPECT_EQ(shape_elements({int64_t(1) << 62, 0, int64_t(1) << 62}), 0);  // empty, not an overflow
  EXPECT_EQ(shape_elements({int64_t(1) << 62, -1}), -1);                  // unknown wins
  EXPECT_TRUE(has(error_of([] { shape_elements({int64_t(1) << 31, int64_t(1) << 31, int64_t(1) << 31}); }), "2^40"));
  EXPECT_TRUE(has(error_of([] { shape_elements({int64_t(1) << 21, int64_t(1) << 20}); }), "2^40"));
  EXPECT_TRUE(has(error_of([] { shape_bytes({std::numeric_limits<int64_t>::max(), 2}, DType::Float32); }), "2^40"));
}

// One value-dependent op whose output size comes from an int64 input `n`.
struct ValueModel {
  const char* op;
  std::vector<int64_t> n_dims;  // shape of the int64 input
  int out_rank;
};

std::shared_ptr<const Engine> value_engine(const ValueModel& m, uint64_t memory_limit = 0) {
  OnnxBuilder b;
  b.input("n", m.n_dims, onnx::TensorProto::INT64);
  const std::string op = m.op;
  if (op == "Range") {
    b.init_i64("start", {}, {0});
    b.init_i64("delta", {}, {1});
    b.node("Range", {"start", "n", "delta"}, {"y"});
    b.output("y", {-1}, onnx::TensorProto::INT64);
  } else if (op == "ConstantOfShape") {
    b.node("ConstantOfShape", {"n"}, {"y"});
    b.output("y", std::vector<int64_t>(static_cast<size_t>(m.out_rank), -1));
  } else {  // Tile, Expand, Reshape of a small float constant
    b.init("x", {1, 2}, {1.f, 2.f});
    b.node(op, {"x", "n"}, {"y"});
    b.output("y", std::vector<int64_t>(static_cast<size_t>(m.out_rank), -1));
  }
  LoadOptions lo;
  lo.memory_limit = memory_limit;
  return Engine::load_memory(compile_onnx_file(b.save(std::string("robust_") + m.op + ".onnx"), {}).plan,
                             std::string(m.op) + ".plan", lo);
}

std::string run_with(ExecutionContext& ctx, const std::vector<int64_t>& n) {
  std::memcpy(ctx.input(0), n.data(), n.size() * sizeof(int64_t));
  return error_of([&] { ctx.run(); });
}

std::string run_with(const Engine& e, const std::vector<int64_t>& n) { return run_with(*e.create_context(), n); }

TEST(Robustness, ExtremeInputValuesEndInErrorsNamingTheLayer) {
  const int64_t big = int64_t(1) << 31, huge = std::numeric_limits<int64_t>::max();
  struct Case {
    ValueModel model;
    std::vector<int64_t> n;
    const char* expect;  // a part of the message
  };
  const std::vector<Case> cases = {
      {{"Range", {}, 1}, {huge}, "2^40"},
      {{"Range", {}, 1}, {int64_t(1) << 36}, "memory limit"},         // 512 GiB of int64
      {{"ConstantOfShape", {3}, 3}, {big, big, big}, "2^40"},          // wraps to 0 unchecked
      {{"ConstantOfShape", {3}, 3}, {1 << 16, 1 << 16, 1 << 6}, "memory limit"},
      {{"ConstantOfShape", {2}, 2}, {-5, 3}, "ConstantOfShape"},
      {{"Tile", {2}, 2}, {huge, huge}, "Tile"},
      {{"Tile", {2}, 2}, {1 << 20, 1 << 16}, "memory limit"},
      {{"Expand", {3}, 3}, {big, big, 2}, "2^40"},
      {{"Expand", {2}, 2}, {int64_t(1) << 34, 2}, "memory limit"},  // 128 GiB
      {{"Reshape", {2}, 2}, {huge, 2}, "Reshape"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.model.op);
    auto e = value_engine(c.model);
    auto ctx = e->create_context();
    const std::string err = run_with(*ctx, c.n);
    EXPECT_TRUE(has(err, c.expect)) << "got: '" << err << "'";
    // The context still works after a refused run.
    std::vector<int64_t> small(c.n.size(), 1);
    if (std::string(c.model.op) == "Reshape") small = {2, 1};
    EXPECT_EQ(run_with(*ctx, small), "");
  }
}

TEST(Robustness, TheMemoryLimitBoundsValueDependentTensors) {
  // 8 MiB of int64 passes the default limit, and fails one of 4 MiB with the size and the flag.
  ValueModel range{"Range", {}, 1};
  EXPECT_EQ(run_with(*value_engine(range), {int64_t(1) << 20}), "");
  const std::string err = run_with(*value_engine(range, uint64_t(4) << 20), {int64_t(1) << 20});
  EXPECT_TRUE(has(err, "'y'") && has(err, "9 MiB") && has(err, "--memPoolSize") && has(err, "4 MiB")) << err;
  EXPECT_GT(default_memory_limit(), uint64_t(0));
}

TEST(Robustness, AContextBeyondTheMemoryLimitIsRefused) {
  OnnxBuilder b;
  b.input("x", {1, 1024, 1024});
  b.node("Relu", {"x"}, {"r"});
  b.node("Sigmoid", {"r"}, {"y"});
  b.output("y", {1, 1024, 1024});
  auto plan = compile_onnx_file(b.save("robust_arena.onnx"), {}).plan;
  LoadOptions lo;
  lo.memory_limit = 1 << 20;
  auto e = Engine::load_memory(plan, "arena.plan", lo);
  const std::string err = error_of([&] { e->create_context(); });
  EXPECT_TRUE(has(err, "arena.plan") && has(err, "memory limit of 1 MiB") && has(err, "--memPoolSize")) << err;
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

// A plan whose weights live in a sidecar (schema v6) names it by a plain file name; a crafted name
// that leaves the plan's folder is refused, and so is loading such a plan from memory.
TEST(Robustness, WeightsSidecarNamesStayBesideThePlan) {
  OnnxBuilder b;
  b.input("x", {1, 8});
  b.init_random("w", {8, 4}, 3);
  b.node("MatMul", {"x", "w"}, {"y"});
  b.output("y", {1, 4});
  CompileOptions o;
  o.weights_file = "w.bin";
  o.external_weights = true;
  CompileResult r = compile_onnx_file(b.save("robust_sidecar.onnx"), o);
  ASSERT_GE(r.weights.size(), 8u * 4 * 4);
  const std::string from_memory = error_of([&] { Engine::load_memory(r.plan, "side.plan"); });
  EXPECT_TRUE(has(from_memory, "'w.bin'") && has(from_memory, "load it from its file")) << from_memory;
  auto escaping = resealed(r.plan, [](fb::Plan* p) {
    auto* name = const_cast<char*>(p->weights_file()->c_str());
    std::memcpy(name, "../wb", 5);
  });
  const std::string err = error_of([&] { Engine::load_memory(escaping, "side.plan"); });
  EXPECT_TRUE(has(err, "outside its folder")) << err;
  o.weights_file = "../w.bin";
  EXPECT_FALSE(error_of([&] { compile_onnx_file(b.save("robust_sidecar.onnx"), o); }).empty());
}

}  // namespace
}  // namespace kiln::test
