// Quantization ops (see quantization/quant.h): shape/dtype checks and reference kernels. Integer
// products accumulate exactly in int64; requantization follows ONNX Runtime: a float32
// multiplier, round half to even, saturate.
#include "ops/quantization/quant.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/nn/conv.h"

namespace kiln::ops {

namespace {

bool is_q8(DType t) { return t == DType::UInt8 || t == DType::Int8; }
int64_t q_min(DType t) { return t == DType::Int8 ? -128 : 0; }
int64_t q_max(DType t) { return t == DType::Int8 ? 127 : 255; }

// Writes round-half-to-even(v) + zp, saturated to t, at index i of y.
// NaN (0/0 from a zero scale, or a NaN input) has no integer value; it maps to the zero point,
// as 0 would, instead of an undefined conversion.
void store_q(const TensorView& y, int64_t i, float v, int64_t zp) {
  if (std::isnan(v)) v = 0.f;
  const double q = std::clamp(static_cast<double>(std::nearbyint(v)) + static_cast<double>(zp),
                              static_cast<double>(q_min(y.dtype)), static_cast<double>(q_max(y.dtype)));
  if (y.dtype == DType::Int8) y.as<int8_t>()[i] = static_cast<int8_t>(q);
  else y.as<uint8_t>()[i] = static_cast<uint8_t>(q);
}

std::string q8_name(const std::string& what, const char* name, DType t) {
  return what + ": " + name + " must be uint8 or int8, not " + dtype_name(t);
}

// For every element of `target`, the row-major index of the element of `src` that numpy
// broadcasting reads there. src must broadcast to target (checked by callers).
std::vector<int64_t> broadcast_index(Dims src, const Dims& target) {
  const size_t r = target.size();
  src.insert(src.begin(), r - src.size(), 1);
  std::vector<int64_t> stride(r, 0);
  for (int64_t d = static_cast<int64_t>(r) - 1, s = 1; d >= 0; --d) {
    stride[d] = src[d] == 1 ? 0 : s;
    s *= src[d];
  }
  const int64_t n = shape_elements(target);
  std::vector<int64_t> out(static_cast<size_t>(n));
  std::vector<int64_t> coord(r, 0);
  int64_t at = 0;
  for (int64_t i = 0; i < n; ++i) {
    out[i] = at;
    for (size_t d = r; d-- > 0;) {
      at += stride[d];
      if (++coord[d] < target[d]) break;
      at -= stride[d] * target[d];
      coord[d] = 0;
    }
  }
  return out;
}

// Values of an optional tensor (absent: `def`) with shape `shape` broadcast to `target`.
std::vector<double> expand(const TensorView* t, const Dims& shape, const Dims& target, double def) {
  std::vector<double> out(static_cast<size_t>(shape_elements(target)), def);
  if (!t || !t->data) return out;
  const std::vector<int64_t> idx = broadcast_index(shape, target);
  for (size_t i = 0; i < out.size(); ++i) out[i] = element_as_double(*t, idx[i]);
  return out;
}

// True when `s` broadcasts to `target` without growing it (unknown dims match).
bool broadcasts_to(const Dims& s, const Dims& target) {
  if (s.size() > target.size()) return false;
  const size_t off = target.size() - s.size();
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] != 1 && s[i] >= 0 && target[off + i] >= 0 && s[i] != target[off + i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Per-tensor / per-axis parameters of QuantizeLinear and DequantizeLinear

struct AxisParams {
  int64_t inner = 1, d = 1;
  bool per_axis = false;
  int64_t at(int64_t i) const { return per_axis ? (i / inner) % d : 0; }
};

AxisParams axis_params(const Dims& x, const Dims& scale, int64_t axis) {
  AxisParams p;
  if (shape_elements(scale) == 1 && scale.size() <= 1) return p;
  const int64_t r = static_cast<int64_t>(x.size());
  const int64_t a = axis < 0 ? axis + r : axis;
  p.per_axis = true;
  p.d = x[a];
  for (int64_t i = a + 1; i < r; ++i) p.inner *= x[i];
  return p;
}

// Checks scale (input 1) and the optional zero point (input 2) against x (their dtypes are
// the caller's to check).
void check_qparams(InferContext& ctx, int64_t axis, const std::string& what) {
  const Dims& x = ctx.input(0).shape;
  const TensorType& s = ctx.input(1);
  check(s.dtype == DType::Float32, what + ": the scale must be float32, not " + std::string(dtype_name(s.dtype)));
  const bool per_tensor = s.shape.size() == 0 || (s.shape.size() == 1 && s.shape[0] == 1);
  if (!per_tensor) {
    const int64_t r = static_cast<int64_t>(x.size());
    check(s.shape.size() == 1, what + ": the scale must be a scalar or 1-D, got shape " + shape_str(s.shape));
    check(axis >= -r && axis < r, what + ": axis " + std::to_string(axis) + " is out of range for rank " +
                                      std::to_string(r));
    const int64_t d = x[axis < 0 ? axis + r : axis];
    check(d < 0 || s.shape[0] < 0 || d == s.shape[0],
          what + ": the scale has " + std::to_string(s.shape[0]) + " values but axis " + std::to_string(axis) +
              " has size " + std::to_string(d));
  }
  if (ctx.has_input(2)) {
    const Dims& z = ctx.input(2).shape;
    check(z == s.shape || (per_tensor && shape_elements(z) == 1),
          what + ": the zero point has shape " + shape_str(z) + " but the scale has shape " + shape_str(s.shape));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear

void QuantizeLinear::infer(InferContext& ctx) const {
  check(ctx.num_inputs() >= 2 && ctx.num_inputs() <= 3 && ctx.num_outputs() == 1,
        "QuantizeLinear takes x, y_scale and an optional y_zero_point, and has one output");
  const TensorType& x = ctx.input(0);
  check(x.dtype == DType::Float32 || x.dtype == DType::Int32,
        "QuantizeLinear takes float32 or int32 x, not " + std::string(dtype_name(x.dtype)));
  check_qparams(ctx, axis, kType);
  DType out = DType::UInt8;
  if (ctx.has_input(2)) {
    out = ctx.input(2).dtype;
    check(is_q8(out), q8_name(kType, "y_zero_point", out));
  }
  ctx.set_output(0, out, x.shape);
}

void QuantizeLinear::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &s = a.in[1], &y = a.out[0];
  const TensorView* zp = a.in.size() > 2 && a.in[2].data ? &a.in[2] : nullptr;
  const AxisParams p = axis_params(x.shape, s.shape, axis);
  for (int64_t i = 0, n = x.elements(); i < n; ++i) {
    const int64_t k = p.at(i);
    const float xv = x.dtype == DType::Int32 ? static_cast<float>(x.as<const int32_t>()[i]) : x.as<const float>()[i];
    store_q(y, i, xv / s.as<const float>()[k], zp ? element_as_int(*zp, k) : 0);
  }
}

void DequantizeLinear::infer(InferContext& ctx) const {
  check(ctx.num_inputs() >= 2 && ctx.num_inputs() <= 3 && ctx.num_outputs() == 1,
        "DequantizeLinear takes x, x_scale and an optional x_zero_point, and has one output");
  const TensorType& x = ctx.input(0);
  check(is_q8(x.dtype) || x.dtype == DType::Int32,
        "DequantizeLinear takes uint8, int8 or int32 x, not " + std::string(dtype_name(x.dtype)));
  check_qparams(ctx, axis, kType);
  if (ctx.has_input(2))
    check(ctx.input(2).dtype == x.dtype, "DequantizeLinear: x_zero_point has dtype " +
                                             std::string(dtype_name(ctx.input(2).dtype)) + " but x has " +
                                             dtype_name(x.dtype));
  ctx.set_output(0, DType::Float32, x.shape);
}

void DequantizeLinear::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &s = a.in[1];
  const TensorView* zp = a.in.size() > 2 && a.in[2].data ? &a.in[2] : nullptr;
  const AxisParams p = axis_params(x.shape, s.shape, axis);
  float* y = a.out[0].as<float>();
  for (int64_t i = 0, n = x.elements(); i < n; ++i) {
    const int64_t k = p.at(i);
    const int64_t q = element_as_int(x, i) - (zp ? element_as_int(*zp, k) : 0);
    y[i] = static_cast<float>(q) * s.as<const float>()[k];
  }
}

void DynamicQuantizeLinear::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 1 && ctx.num_outputs() == 3,
        "DynamicQuantizeLinear takes one input and has three outputs (y, y_scale, y_zero_point)");
  const TensorType& x = ctx.input(0);
  check(x.dtype == DType::Float32, "DynamicQuantizeLinear takes float32, not " + std::string(dtype_name(x.dtype)));
  ctx.set_output(0, DType::UInt8, x.shape);
  ctx.set_output(1, DType::Float32, {});
  ctx.set_output(2, DType::UInt8, {});
}

void DynamicQuantizeLinear::reference(const KernelArgs& a) const {
  const TensorView& x = a.in[0];
  const float* xp = x.as<const float>();
  const int64_t n = x.elements();
  // The range always includes 0, so 0 is exactly representable.
  float lo = 0.f, hi = 0.f;
  for (int64_t i = 0; i < n; ++i) lo = std::min(lo, xp[i]), hi = std::max(hi, xp[i]);
  const float scale = (hi - lo) / 255.f;
  int64_t zp = 0;
  if (scale > 0.f) zp = static_cast<int64_t>(std::clamp(std::nearbyint((0.f - lo) / scale), 0.f, 255.f));
  for (int64_t i = 0; i < n; ++i) store_q(a.out[0], i, scale > 0.f ? xp[i] / scale : 0.f, zp);
  *a.out[1].as<float>() = scale;
  *a.out[2].as<uint8_t>() = static_cast<uint8_t>(zp);
}

// ---------------------------------------------------------------------------------------------
// MatMulInteger / QLinearMatMul

namespace {

// numpy matmul geometry: 1-D A is a row [1, K], 1-D B a column [K, 1] (and those dims are
// dropped from the output).
struct MatMulGeom {
  Dims a_batch, b_batch, batch, out;
  int64_t m = 1, k = 1, n = 1;
  Dims a_zp_target() const {  // A's shape with K = 1
    Dims t = a_batch;
    t.push_back(m);
    t.push_back(1);
    return t;
  }
  Dims b_zp_target() const {  // B's shape with K = 1
    Dims t = b_batch;
    t.push_back(1);
    t.push_back(n);
    return t;
  }
};

MatMulGeom matmul_geom(const Dims& a, const Dims& b, const std::string& what) {
  check(!a.empty() && !b.empty(), what + ": A and B must have rank >= 1");
  MatMulGeom g;
  g.a_batch = a.size() > 2 ? Dims(a.begin(), a.end() - 2) : Dims{};
  g.b_batch = b.size() > 2 ? Dims(b.begin(), b.end() - 2) : Dims{};
  g.m = a.size() >= 2 ? a[a.size() - 2] : 1;
  g.k = a.back();
  const int64_t kb = b.size() >= 2 ? b[b.size() - 2] : b[0];
  g.n = b.size() >= 2 ? b.back() : 1;
  check(g.k < 0 || kb < 0 || g.k == kb, what + ": A " + shape_str(a) + " and B " + shape_str(b) +
                                            " have different inner dimensions");
  g.batch = broadcast_shapes(g.a_batch, g.b_batch, what + ": batch dims of A and B");
  g.out = g.batch;
  if (a.size() >= 2) g.out.push_back(g.m);
  if (b.size() >= 2) g.out.push_back(g.n);
  return g;
}

// A per-row zero point / scale given as [M] is a column of A, not numpy-aligned with K.
Dims a_param_shape(const Dims& s) { return s.size() == 1 && s[0] != 1 ? Dims{s[0], 1} : s; }

void check_matmul_param(InferContext& ctx, size_t i, const Dims& target, bool a_side, const std::string& what,
                        const char* name) {
  const Dims s = a_side ? a_param_shape(ctx.input(i).shape) : ctx.input(i).shape;
  check(broadcasts_to(s, target), what + ": " + name + " has shape " + shape_str(ctx.input(i).shape) +
                                      ", which is neither one value nor per " + (a_side ? "row" : "column") +
                                      " of shape " + shape_str(target));
}

// acc[batch, m, n] = sum_k (A - za) (B - zb), with za / zb already expanded to the zp targets.
std::vector<int64_t> int_matmul(const MatMulGeom& g, const TensorView& a, const TensorView& b,
                                const std::vector<double>& za, const std::vector<double>& zb) {
  const std::vector<int64_t> ai = broadcast_index(g.a_batch, g.batch), bi = broadcast_index(g.b_batch, g.batch);
  const int64_t nb = shape_elements(g.batch);
  std::vector<int64_t> acc(static_cast<size_t>(nb * g.m * g.n), 0);
  for (int64_t p = 0; p < nb; ++p) {
    const int64_t pa = ai[p], pb = bi[p];
    for (int64_t m = 0; m < g.m; ++m)
      for (int64_t n = 0; n < g.n; ++n) {
        const auto zav = static_cast<int64_t>(za[pa * g.m + m]), zbv = static_cast<int64_t>(zb[pb * g.n + n]);
        int64_t s = 0;
        for (int64_t k = 0; k < g.k; ++k)
          s += (element_as_int(a, (pa * g.m + m) * g.k + k) - zav) *
               (element_as_int(b, (pb * g.k + k) * g.n + n) - zbv);
        acc[(p * g.m + m) * g.n + n] = s;
      }
  }
  return acc;
}

}  // namespace

void MatMulInteger::infer(InferContext& ctx) const {
  check(ctx.num_inputs() >= 2 && ctx.num_inputs() <= 4 && ctx.num_outputs() == 1,
        "MatMulInteger takes A, B and optional a_zero_point / b_zero_point, and has one output");
  const TensorType &a = ctx.input(0), &b = ctx.input(1);
  check(is_q8(a.dtype), q8_name(kType, "A", a.dtype));
  check(is_q8(b.dtype), q8_name(kType, "B", b.dtype));
  const MatMulGeom g = matmul_geom(a.shape, b.shape, kType);
  if (ctx.has_input(2)) {
    check(ctx.input(2).dtype == a.dtype, "MatMulInteger: a_zero_point must have A's dtype");
    check_matmul_param(ctx, 2, g.a_zp_target(), true, kType, "a_zero_point");
  }
  if (ctx.has_input(3)) {
    check(ctx.input(3).dtype == b.dtype, "MatMulInteger: b_zero_point must have B's dtype");
    check_matmul_param(ctx, 3, g.b_zp_target(), false, kType, "b_zero_point");
  }
  ctx.set_output(0, DType::Int32, g.out);
}

void MatMulInteger::reference(const KernelArgs& a) const {
  const MatMulGeom g = matmul_geom(a.in[0].shape, a.in[1].shape, kType);
  auto opt = [&](size_t i) { return i < a.in.size() && a.in[i].data ? &a.in[i] : nullptr; };
  const std::vector<double> za = expand(opt(2), opt(2) ? a_param_shape(a.in[2].shape) : Dims{}, g.a_zp_target(), 0);
  const std::vector<double> zb = expand(opt(3), opt(3) ? a.in[3].shape : Dims{}, g.b_zp_target(), 0);
  const std::vector<int64_t> acc = int_matmul(g, a.in[0], a.in[1], za, zb);
  int32_t* y = a.out[0].as<int32_t>();
  for (size_t i = 0; i < acc.size(); ++i) y[i] = static_cast<int32_t>(acc[i]);
}

void QLinearMatMul::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 8 && ctx.num_outputs() == 1,
        "QLinearMatMul takes 8 inputs (a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point)");
  for (size_t i = 0; i < 8; ++i) check(ctx.has_input(i), "QLinearMatMul: all 8 inputs are required");
  const TensorType &a = ctx.input(0), &b = ctx.input(3), &yzp = ctx.input(7);
  check(is_q8(a.dtype), q8_name(kType, "a", a.dtype));
  check(is_q8(b.dtype), q8_name(kType, "b", b.dtype));
  check(is_q8(yzp.dtype), q8_name(kType, "y_zero_point", yzp.dtype));
  check(ctx.input(2).dtype == a.dtype && ctx.input(5).dtype == b.dtype,
        "QLinearMatMul: the zero points must have the dtypes of a and b");
  for (size_t i : {1, 4, 6})
    check(ctx.input(i).dtype == DType::Float32, "QLinearMatMul: the scales must be float32");
  const MatMulGeom g = matmul_geom(a.shape, b.shape, kType);
  check_matmul_param(ctx, 1, g.a_zp_target(), true, kType, "a_scale");
  check_matmul_param(ctx, 2, g.a_zp_target(), true, kType, "a_zero_point");
  check_matmul_param(ctx, 4, g.b_zp_target(), false, kType, "b_scale");
  check_matmul_param(ctx, 5, g.b_zp_target(), false, kType, "b_zero_point");
  for (size_t i : {6, 7})
    check(shape_elements(ctx.input(i).shape) == 1, "QLinearMatMul: y_scale and y_zero_point must be one value");
  ctx.set_output(0, yzp.dtype, g.out);
}

