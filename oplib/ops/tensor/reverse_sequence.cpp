// ReverseSequence: shape checks and the reference kernel (see reverse_sequence.h).
#include "ops/tensor/reverse_sequence.h"

#include <cstring>

#include "ops/tensor/shape.h"

namespace kiln::ops {

void ReverseSequence::attrs(AttrVisitor& v) {
  v.visit("time_axis", time_axis);
  v.visit("batch_axis", batch_axis);
}

void ReverseSequence::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 2 && ctx.num_outputs() == 1, "ReverseSequence takes input and sequence_lens");
  const TensorType &x = ctx.input(0), &lens = ctx.input(1);
  check(dtype_size(x.dtype) > 0, "ReverseSequence: unsupported dtype " + std::string(dtype_name(x.dtype)));
  check(x.shape.size() >= 2, "ReverseSequence: input must have rank >= 2, got shape " + shape_str(x.shape));
  check((time_axis == 0 && batch_axis == 1) || (time_axis == 1 && batch_axis == 0),
        "ReverseSequence: time_axis and batch_axis must be 0 and 1 in some order");
  check(lens.dtype == DType::Int64 || lens.dtype == DType::Int32, "ReverseSequence: sequence_lens must be int64");
  const int64_t b = x.shape[batch_axis];
  check(lens.shape.size() == 1 && (lens.shape[0] < 0 || b < 0 || lens.shape[0] == b),
        "ReverseSequence: sequence_lens must be [batch] = [" + std::to_string(b) + "], got shape " +
            shape_str(lens.shape));
  ctx.set_output(0, x.dtype, x.shape);
}

void ReverseSequence::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &y = a.out[0];
  const int64_t nt = x.shape[time_axis], nb = x.shape[batch_axis];
  int64_t inner = 1;
  for (size_t i = 2; i < x.shape.size(); ++i) inner *= x.shape[i];
  const size_t row = static_cast<size_t>(inner) * dtype_size(x.dtype);
  // Offset of the (t, b) row of `inner` elements in either axis order.
  auto at = [&](int64_t t, int64_t b) { return static_cast<size_t>(time_axis == 0 ? t * nb + b : b * nt + t) * row; };
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t len = element_as_int(a.in[1], b);
    if (len < 0 || len > nt)
      fail("ReverseSequence: sequence_lens[" + std::to_string(b) + "] = " + std::to_string(len) + " is outside [0, " +
           std::to_string(nt) + "]");
    for (int64_t t = 0; t < nt; ++t) {
      const int64_t src = t < len ? len - 1 - t : t;
      std::memcpy(static_cast<char*>(y.data) + at(t, b), static_cast<const char*>(x.data) + at(src, b), row);
    }
  }
}

KILN_REGISTER_OP(ReverseSequence);

}  // namespace kiln::ops
