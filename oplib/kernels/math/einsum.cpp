// Einsum of two float32 operands that is a (batched) matrix product, on oneDNN's matmul: the
// labels split into batch (both operands and the output), M (first operand and output), N
// (second operand and output) and K (both operands, summed). An operand whose dims already run
// [batch, M, K] or [batch, K, M] (resp. [batch, K, N] / [batch, N, K]) is read in place through
// strides; any other order is packed once per run into the scratchpad, as is an output whose
// order is not [batch, M, N]. Diagonals, labels summed within one operand, broadcasting and
// three or more operands stay on the reference kernel.
#include <algorithm>
#include <unordered_map>

#include "kernels/kernel.h"
#include "ops/math/einsum.h"
#include "ops/tensor/shape.h"

namespace kiln {
namespace {

constexpr size_t kAlign = 64;
size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

using Labels = std::vector<int>;

Labels concat(const Labels& a, const Labels& b, const Labels& c) {
  Labels r = a;
  r.insert(r.end(), b.begin(), b.end());
  r.insert(r.end(), c.begin(), c.end());
  return r;
}

bool has(const Labels& l, int x) { return std::find(l.begin(), l.end(), x) != l.end(); }

// How one operand (or the output) meets the matmul: read/written in place with strides, or
// through a packed copy in the scratchpad.
struct Side {
  bool packed = false;
  size_t offset = 0;             // of the packed copy in the scratchpad
  Dims dims;                    // packed copy: sizes in canonical label order
  std::vector<int64_t> strides;  // the tensor's own strides in that order
  dnnl::memory::desc md;
};

class EinsumMatmulKernel final : public Kernel {
 public:
  EinsumMatmulKernel(const KernelSpec& s, const dnnl::matmul::primitive_desc& pd, Side a, Side b, Side c,
                     size_t extra)
      : eng_(s.engine),
        pd_(pd),
        prim_(pd),
        a_(std::move(a)),
        b_(std::move(b)),
        c_(std::move(c)),
        onednn_bytes_(align_up(pd.scratchpad_desc().get_size())),
        extra_(extra) {
    for (auto& t : s.in) const_in_.push_back(t.const_data);
  }

  size_t scratchpad_bytes() const override { return onednn_bytes_ + extra_; }

  BoundKernel bind(const KernelBinding& bd) const override {
    char* scratch = static_cast<char*>(bd.scratchpad);
    char* mine = scratch + onednn_bytes_;
    auto in = [&](size_t i) { return const_cast<void*>(const_in_[i] ? const_in_[i] : bd.in.at(i)); };
    void* pa = in(0);
    void* pb = in(1);
    void* pc = bd.out.at(0);
    std::unordered_map<int, dnnl::memory> args;
    args.emplace(DNNL_ARG_SRC, dnnl::memory(a_.md, eng_, a_.packed ? mine + a_.offset : pa));
    args.emplace(DNNL_ARG_WEIGHTS, dnnl::memory(b_.md, eng_, b_.packed ? mine + b_.offset : pb));
    args.emplace(DNNL_ARG_DST, dnnl::memory(c_.md, eng_, c_.packed ? mine + c_.offset : pc));
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(pd_.scratchpad_desc(), eng_, scratch));
    // The bound closure owns copies of what it needs, so it does not depend on this kernel.
    return [prim = prim_, args, a = a_, b = b_, c = c_, pa, pb, pc, mine](dnnl::stream& st) {
      auto pack = [&](const Side& sd, const void* src) {
        if (sd.packed)
          ops::strided_copy(mine + sd.offset, shape_strides(sd.dims), src, sd.strides, sd.dims, sizeof(float));
      };
      pack(a, pa);
      pack(b, pb);
      prim.execute(st, args);
      if (c.packed) {
        st.wait();
        ops::strided_copy(pc, c.strides, mine + c.offset, shape_strides(c.dims), c.dims, sizeof(float));
      }
    };
  }

