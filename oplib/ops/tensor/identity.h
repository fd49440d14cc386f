// Identity: a copy. Importers lower Identity and inference-mode Dropout to it; the
// remove-identity pass deletes it wherever a graph output does not depend on the copy.
#pragma once

#include "ops/op.h"

namespace kiln::ops {

struct Identity : OpBase<Identity> {
  static constexpr const char* kType = "Identity";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
