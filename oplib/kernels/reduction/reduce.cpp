// Fast kernels for Reduce on dense float32 data. The shape is first collapsed: size-1 dims
// dropped, runs of reduced / kept dims merged, so [2,64,7,7] over {2,3} becomes [128, 49] over {1}.
//
// "onednn" (dnnl::reduction): oneDNN 2.6's jit implementation handles reductions of the trailing
// dims for sum, mean, max, min and mul (LogSum = sum + a log post-op). For anything else (a
// reduced dim followed by a kept one, the Lp norms) it picks its slow `ref` implementation, and
// this kernel declines.
// "inhouse": every kind, including the numerically careful LogSumExp, on any shape that
// collapses to [outer, reduced, inner] (one reduced run), parallel over the kept elements.
// Other shapes (two separate reduced runs) and empty sets run the reference kernel.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>
#include <unordered_map>

#include "kernels/kernel.h"
#include "ops/reduction/reduce.h"

namespace kiln {
namespace {

using dnnl::memory;

class ReduceKernel final : public Kernel {
 public:
  ReduceKernel(const KernelSpec& s, dnnl::reduction::primitive_desc pd)
      : eng_(s.engine), const_in_(s.in[0].const_data), pd_(std::move(pd)), prim_(pd_) {}

  size_t scratchpad_bytes() const override { return pd_.scratchpad_desc().get_size(); }

  BoundKernel bind(const KernelBinding& b) const override {
    void* src = const_cast<void*>(const_in_ ? const_in_ : b.in.at(0));
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(pd_.src_desc(), eng_, src)},
                                         {DNNL_ARG_DST, memory(pd_.dst_desc(), eng_, b.out.at(0))},
                                         {DNNL_ARG_SCRATCHPAD, memory(pd_.scratchpad_desc(), eng_, b.scratchpad)}};
    return [prim = prim_, args](dnnl::stream& st) { prim.execute(st, args); };
  }

 private:
  dnnl::engine eng_;
  const void* const_in_;
  dnnl::reduction::primitive_desc pd_;
  dnnl::reduction prim_;
};

struct Collapsed {
  memory::dims src, dst;
};

// The input shape with size-1 dims dropped and neighbours of the same kind (reduced or kept)
// merged; dst has 1 where src is reduced. Empty when nothing of size > 1 is reduced.
Collapsed collapse(const Dims& shape, const std::vector<bool>& mask) {
  Collapsed c;
  int last = -1;  // kind of the previous dim of size > 1: 0 kept, 1 reduced
  bool any_reduced = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    const int kind = mask[i] ? 1 : 0;
    any_reduced |= mask[i];
    if (kind == last) {
      c.src.back() *= shape[i];
      if (!mask[i]) c.dst.back() *= shape[i];
    } else {
      c.src.push_back(shape[i]);
      c.dst.push_back(mask[i] ? 1 : shape[i]);
    }
    last = kind;
  }
  if (!any_reduced) return {};
  return c;
}

// Dense row-major float32 in and out with static shapes and at least one element each (empty
// sets have per-kind identities, -inf, NaN..., which stay with the reference kernel).
bool dense_f32(const KernelSpec& s) {
  if (s.in.size() != 1 || s.out.size() != 1) return false;
  const KernelTensor &x = s.in[0], &y = s.out[0];
  if (x.dtype != DType::Float32 || y.dtype != DType::Float32) return false;
  if (!x.layout.empty() || !y.layout.empty() || !shape_static(x.shape) || !shape_static(y.shape)) return false;
  return shape_elements(x.shape) > 0 && shape_elements(y.shape) > 0;
}

memory::format_tag plain_tag(size_t rank) {
  using T = memory::format_tag;
  static const T tags[] = {T::a, T::ab, T::abc, T::abcd, T::abcde, T::abcdef};
  return rank >= 1 && rank <= 6 ? tags[rank - 1] : T::undef;
}

