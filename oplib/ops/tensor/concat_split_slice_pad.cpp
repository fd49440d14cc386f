// Ops that move blocks of data between tensors: Concat, Split, Slice, Expand, Tile, Pad. Each
// reference kernel maps its op onto strided_copy (tensor/shape.h) with suitable strides.
#include <algorithm>
#include <cstring>

#include "ops/tensor/shape.h"

namespace kiln::ops {

static char* offset_ptr(void* p, int64_t elems, size_t es) {
  return static_cast<char*>(p) + elems * static_cast<int64_t>(es);
}

// ---------------------------------------------------------------------------------------------
// Concat

void Concat::attrs(AttrVisitor& v) { v.visit("axis", axis); }

void Concat::infer(InferContext& ctx) const {
  check(ctx.num_inputs() >= 1, "Concat needs at least one input");
  check(ctx.num_outputs() == 1, "Concat produces one output");
  const TensorType& x0 = ctx.input(0);
  check(dtype_valid(x0.dtype), "Concat: input 0 has an unsupported dtype");
  check(!x0.shape.empty(), "Concat cannot join scalars; inputs need rank >= 1");
  int64_t r = static_cast<int64_t>(x0.shape.size());
  int64_t k = normalize_axis(axis, r, "axis");
  Dims out = x0.shape;
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    const TensorType& x = ctx.input(i);
    check(x.dtype == x0.dtype, "input " + std::to_string(i) + " is " + dtype_name(x.dtype) + " but input 0 is " +
                                   dtype_name(x0.dtype));
    check(x.shape.size() == x0.shape.size(), "input " + std::to_string(i) + " has shape " + shape_str(x.shape) +
                                                 " but input 0 has " + shape_str(x0.shape) + " (ranks differ)");
    for (int64_t d = 0; d < r; ++d) {
      if (d == k) {
        if (out[d] < 0 || x.shape[d] < 0) out[d] = -1;
        else check(!__builtin_add_overflow(out[d], x.shape[d], &out[d]) && out[d] <= kMaxElements,
                   "the concatenated axis is too long");
      } else if (out[d] < 0) {
        out[d] = x.shape[d];
      } else if (x.shape[d] >= 0 && x.shape[d] != out[d]) {
        fail("input " + std::to_string(i) + " has shape " + shape_str(x.shape) + ", which differs from " +
             shape_str(x0.shape) + " in dim " + std::to_string(d) + " (concat axis is " + std::to_string(k) + ")");
      }
    }
  }
  check_output_shape(out, "output");
  ctx.set_output(0, x0.dtype, out);
}

void Concat::reference(const KernelArgs& a) const {
  const TensorView& y = a.out[0];
  int64_t k = axis < 0 ? axis + static_cast<int64_t>(y.shape.size()) : axis;
  size_t es = dtype_size(y.dtype);
  auto ys = shape_strides(y.shape);
  int64_t at = 0;
  for (const TensorView& x : a.in) {
    strided_copy(offset_ptr(y.data, at * ys[k], es), ys, x.data, shape_strides(x.shape), x.shape, es);
    at += x.shape[k];
  }
}

// ---------------------------------------------------------------------------------------------
// Split

void Split::attrs(AttrVisitor& v) {
  v.visit("axis", axis);
  v.visit("split", split);
}

