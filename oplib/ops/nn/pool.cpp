// MaxPool, AveragePool and the global pools: attributes, shape inference, reference kernels.
#include "ops/nn/pool.h"

#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>

namespace kiln::ops {

namespace {

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

// Number of taps j in [0, k) of a window starting at `start` with step `d` that land in
// [lo, hi), and the first of them. Arithmetic, so absurd kernel sizes cost nothing.
std::pair<int64_t, int64_t> taps_in(int64_t start, int64_t d, int64_t k, int64_t lo, int64_t hi) {
  const int64_t first = start >= lo ? 0 : (lo - start + d - 1) / d;
  if (start + first * d >= hi || first >= k) return {0, 0};
  const int64_t last = std::min(k - 1, (hi - 1 - start) / d);
  return {first, last - first + 1};
}

// Walks every window of every [n, c] plane. For each output element it calls
// visit(plane, out_index, offsets, padded_taps): the offsets (into the plane) of the window's
// taps that land inside the input, and the number of taps that land in
// [-pad_begin, in + pad_end), which is the divisor of count_include_pad.
template <class F>
void for_each_window(const Window& w, const Dims& x, const Dims& y, F&& visit) {
  const size_t r = w.rank();
  const Dims in(x.begin() + 2, x.end()), out(y.begin() + 2, y.end());
  const int64_t planes = x[0] * x[1], out_sz = product(out);
  std::vector<int64_t> oc(r, 0), first(r), count(r), cur(r);
  std::vector<int64_t> offsets;
  for (int64_t op = 0; op < out_sz; ++op) {
    int64_t padded_taps = 1, inside = 1;
    for (size_t d = 0; d < r; ++d) {
      const int64_t start = oc[d] * w.strides[d] - w.pad_begin[d];
      std::tie(first[d], count[d]) = taps_in(start, w.dilations[d], w.kernel[d], 0, in[d]);
      padded_taps *= taps_in(start, w.dilations[d], w.kernel[d], -w.pad_begin[d], in[d] + w.pad_end[d]).second;
      inside *= count[d];
    }
    offsets.clear();
    std::fill(cur.begin(), cur.end(), 0);
    for (int64_t t = 0; t < inside; ++t) {
      int64_t idx = 0;
      for (size_t d = 0; d < r; ++d)
        idx = idx * in[d] + oc[d] * w.strides[d] - w.pad_begin[d] + (first[d] + cur[d]) * w.dilations[d];
      offsets.push_back(idx);
      for (size_t d = r; d-- > 0;) {
        if (++cur[d] < count[d]) break;
        cur[d] = 0;
      }
    }
    for (int64_t pl = 0; pl < planes; ++pl) visit(pl, op, offsets, padded_taps);
    for (size_t d = r; d-- > 0;) {
      if (++oc[d] < out[d]) break;
      oc[d] = 0;
    }
  }
}

// The column-major position of the row-major offset `o` in a plane of the given dims.
int64_t column_major(int64_t o, const Dims& dims) {
  int64_t col = 0, stride = 1;
  std::vector<int64_t> coord(dims.size());
  for (size_t d = dims.size(); d-- > 0;) {
    coord[d] = o % dims[d];
    o /= dims[d];
  }
  for (size_t d = 0; d < dims.size(); ++d) {
    col += coord[d] * stride;
    stride *= dims[d];
  }
  return col;
}

// idx (optional) receives each maximum's position in the flattened X: the first tap holding
// it, or -1 for a window with no tap inside X.
template <class T>
void max_pool(const Window& w, const TensorView& x, const TensorView& y, const TensorView* idx, bool col_major) {
  const Dims in(x.shape.begin() + 2, x.shape.end());
  const int64_t in_sz = product(in);
  const int64_t out_sz = product(Dims(y.shape.begin() + 2, y.shape.end()));
  const T* xp = x.as<const T>();
  T* yp = y.as<T>();
  int64_t* ip = idx ? idx->as<int64_t>() : nullptr;
  for_each_window(w, x.shape, y.shape, [&](int64_t pl, int64_t op, const std::vector<int64_t>& offs, int64_t) {
    // A window entirely in padding yields the lowest value, as ONNX Runtime does.
    T m = std::numeric_limits<T>::lowest();
    int64_t best = offs.empty() ? -1 : offs[0];
    for (int64_t o : offs)
      if (xp[pl * in_sz + o] > m) {
        m = xp[pl * in_sz + o];
        best = o;
      }
    yp[pl * out_sz + op] = m;
    if (ip) ip[pl * out_sz + op] = best < 0 ? -1 : pl * in_sz + (col_major ? column_major(best, in) : best);
  });
}

void check_pool_input(InferContext& ctx, const std::string& what, bool allow_int8, size_t max_outputs) {
  check(ctx.num_inputs() == 1, what + " takes one input, got " + std::to_string(ctx.num_inputs()));
  check(ctx.num_outputs() >= 1 && ctx.num_outputs() <= max_outputs,
        what + (max_outputs == 1 ? " has one output" : " has Y and an optional Indices output"));
  const TensorType& x = ctx.input(0);
  const bool ok = x.dtype == DType::Float32 || (allow_int8 && (x.dtype == DType::Int8 || x.dtype == DType::UInt8));
  check(ok, what + " does not support dtype " + dtype_name(x.dtype) +
                (allow_int8 ? " (float32, int8 and uint8 are supported)" : " (float32 only)"));
  check(x.shape.size() >= 3, what + ": X must have rank >= 3 ([N, C, spatial...]), got shape " + shape_str(x.shape));
}

}  // namespace

void PoolAttrs::visit(AttrVisitor& v) {
  v.visit("kernel_shape", kernel_shape);
  v.visit("strides", strides);
  v.visit("pads", pads);
  v.visit("dilations", dilations);
  visit_bool(v, "ceil_mode", ceil_mode);
}

Window PoolAttrs::window(const std::string& what) const {
  return make_window(what, kernel_shape, strides, dilations, pads);
}

void PoolAttrs::infer(InferContext& ctx, const std::string& what, bool allow_int8, size_t max_outputs) const {
  check_pool_input(ctx, what, allow_int8, max_outputs);
  const TensorType& x = ctx.input(0);
  const size_t r = x.shape.size() - 2;
  check(kernel_shape.size() == r, what + ": kernel_shape has " + std::to_string(kernel_shape.size()) +
                                      " values but X (shape " + shape_str(x.shape) + ") has " + std::to_string(r) +
                                      " spatial dims");
  for (int64_t k : kernel_shape) check(k >= 1, what + ": kernel_shape values must be >= 1");
  const Window w = window(what);
  Dims y{x.shape[0], x.shape[1]};
  for (size_t i = 0; i < r; ++i) {
    // A pad as large as the window would create windows that see padding only.
    check(w.pad_begin[i] < w.extent(i) && w.pad_end[i] < w.extent(i),
          what + ": pads must be smaller than the window (" + std::to_string(w.extent(i)) + ") along spatial dim " +
              std::to_string(i));
    y.push_back(window_output_dim(w, i, x.shape[2 + i], ceil_mode, what));
  }
  ctx.set_output(0, x.dtype, y);
}

void MaxPool::attrs(AttrVisitor& v) {
  p.visit(v);
  v.visit("storage_order", storage_order);
}

void MaxPool::infer(InferContext& ctx) const {
  p.infer(ctx, "MaxPool", true, 2);
  check(storage_order == 0 || storage_order == 1, "MaxPool: storage_order must be 0 (row-major) or 1 (column-major)");
  if (ctx.num_outputs() == 2) ctx.set_output(1, DType::Int64, ctx.outputs()[0].shape);
}

void MaxPool::reference(const KernelArgs& a) const {
  const Window w = p.window("MaxPool");
  const TensorView* idx = a.out.size() > 1 && a.out[1].data ? &a.out[1] : nullptr;
  const bool col = storage_order == 1;
  switch (a.in[0].dtype) {
    case DType::Int8: max_pool<int8_t>(w, a.in[0], a.out[0], idx, col); break;
    case DType::UInt8: max_pool<uint8_t>(w, a.in[0], a.out[0], idx, col); break;
    default: max_pool<float>(w, a.in[0], a.out[0], idx, col); break;
  }
}

void AveragePool::attrs(AttrVisitor& v) {
  p.visit(v);
  visit_bool(v, "count_include_pad", count_include_pad);
}

void AveragePool::reference(const KernelArgs& a) const {
  const Window w = p.window("AveragePool");
  const TensorView &x = a.in[0], &y = a.out[0];
  const int64_t in_sz = product(Dims(x.shape.begin() + 2, x.shape.end()));
  const int64_t out_sz = product(Dims(y.shape.begin() + 2, y.shape.end()));
  const float* xp = x.as<const float>();
  float* yp = y.as<float>();
  for_each_window(w, x.shape, y.shape, [&](int64_t pl, int64_t op, const std::vector<int64_t>& offs, int64_t taps) {
    double s = 0;
    for (int64_t o : offs) s += xp[pl * in_sz + o];
    const int64_t count = count_include_pad ? taps : static_cast<int64_t>(offs.size());
    yp[pl * out_sz + op] = count > 0 ? static_cast<float>(s / static_cast<double>(count)) : 0.f;
  });
}

// ---------------------------------------------------------------------------------------------
// Global pools

static void infer_global(InferContext& ctx, const std::string& what) {
  check_pool_input(ctx, what, false, 1);
  const TensorType& x = ctx.input(0);
  Dims y(x.shape.size(), 1);
  y[0] = x.shape[0];
  y[1] = x.shape[1];
  for (size_t i = 2; i < x.shape.size(); ++i)
    check(x.shape[i] != 0, what + ": X has an empty spatial dim (shape " + shape_str(x.shape) + ")");
  ctx.set_output(0, x.dtype, y);
}

void GlobalAveragePool::infer(InferContext& ctx) const { infer_global(ctx, "GlobalAveragePool"); }
void GlobalMaxPool::infer(InferContext& ctx) const { infer_global(ctx, "GlobalMaxPool"); }

void GlobalAveragePool::reference(const KernelArgs& a) const {
  const TensorView& x = a.in[0];
  const int64_t planes = x.shape[0] * x.shape[1], sz = product(Dims(x.shape.begin() + 2, x.shape.end()));
  const float* xp = x.as<const float>();
  float* yp = a.out[0].as<float>();
  for (int64_t pl = 0; pl < planes; ++pl) {
    double s = 0;
    for (int64_t i = 0; i < sz; ++i) s += xp[pl * sz + i];
    yp[pl] = static_cast<float>(s / static_cast<double>(sz));
  }
}

void GlobalMaxPool::reference(const KernelArgs& a) const {
  const TensorView& x = a.in[0];
  const int64_t planes = x.shape[0] * x.shape[1], sz = product(Dims(x.shape.begin() + 2, x.shape.end()));
  const float* xp = x.as<const float>();
  float* yp = a.out[0].as<float>();
  for (int64_t pl = 0; pl < planes; ++pl)
    yp[pl] = *std::max_element(xp + pl * sz, xp + (pl + 1) * sz);
}

KILN_REGISTER_OP(MaxPool);
KILN_REGISTER_OP(AveragePool);
KILN_REGISTER_OP(GlobalAveragePool);
KILN_REGISTER_OP(GlobalMaxPool);

}  // namespace kiln::ops
