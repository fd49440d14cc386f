// GatherND, ScatterElements and ScatterND: attributes, shape inference and reference kernels.
// Element moves go through bytes (any dtype); reductions dispatch on the arithmetic types.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "ops/tensor/gather_nd_scatter.h"
#include "ops/tensor/shape.h"

namespace kiln::ops {

namespace {

// Index i of an axis of size d, negative counting from the end; fails when out of range.
int64_t wrap(int64_t i, int64_t d, const char* op) {
  if (i < -d || i >= d)
    fail(std::string(op) + ": index " + std::to_string(i) + " is out of range for an axis of size " +
         std::to_string(d));
  return i < 0 ? i + d : i;
}

// Integers compute in uint64_t, so overflow wraps instead of being undefined.
template <class T>
void combine_typed(ScatterReduce r, T* dst, const T* src, int64_t n) {
  using W = std::conditional_t<std::is_integral_v<T>, uint64_t, T>;
  for (int64_t i = 0; i < n; ++i) {
    if (r == ScatterReduce::Max || r == ScatterReduce::Min) {  // compared in T: signedness matters
      dst[i] = r == ScatterReduce::Max ? std::max(dst[i], src[i]) : std::min(dst[i], src[i]);
      continue;
    }
    const W a = static_cast<W>(dst[i]), b = static_cast<W>(src[i]);
    dst[i] = static_cast<T>(r == ScatterReduce::Add ? a + b : a * b);
  }
}

// dst[0..n) (reduce)= src[0..n) for elements of dtype t.
void combine(ScatterReduce r, DType t, void* dst, const void* src, int64_t n) {
  if (r == ScatterReduce::None) {
    std::memcpy(dst, src, static_cast<size_t>(n) * dtype_size(t));
    return;
  }
  switch (t) {
    case DType::Float32: return combine_typed(r, static_cast<float*>(dst), static_cast<const float*>(src), n);
    case DType::Float64: return combine_typed(r, static_cast<double*>(dst), static_cast<const double*>(src), n);
    case DType::Int8: return combine_typed(r, static_cast<int8_t*>(dst), static_cast<const int8_t*>(src), n);
    case DType::Int16: return combine_typed(r, static_cast<int16_t*>(dst), static_cast<const int16_t*>(src), n);
    case DType::Int32: return combine_typed(r, static_cast<int32_t*>(dst), static_cast<const int32_t*>(src), n);
    case DType::Int64: return combine_typed(r, static_cast<int64_t*>(dst), static_cast<const int64_t*>(src), n);
    case DType::UInt8: return combine_typed(r, static_cast<uint8_t*>(dst), static_cast<const uint8_t*>(src), n);
    case DType::UInt16:
      return combine_typed(r, static_cast<uint16_t*>(dst), static_cast<const uint16_t*>(src), n);
    case DType::UInt32:
      return combine_typed(r, static_cast<uint32_t*>(dst), static_cast<const uint32_t*>(src), n);
    case DType::UInt64:
      return combine_typed(r, static_cast<uint64_t*>(dst), static_cast<const uint64_t*>(src), n);
    default: fail(std::string("scatter reduction on unsupported dtype ") + dtype_name(t));
  }
}

void copy_data(const KernelArgs& a) {
  if (a.out[0].data != a.in[0].data && a.out[0].bytes())
    std::memcpy(a.out[0].data, a.in[0].data, a.out[0].bytes());
}

void visit_reduction(AttrVisitor& v, ScatterReduce& r) {
  visit_enum(v, "reduction", r);
  if (static_cast<int64_t>(r) < 0 || static_cast<int64_t>(r) > 4) fail("scatter: unknown reduction code");
}

}  // namespace

void check_scatter_reduction(ScatterReduce r, DType t, const char* op) {
  check(r == ScatterReduce::None || dtype_numeric(t),
        std::string(op) + ": reduction add/mul/max/min does not support " + dtype_name(t));
}

// ---------------------------------------------------------------------------------------------
// GatherND

void GatherND::attrs(AttrVisitor& v) { v.visit("batch_dims", batch_dims); }

void GatherND::infer(InferContext& ctx) const {
  check_io(ctx, 2, 2, 1, "GatherND");
  const TensorType &x = ctx.input(0), &idx = ctx.input(1);
  check(idx.dtype == DType::Int64,
        std::string("GatherND: indices must be int64, got ") + dtype_name(idx.dtype));
  const int64_t r = static_cast<int64_t>(x.shape.size()), q = static_cast<int64_t>(idx.shape.size());
  check(r >= 1 && q >= 1, "GatherND: data and indices must have rank >= 1");
  check(batch_dims >= 0 && batch_dims < std::min(r, q), "GatherND: batch_dims " + std::to_string(batch_dims) +
                                                            " must be in [0, min(rank(data), rank(indices)))");
  const int64_t m = idx.shape.back();
  check(m >= 0, "GatherND: the last dim of indices must be known at compile time");
  check(m <= r - batch_dims, "GatherND: indices address " + std::to_string(m) + " dims but data has only " +
                                 std::to_string(r - batch_dims) + " beyond the batch dims");
  for (int64_t b = 0; b < batch_dims; ++b) {
    const int64_t dx = x.shape[static_cast<size_t>(b)], di = idx.shape[static_cast<size_t>(b)];
    check(dx < 0 || di < 0 || dx == di, "GatherND: batch dim " + std::to_string(b) + " is " +
                                            std::to_string(dx) + " in data but " + std::to_string(di) +
                                            " in indices");
  }
  Dims out(idx.shape.begin(), idx.shape.end() - 1);
  out.insert(out.end(), x.shape.begin() + batch_dims + m, x.shape.end());
  check_output_shape(out, "GatherND output");
  ctx.set_output(0, x.dtype, out);
}

void GatherND::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &idx = a.in[1], &y = a.out[0];
  const size_t b = static_cast<size_t>(batch_dims);
  const int64_t m = idx.shape.back();
  int64_t batches = 1, per_batch = 1, slice = 1;
  for (size_t i = 0; i < b; ++i) batches *= idx.shape[i];
  for (size_t i = b; i + 1 < idx.shape.size(); ++i) per_batch *= idx.shape[i];
  for (size_t i = b + static_cast<size_t>(m); i < x.shape.size(); ++i) slice *= x.shape[i];
  const auto strides = shape_strides(x.shape);
  const int64_t batch_stride = b > 0 ? strides[b - 1] : 0;
  const size_t es = dtype_size(x.dtype);
  const int64_t* ip = idx.as<const int64_t>();
  const char* src = static_cast<const char*>(x.data);
  char* dst = static_cast<char*>(y.data);
  for (int64_t bi = 0; bi < batches; ++bi)
    for (int64_t n = 0; n < per_batch; ++n) {
      const int64_t* row = ip + (bi * per_batch + n) * m;
      int64_t off = bi * batch_stride;
      for (int64_t k = 0; k < m; ++k)
        off +=
            wrap(row[k], x.shape[b + static_cast<size_t>(k)], "GatherND") * strides[b + static_cast<size_t>(k)];
      std::memcpy(dst + (bi * per_batch + n) * slice * static_cast<int64_t>(es),
                  src + off * static_cast<int64_t>(es), static_cast<size_t>(slice) * es);
    }
}

