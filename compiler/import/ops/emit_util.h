// Shared by the importers of ops that constant folding evaluates (the tensor group's shape and
// data-movement ops, Cast, the generators): parameters passed as constant inputs become
// attributes, and an op that would not change its data becomes an Identity.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "import/importer.h"

namespace kiln::onnx_import {

// A constant named after the ONNX output it stands for, so onnx's shape info still applies.
ir::Value* output_constant(NodeContext& ctx, size_t i, DType t, const Dims& s);

// The op's output types for the node's current inputs, constants' values visible.
std::vector<ops::TensorType> infer_on(const ops::Op& op, const std::vector<ir::Value*>& in, size_t num_outputs);

// Whether an op, given its data input and inferred output types, leaves the data untouched.
using NoOpTest = std::function<bool(const ops::TensorType& in, const ops::TensorType& out)>;

// Pure views and broadcasts (Reshape, Expand, Tile...) that keep a static shape copy the data as is.
bool same_static_shape(const ops::TensorType& in, const ops::TensorType& out);

// Emits the op; one that would not change its data input (a zero Pad, a Reshape to the same
// shape...) becomes an Identity, which the remove-identity pass deletes. Nodes on constants are
// folded right after import by the model importer (passes::fold_node), like every other op.
void emit_or_fold(NodeContext& ctx, std::unique_ptr<ops::Op> op, std::vector<ir::Value*> in,
                  const NoOpTest& noop = {});

// Input i as an attribute list when it is a constant; otherwise it stays input i of the op.
void const_param(NodeContext& ctx, size_t i, std::vector<int64_t>& attr, std::vector<ir::Value*>& inputs);

}  // namespace kiln::onnx_import
