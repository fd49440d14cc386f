// ONNX importers for the matrix products (ops/math/gemm.h): Gemm and MatMul.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/math/gemm.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

// Gemm-7..10 require C, 11+ make it optional; kiln's op takes it optional throughout.
void import_gemm(NodeContext& c) {
  auto op = std::make_unique<Gemm>();
  op->alpha = c.attr_float("alpha", 1.f);
  op->beta = c.attr_float("beta", 1.f);
  op->transA = c.attr_int("transA", 0) != 0;
  op->transB = c.attr_int("transB", 0) != 0;
  std::vector<ir::Value*> in{c.required_input(0), c.required_input(1)};
  if (ir::Value* C = c.input(2)) in.push_back(C);
  c.emit(std::move(op), std::move(in));
}

void import_matmul(NodeContext& c) {
  c.emit(std::make_unique<MatMul>(), {c.required_input(0), c.required_input(1)});
}

KILN_REGISTER_IMPORTER("Gemm", kMinOpset, kMaxOpset, import_gemm);
KILN_REGISTER_IMPORTER("MatMul", kMinOpset, kMaxOpset, import_matmul);

}  // namespace
}  // namespace kiln::onnx_import