void QLinearMatMul::reference(const KernelArgs& a) const {
  const MatMulGeom g = matmul_geom(a.in[0].shape, a.in[3].shape, kType);
  const Dims ta = g.a_zp_target(), tb = g.b_zp_target();
  const std::vector<double> sa = expand(&a.in[1], a_param_shape(a.in[1].shape), ta, 1);
  const std::vector<double> za = expand(&a.in[2], a_param_shape(a.in[2].shape), ta, 0);
  const std::vector<double> sb = expand(&a.in[4], a.in[4].shape, tb, 1);
  const std::vector<double> zb = expand(&a.in[5], a.in[5].shape, tb, 0);
  const std::vector<int64_t> acc = int_matmul(g, a.in[0], a.in[3], za, zb);
  const float ys = a.in[6].as<const float>()[0];
  const int64_t yzp = element_as_int(a.in[7], 0);
  const std::vector<int64_t> ai = broadcast_index(g.a_batch, g.batch), bi = broadcast_index(g.b_batch, g.batch);
  for (int64_t p = 0, nb = shape_elements(g.batch); p < nb; ++p)
    for (int64_t m = 0; m < g.m; ++m)
      for (int64_t n = 0; n < g.n; ++n) {
        const float mult = static_cast<float>(sa[ai[p] * g.m + m]) * static_cast<float>(sb[bi[p] * g.n + n]) / ys;
        const int64_t i = (p * g.m + m) * g.n + n;
        store_q(a.out[0], i, static_cast<float>(acc[i]) * mult, yzp);
      }
}