// ---------------------------------------------------------------------------------------------
// ScatterElements

void ScatterElements::attrs(AttrVisitor& v) {
  v.visit("axis", axis);
  visit_reduction(v, reduction);
}

void ScatterElements::infer(InferContext& ctx) const {
  check_io(ctx, 3, 3, 1, "ScatterElements");
  const TensorType &x = ctx.input(0), &idx = ctx.input(1), &upd = ctx.input(2);
  check(idx.dtype == DType::Int64 || idx.dtype == DType::Int32,
        std::string("ScatterElements: indices must be int32 or int64, got ") + dtype_name(idx.dtype));
  check(upd.dtype == x.dtype, std::string("ScatterElements: updates must have data's type ") +
                                  dtype_name(x.dtype) + ", got " + dtype_name(upd.dtype));
  check_scatter_reduction(reduction, x.dtype, "ScatterElements");
  const int64_t r = static_cast<int64_t>(x.shape.size());
  check(r >= 1, "ScatterElements: data must have rank >= 1");
  check(idx.shape.size() == x.shape.size(), "ScatterElements: indices must have data's rank " +
                                                std::to_string(r) + ", got shape " + shape_str(idx.shape));
  const int64_t ax = normalize_axis(axis, r, "ScatterElements axis");
  for (size_t d = 0; d < idx.shape.size(); ++d) {
    const int64_t di = idx.shape[d], du = upd.shape.size() == idx.shape.size() ? upd.shape[d] : -2;
    check(du != -2 && (di < 0 || du < 0 || di == du), "ScatterElements: updates must have indices' shape " +
                                                          shape_str(idx.shape) + ", got " +
                                                          shape_str(upd.shape));
    check(static_cast<int64_t>(d) == ax || di < 0 || x.shape[d] < 0 || di <= x.shape[d],
          "ScatterElements: indices dim " + std::to_string(d) + " (" + std::to_string(di) +
              ") exceeds data's (" + std::to_string(x.shape[d]) + ")");
  }
  ctx.set_output(0, x.dtype, x.shape);
}

