// Quantization ops: QuantizeLinear / DequantizeLinear (per tensor and per axis, rounding half to
// even, saturation), DynamicQuantizeLinear, MatMulInteger, QLinearMatMul, ConvInteger and
// QLinearConv against hand-computed values (including the ONNX examples), infer() errors, and
// the importers' opset handling.
#include <gtest/gtest.h>

#include "ops/quantization/quant.h"
#include "ops/multi_output_test_util.h"

namespace kiln::test {
namespace {

using namespace ops;
using namespace multi_output;

HostTensor scalar_f(float v) { return f32({}, {v}); }

TEST(QuantReference, QuantizeLinear) {
  QuantizeLinear q;
  auto y = run_ref(q, {f32({6}, {0, 2, 3, 1000, -254, -1000}), scalar_f(2), u8({}, {128})}, 1)[0];
  EXPECT_EQ(y.dtype, DType::UInt8);
  EXPECT_EQ(vals<uint8_t>(y), (std::vector<uint8_t>{128, 129, 130, 255, 1, 0}));
  // Halves round to even; int8 saturates at both ends.
  y = run_ref(q, {f32({7}, {1, 3, 5, -1, -3, 300, -300}), scalar_f(2), s8({}, {0})}, 1)[0];
  EXPECT_EQ(y.dtype, DType::Int8);
  EXPECT_EQ(vals<int8_t>(y), (std::vector<int8_t>{0, 2, 2, 0, -2, 127, -128}));
  // No zero point: uint8 around 0.
  EXPECT_EQ(vals<uint8_t>(run_ref(q, {f32({2}, {-1, 2.9f}), scalar_f(1)}, 1)[0]), (std::vector<uint8_t>{0, 3}));
  // int32 input.
  EXPECT_EQ(vals<uint8_t>(run_ref(q, {i32({1}, {7}), scalar_f(2)}, 1)[0]), (std::vector<uint8_t>{4}));
}

TEST(QuantReference, PerAxis) {
  QuantizeLinear q;
  HostTensor x = f32({2, 2}, {1, 2, 3, 4});
  q.axis = 0;
  EXPECT_EQ(vals<uint8_t>(run_ref(q, {x, f32({2}, {1, 2}), u8({2}, {0, 10})}, 1)[0]),
            (std::vector<uint8_t>{1, 2, 12, 12}));
  q.axis = -1;
  EXPECT_EQ(vals<uint8_t>(run_ref(q, {x, f32({2}, {1, 2}), u8({2}, {0, 10})}, 1)[0]),
            (std::vector<uint8_t>{1, 11, 3, 12}));
  DequantizeLinear dq;
  dq.axis = 1;
  auto y = run_ref(dq, {s8({2, 2}, {-1, 5, 3, -128}), f32({2}, {0.5f, 2}), s8({2}, {1, -2})}, 1)[0];
  EXPECT_EQ(y.dtype, DType::Float32);
  expect_near(vals<float>(y), {-1, 14, 1, -252});
}

TEST(QuantReference, DequantizeLinear) {
  DequantizeLinear dq;
  expect_near(vals<float>(run_ref(dq, {u8({4}, {0, 3, 128, 255}), scalar_f(2), u8({}, {128})}, 1)[0]),
              {-256, -250, 0, 254});
  expect_near(vals<float>(run_ref(dq, {i32({2}, {-1000, 7}), scalar_f(0.5f)}, 1)[0]), {-500, 3.5});
}

TEST(QuantReference, DynamicQuantizeLinear) {
  DynamicQuantizeLinear op;
  auto out = run_ref(op, {f32({6}, {0, 2, -3, -2.5f, 1.34f, 0.5f})}, 3);
  EXPECT_EQ(vals<uint8_t>(out[0]), (std::vector<uint8_t>{153, 255, 0, 26, 221, 179}));
  EXPECT_FLOAT_EQ(vals<float>(out[1])[0], 5.f / 255.f);
  EXPECT_EQ(vals<uint8_t>(out[2])[0], 153);
  // All positive: the range still starts at 0, so the zero point is 0.
  out = run_ref(op, {f32({2}, {1, 4})}, 3);
  EXPECT_EQ(vals<uint8_t>(out[2])[0], 0);
  EXPECT_EQ(vals<uint8_t>(out[0]), (std::vector<uint8_t>{64, 255}));
  // All zeros: scale 0 must not divide by zero.
  out = run_ref(op, {f32({2}, {0, 0})}, 3);
  EXPECT_EQ(vals<float>(out[1])[0], 0.f);
  EXPECT_EQ(vals<uint8_t>(out[0]), (std::vector<uint8_t>{0, 0}));
}

TEST(QuantReference, MatMulInteger) {
  MatMulInteger op;
  HostTensor a = u8({4, 3}, {11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0}), b = u8({3, 2}, {1, 4, 2, 5, 3, 6});
  auto y = run_ref(op, {a, b, u8({1}, {12}), u8({1}, {0})}, 1)[0];
  EXPECT_EQ(y.dtype, DType::Int32);
  EXPECT_EQ(vals<int32_t>(y), (std::vector<int32_t>{-38, -83, -44, -98, -50, -113, -56, -128}));
  // Per-row A zero point [M] and per-column B zero point [N].
  HostTensor a2 = u8({2, 2}, {1, 2, 3, 4}), b2 = s8({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(vals<int32_t>(run_ref(op, {a2, b2, u8({2}, {1, 2}), s8({2}, {0, 1})}, 1)[0]),
            (std::vector<int32_t>{3, 3, 7, 7}));  // [[0,1],[1,2]] @ [[1,1],[3,3]]
  // Batch broadcasting: A [2, 1, 1, 2] x B [3, 2, 1] -> [2, 3, 1, 1]; 1-D A drops M.
  auto yb = run_ref(op, {u8({2, 1, 1, 2}, {1, 2, 3, 4}), u8({3, 2, 1}, {1, 0, 0, 1, 1, 1})}, 1)[0];
  EXPECT_EQ(yb.shape, (Dims{2, 3, 1, 1}));
  EXPECT_EQ(vals<int32_t>(yb), (std::vector<int32_t>{1, 2, 3, 3, 4, 7}));
  auto yv = run_ref(op, {u8({2}, {1, 2}), u8({2, 3}, {1, 2, 3, 4, 5, 6})}, 1)[0];
  EXPECT_EQ(yv.shape, (Dims{3}));
  EXPECT_EQ(vals<int32_t>(yv), (std::vector<int32_t>{9, 12, 15}));
}

TEST(QuantReference, QLinearMatMul) {
  QLinearMatMul op;
  HostTensor a = u8({2, 4}, {208, 236, 0, 238, 3, 214, 255, 29});
  HostTensor b = u8({4, 3}, {152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247});
  auto y = run_ref(op, {a, f32({1}, {0.0066f}), u8({1}, {113}), b, f32({1}, {0.00705f}), u8({1}, {114}),
                        f32({1}, {0.0107f}), u8({1}, {118})}, 1)[0];
  EXPECT_EQ(vals<uint8_t>(y), (std::vector<uint8_t>{168, 115, 255, 1, 66, 151}));
}

TEST(QuantReference, ConvInteger) {
  ConvInteger op;
  HostTensor x = u8({1, 1, 3, 3}, {2, 3, 4, 5, 6, 7, 8, 9, 10}), w = u8({1, 1, 2, 2}, {1, 1, 1, 1});
  EXPECT_EQ(vals<int32_t>(run_ref(op, {x, w, u8({}, {1})}, 1)[0]), (std::vector<int32_t>{12, 16, 24, 28}));
  // Padding contributes nothing (it is the zero point, not 0).
  op.pads = {1, 1, 1, 1};
  EXPECT_EQ(vals<int32_t>(run_ref(op, {x, w, u8({}, {1})}, 1)[0]),
            (std::vector<int32_t>{1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9}));
  // Groups, strides and a per-channel w zero point: x [1, 2, 3], w [2, 1, 1].
  ConvInteger g;
  g.group = 2;
  g.strides = {2};
  auto y = run_ref(g, {u8({1, 2, 3}, {1, 2, 3, 4, 5, 6}), s8({2, 1, 1}, {3, -1}), absent(), s8({2}, {1, -2})}, 1)[0];
  EXPECT_EQ(y.shape, (Dims{1, 2, 2}));
  EXPECT_EQ(vals<int32_t>(y), (std::vector<int32_t>{2, 6, 4, 6}));  // (3-1)*[1,3], (-1+2)*[4,6]
}

TEST(QuantReference, QLinearConv) {
  QLinearConv op;
  std::vector<uint8_t> xv{255, 174, 162, 25,  203, 168, 58,  15,  59,  237, 95,  129, 0,   64,  56,  242, 153,
                          221, 168, 12,  166, 232, 178, 186, 195, 237, 162, 237, 188, 39,  124, 77,  80,  102,
                          43,  127, 230, 21,  83,  41,  40,  134, 255, 154, 92,  141, 42,  148, 247};
  auto y = run_ref(op, {u8({1, 1, 7, 7}, xv), scalar_f(0.00369204697f), u8({}, {132}), u8({1, 1, 1, 1}, {0}),
                        f32({1}, {0.00172794575f}), u8({1}, {255}), scalar_f(0.00162681262f), u8({}, {123})}, 1)[0];
  const std::vector<uint8_t> want{0,   81,  93,  230, 52,  87,  197, 240, 196, 18,  160, 126, 255, 191, 199, 13, 102,
                                  34,  87,  243, 89,  23,  77,  69,  60,  18,  93,  18,  67,  216, 131, 178, 175, 153,
                                  212, 128, 25,  234, 172, 214, 215, 121, 0,   101, 163, 114, 213, 107, 8};
  EXPECT_EQ(vals<uint8_t>(y), want);
  // Per-channel w scales, an int32 bias and an int8 output.
  auto y2 = run_ref(op, {u8({1, 1, 2, 2}, {10, 20, 30, 40}), scalar_f(0.5f), u8({}, {10}), s8({2, 1, 1, 1}, {2, -3}),
                         f32({2}, {0.1f, 0.2f}), s8({2}, {0, 0}), scalar_f(0.25f), s8({}, {-5}), i32({2}, {5, -7})},
                    1)[0];
  EXPECT_EQ(y2.dtype, DType::Int8);
  EXPECT_EQ(vals<int8_t>(y2), (std::vector<int8_t>{-4, 0, 4, 8, -8, -20, -32, -44}));
}

TEST(QuantInfer, Errors) {
  const ops::TensorType u8s{DType::UInt8, {}}, fs{DType::Float32, {}};
  QuantizeLinear q;
  EXPECT_NE(infer_err(q, {f32({2, 3}), f32({4}), {DType::UInt8, {4}}}).find("axis 1 has size 3"), std::string::npos);
  EXPECT_NE(infer_err(q, {f32({2, 3}), fs, {DType::Int32, {}}}).find("uint8 or int8"), std::string::npos);
  EXPECT_NE(infer_err(q, {f32({2, 3}), {DType::Float64, {}}}).find("float32"), std::string::npos);
  EXPECT_NE(infer_err(q, {f32({2, 3}), f32({3}), {DType::UInt8, {2}}}).find("zero point has shape"), std::string::npos);
  q.axis = 5;
  EXPECT_NE(infer_err(q, {f32({2, 3}), f32({3})}).find("out of range"), std::string::npos);
  DequantizeLinear dq;
  EXPECT_NE(infer_err(dq, {{DType::UInt8, {3}}, fs, {DType::Int8, {}}}).find("x_zero_point has dtype"),
            std::string::npos);
  MatMulInteger mm;
  EXPECT_EQ(infer_err(mm, {{DType::UInt8, {4, 3}}, {DType::Int8, {3, 2}}}), "");
  EXPECT_NE(infer_err(mm, {{DType::UInt8, {4, 3}}, {DType::UInt8, {2, 2}}}).find("inner dimensions"),
            std::string::npos);
  EXPECT_NE(infer_err(mm, {{DType::UInt8, {4, 3}}, {DType::UInt8, {3, 2}}, {DType::UInt8, {3}}}).find("per row"),
            std::string::npos);
  EXPECT_NE(infer_err(mm, {f32({4, 3}), {DType::UInt8, {3, 2}}}).find("uint8 or int8"), std::string::npos);
  ConvInteger ci;
  EXPECT_NE(infer_err(ci, {{DType::UInt8, {1, 2, 5, 5}}, {DType::UInt8, {3, 3, 3, 3}}}).find("channels"),
            std::string::npos);
  EXPECT_NE(infer_err(ci, {{DType::UInt8, {1, 2, 5, 5}}, {DType::UInt8, {3, 2, 3, 3}}, u8s, {DType::UInt8, {2}}})
                .find("one per output channel"),
            std::string::npos);
  QLinearConv qc;
  EXPECT_NE(infer_err(qc, {{DType::UInt8, {1, 1, 3, 3}}, fs, u8s, {DType::UInt8, {1, 1, 1, 1}}, fs, u8s, fs, u8s,
                           {DType::Float32, {1}}})
                .find("B must be int32"),
            std::string::npos);
  EXPECT_NE(infer_err(DynamicQuantizeLinear{}, {f32({3})}, 1).find("three outputs"), std::string::npos);
}

TEST(QuantImport, OpsetsAndPads) {
  auto build = [](int opset, bool axis) {
    OnnxBuilder b(opset);
    b.input("x", {2, 3});
    b.init("s", {3}, {1, 2, 3});
    auto& n = b.node("QuantizeLinear", {"x", "s"}, {"y"});
    if (axis) OnnxBuilder::attr(n, "axis", int64_t{-1});
    b.output("y", {2, 3}, onnx::TensorProto::UINT8);
    return b;
  };
  auto g = import(build(13, true));
  const auto* q = only_op<QuantizeLinear>(*g);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->axis, -1);
  auto out = evaluate(*g, {{"x", f32({2, 3}, {1, 4, 9, -1, 5, 6})}});
  EXPECT_EQ(vals<uint8_t>(out.at("y")), (std::vector<uint8_t>{1, 2, 3, 0, 2, 2}));

  OnnxBuilder c(10);
  c.input("x", {1, 1, 5}, onnx::TensorProto::UINT8);
  c.input("w", {1, 1, 2}, onnx::TensorProto::UINT8);
  auto& n = c.node("ConvInteger", {"x", "w"}, {"y"});
  attr_s(n, "auto_pad", "SAME_UPPER");
  OnnxBuilder::attr(n, "strides", std::vector<int64_t>{2});
  c.output("y", {1, 1, 3}, onnx::TensorProto::INT32);
  auto gc = import(c);
  const auto* ci = only_op<ConvInteger>(*gc);
  ASSERT_TRUE(ci);
  EXPECT_EQ(ci->pads, (std::vector<int64_t>{0, 1}));  // out 3: total pad 1, the odd one at the end
  auto yc = evaluate(*gc, {{"x", u8({1, 1, 5}, {1, 2, 3, 4, 5})}, {"w", u8({1, 1, 2}, {1, 10})}});
  EXPECT_EQ(vals<int32_t>(yc.at("y")), (std::vector<int32_t>{21, 43, 5}));
}

}  // namespace
}  // namespace kiln::test