// ---------------------------------------------------------------------------------------------
// ConvInteger / QLinearConv

void QConvGeometry::visit(AttrVisitor& v) {
  v.visit("strides", strides);
  v.visit("dilations", dilations);
  v.visit("pads", pads);
  v.visit("group", group);
}

namespace {

Dims spatial(const Dims& s) { return Dims(s.begin() + 2, s.end()); }

// Checks x (input xi) and w (input wi) and returns Y's shape [N, M, out...].
Dims check_qconv(InferContext& ctx, const QConvGeometry& g, size_t xi, size_t wi, const std::string& what) {
  const TensorType &x = ctx.input(xi), &w = ctx.input(wi);
  check(is_q8(x.dtype), q8_name(what, "x", x.dtype));
  check(is_q8(w.dtype), q8_name(what, "w", w.dtype));
  check(x.shape.size() >= 3, what + ": x must have rank >= 3 ([N, C, spatial...]), got shape " + shape_str(x.shape));
  check(w.shape.size() == x.shape.size(), what + ": w must have the rank of x, got shape " + shape_str(w.shape));
  check(g.group >= 1 && g.group <= (int64_t(1) << 31), what + ": group must be >= 1");
  const Window win = make_window(what, spatial(w.shape), g.strides, g.dilations, g.pads);
  const int64_t m = w.shape[0], c = x.shape[1], cg = w.shape[1];
  if (m >= 0) check(m % g.group == 0, what + ": output channels are not divisible by group");
  if (c >= 0 && cg >= 0)
    check(c == cg * g.group, what + ": x has " + std::to_string(c) + " channels but w expects " +
                                 std::to_string(cg) + " * group " + std::to_string(g.group));
  Dims y{x.shape[0], m};
  for (size_t i = 0; i < win.rank(); ++i) y.push_back(window_output_dim(win, i, x.shape[2 + i], false, what));
  return y;
}

// One value or one per output channel.
void check_per_channel(InferContext& ctx, size_t i, int64_t m, DType dtype, const std::string& what,
                       const char* name) {
  const TensorType& t = ctx.input(i);
  check(t.dtype == dtype, what + ": " + name + " must be " + dtype_name(dtype) + ", not " + dtype_name(t.dtype));
  const bool one = shape_elements(t.shape) == 1 && t.shape.size() <= 1;
  check(one || (t.shape.size() == 1 && (t.shape[0] < 0 || m < 0 || t.shape[0] == m)),
        what + ": " + name + " must be one value or one per output channel (" + std::to_string(m) + "), got shape " +
            shape_str(t.shape));
}

int64_t product(const Dims& s) {
  int64_t p = 1;
  for (int64_t d : s) p *= d;
  return p;
}

// acc [N, M, out...] of sum (x - xzp) * (w - wzp[m]) over each window; padding adds nothing.
std::vector<int64_t> int_conv(const QConvGeometry& g, const TensorView& x, int64_t xzp, const TensorView& w,
                              const TensorView* wzp, const Dims& y) {
  const Window win = make_window("conv", spatial(w.shape), g.strides, g.dilations, g.pads);
  const size_t r = win.rank();
  const int64_t nb = x.shape[0], c = x.shape[1], m = w.shape[0], cg = c / g.group, mg = m / g.group;
  const Dims in = spatial(x.shape), out = spatial(y);
  const int64_t in_sz = product(in), out_sz = product(out), k_sz = product(win.kernel);
  // Input offset of every (output position, kernel position) pair, -1 where it falls in padding.
  std::vector<int64_t> offs(static_cast<size_t>(out_sz * k_sz));
  std::vector<int64_t> oc(r, 0), kc(r, 0);
  for (int64_t op = 0; op < out_sz; ++op) {
    std::fill(kc.begin(), kc.end(), 0);
    for (int64_t kp = 0; kp < k_sz; ++kp) {
      int64_t idx = 0;
      bool inside = true;
      for (size_t d = 0; d < r; ++d) {
        const int64_t p = oc[d] * win.strides[d] - win.pad_begin[d] + kc[d] * win.dilations[d];
        inside = inside && p >= 0 && p < in[d];
        idx = idx * in[d] + p;
      }
      offs[static_cast<size_t>(op * k_sz + kp)] = inside ? idx : -1;
      for (size_t d = r; d-- > 0;)
        if (++kc[d] < win.kernel[d]) break;
        else kc[d] = 0;
    }
    for (size_t d = r; d-- > 0;)
      if (++oc[d] < out[d]) break;
      else oc[d] = 0;
  }
  std::vector<int64_t> acc(static_cast<size_t>(nb * m * out_sz), 0);
  for (int64_t n = 0; n < nb; ++n)
    for (int64_t o = 0; o < m; ++o) {
      const int64_t grp = o / mg;
      const int64_t wz = wzp ? element_as_int(*wzp, wzp->elements() == 1 ? 0 : o) : 0;
      for (int64_t op = 0; op < out_sz; ++op) {
        int64_t s = 0;
        for (int64_t ci = 0; ci < cg; ++ci) {
          const int64_t xbase = (n * c + grp * cg + ci) * in_sz, wbase = (o * cg + ci) * k_sz;
          for (int64_t kp = 0; kp < k_sz; ++kp) {
            const int64_t off = offs[static_cast<size_t>(op * k_sz + kp)];
            if (off >= 0) s += (element_as_int(x, xbase + off) - xzp) * (element_as_int(w, wbase + kp) - wz);
          }
        }
        acc[static_cast<size_t>((n * m + o) * out_sz + op)] = s;
      }
    }
  return acc;
}

}  // namespace

