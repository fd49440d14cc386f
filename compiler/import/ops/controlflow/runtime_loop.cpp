// A Loop kept as a loop: the body is imported as a graph of its own (outer-scope constants copied
// in, other outer values become extra inputs), compiled through the same pipeline as a model, and
// its plan bytes ride on the kiln Loop op into the parent plan (schema v8, Layer.body). The
// runtime's loop layer (runtime/src/loop_layer.cpp) runs that plan per iteration.
//
// What it supports: loop-carried values that keep their type and shape across iterations (the
// body plan is built for one shape), and scan outputs of one static shape per iteration. A shape
// the body's graph knows only per run (a Slice by the iteration number) is accepted when it can
// be the one required (for a scan output, the one the body declares), and the runtime checks it
// every iteration; anything else is refused here, at build time, with the node named.
#include "import/ops/controlflow/runtime_loop.h"

#include <onnx/onnx_pb.h>

#include <optional>

#include "kiln/plan_generated.h"
#include "ops/controlflow/loop.h"

namespace kiln::onnx_import {

namespace {

std::string type_str(const ops::TensorType& t) { return std::string(dtype_name(t.dtype)) + " " + shape_str(t.shape); }

// The body's iteration-number and condition inputs: one element each, of the rank the body
// declares (a scalar unless it declares one static dim of 1, as some exporters do).
ops::TensorType head_type(const onnx::ValueInfoProto& vi, DType t) {
  ops::TensorType r{t, {}};
  if (!vi.type().has_tensor_type() || !vi.type().tensor_type().has_shape()) return r;
  const auto& dims = vi.type().tensor_type().shape().dim();
  for (const auto& d : dims)
    if (!d.has_dim_value() || d.dim_value() != 1) return r;
  r.shape.assign(static_cast<size_t>(dims.size()), 1);
  return r;
}

// Whether a shape the body's graph infers (-1 where a value decides it, as Slice by the
// iteration number) can be `want`; the runtime checks the actual shape every iteration.
bool may_be(const Dims& got, const Dims& want) {
  if (got.size() != want.size()) return false;
  for (size_t d = 0; d < got.size(); ++d)
    if (got[d] >= 0 && got[d] != want[d]) return false;
  return true;
}

// The static shape a body output declares, if it declares one.
std::optional<Dims> declared_shape(const onnx::ValueInfoProto& vi) {
  if (!vi.type().has_tensor_type() || !vi.type().tensor_type().has_shape()) return std::nullopt;
  Dims s;
  for (const auto& d : vi.type().tensor_type().shape().dim()) {
    if (!d.has_dim_value() || d.dim_value() < 0) return std::nullopt;
    s.push_back(d.dim_value());
  }
  return s;
}

}  // namespace

void import_runtime_loop(NodeContext& c, const onnx::GraphProto& body, const std::string& why) {
  const size_t carried_n = c.num_inputs() - 2, scan_n = c.num_outputs() - carried_n;
  const std::string refuse = " (kiln runs this Loop at run time because " + why + ")";
  std::vector<ops::TensorType> in_types{head_type(body.input(0), DType::Int64), head_type(body.input(1), DType::Bool)};
  for (size_t i = 0; i < carried_n; ++i) {
    const ir::Value* v = c.required_input(2 + i);
    if (!shape_static(v->type.shape))
      c.fail("loop-carried value " + std::to_string(i) + " ('" + v->name + "') has shape " + shape_str(v->type.shape) +
             ", known only at run time; a run-time Loop needs static shapes for its carried values" + refuse);
    in_types.push_back(v->type);
  }
  std::vector<ir::Value*> outer;
  std::unique_ptr<ir::Graph> g;
  try {
    g = c.subgraphs().import_body(body, in_types, outer);
  } catch (const Error& e) {
    c.fail(std::string("its body: ") + e.what());
  }
  for (const ir::Value* v : outer)
    if (!shape_static(v->type.shape))
      c.fail("the body reads '" + v->name + "' from the enclosing graph, whose shape " + shape_str(v->type.shape) +
             " is known only at run time; a run-time Loop's body is built for static shapes" + refuse);
  if (g->outputs.size() != 1 + carried_n + scan_n) c.fail("the body's outputs do not match the node's");
  const ops::TensorType& cond = g->outputs[0].value->type;
  if (cond.dtype != DType::Bool || !shape_static(cond.shape) || shape_elements(cond.shape) != 1)
    c.fail("the body's condition output '" + g->outputs[0].name + "' is " + type_str(cond) + "; it must be one bool");
  for (size_t i = 0; i < carried_n; ++i) {
    const ops::TensorType& out = g->outputs[1 + i].value->type;
    if (out.dtype != in_types[2 + i].dtype || !may_be(out.shape, in_types[2 + i].shape))
      c.fail("loop-carried value " + std::to_string(i) + " enters the body as " + type_str(in_types[2 + i]) +
             " and leaves it as " + type_str(out) + " ('" + g->outputs[1 + i].name + "'); a run-time Loop needs each "
             "carried value to keep its type and shape across iterations" + refuse);
  }
  auto op = std::make_unique<ops::Loop>();
  op->carried = static_cast<int64_t>(carried_n);
  for (size_t k = 0; k < scan_n; ++k) {
    const ir::GraphIO& o = g->outputs[1 + carried_n + k];
    Dims shape = o.value->type.shape;
    const auto declared = declared_shape(body.output(static_cast<int>(1 + carried_n + k)));
    if (!shape_static(shape) && declared && may_be(shape, *declared)) shape = *declared;
    if (!shape_static(shape))
      c.fail("scan output " + std::to_string(k) + " ('" + o.name + "') has shape " + shape_str(o.value->type.shape) +
             " in the body, known only at run time; a run-time Loop stacks scan outputs of one static shape" + refuse);
    if (shape.size() > 7) c.fail("scan output " + std::to_string(k) + " has rank above 7");
    op->scan_dtypes.push_back(static_cast<int64_t>(o.value->type.dtype));
    op->scan_ranks.push_back(static_cast<int64_t>(shape.size()));
    op->scan_dims.insert(op->scan_dims.end(), shape.begin(), shape.end());
  }
  std::vector<uint8_t> bytes;
  try {
    bytes = c.subgraphs().compile_body(*g, "node '" + c.name() + "' (Loop): its body");
  } catch (const Error& e) {
    std::string m = e.what();
    if (m.rfind("node '" + c.name() + "'", 0) == 0) throw;
    c.fail("its body: " + m);
  }
  op->body_checksum = static_cast<int64_t>(fb::GetPlan(bytes.data())->checksum());
  op->body = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  std::vector<ir::Value*> inputs{c.input(0), c.input(1)};
  for (size_t i = 0; i < carried_n; ++i) inputs.push_back(c.required_input(2 + i));
  inputs.insert(inputs.end(), outer.begin(), outer.end());
  c.emit(std::move(op), std::move(inputs));
}

}  // namespace kiln::onnx_import
