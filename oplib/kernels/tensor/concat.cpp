// Concat kernels, in preference order:
// - "inhouse": block copies (ops::strided_copy) when every tensor shares one layout, row-major
//   or a oneDNN tag such as nhwc/nChw16c whose physical form makes the concat a dense concat
//   along one physical axis (for blocked channels: every input's C a multiple of the block).
//   It takes any dtype. Measured against oneDNN 2.6's concat on this class of machine it is
//   about 25x faster (1x64x56x56 + 1x32x56x56: ~20 us vs ~500 us), so it comes first.
// - "onednn": float32 with any mix of layouts oneDNN accepts, e.g. a row-major input joining a
//   blocked region, which the in-house kernel declines.
#include <cctype>
#include <optional>
#include <unordered_map>

#include "kernels/kernel.h"
#include "ops/tensor/shape.h"

namespace kiln {
namespace {

// ---- in-house ---------------------------------------------------------------------------------

// A tensor's physical (dense row-major) shape in `layout`, and where each logical axis lives.
struct Physical {
  Dims dims;
  std::vector<size_t> axis_pos;  // logical axis -> physical axis
  int64_t block = 0;             // channel block, 0 if none
};

// Understands "" and oneDNN-style tags over n, c/C, d, h, w with an optional trailing "<b>c"
// channel block (nchw, nhwc, ndhwc, nChw16c, nCdhw8c...).
std::optional<Physical> physical(const std::string& layout, const Dims& s) {
  size_t r = s.size();
  Physical p;
  if (layout.empty()) {
    p.dims = s;
    for (size_t i = 0; i < r; ++i) p.axis_pos.push_back(i);
    return p;
  }
  std::string outer = layout;
  if (outer.back() == 'c') {  // a trailing "<digits>c" is the channel block
    size_t i = outer.size() - 1;
    while (i > 0 && std::isdigit(static_cast<unsigned char>(outer[i - 1]))) --i;
    if (i < outer.size() - 1) {
      p.block = std::stoll(outer.substr(i, outer.size() - 1 - i));
      outer.resize(i);
    }
  }
  if (outer.size() != r || r < 3 || r > 5 || (p.block != 0) != (outer.find('C') != std::string::npos))
    return std::nullopt;
  const std::string spatial = std::string("dhw").substr(5 - r);  // rank 3: "w", 4: "hw", 5: "dhw"
  p.axis_pos.assign(r, r);
  for (size_t k = 0; k < r; ++k) {
    char ch = outer[k];
    size_t sp = spatial.find(ch);
    if (ch != 'n' && ch != 'c' && ch != 'C' && sp == std::string::npos) return std::nullopt;
    size_t axis = ch == 'n' ? 0 : (ch == 'c' || ch == 'C') ? 1 : 2 + sp;
    if (p.axis_pos[axis] != r) return std::nullopt;
    p.axis_pos[axis] = k;
    p.dims.push_back(ch == 'C' ? (s[1] + p.block - 1) / p.block : s[axis]);
  }
  if (p.block) p.dims.push_back(p.block);
  return p;
}

class InhouseConcat final : public Kernel {
 public:
  struct Part {
    int64_t dst_offset;  // elements
    Dims dims;
    std::vector<int64_t> src_strides;
    const void* const_data;
  };
  struct Plan {
    std::vector<Part> parts;
    std::vector<int64_t> dst_strides;
    size_t es;
  };
  explicit InhouseConcat(Plan plan) : plan_(std::make_shared<const Plan>(std::move(plan))) {}

  BoundKernel bind(const KernelBinding& b) const override {
    std::vector<const void*> src;
    for (size_t i = 0; i < plan_->parts.size(); ++i)
      src.push_back(plan_->parts[i].const_data ? plan_->parts[i].const_data : b.in.at(i));
    char* dst = static_cast<char*>(b.out.at(0));
    return [plan = plan_, src, dst](dnnl::stream&) {
      int64_t e = static_cast<int64_t>(plan->es);
      for (size_t i = 0; i < plan->parts.size(); ++i) {
        const Part& p = plan->parts[i];
        ops::strided_copy(dst + p.dst_offset * e, plan->dst_strides, src[i], p.src_strides, p.dims, plan->es);
      }
    };
  }

