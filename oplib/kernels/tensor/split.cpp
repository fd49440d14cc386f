// Split kernel "inhouse": block copies when the input and every output share one layout, either
// row-major (any axis, any dtype) or a channel-blocked oneDNN tag (nChw16c, nCdhw8c...) split along
// channels at offsets that are multiples of the block. In both cases each part is, per outer
// index, one contiguous run of the input, so a part costs one memcpy per batch item. This is
// what makes horizontal conv fusion (fuse-sibling-convs) pay: the merged conv's output is split
// back in its blocked layout, with no reorder to row-major and back.
#include <cstring>

#include "kernels/kernel.h"
#include "ops/tensor/shape.h"

namespace kiln {
namespace {

// The channel block of tags "nC<spatial><b>c" (nChw16c, nCdhw8c, nCw16c), else 0.
int64_t channel_block(const std::string& layout, size_t rank) {
  if (layout.size() < 4 || layout.compare(0, 2, "nC") != 0 || layout.back() != 'c') return 0;
  const std::string spatial = std::string("dhw").substr(3 - (rank - 2));
  if (rank < 3 || rank > 5 || layout.compare(2, spatial.size(), spatial) != 0) return 0;
  std::string digits = layout.substr(2 + spatial.size(), layout.size() - 3 - spatial.size());
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoll(digits);
}

struct Part {
  size_t src_offset;  // bytes, for outer index 0
  size_t bytes;       // contiguous run per outer index
  size_t dst_stride;  // bytes between outer indices in the output (== bytes)
  // Blocked parts whose channel count is not a multiple of the block: lanes [tail, block) of the
  // last block are padding that must read as zero; `lanes` blocks of `block` elements each.
  int64_t tail = 0, lanes = 0;
};

class SplitKernel final : public Kernel {
 public:
  SplitKernel(std::vector<Part> parts, int64_t outer, size_t src_stride, int64_t block, size_t elem)
      : parts_(std::move(parts)), outer_(outer), src_stride_(src_stride), block_(block), elem_(elem) {}

  BoundKernel bind(const KernelBinding& b) const override {
    const char* src = static_cast<const char*>(b.in.at(0));
    std::vector<char*> dst;
    for (void* p : b.out) dst.push_back(static_cast<char*>(p));
    return [parts = parts_, outer = outer_, src_stride = src_stride_, block = block_, elem = elem_, src,
            dst](dnnl::stream&) {
      for (size_t j = 0; j < parts.size(); ++j) {
        const Part& p = parts[j];
        for (int64_t o = 0; o < outer; ++o) {
          char* d = dst[j] + o * p.dst_stride;
          std::memcpy(d, src + o * src_stride + p.src_offset, p.bytes);
          if (!p.tail) continue;
          char* last = d + p.bytes - static_cast<size_t>(p.lanes * block) * elem;
          for (int64_t l = 0; l < p.lanes; ++l)
            std::memset(last + (l * block + p.tail) * elem, 0, (block - p.tail) * elem);
        }
      }
    };
  }

 private:
  std::vector<Part> parts_;
  int64_t outer_;
  size_t src_stride_;
  int64_t block_;
  size_t elem_;
};

std::unique_ptr<Kernel> make_split(const KernelSpec& s) {
  auto* op = dynamic_cast<const ops::Split*>(&s.op);
  if (!op || s.in.empty() || !s.in[0].present() || s.out.empty()) return nullptr;
  const KernelTensor& x = s.in[0];
  if (!shape_static(x.shape)) return nullptr;
  for (auto& t : s.out)
    if (t.layout != x.layout || t.dtype != x.dtype || !shape_static(t.shape) || t.shape.size() != x.shape.size())
      return nullptr;
  const size_t rank = x.shape.size();
  const int64_t axis = ops::normalize_axis(op->axis, static_cast<int64_t>(rank), "Split axis");
  const size_t elem = dtype_size(x.dtype);
  int64_t block = 0, outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
  if (!x.layout.empty()) {
    block = channel_block(x.layout, rank);
    if (block == 0 || axis != 1) return nullptr;
    for (size_t d = 2; d < rank; ++d) inner *= x.shape[d];
    inner *= block;  // one channel block of every spatial position
  } else {
    for (size_t d = axis + 1; d < rank; ++d) inner *= x.shape[d];
  }
  auto units = [&](int64_t c) { return block ? (c + block - 1) / block : c; };  // blocks or channels
  std::vector<Part> parts;
  int64_t offset = 0;
  for (auto& t : s.out) {
    const int64_t c = t.shape[axis];
    if (block && offset % block != 0) return nullptr;
    Part p;
    p.src_offset = static_cast<size_t>((block ? offset / block : offset) * inner) * elem;
    p.bytes = static_cast<size_t>(units(c) * inner) * elem;
    p.dst_stride = p.bytes;
    if (block && c % block != 0) {
      p.tail = c % block;
      p.lanes = inner / block;
    }
    parts.push_back(p);
    offset += c;
  }
  if (offset != x.shape[axis]) return nullptr;
  const size_t src_stride = static_cast<size_t>(units(x.shape[axis]) * inner) * elem;
  return std::make_unique<SplitKernel>(std::move(parts), outer, src_stride, block, elem);
}

KILN_REGISTER_KERNEL("Split", "inhouse", make_split);

}  // namespace
}  // namespace kiln