void Split::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 1 || ctx.num_inputs() == 2, "Split takes the data and optionally the split sizes");
  const TensorType& x = ctx.input(0);
  // Split sizes given as a run-time input: known here only when their values are.
  std::vector<int64_t> split = this->split;
  bool sizes_unknown = false;
  if (ctx.has_input(1)) {
    const TensorView* v = ctx.constant(1);
    check(ctx.input(1).shape.size() == 1, "Split: the split sizes must be a 1-D tensor");
    if (v) split = to_int_vector(*v);
    else sizes_unknown = true;
  }
  check(dtype_valid(x.dtype), "Split: input 0 has an unsupported dtype");
  check(!x.shape.empty(), "Split cannot split a scalar");
  int64_t k = normalize_axis(axis, static_cast<int64_t>(x.shape.size()), "axis");
  int64_t dim = x.shape[k];
  size_t n = split.empty() ? ctx.num_outputs() : split.size();
  check(n >= 1, "Split needs at least one output");
  int64_t total = 0;
  for (int64_t s : split) {
    check(s >= 0 && s <= kMaxElements, "split sizes must be non-negative, got " + shape_str(split));
    check(!__builtin_add_overflow(total, s, &total), "split sizes overflow");
  }
  if (!split.empty())
    check(dim < 0 || total == dim, "split sizes " + shape_str(split) + " add up to " + std::to_string(total) +
                                       " but axis " + std::to_string(k) + " of " + shape_str(x.shape) + " has " +
                                       std::to_string(dim));
  else
    check(dim < 0 || dim % static_cast<int64_t>(n) == 0,
          "axis " + std::to_string(k) + " of " + shape_str(x.shape) + " does not split evenly into " +
              std::to_string(n) + " parts; give split sizes");
  for (size_t i = 0; i < n; ++i) {
    Dims s = x.shape;
    s[k] = sizes_unknown ? -1 : split.empty() ? (dim < 0 ? -1 : dim / static_cast<int64_t>(n)) : split[i];
    ctx.set_output(i, x.dtype, s);  // fails when the node declares fewer outputs
  }
  check(n == ctx.num_outputs(), "split has " + std::to_string(n) + " parts but the node has " +
                                    std::to_string(ctx.num_outputs()) + " outputs");
}

void Split::reference(const KernelArgs& a) const {
  const TensorView& x = a.in[0];
  int64_t k = axis < 0 ? axis + static_cast<int64_t>(x.shape.size()) : axis;
  size_t es = dtype_size(x.dtype);
  auto xs = shape_strides(x.shape);
  int64_t at = 0;
  for (const TensorView& y : a.out) {
    strided_copy(y.data, shape_strides(y.shape), offset_ptr(x.data, at * xs[k], es), xs, y.shape, es);
    at += y.shape[k];
  }
}

// ---------------------------------------------------------------------------------------------
// Slice

namespace {

struct SliceParams {
  std::vector<int64_t> starts, ends, axes, steps;
};

// Normalised per-axis slice of a known dim: first index, step and count.
struct AxisSlice {
  int64_t start, step, count;
};

AxisSlice slice_axis(int64_t start, int64_t end, int64_t step, int64_t dim) {
  AxisSlice s{0, step, 0};
  if (dim == 0) return s;
  if (step > 0) {
    start = std::clamp(start < 0 ? std::max(start, -dim) + dim : start, int64_t(0), dim);
    end = std::clamp(end < 0 ? std::max(end, -dim) + dim : end, int64_t(0), dim);
    s.count = end > start ? (end - start + step - 1) / step : 0;
  } else {
    start = std::clamp(start < 0 ? std::max(start, -dim) + dim : start, int64_t(0), dim - 1);
    end = end < 0 ? std::max(end, -dim - 1) + dim : std::min(end, dim - 1);  // -1: past the front
    s.count = start > end ? (start - end + (-step) - 1) / (-step) : 0;
  }
  s.start = start;
  return s;
}

// Validates the parameters against rank r and fills the defaults; axes come back normalised.
void complete(SliceParams& p, int64_t r) {
  size_t n = p.starts.size();
  check(p.ends.size() == n, "starts has " + std::to_string(n) + " entries but ends has " +
                                std::to_string(p.ends.size()));
  if (p.axes.empty())
    for (size_t i = 0; i < n; ++i) p.axes.push_back(static_cast<int64_t>(i));
  if (p.steps.empty()) p.steps.assign(n, 1);
  check(p.axes.size() == n, "axes has " + std::to_string(p.axes.size()) + " entries, starts has " +
                                std::to_string(n));
  check(p.steps.size() == n, "steps has " + std::to_string(p.steps.size()) + " entries, starts has " +
                                 std::to_string(n));
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (size_t i = 0; i < n; ++i) {
    int64_t k = normalize_axis(p.axes[i], r, "axis");
    check(!seen[k], "axis " + std::to_string(p.axes[i]) + " is sliced twice");
    seen[k] = true;
    p.axes[i] = k;
    check(p.steps[i] != 0, "slice steps cannot be 0");
    check(p.steps[i] != INT64_MIN, "slice step is out of range");
  }
}

}  // namespace