void ScatterElements::reference(const KernelArgs& a) const {
  copy_data(a);
  const TensorView &idx = a.in[1], &upd = a.in[2], &y = a.out[0];
  const size_t r = y.shape.size(), ax = static_cast<size_t>(axis < 0 ? axis + static_cast<int64_t>(r) : axis);
  const auto ys = shape_strides(y.shape);
  const size_t es = dtype_size(y.dtype);
  std::vector<int64_t> pos(r, 0);
  for (int64_t e = 0, n = idx.elements(); e < n; ++e) {
    int64_t off = 0;
    for (size_t d = 0; d < r; ++d)
      off += (d == ax ? wrap(element_as_int(idx, e), y.shape[d], "ScatterElements") : pos[d]) * ys[d];
    combine(reduction, y.dtype, static_cast<char*>(y.data) + off * static_cast<int64_t>(es),
            static_cast<const char*>(upd.data) + e * static_cast<int64_t>(es), 1);
    for (int64_t d = static_cast<int64_t>(r) - 1; d >= 0; --d) {
      if (++pos[static_cast<size_t>(d)] < idx.shape[static_cast<size_t>(d)]) break;
      pos[static_cast<size_t>(d)] = 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ScatterND

void ScatterND::attrs(AttrVisitor& v) { visit_reduction(v, reduction); }

void ScatterND::infer(InferContext& ctx) const {
  check_io(ctx, 3, 3, 1, "ScatterND");
  const TensorType &x = ctx.input(0), &idx = ctx.input(1), &upd = ctx.input(2);
  check(idx.dtype == DType::Int64,
        std::string("ScatterND: indices must be int64, got ") + dtype_name(idx.dtype));
  check(upd.dtype == x.dtype, std::string("ScatterND: updates must have data's type ") + dtype_name(x.dtype) +
                                  ", got " + dtype_name(upd.dtype));
  check_scatter_reduction(reduction, x.dtype, "ScatterND");
  const int64_t r = static_cast<int64_t>(x.shape.size());
  check(r >= 1 && !idx.shape.empty(), "ScatterND: data and indices must have rank >= 1");
  const int64_t m = idx.shape.back();
  check(m >= 0, "ScatterND: the last dim of indices must be known at compile time");
  check(m <= r,
        "ScatterND: indices address " + std::to_string(m) + " dims but data has rank " + std::to_string(r));
  Dims want(idx.shape.begin(), idx.shape.end() - 1);
  want.insert(want.end(), x.shape.begin() + m, x.shape.end());
  bool ok = upd.shape.size() == want.size();
  for (size_t d = 0; ok && d < want.size(); ++d)
    ok = want[d] < 0 || upd.shape[d] < 0 || want[d] == upd.shape[d];
  check(ok, "ScatterND: updates must have shape " + shape_str(want) + ", got " + shape_str(upd.shape));
  ctx.set_output(0, x.dtype, x.shape);
}

void ScatterND::reference(const KernelArgs& a) const {
  copy_data(a);
  const TensorView &idx = a.in[1], &upd = a.in[2], &y = a.out[0];
  const int64_t m = idx.shape.back();
  int64_t rows = 1, slice = 1;
  for (size_t i = 0; i + 1 < idx.shape.size(); ++i) rows *= idx.shape[i];
  for (size_t i = static_cast<size_t>(m); i < y.shape.size(); ++i) slice *= y.shape[i];
  const auto ys = shape_strides(y.shape);
  const size_t es = dtype_size(y.dtype);
  const int64_t* ip = idx.as<const int64_t>();
  for (int64_t j = 0; j < rows; ++j) {
    int64_t off = 0;
    for (int64_t k = 0; k < m; ++k)
      off += wrap(ip[j * m + k], y.shape[static_cast<size_t>(k)], "ScatterND") * ys[static_cast<size_t>(k)];
    combine(reduction, y.dtype, static_cast<char*>(y.data) + off * static_cast<int64_t>(es),
            static_cast<const char*>(upd.data) + j * slice * static_cast<int64_t>(es), slice);
  }
}

KILN_REGISTER_OP(GatherND);
KILN_REGISTER_OP(ScatterElements);
KILN_REGISTER_OP(ScatterND);

}  // namespace kiln::ops
