#include "ops/math/gemm.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/math/eltwise.h"
#include "ops/tensor/shape.h"

namespace kiln::ops {

namespace {

bool gemm_dtype(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::Int32 || t == DType::Int64;
}

bool dim_eq(int64_t a, int64_t b) { return a < 0 || b < 0 || a == b; }

// Inputs after the optional third one are the Sum post-ops' operands; the third slot must be
// present (possibly empty) whenever Sums follow it.
void check_input_count(const InferContext& ctx, const PostOps& post, const char* op) {
  size_t sums = post.sum_count();
  bool ok = sums == 0 ? (ctx.num_inputs() == 2 || ctx.num_inputs() == 3) : ctx.num_inputs() == 3 + sums;
  check(ok && ctx.num_outputs() == 1,
        std::string(op) + " takes 2 or 3 inputs (plus one per fused Sum) and one output");
}

// With `broadcast`, a Sum operand may also broadcast unidirectionally to the output (MatMul).
void check_sums(const InferContext& ctx, const PostOps& post, const Dims& out, const char* op,
                bool broadcast = false) {
  if (!post.empty())
    check(ctx.input(0).dtype == DType::Float32, std::string(op) + ": fused post-ops need float32");
  for (size_t i = 0; i < post.sum_count(); ++i) {
    const auto& s = ctx.input(3 + i);
    bool ok = s.dtype == DType::Float32 &&
              (broadcast ? s.shape.size() <= out.size() : s.shape.size() == out.size());
    for (size_t d = 0, off = out.size() - s.shape.size(); ok && d < s.shape.size(); ++d)
      ok = dim_eq(s.shape[d], out[off + d]) || (broadcast && s.shape[d] == 1);
    check(ok, std::string(op) + ": fused Sum operand " + std::to_string(i) + " (" + dtype_name(s.dtype) +
                  " " + shape_str(s.shape) + ") must be float32 of the output's shape " + shape_str(out) +
                  (broadcast ? " or broadcastable to it" : ""));
  }
}

// `s` read through a permutation (empty = as is), checked to be one of its rank.
Dims permuted(const Dims& s, const std::vector<int64_t>& perm, const char* what) {
  if (perm.empty()) return s;
  check(perm.size() == s.size() && s.size() >= 2, std::string("MatMul: ") + what + " has " +
                                                      std::to_string(perm.size()) + " entries but the operand " +
                                                      shape_str(s) + " has rank " + std::to_string(s.size()));
  std::vector<bool> seen(perm.size(), false);
  Dims r;
  for (int64_t a : perm) {
    check(a >= 0 && a < static_cast<int64_t>(perm.size()) && !seen[a],
          std::string("MatMul: ") + what + " " + shape_str(perm) + " is not a permutation");
    seen[a] = true;
    r.push_back(s[a]);
  }
  return r;
}

// A dense copy of t read through perm (the reference's way of reading a folded Transpose).
TensorView materialize_perm(const TensorView& t, const std::vector<int64_t>& perm, std::vector<char>& buf) {
  if (perm.empty()) return t;
  TensorView r{t.dtype, permuted(t.shape, perm, "perm"), nullptr};
  buf.resize(t.bytes());
  r.data = buf.data();
  auto ts = shape_strides(t.shape);
  std::vector<int64_t> ss(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) ss[i] = ts[perm[i]];
  strided_copy(r.data, shape_strides(r.shape), t.data, ss, r.shape, dtype_size(t.dtype));
  return r;
}

// Accumulator: double for floats (the reference is the accurate side of every comparison),
// wrapping 64-bit for integers.
template <class T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;

// alpha * v for integers, saturating instead of overflowing the conversion.
template <class T>
T scale_to(double v, float s) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v * s);
  } else {
    double r = std::nearbyint(v * s);
    if (!(r > static_cast<double>(std::numeric_limits<T>::lowest()))) return std::numeric_limits<T>::lowest();
    if (!(r < static_cast<double>(std::numeric_limits<T>::max()))) return std::numeric_limits<T>::max();
    return static_cast<T>(r);
  }
}

