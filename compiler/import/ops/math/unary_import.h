// Shared by the importers that lower ONNX activations and math functions to kiln's Unary op
// (import/ops/math/eltwise.cpp).
#pragma once

#include "import/importer.h"
#include "ops/math/activation.h"

namespace kiln::onnx_import {

// Emits Unary(act; alpha, beta) on the node's first input.
void emit_unary(NodeContext& ctx, ops::Act act, float alpha = 0.f, float beta = 0.f);

// Registers an importer for an attribute-free unary op over [since, kMaxOpset].
struct SimpleUnary {
  SimpleUnary(const char* onnx_op, int since, ops::Act act);
};

}  // namespace kiln::onnx_import
