// Run-time support for control flow that the importer lowers into the main graph
// (compiler/import/ops/controlflow/if_loop_scan.cpp): IfGuard, the check that stands in for an If branch the
// build could not make for the plan's shapes.
#pragma once

#include <string>

#include "ops/op.h"

namespace kiln::ops {

// Inputs: cond (one bool element), x. Output: x, unchanged (in place), after checking that cond
// is `expected`; otherwise the run fails with `message`. An If whose condition is known only at
// run time runs both branches and selects; where one branch cannot be built for the plan's shapes
// (ONNX Runtime fails on it at run time too), the other is kept and each of its outputs guarded.
struct IfGuard : OpBase<IfGuard> {
  static constexpr const char* kType = "kiln.IfGuard";
  int64_t expected = 1;
  std::string message;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
  bool foldable() const override { return false; }  // the check belongs to every run
  int inplace_input() const override { return 1; }
};

}  // namespace kiln::ops