template <class T>
T finish(Acc<T> acc, float alpha) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(alpha * acc);
  } else {
    auto v = static_cast<T>(static_cast<int64_t>(acc));
    return alpha == 1.f ? v : scale_to<T>(static_cast<double>(v), alpha);
  }
}

template <class F>
void dispatch_gemm(DType t, F&& f) {
  switch (t) {
    case DType::Float32: f(float{}); break;
    case DType::Float64: f(double{}); break;
    case DType::Int32: f(int32_t{}); break;
    case DType::Int64: f(int64_t{}); break;
    default: fail(std::string("unsupported matrix product type ") + dtype_name(t));
  }
}

void apply_post(const PostOps& post, const KernelArgs& args) {
  if (post.empty()) return;
  const Dims& out = args.out[0].shape;
  std::vector<std::vector<float>> expanded;  // Sum operands broadcast up to the output
  std::vector<const float*> sums;
  for (size_t i = 3; i < args.in.size(); ++i) {
    const TensorView& t = args.in[i];
    if (t.shape == out) {
      sums.push_back(t.as<float>());
      continue;
    }
    expanded.emplace_back(static_cast<size_t>(shape_elements(out)));
    strided_copy(expanded.back().data(), shape_strides(out), t.data, broadcast_strides(t.shape, out), out,
                 sizeof(float));
    sums.push_back(expanded.back().data());
  }
  post.apply(args.out[0].as<float>(), args.out[0].elements(), sums);
}

}  // namespace

// ---- Gemm ----

void Gemm::attrs(AttrVisitor& v) {
  v.visit("alpha", alpha);
  v.visit("beta", beta);
  visit_bool(v, "transA", transA);
  visit_bool(v, "transB", transB);
  post.attrs(v);
  visit_bool(v, "dynamic_rows", dynamic_rows);
}

void Gemm::infer(InferContext& ctx) const {
  check_input_count(ctx, post, "Gemm");
  const auto& a = ctx.input(0);
  const auto& b = ctx.input(1);
  check(gemm_dtype(a.dtype), std::string("Gemm does not support type ") + dtype_name(a.dtype) +
                                 "; it takes float32, float64, int32 or int64");
  check(b.dtype == a.dtype, std::string("Gemm: A is ") + dtype_name(a.dtype) + " but B is " + dtype_name(b.dtype));
  check(a.shape.size() == 2, "Gemm: A must be 2-D, got shape " + shape_str(a.shape));
  check(b.shape.size() == 2, "Gemm: B must be 2-D, got shape " + shape_str(b.shape));
  int64_t m = a.shape[transA ? 1 : 0], ka = a.shape[transA ? 0 : 1];
  int64_t kb = b.shape[transB ? 1 : 0], n = b.shape[transB ? 0 : 1];
  check(dim_eq(ka, kb), "Gemm: inner dimensions differ: A " + shape_str(a.shape) + (transA ? " (transposed)" : "") +
                            " and B " + shape_str(b.shape) + (transB ? " (transposed)" : ""));
  Dims out{m, n};
  if (ctx.has_input(2)) {
    const auto& c = ctx.input(2);
    check(c.dtype == a.dtype, std::string("Gemm: C is ") + dtype_name(c.dtype) + " but A is " + dtype_name(a.dtype));
    bool ok = c.shape.size() <= 2;
    for (size_t i = 0; ok && i < c.shape.size(); ++i) {
      int64_t cd = c.shape[c.shape.size() - 1 - i], od = out[1 - i];
      ok = cd == 1 || dim_eq(cd, od);
    }
    check(ok, "Gemm: C " + shape_str(c.shape) + " does not broadcast to the output " + shape_str(out));
  }
  check_sums(ctx, post, out, "Gemm");
  ctx.set_output(0, a.dtype, out);
}