 private:
  std::shared_ptr<const Plan> plan_;  // shared with the bound kernels
};

std::unique_ptr<Kernel> make_inhouse(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::Concat*>(&s.op);
  if (!op || s.in.empty() || s.out.size() != 1) return nullptr;
  const KernelTensor& y = s.out[0];
  size_t r = y.shape.size();
  if (r == 0 || !shape_static(y.shape) || !dtype_valid(y.dtype)) return nullptr;
  size_t axis = static_cast<size_t>(op->axis < 0 ? op->axis + static_cast<int64_t>(r) : op->axis);
  auto py = physical(y.layout, y.shape);
  if (!py) return nullptr;
  size_t pa = py->axis_pos[axis];
  auto ys = shape_strides(py->dims);
  std::vector<InhouseConcat::Part> parts;
  int64_t at = 0;
  for (const KernelTensor& x : s.in) {
    if (!x.present() || x.dtype != y.dtype || x.layout != y.layout || x.shape.size() != r) return nullptr;
    auto px = physical(x.layout, x.shape);
    if (!px) return nullptr;
    if (axis == 1 && px->block && x.shape[1] % px->block != 0) return nullptr;  // would split a block
    for (size_t k = 0; k < px->dims.size(); ++k)
      if (k != pa && px->dims[k] != py->dims[k]) return nullptr;
    parts.push_back({at * ys[pa], px->dims, shape_strides(px->dims), x.const_data});
    at += px->dims[pa];
  }
  if (at != py->dims[pa]) return nullptr;
  return std::make_unique<InhouseConcat>(InhouseConcat::Plan{std::move(parts), std::move(ys), dtype_size(y.dtype)});
}

// ---- oneDNN -----------------------------------------------------------------------------------

class OnednnConcat final : public Kernel {
 public:
  OnednnConcat(const KernelSpec& s, dnnl::concat::primitive_desc pd)
      : eng_(s.engine), pd_(std::move(pd)), prim_(pd_) {
    for (auto& t : s.in) const_in_.push_back(t.const_data);
  }

  size_t scratchpad_bytes() const override { return pd_.scratchpad_desc().get_size(); }

  BoundKernel bind(const KernelBinding& b) const override {
    std::unordered_map<int, dnnl::memory> args;
    for (size_t i = 0; i < const_in_.size(); ++i) {
      void* p = const_cast<void*>(const_in_[i] ? const_in_[i] : b.in.at(i));
      args.emplace(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i),
                   dnnl::memory(pd_.src_desc(static_cast<int>(i)), eng_, p));
    }
    args.emplace(DNNL_ARG_DST, dnnl::memory(pd_.dst_desc(), eng_, b.out.at(0)));
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(pd_.scratchpad_desc(), eng_, b.scratchpad));
    dnnl::concat prim = prim_;
    return [prim, args](dnnl::stream& st) { prim.execute(st, args); };
  }

 private:
  dnnl::engine eng_;
  std::vector<const void*> const_in_;
  dnnl::concat::primitive_desc pd_;
  dnnl::concat prim_;
};

std::unique_ptr<Kernel> make_onednn(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::Concat*>(&s.op);
  if (!op || s.in.empty() || s.out.size() != 1) return nullptr;
  const KernelTensor& y = s.out[0];
  size_t r = y.shape.size();
  if (!ops::f32_or_bf16(y.dtype) || r == 0 || r > 6 || !shape_static(y.shape))
    return nullptr;
  for (auto& t : s.in)
    if (!t.present() || t.dtype != y.dtype || t.shape.size() != r || !shape_static(t.shape) ||
        shape_elements(t.shape) == 0)
      return nullptr;  // oneDNN rejects zero-sized sources
  int axis = static_cast<int>(op->axis < 0 ? op->axis + static_cast<int64_t>(r) : op->axis);
  try {
    std::vector<dnnl::memory::desc> srcs;
    for (auto& t : s.in) srcs.push_back(dnn::md(t));
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::concat::primitive_desc pd(dnn::md(y), axis, srcs, s.engine, attr);
    return std::make_unique<OnednnConcat>(s, std::move(pd));
  } catch (const dnnl::error&) {
    return nullptr;
  } catch (const Error&) {  // a layout name this runtime does not know
    return nullptr;
  }
}

// Same translation unit, so the preference order is the registration order.
KILN_REGISTER_KERNEL("Concat", "inhouse", make_inhouse);
KILN_REGISTER_KERNEL("Concat", "onednn", make_onednn);

}  // namespace
}  // namespace kiln
