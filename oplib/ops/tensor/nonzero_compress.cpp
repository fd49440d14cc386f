#include "ops/tensor/nonzero_compress.h"

#include <algorithm>
#include <cstring>

namespace kiln::ops {

namespace {

bool nonzero_at(const TensorView& t, int64_t i) {
  if (t.dtype == DType::Float16 || t.dtype == DType::BFloat16)  // any set bit but the sign bit
    return (static_cast<const uint16_t*>(t.data)[i] & 0x7fff) != 0;
  return element_as_double(t, i) != 0.0;
}

int64_t count_true(const TensorView& t, int64_t limit) {
  int64_t n = 0;
  for (int64_t i = 0; i < std::min(limit, t.elements()); ++i) n += nonzero_at(t, i);
  return n;
}

}  // namespace

void NonZero::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 1 && ctx.num_outputs() == 1, "NonZero takes one input and one output");
  const TensorType& x = ctx.input(0);
  check(dtype_valid(x.dtype), "NonZero: unsupported input dtype");
  const TensorView* v = ctx.constant(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  ctx.set_output(0, DType::Int64, {rank, v ? count_true(*v, v->elements()) : -1});
}

void NonZero::reference(const KernelArgs& a) const {
  const TensorView& x = a.in[0];
  int64_t* out = a.out[0].as<int64_t>();
  const int64_t count = a.out[0].shape[1], n = x.elements();
  const auto strides = shape_strides(x.shape);
  int64_t k = 0;
  for (int64_t i = 0; i < n && k < count; ++i) {
    if (!nonzero_at(x, i)) continue;
    int64_t rem = i;
    for (size_t d = 0; d < x.shape.size(); ++d) {
      out[static_cast<int64_t>(d) * count + k] = rem / strides[d];
      rem %= strides[d];
    }
    ++k;
  }
}

void Compress::attrs(AttrVisitor& v) {
  v.visit("axis", axis);
  v.visit("has_axis", has_axis);
}

void Compress::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 2 && ctx.num_outputs() == 1, "Compress takes input and condition");
  const TensorType& x = ctx.input(0);
  const TensorType& c = ctx.input(1);
  check(c.shape.size() == 1, "Compress: condition must be 1-D, got " + shape_str(c.shape));
  Dims out;
  int64_t dim;
  if (has_axis) {
    const int64_t r = static_cast<int64_t>(x.shape.size());
    check(axis >= -r && axis < r, "Compress: axis " + std::to_string(axis) + " is out of range for rank " +
                                      std::to_string(r));
    out = x.shape;
    dim = x.shape[axis < 0 ? axis + r : axis];
  } else {
    dim = shape_elements(x.shape);
    out = {dim};
  }
  check(dim < 0 || c.shape[0] < 0 || c.shape[0] <= dim, "Compress: condition is longer than the axis");
  const TensorView* v = ctx.constant(1);
  int64_t& kept = has_axis ? out[axis < 0 ? axis + static_cast<int64_t>(x.shape.size()) : axis] : out[0];
  kept = v ? count_true(*v, v->elements()) : -1;
  ctx.set_output(0, x.dtype, out);
}

void Compress::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &c = a.in[1];
  const size_t es = dtype_size(x.dtype);
  Dims xs = has_axis ? x.shape : Dims{x.elements()};
  const int64_t r = static_cast<int64_t>(xs.size());
  const int64_t ax = has_axis ? (axis < 0 ? axis + r : axis) : 0;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < ax; ++d) outer *= xs[d];
  for (int64_t d = ax + 1; d < r; ++d) inner *= xs[d];
  const int64_t dim = xs[ax], kept = has_axis ? a.out[0].shape[ax] : a.out[0].shape[0];
  const auto* src = static_cast<const uint8_t*>(x.data);
  auto* dst = static_cast<uint8_t*>(a.out[0].data);
  for (int64_t o = 0; o < outer; ++o) {
    int64_t k = 0;
    for (int64_t i = 0; i < dim && i < c.elements() && k < kept; ++i) {
      if (!nonzero_at(c, i)) continue;
      std::memcpy(dst + ((o * kept + k) * inner) * es, src + ((o * dim + i) * inner) * es,
                  static_cast<size_t>(inner) * es);
      ++k;
    }
  }
}

KILN_REGISTER_OP(NonZero);
KILN_REGISTER_OP(Compress);

}  // namespace kiln::ops