void Slice::attrs(AttrVisitor& v) {
  v.visit("starts", starts);
  v.visit("ends", ends);
  v.visit("axes", axes);
  v.visit("steps", steps);
}

void Slice::infer(InferContext& ctx) const {
  check_io(ctx, 1, 5, 1, "Slice");
  const TensorType& x = ctx.input(0);
  int64_t r = static_cast<int64_t>(x.shape.size());
  check(ctx.num_inputs() == 1 || (ctx.has_input(1) && ctx.has_input(2)),
        "Slice given as inputs needs both starts (input 1) and ends (input 2)");
  auto st = param_ints(ctx, 1, starts, "starts");
  auto en = param_ints(ctx, 2, ends, "ends");
  auto ax = param_ints(ctx, 3, axes, "axes");
  auto sp = param_ints(ctx, 4, steps, "steps");
  Dims out = x.shape;
  if (!st || !en || !ax || !sp) {  // known at run time only
    if (ax && !ax->empty()) {
      for (int64_t a : *ax) out[normalize_axis(a, r, "axis")] = -1;
    } else {
      std::fill(out.begin(), out.end(), -1);
    }
    ctx.set_output(0, x.dtype, out);
    return;
  }
  SliceParams p{*st, *en, *ax, *sp};
  complete(p, r);
  for (size_t i = 0; i < p.axes.size(); ++i) {
    int64_t k = p.axes[i];
    if (x.shape[k] >= 0) out[k] = slice_axis(p.starts[i], p.ends[i], p.steps[i], x.shape[k]).count;
  }
  ctx.set_output(0, x.dtype, out);
}

void Slice::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &y = a.out[0];
  SliceParams p{param_ints(a, 1, starts), param_ints(a, 2, ends), param_ints(a, 3, axes),
                param_ints(a, 4, steps)};
  complete(p, static_cast<int64_t>(x.shape.size()));
  auto xs = shape_strides(x.shape);
  std::vector<int64_t> ss = xs;
  int64_t base = 0;
  for (size_t i = 0; i < p.axes.size(); ++i) {
    int64_t k = p.axes[i];
    AxisSlice s = slice_axis(p.starts[i], p.ends[i], p.steps[i], x.shape[k]);
    check(s.count == y.shape[k], "Slice: run-time parameters give a different shape than inferred");
    if (s.count == 0) return;
    base += s.start * xs[k];
    ss[k] = xs[k] * s.step;
  }
  size_t es = dtype_size(x.dtype);
  strided_copy(y.data, shape_strides(y.shape), offset_ptr(x.data, base, es), ss, y.shape, es);
}

// ---------------------------------------------------------------------------------------------
// Expand, Tile

// Strides that read `in` broadcast to `out` (numpy rules; size-1 dims repeat).
static std::vector<int64_t> broadcast_strides(const Dims& in, const Dims& out) {
  auto is = shape_strides(in);
  std::vector<int64_t> s(out.size(), 0);
  size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) s[off + i] = in[i] == out[off + i] ? is[i] : 0;
  return s;
}

void Expand::attrs(AttrVisitor& v) { v.visit("shape", shape); }

