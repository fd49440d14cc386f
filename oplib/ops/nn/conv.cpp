// Conv and ConvTranspose: attribute reflection, shape inference and the naive reference kernels,
// plus the window geometry shared with the pools (see conv.h).
#include "ops/nn/conv.h"

#include <algorithm>

namespace kiln::ops {

namespace {

// Bound on strides, dilations, pads and kernel sizes: far beyond any real model, and small
// enough that (K - 1) * dilation and friends cannot overflow int64.
constexpr int64_t kMaxWindowAttr = int64_t(1) << 31;

std::vector<int64_t> expand_attr(const std::string& what, const char* name, const std::vector<int64_t>& v,
                                 size_t n, int64_t def, int64_t lo) {
  if (v.empty()) return std::vector<int64_t>(n, def);
  check(v.size() == n, what + ": " + name + " has " + std::to_string(v.size()) + " values but the input has " +
                           std::to_string(n) + " spatial dims");
  for (int64_t x : v)
    check(x >= lo && x < kMaxWindowAttr,
          what + ": " + name + " value " + std::to_string(x) + " is out of range (must be >= " +
              std::to_string(lo) + ")");
  return v;
}

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

// Coordinates of every linear position in a row-major box of extents `dims`, flattened
// (position-major), so the reference loops need no per-element division.
std::vector<int64_t> all_coords(const std::vector<int64_t>& dims) {
  const size_t r = dims.size();
  const int64_t n = product(dims);
  std::vector<int64_t> c(static_cast<size_t>(n) * r);
  std::vector<int64_t> cur(r, 0);
  for (int64_t i = 0; i < n; ++i) {
    std::copy(cur.begin(), cur.end(), c.begin() + i * static_cast<int64_t>(r));
    for (size_t d = r; d-- > 0;) {
      if (++cur[d] < dims[d]) break;
      cur[d] = 0;
    }
  }
  return c;
}

Dims spatial(const Dims& s) { return Dims(s.begin() + 2, s.end()); }

// Sum post-op operands must have Y's shape; unknown dims match anything.
void check_sum_operands(InferContext& ctx, size_t first, size_t count, const TensorType& x,
                        const Dims& y, const std::string& what) {
  for (size_t i = 0; i < count; ++i) {
    const TensorType& s = ctx.input(first + i);
    std::string name = what + ": Sum post-op operand (input " + std::to_string(first + i) + ")";
    check(s.dtype == x.dtype, name + " has dtype " + dtype_name(s.dtype) + ", expected " + dtype_name(x.dtype));
    bool ok = s.shape.size() == y.size();
    for (size_t d = 0; ok && d < y.size(); ++d) ok = s.shape[d] < 0 || y[d] < 0 || s.shape[d] == y[d];
    check(ok, name + " has shape " + shape_str(s.shape) + " but the output has shape " + shape_str(y));
  }
}

// Shared input checks of Conv and ConvTranspose; returns the number of Sum operands.
size_t check_conv_inputs(InferContext& ctx, const PostOps& post, const std::string& what) {
  check(ctx.num_outputs() == 1, what + " has exactly one output");
  const size_t sums = post.sum_count();
  if (sums)
    check(ctx.num_inputs() == 3 + sums,
          what + " with " + std::to_string(sums) + " Sum post-op(s) takes X, W, an optional B and " +
              std::to_string(sums) + " sum operand(s), got " + std::to_string(ctx.num_inputs()) + " inputs");
  else
    check(ctx.num_inputs() == 2 || ctx.num_inputs() == 3,
          what + " takes X, W and an optional B, got " + std::to_string(ctx.num_inputs()) + " inputs");
  const TensorType& x = ctx.input(0);
  const TensorType& w = ctx.input(1);
  check(x.dtype == DType::Float32, what + " supports float32 only; X is " + dtype_name(x.dtype));
  check(w.dtype == x.dtype, what + ": W has dtype " + std::string(dtype_name(w.dtype)) + " but X has " +
                                dtype_name(x.dtype));
  check(x.shape.size() >= 3, what + ": X must have rank >= 3 ([N, C, spatial...]), got shape " + shape_str(x.shape));
  check(w.shape.size() == x.shape.size(), what + ": W must have the rank of X (" + std::to_string(x.shape.size()) +
                                              "), got shape " + shape_str(w.shape));
  return sums;
}

void check_bias(InferContext& ctx, int64_t m, const std::string& what) {
  if (!ctx.has_input(2)) return;
  const TensorType& b = ctx.input(2);
  check(b.dtype == ctx.input(0).dtype, what + ": B has dtype " + std::string(dtype_name(b.dtype)) +
                                           " but X has " + dtype_name(ctx.input(0).dtype));
  check(b.shape.size() == 1, what + ": B must be 1-D, got shape " + shape_str(b.shape));
  if (b.shape[0] >= 0 && m >= 0)
    check(b.shape[0] == m, what + ": B has " + std::to_string(b.shape[0]) + " elements but there are " +
                               std::to_string(m) + " output channels");
}

void apply_post(const PostOps& post, const KernelArgs& a) {
  if (post.empty()) return;
  std::vector<const float*> sums;
  for (size_t i = 3; i < a.in.size(); ++i) sums.push_back(a.in[i].as<const float>());
  post.apply(a.out[0].as<float>(), a.out[0].elements(), sums);
}

}  // namespace

Window make_window(const std::string& what, std::vector<int64_t> kernel, const std::vector<int64_t>& strides,
                   const std::vector<int64_t>& dilations, const std::vector<int64_t>& pads) {
  const size_t n = kernel.size();
  for (int64_t k : kernel)
    check(k == -1 || (k >= 1 && k < kMaxWindowAttr),
          what + ": kernel size " + std::to_string(k) + " is out of range (must be >= 1)");
  Window w;
  w.kernel = std::move(kernel);
  w.strides = expand_attr(what, "strides", strides, n, 1, 1);
  w.dilations = expand_attr(what, "dilations", dilations, n, 1, 1);
  if (pads.empty()) {
    w.pad_begin.assign(n, 0);
    w.pad_end.assign(n, 0);
  } else {
    check(pads.size() == 2 * n, what + ": pads has " + std::to_string(pads.size()) + " values, expected " +
                                    std::to_string(2 * n) + " ([begin..., end...] for " + std::to_string(n) +
                                    " spatial dims)");
    for (int64_t p : pads)
      check(p >= 0 && p < kMaxWindowAttr, what + ": pad " + std::to_string(p) + " is out of range (must be >= 0)");
    w.pad_begin.assign(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(n));
    w.pad_end.assign(pads.begin() + static_cast<std::ptrdiff_t>(n), pads.end());
  }
  return w;
}

int64_t window_output_dim(const Window& w, size_t i, int64_t in, bool ceil_mode, const std::string& what) {
  if (in < 0 || w.kernel[i] < 0) return -1;
  const int64_t padded = in + w.pad_begin[i] + w.pad_end[i];
  const int64_t ext = w.extent(i);
  check(padded >= ext, what + ": along spatial dim " + std::to_string(i) + " the window spans " +
                           std::to_string(ext) + " elements but the padded input has only " + std::to_string(padded));
  const int64_t span = padded - ext, s = w.strides[i];
  int64_t out = span / s + 1;
  if (ceil_mode && span % s != 0) {
    ++out;
    if ((out - 1) * s >= in + w.pad_begin[i]) --out;  // the extra window would start in the end padding
  }
  return out;
}

std::vector<int64_t> same_pads(const Window& w, const Dims& in, bool upper) {
  const size_t n = w.rank();
  std::vector<int64_t> pads(2 * n, 0);
  for (size_t i = 0; i < n; ++i) {
    const int64_t s = w.strides[i];
    const int64_t out = (in[i] + s - 1) / s;
    const int64_t total = std::max<int64_t>(0, (out - 1) * s + w.extent(i) - in[i]);
    const int64_t small = total / 2, big = total - small;
    pads[i] = upper ? small : big;
    pads[n + i] = upper ? big : small;
  }
  return pads;
}

std::vector<int64_t> resolve_auto_pad(const std::string& auto_pad, const Window& w, const Dims& in,
                                      const std::vector<int64_t>& pads) {
  if (auto_pad.empty() || auto_pad == "NOTSET") return pads;
  if (auto_pad == "VALID") return {};
  if (auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER")
    fail("unknown auto_pad '" + auto_pad + "' (expected NOTSET, VALID, SAME_UPPER or SAME_LOWER)");
  bool known = shape_static(in) && in.size() == w.rank();
  for (int64_t k : w.kernel) known = known && k >= 0;
  check(known, "auto_pad=" + auto_pad + " needs static spatial input dims and kernel sizes, but the input's spatial "
               "dims are " + shape_str(in) + "; fix the input shapes (--shapes) or re-export with explicit pads");
  return same_pads(w, in, auto_pad == "SAME_UPPER");
}

// ---------------------------------------------------------------------------------------------
// Conv

void Conv::attrs(AttrVisitor& v) {
  v.visit("strides", strides);
  v.visit("dilations", dilations);
  v.visit("pads", pads);
  v.visit("group", group);
  post.attrs(v);
}

void Conv::infer(InferContext& ctx) const {
  const size_t sums = check_conv_inputs(ctx, post, "Conv");
  const TensorType& x = ctx.input(0);
  const TensorType& w = ctx.input(1);
  check(group >= 1 && group < kMaxWindowAttr, "Conv: group must be >= 1, got " + std::to_string(group));
  Window win = make_window("Conv", spatial(w.shape), strides, dilations, pads);
  const int64_t m = w.shape[0], c = x.shape[1], cg = w.shape[1];
  if (m >= 0)
    check(m % group == 0, "Conv: the " + std::to_string(m) + " output channels (W dim 0) are not divisible by group " +
                              std::to_string(group));
  if (c >= 0 && cg >= 0)
    check(c == cg * group, "Conv: X has " + std::to_string(c) + " channels but W expects W.shape[1] * group = " +
                               std::to_string(cg) + " * " + std::to_string(group) + " = " + std::to_string(cg * group));
  check_bias(ctx, m, "Conv");
  Dims y{x.shape[0], m};
  for (size_t i = 0; i < win.rank(); ++i) y.push_back(window_output_dim(win, i, x.shape[2 + i], false, "Conv"));
  check_sum_operands(ctx, 3, sums, x, y, "Conv");
  ctx.set_output(0, x.dtype, y);
}

void Conv::reference(const KernelArgs& args) const {
  // The memory planner may give the output the Sum operand's buffer (inplace_input()); keep a
  // copy of the operand before the convolution overwrites it.
  KernelArgs a = args;
  std::vector<float> operand;
  for (size_t i = 3; i < a.in.size(); ++i)
    if (a.in[i].data == a.out[0].data) {
      const float* p = a.in[i].as<const float>();
      operand.assign(p, p + a.in[i].elements());
      a.in[i].data = operand.data();
    }
  const TensorView& x = a.in[0];
  const TensorView& w = a.in[1];
  const float* bias = a.in.size() > 2 ? a.in[2].as<const float>() : nullptr;
  const TensorView& y = a.out[0];
  const Window win = make_window("Conv", spatial(w.shape), strides, dilations, pads);
  const size_t r = win.rank();
  const int64_t n_batch = x.shape[0], c = x.shape[1], m = w.shape[0];
  const int64_t cg = c / group, mg = m / group;
  const Dims in = spatial(x.shape), out = spatial(y.shape);
  const int64_t in_sz = product(in), out_sz = product(out), k_sz = product(win.kernel);
  const std::vector<int64_t> oc = all_coords(out), kc = all_coords(win.kernel);
  const float* xp = x.as<const float>();
  const float* wp = w.as<const float>();
  float* yp = y.as<float>();
  std::vector<int64_t> pos(r);
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t o = 0; o < m; ++o) {
      const int64_t g = o / mg;
      for (int64_t op = 0; op < out_sz; ++op) {
        double acc = bias ? bias[o] : 0.0;
        for (int64_t ci = 0; ci < cg; ++ci) {
          const float* xc = xp + (n * c + g * cg + ci) * in_sz;
          const float* wc = wp + (o * cg + ci) * k_sz;
          for (int64_t kp = 0; kp < k_sz; ++kp) {
            int64_t idx = 0;
            bool inside = true;
            for (size_t d = 0; d < r && inside; ++d) {
              const int64_t p = oc[op * r + d] * win.strides[d] - win.pad_begin[d] + kc[kp * r + d] * win.dilations[d];
              inside = p >= 0 && p < in[d];
              idx = idx * in[d] + p;
            }
            if (inside) acc += static_cast<double>(xc[idx]) * wc[kp];
          }
        }
        yp[(n * m + o) * out_sz + op] = static_cast<float>(acc);
      }
    }
  apply_post(post, a);
}

// ---------------------------------------------------------------------------------------------
// ConvTranspose

void ConvTranspose::attrs(AttrVisitor& v) {
  v.visit("strides", strides);
  v.visit("dilations", dilations);
  v.visit("pads", pads);
  v.visit("output_padding", output_padding);
  v.visit("group", group);
  post.attrs(v);
}

void ConvTranspose::infer(InferContext& ctx) const {
  const size_t sums = check_conv_inputs(ctx, post, "ConvTranspose");
  const TensorType& x = ctx.input(0);
  const TensorType& w = ctx.input(1);
  check(group >= 1 && group < kMaxWindowAttr, "ConvTranspose: group must be >= 1, got " + std::to_string(group));
  Window win = make_window("ConvTranspose", spatial(w.shape), strides, dilations, pads);
  const std::vector<int64_t> opad = expand_attr("ConvTranspose", "output_padding", output_padding, win.rank(), 0, 0);
  const int64_t c = x.shape[1], wc = w.shape[0], mg = w.shape[1];
  if (wc >= 0)
    check(wc % group == 0, "ConvTranspose: the " + std::to_string(wc) +
                               " input channels (W dim 0) are not divisible by group " + std::to_string(group));
  if (c >= 0 && wc >= 0)
    check(c == wc, "ConvTranspose: X has " + std::to_string(c) + " channels but W (shape " + shape_str(w.shape) +
                       ") expects " + std::to_string(wc));
  const int64_t m = mg >= 0 ? mg * group : -1;
  check_bias(ctx, m, "ConvTranspose");
  Dims y{x.shape[0], m};
  for (size_t i = 0; i < win.rank(); ++i) {
    const int64_t in = x.shape[2 + i];
    if (in < 0 || win.kernel[i] < 0) {
      y.push_back(-1);
      continue;
    }
    check(in >= 1, "ConvTranspose: X has an empty spatial dim " + std::to_string(i));
    const int64_t full = win.strides[i] * (in - 1) + opad[i] + win.extent(i);
    const int64_t o = full - win.pad_begin[i] - win.pad_end[i];
    check(o >= 1, "ConvTranspose: along spatial dim " + std::to_string(i) + " the pads (" +
                      std::to_string(win.pad_begin[i]) + " + " + std::to_string(win.pad_end[i]) +
                      ") remove the whole output of length " + std::to_string(full));
    y.push_back(o);
  }
  check_sum_operands(ctx, 3, sums, x, y, "ConvTranspose");
  ctx.set_output(0, x.dtype, y);
}

void ConvTranspose::reference(const KernelArgs& a) const {
  const TensorView& x = a.in[0];
  const TensorView& w = a.in[1];
  const float* bias = a.in.size() > 2 ? a.in[2].as<const float>() : nullptr;
  const TensorView& y = a.out[0];
  const Window win = make_window("ConvTranspose", spatial(w.shape), strides, dilations, pads);
  const size_t r = win.rank();
  const int64_t n_batch = x.shape[0], c = x.shape[1], cg = c / group;
  const int64_t mg = w.shape[1], m = mg * group;
  const Dims in = spatial(x.shape), out = spatial(y.shape);
  const int64_t in_sz = product(in), out_sz = product(out), k_sz = product(win.kernel);
  const std::vector<int64_t> ic = all_coords(in), kc = all_coords(win.kernel);
  const float* xp = x.as<const float>();
  const float* wp = w.as<const float>();
  // Scatter form of the definition: each input element adds x * w to the outputs it reaches.
  std::vector<double> acc(static_cast<size_t>(n_batch * m * out_sz), 0.0);
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t ci = 0; ci < c; ++ci) {
      const int64_t g = ci / cg;
      for (int64_t ip = 0; ip < in_sz; ++ip) {
        const double xv = xp[(n * c + ci) * in_sz + ip];
        for (int64_t kp = 0; kp < k_sz; ++kp) {
          int64_t idx = 0;
          bool inside = true;
          for (size_t d = 0; d < r && inside; ++d) {
            const int64_t p = ic[ip * r + d] * win.strides[d] - win.pad_begin[d] + kc[kp * r + d] * win.dilations[d];
            inside = p >= 0 && p < out[d];
            idx = idx * out[d] + p;
          }
          if (!inside) continue;
          for (int64_t mo = 0; mo < mg; ++mo)
            acc[static_cast<size_t>((n * m + g * mg + mo) * out_sz + idx)] += xv * wp[(ci * mg + mo) * k_sz + kp];
        }
      }
    }
  float* yp = y.as<float>();
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t o = 0; o < m; ++o)
      for (int64_t p = 0; p < out_sz; ++p) {
        const size_t i = static_cast<size_t>((n * m + o) * out_sz + p);
        yp[i] = static_cast<float>(acc[i] + (bias ? bias[o] : 0.0));
      }
  apply_post(post, a);
}

KILN_REGISTER_OP(Conv);
KILN_REGISTER_OP(ConvTranspose);

}  // namespace kiln::ops