void ConvInteger::infer(InferContext& ctx) const {
  check(ctx.num_inputs() >= 2 && ctx.num_inputs() <= 4 && ctx.num_outputs() == 1,
        "ConvInteger takes x, w and optional x_zero_point / w_zero_point, and has one output");
  const Dims y = check_qconv(ctx, *this, 0, 1, kType);
  if (ctx.has_input(2)) {
    check(ctx.input(2).dtype == ctx.input(0).dtype, "ConvInteger: x_zero_point must have x's dtype");
    check(shape_elements(ctx.input(2).shape) == 1, "ConvInteger: x_zero_point must be one value");
  }
  if (ctx.has_input(3)) check_per_channel(ctx, 3, y[1], ctx.input(1).dtype, kType, "w_zero_point");
  ctx.set_output(0, DType::Int32, y);
}

void ConvInteger::reference(const KernelArgs& a) const {
  auto opt = [&](size_t i) { return i < a.in.size() && a.in[i].data ? &a.in[i] : nullptr; };
  const int64_t xzp = opt(2) ? element_as_int(a.in[2], 0) : 0;
  const std::vector<int64_t> acc = int_conv(*this, a.in[0], xzp, a.in[1], opt(3), a.out[0].shape);
  int32_t* y = a.out[0].as<int32_t>();
  for (size_t i = 0; i < acc.size(); ++i) y[i] = static_cast<int32_t>(acc[i]);
}