void Expand::infer(InferContext& ctx) const {
  check_io(ctx, 1, 2, 1, "Expand");
  const TensorType& x = ctx.input(0);
  auto target = param_ints(ctx, 1, shape, "shape");
  if (!target) {  // run-time shape: dims the input fixes (> 1) are all we know
    check(ctx.input(1).shape[0] >= 0, "the shape input has unknown length, so the output rank is unknown");
    size_t r = std::max(x.shape.size(), static_cast<size_t>(ctx.input(1).shape[0]));
    Dims out(r, -1);
    for (size_t i = 0; i < x.shape.size(); ++i)
      if (x.shape[i] > 1) out[r - x.shape.size() + i] = x.shape[i];
    ctx.set_output(0, x.dtype, out);
    return;
  }
  for (int64_t d : *target)
    check(d >= 0, "target shape " + shape_str(*target) + " has a negative dimension");
  Dims out = broadcast_shapes(x.shape, *target, "Expand");
  check_output_shape(out, "output");
  ctx.set_output(0, x.dtype, out);
}

void Expand::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &y = a.out[0];
  strided_copy(y.data, shape_strides(y.shape), x.data, broadcast_strides(x.shape, y.shape), y.shape,
               dtype_size(x.dtype));
}

void Tile::attrs(AttrVisitor& v) { v.visit("repeats", repeats); }

void Tile::infer(InferContext& ctx) const {
  check_io(ctx, 1, 2, 1, "Tile");
  const TensorType& x = ctx.input(0);
  auto rep = param_ints(ctx, 1, repeats, "repeats");
  if (!rep) {
    ctx.set_output(0, x.dtype, Dims(x.shape.size(), -1));
    return;
  }
  check(rep->size() == x.shape.size(), "repeats has " + std::to_string(rep->size()) +
                                           " entries but the input " + shape_str(x.shape) + " has rank " +
                                           std::to_string(x.shape.size()));
  Dims out(x.shape.size());
  for (size_t i = 0; i < out.size(); ++i) {
    check((*rep)[i] >= 0, "repeats must be non-negative, got " + shape_str(*rep));
    out[i] = mul_or_unknown(x.shape[i], (*rep)[i], "tiled dim");
  }
  check_output_shape(out, "output");
  ctx.set_output(0, x.dtype, out);
}

void Tile::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &y = a.out[0];
  // The output viewed as [rep0, d0, rep1, d1, ...]: each repeat reads the same input block.
  auto xs = shape_strides(x.shape), ys = shape_strides(y.shape);
  Dims dims;
  std::vector<int64_t> ds, ss;
  for (size_t i = 0; i < x.shape.size(); ++i) {
    if (x.shape[i] == 0 || y.shape[i] == 0) return;
    dims.insert(dims.end(), {y.shape[i] / x.shape[i], x.shape[i]});
    ds.insert(ds.end(), {x.shape[i] * ys[i], ys[i]});
    ss.insert(ss.end(), {0, xs[i]});
  }
  strided_copy(y.data, ds, x.data, ss, dims, dtype_size(x.dtype));
}

// ---------------------------------------------------------------------------------------------
// Pad

void Pad::attrs(AttrVisitor& v) {
  v.visit("mode", mode);
  v.visit("pads", pads);
  v.visit("value_bits", value_bits);
}

void Pad::infer(InferContext& ctx) const {
  check_io(ctx, 1, 3, 1, "Pad");
  const TensorType& x = ctx.input(0);
  if (ctx.has_input(2))
    check(ctx.input(2).dtype == x.dtype && shape_elements(ctx.input(2).shape) == 1,
          "the pad value (input 2) must be one element of the data's dtype");
  check(mode == "constant" || mode == "reflect" || mode == "edge" || mode == "wrap",
        "mode must be constant, reflect, edge or wrap, not '" + mode + "'");
  size_t r = x.shape.size();
  auto p = param_ints(ctx, 1, pads, "pads");
  if (!p) {
    ctx.set_output(0, x.dtype, Dims(r, -1));
    return;
  }
  check(p->size() == 2 * r, "pads has " + std::to_string(p->size()) + " entries; the input " +
                                shape_str(x.shape) + " needs 2 * rank = " + std::to_string(2 * r));
  Dims out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t b = (*p)[i], e = (*p)[i + r], d = x.shape[i];
    check(b >= -kMaxElements && b <= kMaxElements && e >= -kMaxElements && e <= kMaxElements,
          "pads " + shape_str(*p) + " are absurd");
    if (d < 0) {
      out[i] = -1;
      continue;
    }
    out[i] = d + b + e;
    check(out[i] >= 0, "pads " + shape_str(*p) + " crop more than dim " + std::to_string(i) + " of " +
                           shape_str(x.shape) + " holds");
    if (mode != "constant" && (b > 0 || e > 0))
      check(d > 0, "cannot " + mode + "-pad dim " + std::to_string(i) + " of " + shape_str(x.shape) +
                       ": it is empty");
  }
  check_output_shape(out, "output");
  ctx.set_output(0, x.dtype, out);
}

