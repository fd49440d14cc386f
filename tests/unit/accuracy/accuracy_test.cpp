// The accuracy check (kiln/accuracy.hpp): the figures against hand-computed values, the tolerance
// gate and its spec parser, and the input sources. fp32 against fp32 plans is exact, so to get
// known non-zero differences the "plan" is built from another model with the same inputs and
// outputs: y = 2x or y = -x against the reference y = x.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "kiln/accuracy.hpp"
#include "onnx_builder_util.h"

namespace kiln::test {
namespace {

// y = x * k for x float32[2, 5].
std::string scale_model(float k, const std::string& file) {
  OnnxBuilder b;
  b.input("x", {2, 5});
  b.output("y", {2, 5});
  b.init("k", {}, {k});
  b.node("Mul", {"x", "k"}, {"y"});
  return b.save(file);
}

InputSample sample(const std::vector<float>& x) {
  HostTensor h{DType::Float32, {2, 5}, std::vector<uint8_t>(x.size() * 4)};
  std::memcpy(h.data.data(), x.data(), h.data.size());
  return {{"x", h}};
}

const std::vector<float> kX = {0.5f, -1.f, 2.f, 0.25f, -0.75f, 1.5f, 0.f, -2.5f, 1.f, 0.125f};

TEST(Accuracy, FiguresMatchHandComputedValues) {
  const std::string ref = scale_model(1.f, "acc_ref.onnx");
  CheckOptions c;
  c.samples = {sample(kX)};
  c.samples_origin = "test";

  // a = 2x, b = x: |a - b| = |x|, ||a - b|| / ||b|| = 1, same direction, same argmax.
  const auto twice = compile_onnx_file(scale_model(2.f, "acc_twice.onnx"), {}).plan;
  AccuracyReport r = check_accuracy(ref, {}, twice, c);
  ASSERT_EQ(r.outputs.size(), 1u);
  const OutputAccuracy& o = r.outputs[0];
  EXPECT_EQ(r.source, "loadInputs");
  EXPECT_EQ(r.samples, 1u);
  EXPECT_EQ(o.name, "y");
  EXPECT_DOUBLE_EQ(o.max_abs, 2.5);
  EXPECT_NEAR(o.rel_l2, 1.0, 1e-12);
  EXPECT_NEAR(o.cosine, 1.0, 1e-12);
  ASSERT_TRUE(o.top1.has_value());
  EXPECT_EQ(*o.top1, 1.0);
  EXPECT_EQ(o.rows, 2u);
  EXPECT_TRUE(r.passed());

  // a = -x: ||a - b|| = 2 ||b||, opposite direction, no argmax agrees (the rows' values are distinct).
  const auto negated = compile_onnx_file(scale_model(-1.f, "acc_neg.onnx"), {}).plan;
  c.tolerance = parse_check_tolerance("rel_l2:0.5,cosine:0.9,top1:0.5,max_abs:10");
  r = check_accuracy(ref, {}, negated, c);
  EXPECT_NEAR(r.outputs[0].rel_l2, 2.0, 1e-12);
  EXPECT_NEAR(r.outputs[0].cosine, -1.0, 1e-12);
  EXPECT_EQ(*r.outputs[0].top1, 0.0);
  ASSERT_EQ(r.misses.size(), 3u);
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(describe_misses(r),
            "output 'y': rel_l2 2 exceeds --checkTolerance rel_l2:0.5; output 'y': cosine -1 is below "
            "--checkTolerance cosine:0.9; output 'y': top1 0 is below --checkTolerance top1:0.5");

  // The same plan as the reference: exactly zero, on random inputs too.
  CheckOptions rnd;
  rnd.tolerance = parse_check_tolerance("max_abs:0");
  r = check_accuracy(ref, {}, compile_onnx_file(ref, {}).plan, rnd);
  EXPECT_EQ(r.source, "random");
  EXPECT_EQ(r.samples, 4u);
  EXPECT_EQ(r.outputs[0].max_abs, 0.0);
  EXPECT_TRUE(r.passed());
}

TEST(Accuracy, SamplesThatDoNotFitThePlanAreErrors) {
  const std::string ref = scale_model(1.f, "acc_fit.onnx");
  const auto plan = compile_onnx_file(ref, {}).plan;
  auto fails = [&](InputSample s, const char* needle) {
    CheckOptions c;
    c.samples = {std::move(s)};
    c.samples_origin = "--loadInputs";
    try {
      check_accuracy(ref, {}, plan, c);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  InputSample wrong_name = sample(kX);
  wrong_name["img"] = wrong_name["x"];
  wrong_name.erase("x");
  fails(wrong_name, "no input 'img'; its inputs are 'x'");
  InputSample wrong_shape = sample(kX);
  wrong_shape["x"].shape = {5, 2};
  fails(wrong_shape, "input 'x' is float32[5x2] but the plan needs float32[2x5]");
  InputSample unnamed = sample(kX);
  unnamed[""] = unnamed["x"];
  unnamed.erase("x");
  CheckOptions c;
  c.samples = {unnamed};
  EXPECT_EQ(check_accuracy(ref, {}, plan, c).outputs[0].max_abs, 0.0);  // "" = the only input
}

TEST(Accuracy, ToleranceSpecs) {
  const CheckTolerance t = parse_check_tolerance("top1:0.99,rel_l2:0.02");
  EXPECT_EQ(*t.rel_l2, 0.02);
  EXPECT_EQ(*t.top1, 0.99);
  EXPECT_FALSE(t.max_abs || t.cosine);
  EXPECT_EQ(format_check_tolerance(t), "rel_l2:0.02,top1:0.99");
  for (const char* bad : {"", "rel_l2", "rel_l2:", "l2:1", "rel_l2:-1", "rel_l2:x", "rel_l2:1,rel_l2:2",
                          "rel_l2:1,", "cosine:nan"})
    EXPECT_THROW(parse_check_tolerance(bad), OptionError) << bad;
}

TEST(Accuracy, TestDataSetsAndRandomInputs) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(temp_dir()) / "acc_calib";
  fs::remove_all(dir);
  for (int k : {0, 1, 10}) {
    fs::create_directories(dir / ("test_data_set_" + std::to_string(k)));
    onnx::TensorProto t;
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(2);
    t.add_dims(5);
    for (int i = 0; i < 10; ++i) t.add_float_data(static_cast<float>(k * 100 + i));
    std::ofstream(dir / ("test_data_set_" + std::to_string(k)) / "input_0.pb", std::ios::binary)
        << t.SerializeAsString();
  }
  TensorDesc x{"x", DType::Float32, {2, 5}, {2, 5}, {2, 5}};
  const std::vector<InputSample> sets = read_test_data_sets(dir.string(), {x});
  ASSERT_EQ(sets.size(), 3u);
  float first;
  std::memcpy(&first, sets[2].at("x").data.data(), 4);
  EXPECT_EQ(first, 1000.f);  // test_data_set_10 sorts after test_data_set_1
  TensorDesc y = x;
  y.name = "y";
  EXPECT_THROW(read_test_data_sets(dir.string(), {x, y}), Error);  // no input_1.pb
  x.shape = x.min_shape = x.max_shape = {5, 2};
  EXPECT_THROW(read_test_data_sets(dir.string(), {x}), Error);

  const TensorDesc ids{"input_ids", DType::Int64, {64}, {64}, {64}};
  const TensorDesc mask{"attention_mask", DType::Int64, {64}, {64}, {64}};
  const TensorDesc img{"image", DType::UInt8, {64}, {64}, {64}};
  const InputSample s = make_random_sample({ids, mask, img}, 7, 0);
  EXPECT_EQ(s.at("input_ids").data, make_random_sample({ids, mask, img}, 7, 0).at("input_ids").data);
  EXPECT_NE(s.at("input_ids").data, make_random_sample({ids, mask, img}, 7, 1).at("input_ids").data);
  int64_t max_id = 0, max_mask = 0;
  for (size_t i = 0; i < 64; ++i) {
    int64_t v;
    std::memcpy(&v, s.at("input_ids").data.data() + 8 * i, 8);
    max_id = std::max(max_id, v);
    std::memcpy(&v, s.at("attention_mask").data.data() + 8 * i, 8);
    max_mask = std::max(max_mask, v);
  }
  EXPECT_GT(max_id, 1);
  EXPECT_LE(max_id, 99);
  EXPECT_EQ(max_mask, 1);
}

}  // namespace
}  // namespace kiln::test