void QLinearConv::infer(InferContext& ctx) const {
  check((ctx.num_inputs() == 8 || ctx.num_inputs() == 9) && ctx.num_outputs() == 1,
        "QLinearConv takes 8 inputs (x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point) "
        "and an optional bias");
  for (size_t i = 0; i < 8; ++i) check(ctx.has_input(i), "QLinearConv: inputs 0 to 7 are required");
  const Dims y = check_qconv(ctx, *this, 0, 3, kType);
  const TensorType& yzp = ctx.input(7);
  check(is_q8(yzp.dtype), q8_name(kType, "y_zero_point", yzp.dtype));
  check(ctx.input(2).dtype == ctx.input(0).dtype, "QLinearConv: x_zero_point must have x's dtype");
  for (size_t i : {1, 2, 6, 7})
    check(shape_elements(ctx.input(i).shape) == 1, "QLinearConv: x_scale, x_zero_point, y_scale and y_zero_point "
                                                   "must be one value each");
  for (size_t i : {1, 6})
    check(ctx.input(i).dtype == DType::Float32, "QLinearConv: the scales must be float32");
  check_per_channel(ctx, 4, y[1], DType::Float32, kType, "w_scale");
  check_per_channel(ctx, 5, y[1], ctx.input(3).dtype, kType, "w_zero_point");
  if (ctx.has_input(8)) {
    const TensorType& b = ctx.input(8);
    check(b.dtype == DType::Int32, "QLinearConv: B must be int32, not " + std::string(dtype_name(b.dtype)));
    check(b.shape.size() == 1 && (b.shape[0] < 0 || y[1] < 0 || b.shape[0] == y[1]),
          "QLinearConv: B must be 1-D with one value per output channel, got shape " + shape_str(b.shape));
  }
  ctx.set_output(0, yzp.dtype, y);
}

