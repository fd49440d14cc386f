// Reference kernels and inference of Concat, Split, Slice, Expand, Tile and Pad against
// hand-computed values, plus their infer() error cases.
#include "ops/shape_test_util.h"

namespace kiln::test {
namespace {

using namespace kiln::ops;
using F = std::vector<float>;
using I = std::vector<int64_t>;

TEST(ShapeConcat, EachAxis) {
  Concat op;
  HostTensor a = iota({2, 3}), b = f32({2, 3}, {10, 11, 12, 13, 14, 15});
  op.axis = 0;
  auto y = run1(op, {a, b});
  EXPECT_EQ(y.shape, (Dims{4, 3}));
  EXPECT_EQ(values<float>(y), (F{0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15}));
  op.axis = 1;
  y = run1(op, {a, b});
  EXPECT_EQ(y.shape, (Dims{2, 6}));
  EXPECT_EQ(values<float>(y), (F{0, 1, 2, 10, 11, 12, 3, 4, 5, 13, 14, 15}));
  op.axis = -1;
  EXPECT_EQ(values<float>(run1(op, {a, b})), values<float>(y));
}

TEST(ShapeConcat, ThreeInputsMixedSizesAndInt64) {
  Concat op;
  op.axis = 1;
  auto y = run1(op, {i64({2, 1}, {1, 2}), i64({2, 0}, {}), i64({2, 2}, {3, 4, 5, 6})});
  EXPECT_EQ(y.shape, (Dims{2, 3}));
  EXPECT_EQ(values<int64_t>(y), (I{1, 3, 4, 2, 5, 6}));
  // The shape-vector case of constant folding: 1-D pieces.
  op.axis = 0;
  EXPECT_EQ(values<int64_t>(run1(op, {ints({1}), ints({-1}), ints({7, 8})})), (I{1, -1, 7, 8}));
}

TEST(ShapeConcat, InferErrors) {
  Concat op;
  op.axis = 0;
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({2, 3}), iota({2, 4})}), "differs");
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({2, 3}), iota({2, 3, 1})}), "ranks differ");
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({2, 3}), iota({2, 3}, DType::Int64)}), "int64");
  op.axis = 2;
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({2, 3}), iota({2, 3})}), "out of range");
  // Unknown dims merge with known ones.
  op.axis = 1;
  EXPECT_EQ(infer_types(op, {{DType::Float32, {-1, 3}}, {DType::Float32, {5, 2}}})[0].shape, (Dims{5, 5}));
  EXPECT_EQ(infer_types(op, {{DType::Float32, {5, -1}}, {DType::Float32, {5, 2}}})[0].shape, (Dims{5, -1}));
}

TEST(ShapeSplit, SizesAndEqualParts) {
  Split op;
  op.split = {1, 2, 3};
  std::vector<HostTensor> in{iota({6})};
  auto out = run_reference(op, in);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(values<float>(out[0]), (F{0}));
  EXPECT_EQ(values<float>(out[1]), (F{1, 2}));
  EXPECT_EQ(values<float>(out[2]), (F{3, 4, 5}));
  op.split = {2, 2};
  op.axis = -1;
  std::vector<HostTensor> in2{iota({2, 4})};
  out = run_reference(op, in2);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(values<float>(out[0]), (F{0, 1, 4, 5}));
  EXPECT_EQ(values<float>(out[1]), (F{2, 3, 6, 7}));
  op.split = {};  // equal parts from the output count
  auto t = infer_types(op, {{DType::Float32, {2, 6}}}, 3);
  EXPECT_EQ(t[2].shape, (Dims{2, 2}));
  EXPECT_THROW(infer_types(op, {{DType::Float32, {2, 7}}}, 3), Error);
  op.split = {2, 3};
  EXPECT_THROW(infer_types(op, {{DType::Float32, {2, 6}}}, 2), Error);  // 5 != 6
  op.split = {3, 3};
  EXPECT_THROW(infer_types(op, {{DType::Float32, {2, 6}}}, 3), Error);  // 2 parts, 3 outputs
  op.split = {-1, 7};
  EXPECT_THROW(infer_types(op, {{DType::Float32, {2, 6}}}, 2), Error);
}