 private:
  dnnl::engine eng_;
  dnnl::matmul::primitive_desc pd_;
  dnnl::matmul prim_;
  Side a_, b_, c_;
  size_t onednn_bytes_, extra_;
  std::vector<const void*> const_in_;
};

// Sets up one side for canonical group order (g0, g1, g2): in place when the tensor's labels run
// g0 g1 g2, or g0 g2 g1 when `may_swap` (a transposed matrix), else packed.
Side make_side(const Labels& own, const Dims& shape, const Labels& g0, const Labels& g1, const Labels& g2,
               bool may_swap, const std::vector<int64_t>& size, size_t& scratch) {
  auto prod = [&](const Labels& g) {
    int64_t p = 1;
    for (int l : g) p *= size[static_cast<size_t>(l)];
    return p;
  };
  const int64_t n0 = prod(g0), n1 = prod(g1), n2 = prod(g2);
  const dnnl::memory::dims dims{n0, n1, n2};
  Side sd;
  if (own == concat(g0, g1, g2)) {
    sd.md = dnnl::memory::desc(dims, dnnl::memory::data_type::f32, dnnl::memory::dims{n1 * n2, n2, 1});
    return sd;
  }
  if (may_swap && own == concat(g0, g2, g1)) {
    sd.md = dnnl::memory::desc(dims, dnnl::memory::data_type::f32, dnnl::memory::dims{n1 * n2, 1, n1});
    return sd;
  }
  sd.packed = true;
  sd.offset = scratch;
  const auto st = shape_strides(shape);
  for (int l : concat(g0, g1, g2)) {
    const size_t d = static_cast<size_t>(std::find(own.begin(), own.end(), l) - own.begin());
    sd.dims.push_back(size[static_cast<size_t>(l)]);
    sd.strides.push_back(st[d]);
  }
  scratch += align_up(sizeof(float) * static_cast<size_t>(n0 * n1 * n2));
  sd.md = dnnl::memory::desc(dims, dnnl::memory::data_type::f32, dnnl::memory::dims{n1 * n2, n2, 1});
  return sd;
}

std::unique_ptr<Kernel> make_einsum(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::Einsum*>(&s.op);
  if (!op || s.in.size() != 2 || s.out.size() != 1) return nullptr;
  for (auto* t : {&s.in[0], &s.in[1], &s.out[0]})
    if (t->dtype != DType::Float32 || !t->layout.empty() || !shape_static(t->shape) ||
        shape_elements(t->shape) == 0)
      return nullptr;
  ops::EinsumPlan p;
  try {
    p = ops::parse_einsum(op->equation, {s.in[0].shape.size(), s.in[1].shape.size()});
  } catch (const Error&) {
    return nullptr;
  }
  const Labels &la = p.operands[0], &lb = p.operands[1], &lo = p.output;
  // Every label once per operand, with one size everywhere (no diagonals, no broadcasting).
  std::vector<int64_t> size(static_cast<size_t>(p.num_labels), -1);
  for (size_t k = 0; k < 2; ++k)
    for (size_t d = 0; d < p.operands[k].size(); ++d) {
      const int l = p.operands[k][d];
      if (std::count(p.operands[k].begin(), p.operands[k].end(), l) > 1) return nullptr;
      int64_t& sz = size[static_cast<size_t>(l)];
      if (sz >= 0 && sz != s.in[k].shape[d]) return nullptr;
      sz = s.in[k].shape[d];
    }
  Labels batch, m, n, kk;
  for (int l : lo) {
    if (has(la, l) && has(lb, l))
      batch.push_back(l);
    else if (has(la, l))
      m.push_back(l);
    else
      n.push_back(l);
  }
  for (int l : la)
    if (!has(lo, l)) {
      if (!has(lb, l)) return nullptr;  // summed within A alone
      kk.push_back(l);
    }
  for (int l : lb)
    if (!has(lo, l) && !has(la, l)) return nullptr;
  size_t scratch = 0;
  Side a = make_side(la, s.in[0].shape, batch, m, kk, true, size, scratch);
  Side b = make_side(lb, s.in[1].shape, batch, kk, n, true, size, scratch);
  Side c = make_side(lo, s.out[0].shape, batch, m, n, false, size, scratch);
  try {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::matmul::desc d(a.md, b.md, c.md);
    dnnl::matmul::primitive_desc pd(d, attr, s.engine);
    return std::make_unique<EinsumMatmulKernel>(s, pd, std::move(a), std::move(b), std::move(c), scratch);
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

KILN_REGISTER_KERNEL("Einsum", "onednn", make_einsum);

}  // namespace
}  // namespace kiln
