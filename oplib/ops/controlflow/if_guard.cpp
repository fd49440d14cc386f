#include "ops/controlflow/if_guard.h"

#include <cstring>

namespace kiln::ops {

void IfGuard::attrs(AttrVisitor& v) {
  v.visit("expected", expected);
  v.visit("message", message);
  if (expected != 0 && expected != 1) fail("IfGuard: expected must be 0 or 1");
}

void IfGuard::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 2 && ctx.num_outputs() == 1, "IfGuard takes cond and x, and gives one output");
  check(ctx.input(0).dtype == DType::Bool && shape_elements(ctx.input(0).shape) == 1,
        "IfGuard: cond must be one bool element, not " + std::string(dtype_name(ctx.input(0).dtype)) + " " +
            shape_str(ctx.input(0).shape));
  ctx.set_output(0, ctx.input(1).dtype, ctx.input(1).shape);
}

void IfGuard::reference(const KernelArgs& a) const {
  const bool cond = *static_cast<const uint8_t*>(a.in[0].data) != 0;
  if (cond != (expected != 0)) throw Error(message);
  if (a.out[0].data != a.in[1].data) std::memcpy(a.out[0].data, a.in[1].data, a.in[1].bytes());
}

KILN_REGISTER_OP(IfGuard);

}  // namespace kiln::ops
