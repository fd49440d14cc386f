// ONNX importers for the quantization family (ops/quantization/quant.h). QuantizeLinear and
// DequantizeLinear are per tensor at opset 10 and gain `axis` at 13; the integer ops are opset
// 10 (DynamicQuantizeLinear 11). ConvInteger / QLinearConv resolve auto_pad here, as Conv does.
#include <onnx/onnx_pb.h>

#include <type_traits>

#include "import/importer.h"
#include "ops/nn/conv.h"
#include "ops/quantization/quant.h"
#include "passes/pass.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

std::vector<ir::Value*> all_inputs(NodeContext& c) {
  std::vector<ir::Value*> in;
  for (size_t i = 0; i < c.num_inputs(); ++i) in.push_back(c.input(i));
  while (!in.empty() && !in.back()) in.pop_back();
  return in;
}

// Opset 19 adds 'saturate' (QuantizeLinear; it only changes 8-bit float outputs), 21
// 'block_size' (blocked scales, not supported) and QuantizeLinear's 'output_dtype', which stands in
// for the zero point's type when there is none: a zero point of that type is made here.
template <class T>
std::vector<ir::Value*> qdq_inputs_19(NodeContext& c) {
  constexpr bool q = std::is_same_v<T, QuantizeLinear>;
  if (q)
    c.expect_signature(2, 3, 1, 1, {"axis", "saturate", "block_size", "output_dtype"});
  else
    c.expect_signature(2, 3, 1, 1, {"axis", "block_size"});
  if (c.attr_int("block_size", 0) != 0)
    c.fail("block quantization (block_size " + std::to_string(c.attr_int("block_size", 0)) +
           ") is not supported; kiln takes per-tensor and per-axis scales");
  std::vector<ir::Value*> in = all_inputs(c);
  const int64_t out = q ? c.attr_int("output_dtype", 0) : 0;
  if (out == 0) return in;
  const auto dt = static_cast<DType>(out);
  if (dt != DType::UInt8 && dt != DType::Int8)
    c.fail("output_dtype " + std::to_string(out) + " is not supported; kiln quantizes to uint8 (2) or int8 (3)");
  if (in.size() > 2) {
    if (in[2]->type.dtype != dt)
      c.fail(std::string("output_dtype is ") + dtype_name(dt) + " but the zero point is " +
             dtype_name(in[2]->type.dtype) + "; they must agree");
    return in;
  }
  const ir::Value* scale = in[1];
  if (!shape_static(scale->type.shape)) c.fail("the scale's shape must be known when output_dtype makes the zero point");
  in.push_back(c.graph().add_constant(c.graph().unique_name(c.name() + "/zero_point"), dt, scale->type.shape));
  return in;
}

template <class T>
void import_qdq(NodeContext& c) {
  auto op = std::make_unique<T>();
  // Opset 10 has no axis: its scale is always one value, for which axis is irrelevant.
  op->axis = c.opset() >= 13 ? c.attr_int("axis", 1) : 1;
  c.required_input(0);
  c.required_input(1);
  ir::Node* n = c.emit(std::move(op), c.opset() >= 19 ? qdq_inputs_19<T>(c) : all_inputs(c));
  // Small int8 weights fold as they are imported: their scales must be noted first (QDQ models).
  if constexpr (std::is_same_v<T, DequantizeLinear>) passes::note_weight_quant(*n);
}

template <class T>
void import_plain(NodeContext& c) {
  c.required_input(0);
  c.emit(std::make_unique<T>(), all_inputs(c));
}

// x is input 0, w input wi.
template <class T>
void import_qconv(NodeContext& c, size_t wi) {
  ir::Value* x = c.required_input(0);
  ir::Value* w = c.required_input(wi);
  const Dims& xs = x->type.shape;
  const Dims& ws = w->type.shape;
  if (xs.size() < 3 || ws.size() != xs.size())
    c.fail("x (shape " + shape_str(xs) + ") and w (shape " + shape_str(ws) + ") must both be [N, C, spatial...]");
  Dims k(ws.begin() + 2, ws.end());
  if (c.has_attr("kernel_shape") && c.attr_ints("kernel_shape") != k)
    c.fail("kernel_shape does not match w's spatial dims " + shape_str(k));
  auto op = std::make_unique<T>();
  op->strides = c.attr_ints("strides");
  op->dilations = c.attr_ints("dilations");
  op->group = c.attr_int("group", 1);
  try {
    const Window win = make_window(std::string(T::kType), k, op->strides, op->dilations, {});
    op->pads = resolve_auto_pad(c.attr_string("auto_pad", "NOTSET"), win, Dims(xs.begin() + 2, xs.end()),
                                c.attr_ints("pads"));
  } catch (const Error& e) {
    c.fail(e.what());
  }
  c.emit(std::move(op), all_inputs(c));
}

KILN_REGISTER_IMPORTER("QuantizeLinear", 10, 18, import_qdq<QuantizeLinear>);
KILN_REGISTER_IMPORTER("QuantizeLinear", 19, kMaxOpset, import_qdq<QuantizeLinear>);  // saturate; 21: output_dtype
KILN_REGISTER_IMPORTER("DequantizeLinear", 10, 18, import_qdq<DequantizeLinear>);
KILN_REGISTER_IMPORTER("DequantizeLinear", 19, kMaxOpset, import_qdq<DequantizeLinear>);  // 21: block_size
KILN_REGISTER_IMPORTER("DynamicQuantizeLinear", 11, kMaxOpset, import_plain<DynamicQuantizeLinear>);
KILN_REGISTER_IMPORTER("MatMulInteger", 10, kMaxOpset, import_plain<MatMulInteger>);
KILN_REGISTER_IMPORTER("QLinearMatMul", 10, kMaxOpset, import_plain<QLinearMatMul>);
KILN_REGISTER_IMPORTER("ConvInteger", 10, kMaxOpset, [](NodeContext& c) { import_qconv<ConvInteger>(c, 1); });
KILN_REGISTER_IMPORTER("QLinearConv", 10, kMaxOpset, [](NodeContext& c) { import_qconv<QLinearConv>(c, 3); });

}  // namespace
}  // namespace kiln::onnx_import
