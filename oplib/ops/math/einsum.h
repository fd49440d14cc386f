// Einsum: the general Einstein summation of ONNX (numpy.einsum semantics) over any number of
// operands, with repeated labels (diagonals), ellipsis broadcasting and implicit output.
#pragma once

#include <string>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

// A parsed equation for concrete operand ranks. Labels are numbered: the ellipsis dims first
// (0 .. ellipsis-1, right-aligned across operands as numpy broadcasting), then the letters.
struct EinsumPlan {
  int ellipsis = 0;                        // number of dims the ellipsis stands for
  std::vector<std::vector<int>> operands;  // label of each dim of each operand
  std::vector<int> output;                 // label of each output dim
  int num_labels = 0;
};

// Parses `equation` for operands of the given ranks (spaces are ignored); throws kiln::Error
// with the reason on a malformed equation or a rank mismatch.
EinsumPlan parse_einsum(const std::string& equation, const std::vector<size_t>& ranks);

// Inputs: one or more operands of one dtype (float32, float64, int32, int64). Labels that are
// not in the output are summed over; a label repeated within an operand takes its diagonal.
// Without "->", the output is the ellipsis dims followed by the labels used exactly once, in
// ASCII order.
struct Einsum : OpBase<Einsum> {
  static constexpr const char* kType = "Einsum";
  std::string equation;
  void attrs(AttrVisitor& v) override { v.visit("equation", equation); }
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