void Gemm::reference(const KernelArgs& args) const {
  const auto& A = args.in[0];
  const auto& B = args.in[1];
  const TensorView* C = args.in.size() > 2 && args.in[2].data ? &args.in[2] : nullptr;
  const int64_t M = args.out[0].shape[0], N = args.out[0].shape[1];
  const int64_t K = A.shape[transA ? 0 : 1];
  dispatch_gemm(A.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* a = A.as<T>();
    const T* b = B.as<T>();
    T* y = args.out[0].as<T>();
    std::vector<int64_t> cst;
    if (C) cst = broadcast_strides(C->shape, args.out[0].shape);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        Acc<T> acc = 0;
        for (int64_t k = 0; k < K; ++k) {
          T av = transA ? a[k * M + i] : a[i * K + k];
          T bv = transB ? b[j * K + k] : b[k * N + j];
          acc += static_cast<Acc<T>>(av) * static_cast<Acc<T>>(bv);
        }
        T v = finish<T>(acc, alpha);
        if (C) {
          T c = C->as<T>()[i * cst[0] + j * cst[1]];
          if constexpr (std::is_floating_point_v<T>) v = static_cast<T>(v + static_cast<T>(beta * c));
          else v = static_cast<T>(static_cast<uint64_t>(v) + static_cast<uint64_t>(scale_to<T>(c, beta)));
        }
        y[i * N + j] = v;
      }
  });
  apply_post(post, args);
}

KILN_REGISTER_OP(Gemm);

// ---- MatMul ----

void MatMul::attrs(AttrVisitor& v) {
  post.attrs(v);
  v.visit("alpha", alpha);
  v.visit("perm_a", perm_a);
  v.visit("perm_b", perm_b);
  v.visit("perm_y", perm_y);
  visit_bool(v, "dynamic_rows", dynamic_rows);
}

void MatMul::infer(InferContext& ctx) const {
  check_input_count(ctx, post, "MatMul");
  const auto& a = ctx.input(0);
  const auto& b = ctx.input(1);
  check(gemm_dtype(a.dtype), std::string("MatMul does not support type ") + dtype_name(a.dtype) +
                                 "; it takes float32, float64, int32 or int64");
  check(b.dtype == a.dtype, std::string("MatMul: A is ") + dtype_name(a.dtype) + " but B is " + dtype_name(b.dtype));
  check(!a.shape.empty() && !b.shape.empty(), "MatMul: inputs must have rank 1 or more, got " +
                                                   shape_str(a.shape) + " and " + shape_str(b.shape));
  check(alpha == 1.f || a.dtype == DType::Float32 || a.dtype == DType::Float64,
        "MatMul: alpha != 1 needs a floating-point type");
  Dims pa = permuted(a.shape, perm_a, "perm_a"), pb = permuted(b.shape, perm_b, "perm_b");
  Dims as = pa.size() == 1 ? Dims{1, pa[0]} : pa;
  Dims bs = pb.size() == 1 ? Dims{pb[0], 1} : pb;
  check(dim_eq(as.back(), bs[bs.size() - 2]),
        "MatMul: inner dimensions differ: A " + shape_str(a.shape) + " and B " + shape_str(b.shape));
  Dims out = broadcast_shapes(Dims(as.begin(), as.end() - 2), Dims(bs.begin(), bs.end() - 2), "MatMul batch");
  if (pa.size() > 1) out.push_back(as[as.size() - 2]);
  if (pb.size() > 1) out.push_back(bs.back());
  if (ctx.has_input(2)) {
    const auto& bias = ctx.input(2);
    check(b.shape.size() > 1, "MatMul: a bias needs B of rank 2 or more");
    check(bias.dtype == a.dtype, std::string("MatMul: bias is ") + dtype_name(bias.dtype) + " but A is " +
                                     dtype_name(a.dtype));
    check(bias.shape.size() == 1 && (bias.shape[0] == 1 || dim_eq(bias.shape[0], bs.back())),
          "MatMul: bias must be 1-D of size N = " + std::to_string(bs.back()) + ", got " + shape_str(bias.shape));
  }
  check_sums(ctx, post, out, "MatMul", true);
  if (!perm_y.empty()) {
    check(post.sum_count() == 0, "MatMul: perm_y cannot be combined with fused Sum post-ops");
    out = permuted(out, perm_y, "perm_y");
  }
  ctx.set_output(0, a.dtype, out);
}