std::unique_ptr<Kernel> make_reduce(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::Reduce*>(&s.op);
  if (!op || !dense_f32(s)) return nullptr;
  const KernelTensor& x = s.in[0];

  dnnl::algorithm alg;
  float p = 0.f;
  bool log_after = false;
  switch (op->kind) {
    case ops::ReduceKind::Sum: alg = dnnl::algorithm::reduction_sum; break;
    case ops::ReduceKind::Mean: alg = dnnl::algorithm::reduction_mean; break;
    case ops::ReduceKind::Max: alg = dnnl::algorithm::reduction_max; break;
    case ops::ReduceKind::Min: alg = dnnl::algorithm::reduction_min; break;
    case ops::ReduceKind::Prod: alg = dnnl::algorithm::reduction_mul; break;
    case ops::ReduceKind::LogSum: alg = dnnl::algorithm::reduction_sum, log_after = true; break;
    case ops::ReduceKind::L1: alg = dnnl::algorithm::reduction_norm_lp_sum, p = 1.f; break;
    case ops::ReduceKind::L2: alg = dnnl::algorithm::reduction_norm_lp_sum, p = 2.f; break;
    case ops::ReduceKind::SumSquare: alg = dnnl::algorithm::reduction_norm_lp_power_p_sum, p = 2.f; break;
    default: return nullptr;
  }
  // A reduction over only size-1 dims is elementwise; oneDNN rejects src == dst dims.
  Collapsed c = collapse(x.shape, op->reduced_mask(x.shape.size()));
  const auto tag = plain_tag(c.src.size());
  if (c.src.empty() || tag == memory::format_tag::undef) return nullptr;
  try {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (log_after) {
      dnnl::post_ops po;
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_log, 0.f, 0.f);
      attr.set_post_ops(po);
    }
    memory::desc src(c.src, memory::data_type::f32, tag), dst(c.dst, memory::data_type::f32, tag);
    dnnl::reduction::desc d(alg, src, dst, p, 0.f);
    dnnl::reduction::primitive_desc pd(d, attr, s.engine);
    // The ref implementation is a naive loop no faster than kiln's reference kernel.
    if (std::string_view(pd.impl_info_str()).starts_with("ref")) return nullptr;
    return std::make_unique<ReduceKernel>(s, std::move(pd));
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

// ---- in-house ----

// The accumulator's start for one kind.
template <ops::ReduceKind K>
constexpr float init_of() {
  if constexpr (K == ops::ReduceKind::Max) return -std::numeric_limits<float>::infinity();
  else if constexpr (K == ops::ReduceKind::Min) return std::numeric_limits<float>::infinity();
  else if constexpr (K == ops::ReduceKind::Prod) return 1.f;
  else return 0.f;
}

// acc (op)= f(x) for one kind, in a form the compiler vectorises; NaN propagates through
// Max/Min as in the reference.
template <ops::ReduceKind K>
inline float step(float acc, float x) {
  using ops::ReduceKind;
  if constexpr (K == ReduceKind::Max) return (x > acc || x != x) ? x : acc;
  else if constexpr (K == ReduceKind::Min) return (x < acc || x != x) ? x : acc;
  else if constexpr (K == ReduceKind::Prod) return acc * x;
  else if constexpr (K == ReduceKind::L1) return acc + std::fabs(x);
  else if constexpr (K == ReduceKind::L2 || K == ReduceKind::SumSquare) return acc + x * x;
  else return acc + x;  // Sum, Mean, LogSum
}

template <ops::ReduceKind K>
inline float finish(float acc, int64_t n) {
  using ops::ReduceKind;
  if constexpr (K == ReduceKind::Mean) return acc / static_cast<float>(n);
  else if constexpr (K == ReduceKind::L2) return std::sqrt(acc);
  else if constexpr (K == ReduceKind::LogSum) return std::log(acc);
  else return acc;
}

constexpr int64_t kInnerBlock = 256;

// y[o, i] = reduce over r of x[o, r, i], for one kind other than LogSumExp.
template <ops::ReduceKind K>
void reduce_block(const float* x, float* y, int64_t outer, int64_t n, int64_t inner) {
  constexpr float init = init_of<K>();
  if (inner == 1) {
#pragma omp parallel for
    for (int64_t o = 0; o < outer; ++o) {
      const float* row = x + o * n;
      // Eight partial accumulators: vectorisable, and more accurate than one long chain.
      float part[8];
      for (float& p : part) p = init;
      int64_t r = 0;
      for (; r + 8 <= n; r += 8)
        for (int k = 0; k < 8; ++k) part[k] = step<K>(part[k], row[r + k]);
      float acc = init;
      for (; r < n; ++r) acc = step<K>(acc, row[r]);
      for (float p : part) {
        // Combining partials is one more step of the same kind (x*x must not be applied twice).
        if constexpr (K == ops::ReduceKind::L1 || K == ops::ReduceKind::L2 || K == ops::ReduceKind::SumSquare)
          acc += p;
        else
          acc = step<K>(acc, p);
      }
      y[o] = finish<K>(acc, n);
    }
    return;
  }
  const int64_t blocks = (inner + kInnerBlock - 1) / kInnerBlock;
#pragma omp parallel for
  for (int64_t q = 0; q < outer * blocks; ++q) {
    const int64_t o = q / blocks, i0 = (q % blocks) * kInnerBlock, len = std::min(kInnerBlock, inner - i0);
    float* acc = y + o * inner + i0;
    for (int64_t i = 0; i < len; ++i) acc[i] = init;
    for (int64_t r = 0; r < n; ++r) {
      const float* xr = x + (o * n + r) * inner + i0;
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) acc[i] = step<K>(acc[i], xr[i]);
    }
    for (int64_t i = 0; i < len; ++i) acc[i] = finish<K>(acc[i], n);
  }
}

