// Identity: a copy. Importers lower Identity and inference-mode Dropout to it; the
// remove-identity pass deletes it wherever a graph output does not depend on the copy.
#pragma once

#include <string>

#include "ops/op.h"

namespace kiln::ops {

struct Identity : OpBase<Identity> {
  static constexpr const char* kType = "Identity";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Dropout whose training_mode (or ratio) is only known at run time (opset 12+): inputs X, ratio
// (optional, float scalar; absent means 0.5) and training_mode (bool scalar); outputs Y and
// optionally the bool mask. Out of training mode, or with ratio 0, Y = X and the mask is all true.
// Otherwise Dropout draws a random mask, which no caller could reproduce: the kernel fails,
// naming `node`.
struct Dropout : OpBase<Dropout> {
  static constexpr const char* kType = "Dropout";
  std::string node;  // the ONNX node, for the run-time error

  void attrs(AttrVisitor& v) override { v.visit("node", node); }
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
  bool foldable() const override { return false; }
};

}  // namespace kiln::ops