void MatMul::reference(const KernelArgs& args) const {
  std::vector<char> abuf, bbuf;
  const TensorView A = materialize_perm(args.in[0], perm_a, abuf);
  const TensorView B = materialize_perm(args.in[1], perm_b, bbuf);
  const TensorView* bias = args.in.size() > 2 && args.in[2].data ? &args.in[2] : nullptr;
  Dims as = A.shape.size() == 1 ? Dims{1, A.shape[0]} : A.shape;
  Dims bs = B.shape.size() == 1 ? Dims{B.shape[0], 1} : B.shape;
  const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  Dims abatch(as.begin(), as.end() - 2), bbatch(bs.begin(), bs.end() - 2);
  Dims batch = broadcast_shapes(abatch, bbatch, "MatMul batch");
  auto ast = broadcast_strides(abatch, batch), bst = broadcast_strides(bbatch, batch);
  int64_t nb = shape_elements(batch);
  // With perm_y the product (and its post-ops) goes to a scratch tensor, then is transposed out.
  KernelArgs pargs = args;
  std::vector<char> zbuf;
  if (!perm_y.empty()) {
    Dims zs(perm_y.size());
    for (size_t j = 0; j < perm_y.size(); ++j) zs[perm_y[j]] = args.out[0].shape[j];
    zbuf.resize(args.out[0].bytes());
    pargs.out[0] = TensorView{args.out[0].dtype, zs, zbuf.data()};
  }
  dispatch_gemm(A.dtype, [&](auto tag) {
    using T = decltype(tag);
    T* y = pargs.out[0].as<T>();
    for (int64_t q = 0; q < nb; ++q) {
      // Batch strides count matrices, so they scale by each operand's matrix size.
      int64_t ao = 0, bo = 0;
      for (int64_t d = static_cast<int64_t>(batch.size()) - 1, r = q; d >= 0; --d) {
        int64_t i = r % batch[d];
        r /= batch[d];
        ao += i * ast[d];
        bo += i * bst[d];
      }
      const T* a = A.as<T>() + ao * M * K;
      const T* b = B.as<T>() + bo * K * N;
      T* o = y + q * M * N;
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          Acc<T> acc = 0;
          for (int64_t k = 0; k < K; ++k)
            acc += static_cast<Acc<T>>(a[i * K + k]) * static_cast<Acc<T>>(b[k * N + j]);
          if constexpr (std::is_floating_point_v<T>) acc *= alpha;
          if (bias) acc += static_cast<Acc<T>>(bias->as<T>()[bias->shape[0] == 1 ? 0 : j]);
          o[i * N + j] = static_cast<T>(static_cast<std::conditional_t<std::is_floating_point_v<T>, double, int64_t>>(acc));
        }
    }
  });
  apply_post(post, pargs);
  if (!perm_y.empty()) {
    const TensorView& z = pargs.out[0];
    auto zst = shape_strides(z.shape);
    std::vector<int64_t> ss(perm_y.size());
    for (size_t j = 0; j < perm_y.size(); ++j) ss[j] = zst[perm_y[j]];
    strided_copy(args.out[0].data, shape_strides(args.out[0].shape), z.data, ss, args.out[0].shape,
                 dtype_size(z.dtype));
  }
}

KILN_REGISTER_OP(MatMul);

}  // namespace kiln::ops