// log(sum(exp(x))) with the max subtracted first; `mx` is scratch of the output's size.
void log_sum_exp(const float* x, float* y, float* mx, int64_t outer, int64_t n, int64_t inner) {
  const int64_t blocks = (inner + kInnerBlock - 1) / kInnerBlock;
#pragma omp parallel for
  for (int64_t q = 0; q < outer * blocks; ++q) {
    const int64_t o = q / blocks, i0 = (q % blocks) * kInnerBlock, len = std::min(kInnerBlock, inner - i0);
    float* m = mx + o * inner + i0;
    float* acc = y + o * inner + i0;
    for (int64_t i = 0; i < len; ++i) m[i] = -std::numeric_limits<float>::infinity(), acc[i] = 0.f;
    for (int64_t r = 0; r < n; ++r) {
      const float* xr = x + (o * n + r) * inner + i0;
      for (int64_t i = 0; i < len; ++i) m[i] = step<ops::ReduceKind::Max>(m[i], xr[i]);
    }
    for (int64_t r = 0; r < n; ++r) {
      const float* xr = x + (o * n + r) * inner + i0;
      for (int64_t i = 0; i < len; ++i)
        if (std::isfinite(m[i])) acc[i] += std::exp(xr[i] - m[i]);
    }
    // A NaN or infinite max is the answer itself (all -inf gives -inf, like the reference).
    for (int64_t i = 0; i < len; ++i) acc[i] = std::isfinite(m[i]) ? m[i] + std::log(acc[i]) : m[i];
  }
}

class InhouseReduceKernel final : public Kernel {
 public:
  InhouseReduceKernel(const KernelSpec& s, ops::ReduceKind kind, int64_t outer, int64_t n, int64_t inner)
      : const_in_(s.in[0].const_data), kind_(kind), outer_(outer), n_(n), inner_(inner) {}

  size_t scratchpad_bytes() const override {
    return kind_ == ops::ReduceKind::LogSumExp ? static_cast<size_t>(outer_ * inner_) * sizeof(float) : 0;
  }

  BoundKernel bind(const KernelBinding& b) const override {
    const float* x = static_cast<const float*>(const_in_ ? const_in_ : b.in.at(0));
    float* y = static_cast<float*>(b.out.at(0));
    float* scratch = static_cast<float*>(b.scratchpad);
    using ops::ReduceKind;
    void (*fn)(const float*, float*, int64_t, int64_t, int64_t) = nullptr;
    switch (kind_) {
      case ReduceKind::Sum: fn = reduce_block<ReduceKind::Sum>; break;
      case ReduceKind::Mean: fn = reduce_block<ReduceKind::Mean>; break;
      case ReduceKind::Max: fn = reduce_block<ReduceKind::Max>; break;
      case ReduceKind::Min: fn = reduce_block<ReduceKind::Min>; break;
      case ReduceKind::Prod: fn = reduce_block<ReduceKind::Prod>; break;
      case ReduceKind::L1: fn = reduce_block<ReduceKind::L1>; break;
      case ReduceKind::L2: fn = reduce_block<ReduceKind::L2>; break;
      case ReduceKind::LogSum: fn = reduce_block<ReduceKind::LogSum>; break;
      case ReduceKind::SumSquare: fn = reduce_block<ReduceKind::SumSquare>; break;
      case ReduceKind::LogSumExp: break;
    }
    const int64_t outer = outer_, n = n_, inner = inner_;
    if (!fn) return [=](dnnl::stream&) { log_sum_exp(x, y, scratch, outer, n, inner); };
    return [=](dnnl::stream&) { fn(x, y, outer, n, inner); };
  }

 private:
  const void* const_in_;
  ops::ReduceKind kind_;
  int64_t outer_, n_, inner_;
};

std::unique_ptr<Kernel> make_inhouse(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::Reduce*>(&s.op);
  if (!op || !dense_f32(s)) return nullptr;
  if (op->kind < ops::ReduceKind::Sum || op->kind > ops::ReduceKind::SumSquare) return nullptr;
  Collapsed c = collapse(s.in[0].shape, op->reduced_mask(s.in[0].shape.size()));
  if (c.src.empty()) return nullptr;
  // [R], [K, R], [R, K] or [K, R, K]: find the one reduced run.
  int64_t outer = 1, n = 1, inner = 1;
  int reduced_runs = 0;
  for (size_t i = 0; i < c.src.size(); ++i) {
    if (c.dst[i] == 1) {
      ++reduced_runs;
      n = c.src[i];
    } else if (reduced_runs == 0) {
      outer *= c.src[i];
    } else {
      inner *= c.src[i];
    }
  }
  if (reduced_runs != 1) return nullptr;
  return std::make_unique<InhouseReduceKernel>(s, op->kind, outer, n, inner);
}

KILN_REGISTER_KERNEL("Reduce", "onednn", make_reduce);
KILN_REGISTER_KERNEL("Reduce", "inhouse", make_inhouse);

}  // namespace
}  // namespace kiln
