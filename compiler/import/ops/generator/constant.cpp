// ONNX importer for Constant: the node becomes a constant value of the graph (no op).
#include <onnx/onnx_pb.h>

#include "import/importer.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_constant(NodeContext& ctx) {
  for (const char* unsupported : {"sparse_value", "value_string", "value_strings"})
    if (ctx.has_attr(unsupported))
      ctx.fail(std::string("Constant with '") + unsupported +
               "' is not supported: kiln handles dense numeric tensors only (densify sparse constants, "
               "e.g. with onnx.numpy_helper, and remove string constants)");
  ir::Graph& g = ctx.graph();
  const std::string& name = ctx.proto().output(0);
  ir::Value* v = nullptr;
  if (ctx.has_attr("value")) {
    v = ctx.attr_tensor("value");
    v->name = name;
  } else if (ctx.has_attr("value_float")) {
    float f = ctx.attr_float("value_float", 0.f);
    v = g.add_constant(name, TensorView{DType::Float32, {}, &f});
  } else if (ctx.has_attr("value_floats")) {
    auto f = ctx.attr_floats("value_floats");
    v = g.add_constant(name, TensorView{DType::Float32, {static_cast<int64_t>(f.size())}, f.data()});
  } else if (ctx.has_attr("value_int")) {
    int64_t i = ctx.attr_int("value_int", 0);
    v = g.add_constant(name, TensorView{DType::Int64, {}, &i});
  } else if (ctx.has_attr("value_ints")) {
    auto i = ctx.attr_ints("value_ints");
    v = g.add_constant(name, TensorView{DType::Int64, {static_cast<int64_t>(i.size())}, i.data()});
  } else {
    ctx.fail("Constant has none of the attributes value, value_float(s), value_int(s)");
  }
  ctx.alias_output(0, v);
}

KILN_REGISTER_IMPORTER("Constant", kMinOpset, kMaxOpset, import_constant);

}  // namespace
}  // namespace kiln::onnx_import