TEST(ShapeSlice, PositiveAndNegativeSteps) {
  Slice op;
  op.starts = {1}, op.ends = {8}, op.steps = {3};
  EXPECT_EQ(values<float>(run1(op, {iota({10})})), (F{1, 4, 7}));
  op.starts = {8}, op.ends = {1}, op.steps = {-2};
  EXPECT_EQ(values<float>(run1(op, {iota({10})})), (F{8, 6, 4, 2}));
  op.starts = {-1}, op.ends = {INT64_MIN}, op.steps = {-1};  // full reversal
  EXPECT_EQ(values<float>(run1(op, {iota({5})})), (F{4, 3, 2, 1, 0}));
  op.starts = {100}, op.ends = {-100}, op.steps = {-3};  // clamped at both ends
  EXPECT_EQ(values<float>(run1(op, {iota({7})})), (F{6, 3, 0}));
  op.starts = {2}, op.ends = {INT64_MAX}, op.steps = {};
  EXPECT_EQ(values<float>(run1(op, {iota({5})})), (F{2, 3, 4}));
  op.starts = {-2}, op.ends = {-1};
  EXPECT_EQ(values<float>(run1(op, {iota({5})})), (F{3}));
  op.starts = {3}, op.ends = {1};  // empty
  EXPECT_EQ(run1(op, {iota({5})}).shape, (Dims{0}));
}

TEST(ShapeSlice, AxesOn2D) {
  Slice op;
  op.starts = {0, 3}, op.ends = {-1, 0}, op.axes = {1, 0}, op.steps = {2, -2};
  // rows 3, 1 (reversed, step 2); cols 0, 2 of a 4x4
  auto y = run1(op, {iota({4, 4})});
  EXPECT_EQ(y.shape, (Dims{2, 2}));
  EXPECT_EQ(values<float>(y), (F{12, 14, 4, 6}));
}

TEST(ShapeSlice, ParametersAsInputs) {
  Slice op;
  std::vector<HostTensor> in{iota({4, 4}), ints({3, 0}), ints({0, -1}), ints({0, 1}), ints({-2, 2})};
  auto y = run1(op, in);
  EXPECT_EQ(values<float>(y), (F{12, 14, 4, 6}));
  // Not constant: sliced axes become unknown.
  auto t = infer_types(op, {{DType::Float32, {4, 5}}, {DType::Int64, {1}}, {DType::Int64, {1}},
                            {DType::Int64, {1}}, {}});
  EXPECT_EQ(t[0].shape, (Dims{-1, -1}));
  in = {iota({4, 5}), ints({1}), ints({3}), HostTensor(DType::Int64, {1}), HostTensor()};
  in[4].dtype = DType::Undefined;
  in[3].bytes.assign(8, 0);  // axes = [0] but not constant
  t = infer_outputs(op, in);
  EXPECT_EQ(t[0].shape, (Dims{-1, -1}));
}

TEST(ShapeSlice, InferErrors) {
  Slice op;
  op.starts = {0}, op.ends = {1}, op.steps = {0};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({4})}, "cannot be 0");
  op.starts = {0, 0}, op.ends = {1, 1}, op.axes = {0, -2}, op.steps = {};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({4, 4})}, "twice");
  op.axes = {0, 2};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({4, 4})}, "out of range");
  op.axes = {}, op.ends = {1};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({4, 4})}, "ends has 1");
}

TEST(ShapeExpand, Broadcast) {
  Expand op;
  op.shape = {2, 1, 4};
  auto y = run1(op, {f32({3, 1}, {1, 2, 3})});
  ASSERT_EQ(y.shape, (Dims{2, 3, 4}));
  auto v = values<float>(y);
  EXPECT_EQ(v[0], 1.f);
  EXPECT_EQ(v[5], 2.f);
  EXPECT_EQ(v[11], 3.f);
  EXPECT_EQ(v[12 + 9], 3.f);
  op.shape = {1};  // a smaller target keeps the input's dims
  EXPECT_EQ(run1(op, {iota({2, 3})}).shape, (Dims{2, 3}));
  op.shape = {2, 4};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3})}, "do not broadcast");
  op.shape = {-2, 3};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 3})}, "negative");
  op.shape = {int64_t(1) << 30, int64_t(1) << 30, 3};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({1, 3})}, "too many elements");
  // Run-time shape: only dims the input fixes are known.
  EXPECT_EQ(infer_types(Expand{}, {{DType::Float32, {3, 1}}, {DType::Int64, {3}}})[0].shape,
            (Dims{-1, 3, -1}));
}