void QLinearConv::reference(const KernelArgs& a) const {
  const TensorView& y = a.out[0];
  const std::vector<int64_t> acc = int_conv(*this, a.in[0], element_as_int(a.in[2], 0), a.in[3], &a.in[5], y.shape);
  const float xs = a.in[1].as<const float>()[0], ys = a.in[6].as<const float>()[0];
  const int64_t yzp = element_as_int(a.in[7], 0);
  const TensorView* bias = a.in.size() > 8 && a.in[8].data ? &a.in[8] : nullptr;
  const int64_t nb = y.shape[0], m = y.shape[1], out_sz = product(spatial(y.shape));
  const TensorView& ws = a.in[4];
  for (int64_t n = 0; n < nb; ++n)
    for (int64_t o = 0; o < m; ++o) {
      const float mult = xs * ws.as<const float>()[ws.elements() == 1 ? 0 : o] / ys;
      const int64_t b = bias ? element_as_int(*bias, o) : 0;
      for (int64_t p = 0; p < out_sz; ++p) {
        const int64_t i = (n * m + o) * out_sz + p;
        store_q(y, i, static_cast<float>(acc[static_cast<size_t>(i)] + b) * mult, yzp);
      }
    }
}

KILN_REGISTER_OP(QuantizeLinear);
KILN_REGISTER_OP(DequantizeLinear);
KILN_REGISTER_OP(DynamicQuantizeLinear);
KILN_REGISTER_OP(MatMulInteger);
KILN_REGISTER_OP(QLinearMatMul);
KILN_REGISTER_OP(ConvInteger);
KILN_REGISTER_OP(QLinearConv);

}  // namespace kiln::ops