// Source index along one axis for output index o, or -1 for the constant fill.
static int64_t pad_source(int64_t o, int64_t begin, int64_t d, const std::string& mode) {
  int64_t i = o - begin;
  if (i >= 0 && i < d) return i;
  if (mode == "constant") return -1;
  if (mode == "edge") return i < 0 ? 0 : d - 1;
  if (mode == "wrap") return ((i % d) + d) % d;  // opset 19: the axis as a ring
  if (d == 1) return 0;
  int64_t period = 2 * (d - 1);  // reflect without repeating the edge, as numpy does
  int64_t m = ((i % period) + period) % period;
  return m < d ? m : period - m;
}

void Pad::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &y = a.out[0];
  auto p = param_ints(a, 1, pads);
  size_t r = x.shape.size(), es = dtype_size(x.dtype);
  int64_t n = y.elements();
  if (n == 0) return;
  char* yd = static_cast<char*>(y.data);
  if (mode == "constant") {
    // Fill, then copy the kept box of the input into place.
    int64_t value = a.in.size() > 2 && a.in[2].data ? pack_element_bits(a.in[2], 0) : value_bits;
    for (int64_t i = 0; i < n; ++i) std::memcpy(yd + i * static_cast<int64_t>(es), &value, es);
    auto xs = shape_strides(x.shape), ys = shape_strides(y.shape);
    Dims box(r);
    int64_t src = 0, dst = 0;
    for (size_t k = 0; k < r; ++k) {
      int64_t b = p[k], e = p[k + r];
      box[k] = x.shape[k] + std::min<int64_t>(b, 0) + std::min<int64_t>(e, 0);
      if (box[k] <= 0) return;
      src += std::max<int64_t>(-b, 0) * xs[k];
      dst += std::max<int64_t>(b, 0) * ys[k];
    }
    strided_copy(offset_ptr(y.data, dst, es), ys, offset_ptr(x.data, src, es), xs, box, es);
    return;
  }
  // reflect / edge / wrap: per-axis source index tables, then one gather per output row.
  std::vector<std::vector<int64_t>> src(r);
  auto xs = shape_strides(x.shape);
  for (size_t k = 0; k < r; ++k)
    for (int64_t o = 0; o < y.shape[k]; ++o) src[k].push_back(pad_source(o, p[k], x.shape[k], mode) * xs[k]);
  std::vector<int64_t> idx(r, 0);
  const char* xd = static_cast<const char*>(x.data);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (size_t k = 0; k < r; ++k) off += src[k][idx[k]];
    std::memcpy(yd + i * static_cast<int64_t>(es), xd + off * static_cast<int64_t>(es), es);
    for (size_t k = r; k-- > 0;) {
      if (++idx[k] < y.shape[k]) break;
      idx[k] = 0;
    }
  }
}

KILN_REGISTER_OP(Concat);
KILN_REGISTER_OP(Split);
KILN_REGISTER_OP(Slice);
KILN_REGISTER_OP(Expand);
KILN_REGISTER_OP(Tile);
KILN_REGISTER_OP(Pad);

}  // namespace kiln::ops
