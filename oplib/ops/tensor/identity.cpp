#include "ops/tensor/identity.h"

#include <cstring>

namespace kiln::ops {

void Identity::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 1 && ctx.num_outputs() == 1, "Identity takes one input and one output");
  ctx.set_output(0, ctx.input(0).dtype, ctx.input(0).shape);
}

void Identity::reference(const KernelArgs& a) const {
  if (a.out[0].data != a.in[0].data) std::memcpy(a.out[0].data, a.in[0].data, a.in[0].bytes());
}

void Dropout::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 3 && (ctx.num_outputs() == 1 || ctx.num_outputs() == 2),
        "Dropout takes X, ratio (may be absent) and training_mode, and gives Y and optionally the mask");
  const TensorType& x = ctx.input(0);
  check(dtype_valid(x.dtype), "Dropout: X has no valid dtype");
  if (ctx.has_input(1)) {
    const TensorType& r = ctx.input(1);
    check(r.dtype == DType::Float32 || r.dtype == DType::Float64 || r.dtype == DType::Float16 ||
              r.dtype == DType::BFloat16,
          std::string("Dropout: ratio must be a float, not ") + dtype_name(r.dtype));
    const int64_t e = shape_elements(r.shape);
    check(e == 1 || e == -1, "Dropout: ratio must be a scalar, got shape " + shape_str(r.shape));
  }
  check(ctx.has_input(2), "Dropout: training_mode is required");
  const TensorType& t = ctx.input(2);
  const int64_t e = shape_elements(t.shape);
  check(t.dtype == DType::Bool && (e == 1 || e == -1),
        std::string("Dropout: training_mode must be a bool scalar, got ") + dtype_name(t.dtype) + " " + shape_str(t.shape));
  ctx.set_output(0, x.dtype, x.shape);
  if (ctx.num_outputs() == 2) ctx.set_output(1, DType::Bool, x.shape);
}

void Dropout::reference(const KernelArgs& a) const {
  const bool training = *static_cast<const uint8_t*>(a.in[2].data) != 0;
  const double ratio = a.in[1].data ? element_as_double(a.in[1], 0) : 0.5;
  if (training && ratio != 0.0)
    throw Error("node '" + node + "' (Dropout): training_mode is true with ratio " + std::to_string(ratio) +
                ": Dropout would draw a random mask, which kiln cannot reproduce; run the model with training_mode "
                "false (inference) or ratio 0");
  if (a.out[0].data != a.in[0].data) std::memcpy(a.out[0].data, a.in[0].data, a.in[0].bytes());
  if (a.out.size() > 1 && a.out[1].data) std::memset(a.out[1].data, 1, a.out[1].bytes());
}

KILN_REGISTER_OP(Identity);
KILN_REGISTER_OP(Dropout);

}  // namespace kiln::ops
