// Gather and GatherElements: shape checks and reference kernels (declared in shape.h).
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "ops/tensor/shape.h"

namespace kiln::ops {

static void check_indices_dtype(const TensorType& t) {
  check(t.dtype == DType::Int64 || t.dtype == DType::Int32,
        std::string("indices must be int64 or int32, not ") + dtype_name(t.dtype));
}

// Index i of an axis of size d, negative counting from the end; fails when out of range.
static int64_t wrap_index(int64_t i, int64_t d) {
  if (i < -d || i >= d)
    fail("index " + std::to_string(i) + " is out of range for an axis of size " + std::to_string(d));
  return i < 0 ? i + d : i;
}

// ---------------------------------------------------------------------------------------------
// Gather

void Gather::attrs(AttrVisitor& v) { v.visit("axis", axis); }

void Gather::infer(InferContext& ctx) const {
  check_io(ctx, 2, 2, 1, "Gather");
  const TensorType &x = ctx.input(0), &idx = ctx.input(1);
  check_indices_dtype(idx);
  check(!x.shape.empty(), "Gather needs data of rank >= 1");
  int64_t k = normalize_axis(axis, static_cast<int64_t>(x.shape.size()), "axis");
  if (const TensorView* c = ctx.constant(1); c && x.shape[k] >= 0)
    for (int64_t i = 0; i < c->elements(); ++i) wrap_index(element_as_int(*c, i), x.shape[k]);
  Dims out(x.shape.begin(), x.shape.begin() + k);
  out.insert(out.end(), idx.shape.begin(), idx.shape.end());
  out.insert(out.end(), x.shape.begin() + k + 1, x.shape.end());
  check_output_shape(out, "output");
  ctx.set_output(0, x.dtype, out);
}

void Gather::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &idx = a.in[1], &y = a.out[0];
  int64_t k = axis < 0 ? axis + static_cast<int64_t>(x.shape.size()) : axis;
  int64_t outer = 1, inner = 1, d = x.shape[k], n = idx.elements();
  for (int64_t i = 0; i < k; ++i) outer *= x.shape[i];
  for (size_t i = k + 1; i < x.shape.size(); ++i) inner *= x.shape[i];
  size_t es = dtype_size(x.dtype);
  int64_t e = static_cast<int64_t>(es);
  // Per index: an [outer, inner] box from data row j into output column block i.
  for (int64_t i = 0; i < n; ++i) {
    int64_t j = wrap_index(element_as_int(idx, i), d);
    strided_copy(static_cast<char*>(y.data) + i * inner * e, {n * inner, 1},
                 static_cast<const char*>(x.data) + j * inner * e, {d * inner, 1}, {outer, inner}, es);
  }
}

// ---------------------------------------------------------------------------------------------
// GatherElements

void GatherElements::attrs(AttrVisitor& v) { v.visit("axis", axis); }

void GatherElements::infer(InferContext& ctx) const {
  check_io(ctx, 2, 2, 1, "GatherElements");
  const TensorType &x = ctx.input(0), &idx = ctx.input(1);
  check_indices_dtype(idx);
  check(!x.shape.empty(), "GatherElements needs data of rank >= 1");
  check(idx.shape.size() == x.shape.size(), "indices " + shape_str(idx.shape) + " and data " +
                                                shape_str(x.shape) + " must have the same rank");
  int64_t k = normalize_axis(axis, static_cast<int64_t>(x.shape.size()), "axis");
  for (size_t i = 0; i < x.shape.size(); ++i)
    check(static_cast<int64_t>(i) == k || x.shape[i] < 0 || idx.shape[i] < 0 || idx.shape[i] <= x.shape[i],
          "indices " + shape_str(idx.shape) + " are larger than data " + shape_str(x.shape) + " in dim " +
              std::to_string(i));
  if (const TensorView* c = ctx.constant(1); c && x.shape[k] >= 0)
    for (int64_t i = 0; i < c->elements(); ++i) wrap_index(element_as_int(*c, i), x.shape[k]);
  ctx.set_output(0, x.dtype, idx.shape);
}

void GatherElements::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &idx = a.in[1], &y = a.out[0];
  size_t r = x.shape.size();
  size_t k = static_cast<size_t>(axis < 0 ? axis + static_cast<int64_t>(r) : axis);
  auto xs = shape_strides(x.shape);
  int64_t e = static_cast<int64_t>(dtype_size(x.dtype)), n = y.elements();
  std::vector<int64_t> at(r, 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < r; ++d)
      off += (d == k ? wrap_index(element_as_int(idx, i), x.shape[k]) : at[d]) * xs[d];
    std::memcpy(static_cast<char*>(y.data) + i * e, static_cast<const char*>(x.data) + off * e, e);
    for (size_t d = r; d-- > 0;) {
      if (++at[d] < y.shape[d]) break;
      at[d] = 0;
    }
  }
}

KILN_REGISTER_OP(Gather);
KILN_REGISTER_OP(GatherElements);

}  // namespace kiln::ops