TEST(ShapeTile, Repeats) {
  Tile op;
  op.repeats = {2, 1};
  auto y = run1(op, {iota({2, 2})});
  EXPECT_EQ(y.shape, (Dims{4, 2}));
  EXPECT_EQ(values<float>(y), (F{0, 1, 2, 3, 0, 1, 2, 3}));
  op.repeats = {1, 3};
  y = run1(op, {iota({2, 2})});
  EXPECT_EQ(values<float>(y), (F{0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3}));
  op.repeats = {0, 3};
  EXPECT_EQ(run1(op, {iota({2, 2})}).shape, (Dims{0, 6}));
  op.repeats = {2};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 2})}, "rank 2");
  op.repeats = {-1, 1};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 2})}, "non-negative");
  op.repeats = {int64_t(1) << 62, 4};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 2})}, "overflows");
}

TEST(ShapePad, ConstantWithValueAndCrop) {
  Pad op;
  op.pads = {1, 0, 0, 2};  // [begin0, begin1, end0, end1]
  op.value_bits = pack_element(DType::Float32, -1.0);
  auto y = run1(op, {iota({2, 2})});
  ASSERT_EQ(y.shape, (Dims{3, 4}));
  EXPECT_EQ(values<float>(y), (F{-1, -1, -1, -1, 0, 1, -1, -1, 2, 3, -1, -1}));
  op.pads = {0, -1, 0, 1};  // crop the first column, pad one at the end
  op.value_bits = pack_element(DType::Int64, 9);
  auto z = run1(op, {iota({2, 3}, DType::Int64)});
  EXPECT_EQ(values<int64_t>(z), (I{1, 2, 9, 4, 5, 9}));
}

TEST(ShapePad, ReflectAndEdge) {
  Pad op;
  op.mode = "reflect";
  op.pads = {0, 2, 0, 1};
  auto y = run1(op, {f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  ASSERT_EQ(y.shape, (Dims{2, 6}));
  EXPECT_EQ(values<float>(y), (F{3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5}));
  op.mode = "edge";
  y = run1(op, {f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(values<float>(y), (F{1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6}));
  op.pads = {1, 0, 1, 0};
  y = run1(op, {f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(values<float>(y), (F{1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6}));
}

TEST(ShapePad, WrapIsARing) {  // opset 19: numpy.pad(mode="wrap")
  Pad op;
  op.mode = "wrap";
  op.pads = {0, 2, 0, 4};  // 2 before and 4 after the 3 columns: more than one turn
  auto y = run1(op, {f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  ASSERT_EQ(y.shape, (Dims{2, 9}));
  EXPECT_EQ(values<float>(y), (F{2, 3, 1, 2, 3, 1, 2, 3, 1, 5, 6, 4, 5, 6, 4, 5, 6, 4}));
}

TEST(ShapePad, RunTimeValueInput) {
  Pad op;
  op.pads = {1, 1};
  HostTensor absent;
  absent.dtype = DType::Undefined;
  auto y = run1(op, {iota({2}), absent, f32({}, {-7})});
  EXPECT_EQ(values<float>(y), (F{-7, 0, 1, -7}));
  EXPECT_INFER_FAILS(op, (std::vector<HostTensor>{iota({2}), absent, i64({}, {1})}), "pad value");
}

TEST(ShapePad, InferErrors) {
  Pad op;
  op.pads = {1, 1};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 2})}, "2 * rank");
  op.pads = {-3, 0, 0, 0};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 2})}, "crop more");
  op.pads = {0, 0, 0, 0};
  op.mode = "circular";
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 2})}, "mode");
  op.mode = "edge";
  op.pads = {1, 0, 0, 0};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({0, 2})}, "empty");
  op.mode = "constant";
  op.pads = {int64_t(1) << 41, 0, 0, 0};
  EXPECT_INFER_FAILS(op, std::vector<HostTensor>{iota({2, 2})}, "absurd");
}

}  // namespace
}  // namespace kiln::test
