// ONNX importers for the reductions (ops/reduction/reduce.h): the ten Reduce* ops become one Reduce op.
// Before opset 13 (18 for all but ReduceSum) the axes are an attribute; ReduceSum-13 and the
// others from 18 take them as an optional input and add noop_with_empty_axes. Constant axes
// become the attribute; run-time axes stay an input and make the output shape dynamic.
// ReduceMax/ReduceMin-20 add bool.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/tensor/identity.h"
#include "ops/reduction/reduce.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_reduce(NodeContext& c, ReduceKind kind, bool axes_from_input) {
  ir::Value* x = c.required_input(0);
  auto op = std::make_unique<Reduce>();
  op->kind = kind;
  op->keepdims = c.attr_int("keepdims", 1) != 0;
  if (!axes_from_input) {
    op->axes = c.attr_ints("axes");
    c.emit(std::move(op), {x});
    return;
  }
  ir::Value* a = c.input(1);
  const bool noop_if_empty = c.attr_int("noop_with_empty_axes", 0) != 0;
  if (a && a->type.dtype != DType::Int64)
    c.fail(std::string("the axes input must be int64, not ") + dtype_name(a->type.dtype));
  // A graph input of static shape [0] is empty whatever it holds.
  const bool empty = !a || (a->is_constant() ? a->view().elements() == 0 : a->type.shape == Dims{0});
  if (empty && noop_if_empty) {
    // ONNX: "the output tensor would be equivalent to input tensor"; remove-identity drops it.
    c.emit(std::make_unique<Identity>(), {x});
    return;
  }
  if (empty || a->is_constant()) {
    if (!empty) op->axes = c.const_ints(1);
    c.emit(std::move(op), {x});
    return;
  }
  // Axes known at run time only: the op infers its output shape on every run. Their count must
  // be known, since it decides whether noop_with_empty_axes applies and the output's rank.
  if (a->type.shape.size() != 1 || a->type.shape[0] < 0)
    c.fail("the axes input ('" + a->name + "') has shape " + shape_str(a->type.shape) +
           "; kiln needs it 1-D with a known length (fix it with --shapes) or a compile-time constant");
  c.emit(std::move(op), {x, a});
}

template <ReduceKind K, bool FromInput>
void import_kind(NodeContext& c) {
  // libonnx checks the signature up to kOnnxLibOpset (ReduceSum-13 included).
  if (c.opset() > kOnnxLibOpset) c.expect_signature(1, 2, 1, 1, {"keepdims", "noop_with_empty_axes"});
  import_reduce(c, K, FromInput);
}

KILN_REGISTER_IMPORTER("ReduceSum", kMinOpset, 12, (import_kind<ReduceKind::Sum, false>));
KILN_REGISTER_IMPORTER("ReduceSum", 13, kMaxOpset, (import_kind<ReduceKind::Sum, true>));
KILN_REGISTER_IMPORTER("ReduceMean", kMinOpset, 17, (import_kind<ReduceKind::Mean, false>));
KILN_REGISTER_IMPORTER("ReduceMean", 18, kMaxOpset, (import_kind<ReduceKind::Mean, true>));
KILN_REGISTER_IMPORTER("ReduceMax", kMinOpset, 17, (import_kind<ReduceKind::Max, false>));
KILN_REGISTER_IMPORTER("ReduceMax", 18, kMaxOpset, (import_kind<ReduceKind::Max, true>));
KILN_REGISTER_IMPORTER("ReduceMin", kMinOpset, 17, (import_kind<ReduceKind::Min, false>));
KILN_REGISTER_IMPORTER("ReduceMin", 18, kMaxOpset, (import_kind<ReduceKind::Min, true>));
KILN_REGISTER_IMPORTER("ReduceProd", kMinOpset, 17, (import_kind<ReduceKind::Prod, false>));
KILN_REGISTER_IMPORTER("ReduceProd", 18, kMaxOpset, (import_kind<ReduceKind::Prod, true>));
KILN_REGISTER_IMPORTER("ReduceL1", kMinOpset, 17, (import_kind<ReduceKind::L1, false>));
KILN_REGISTER_IMPORTER("ReduceL1", 18, kMaxOpset, (import_kind<ReduceKind::L1, true>));
KILN_REGISTER_IMPORTER("ReduceL2", kMinOpset, 17, (import_kind<ReduceKind::L2, false>));
KILN_REGISTER_IMPORTER("ReduceL2", 18, kMaxOpset, (import_kind<ReduceKind::L2, true>));
KILN_REGISTER_IMPORTER("ReduceLogSum", kMinOpset, 17, (import_kind<ReduceKind::LogSum, false>));
KILN_REGISTER_IMPORTER("ReduceLogSum", 18, kMaxOpset, (import_kind<ReduceKind::LogSum, true>));
KILN_REGISTER_IMPORTER("ReduceLogSumExp", kMinOpset, 17, (import_kind<ReduceKind::LogSumExp, false>));
KILN_REGISTER_IMPORTER("ReduceLogSumExp", 18, kMaxOpset, (import_kind<ReduceKind::LogSumExp, true>));
KILN_REGISTER_IMPORTER("ReduceSumSquare", kMinOpset, 17, (import_kind<ReduceKind::SumSquare, false>));
KILN_REGISTER_IMPORTER("ReduceSumSquare", 18, kMaxOpset, (import_kind<ReduceKind::SumSquare, true>));

}  // namespace
}  // namespace kiln::onnx_import
