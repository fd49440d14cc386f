// Quantization family as ONNX defines it: QuantizeLinear / DequantizeLinear (per tensor, and per
// axis from opset 13), DynamicQuantizeLinear, and the integer linear-algebra ops MatMulInteger,
// ConvInteger, QLinearMatMul and QLinearConv. Rounding is half to even and results saturate to
// the output type, as in ONNX Runtime (whose results the backend suite records).
#pragma once

#include "ops/op.h"

namespace kiln::ops {

// y = saturate(round(x / scale) + zero_point). Inputs: x (float32 or int32), scale (float32,
// one element or 1-D along `axis`), optional zero_point (uint8 or int8, scale's shape; its
// dtype is the output's, uint8 when absent).
struct QuantizeLinear : OpBase<QuantizeLinear> {
  static constexpr const char* kType = "QuantizeLinear";
  int64_t axis = 1;
  void attrs(AttrVisitor& v) override { v.visit("axis", axis); }
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// y = (x - zero_point) * scale as float32. x is uint8, int8 or int32; scale / zero_point as for
// QuantizeLinear.
struct DequantizeLinear : OpBase<DequantizeLinear> {
  static constexpr const char* kType = "DequantizeLinear";
  int64_t axis = 1;
  void attrs(AttrVisitor& v) override { v.visit("axis", axis); }
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// x float32 -> (y uint8, y_scale float32 scalar, y_zero_point uint8 scalar), with the range
// [min(0, min x), max(0, max x)] mapped onto [0, 255].
struct DynamicQuantizeLinear : OpBase<DynamicQuantizeLinear> {
  static constexpr const char* kType = "DynamicQuantizeLinear";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Y int32 = (A - a_zero_point) @ (B - b_zero_point) with numpy matmul broadcasting. A and B
// are uint8 or int8. a_zero_point: one element, [M] (per row) or A's shape with K = 1;
// b_zero_point: one element, [N] (per column) or B's shape with K = 1.
struct MatMulInteger : OpBase<MatMulInteger> {
  static constexpr const char* kType = "MatMulInteger";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Inputs a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point. The
// integer product of MatMulInteger, requantized: saturate(round(acc * a_scale * b_scale /
// y_scale) + y_zero_point). a_scale / b_scale may be per row / column like the zero points.
struct QLinearMatMul : OpBase<QLinearMatMul> {
  static constexpr const char* kType = "QLinearMatMul";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// The convolution geometry of Conv (explicit pads; the importer resolves auto_pad).
struct QConvGeometry {
  std::vector<int64_t> strides, dilations, pads;
  int64_t group = 1;
  void visit(AttrVisitor& v);
};

// Y int32 = conv(x - x_zero_point, w - w_zero_point); padding contributes zero. Inputs: x
// [N, C, D...] and w [M, C/group, K...] uint8 or int8, optional x_zero_point (one element) and
// w_zero_point (one element or [M]).
struct ConvInteger : OpBase<ConvInteger>, QConvGeometry {
  static constexpr const char* kType = "ConvInteger";
  void attrs(AttrVisitor& v) override { visit(v); }
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
  bool foldable() const override { return false; }
};

// Inputs x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, optional
// B (int32 [M], added to the accumulator). w_scale / w_zero_point are one element or [M].
struct QLinearConv : OpBase<QLinearConv>, QConvGeometry {
  static constexpr const char* kType = "QLinearConv";
  void attrs(AttrVisitor& v) override { visit(v); }
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
  bool foldable() const override { return false; }
};

}  // namespace kiln::ops
