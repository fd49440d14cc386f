// In-house Resize kernels built on the op's per-axis tap tables (ops/tensor/resize.h), computed once at
// creation: nearest is one gather through per-axis offset tables (any 1/2/4/8-byte dtype);
// linear and cubic (float32) run one separable pass per axis that actually changes, innermost
// first, through ping-pong scratch buffers. oneDNN's resampling is not used: its coordinate
// rules cover only some of ONNX's modes.
//
// Unlike the reference, taps of weight 0 are dropped here, so a NaN in a neighbour that does not
// contribute stays out of the result.
#include <algorithm>
#include <cstring>

#include "kernels/kernel.h"
#include "ops/tensor/resize.h"
#include "ops/tensor/shape.h"

namespace kiln {
namespace {

constexpr size_t kAlign = 64;
size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// ---- nearest ----

class NearestKernel final : public Kernel {
 public:
  NearestKernel(const ops::Resize& op, const Dims& in, const Dims& out, DType t)
      : out_(out), es_(dtype_size(t)) {
    const auto tables = op.axis_tables(in, out);
    const auto strides = shape_strides(in);
    for (size_t d = 0; d < in.size(); ++d) {
      std::vector<int64_t> off(static_cast<size_t>(out[d]));
      for (int64_t o = 0; o < out[d]; ++o)
        off[static_cast<size_t>(o)] = tables[d].outside[static_cast<size_t>(o)]
                                          ? -1
                                          : tables[d].index[static_cast<size_t>(o)] * strides[d];
      offsets_.push_back(std::move(off));
    }
    const int64_t bits = ops::pack_element(t, op.extrapolation_value);
    std::memcpy(extrap_, &bits, es_);
  }

  // The engine keeps its kernels alive as long as any context bound to them.
  BoundKernel bind(const KernelBinding& b) const override {
    const char* x = static_cast<const char*>(b.in.at(0));
    char* y = static_cast<char*>(b.out.at(0));
    return [this, x, y](dnnl::stream&) {
      switch (es_) {
        case 1: run<uint8_t>(x, y); break;
        case 2: run<uint16_t>(x, y); break;
        case 4: run<uint32_t>(x, y); break;
        default: run<uint64_t>(x, y); break;
      }
    };
  }

 private:
  template <class T>
  void run(const char* xb, char* yb) const {
    const T* x = reinterpret_cast<const T*>(xb);
    T* y = reinterpret_cast<T*>(yb);
    T ext;
    std::memcpy(&ext, extrap_, sizeof(T));
    const size_t rank = out_.size();
    const int64_t last = out_[rank - 1];
    int64_t rows = 1;
    for (size_t d = 0; d + 1 < rank; ++d) rows *= out_[d];
    const int64_t* lo = offsets_[rank - 1].data();
#pragma omp parallel for schedule(static) if (rows * last > 4096)
    for (int64_t r = 0; r < rows; ++r) {
      int64_t src = 0, rem = r;
      bool outside = false;
      for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) {
        const int64_t n = out_[static_cast<size_t>(d)], i = rem % n;
        rem /= n;
        const int64_t o = offsets_[static_cast<size_t>(d)][static_cast<size_t>(i)];
        outside = outside || o < 0;
        src += o;
      }
      T* dst = y + r * last;
      if (outside) {
        std::fill(dst, dst + last, ext);
        continue;
      }
      for (int64_t j = 0; j < last; ++j) dst[j] = lo[j] < 0 ? ext : x[src + lo[j]];
    }
  }

  Dims out_;
  size_t es_;
  std::vector<std::vector<int64_t>> offsets_;
  unsigned char extrap_[8] = {};
};

// ---- linear / cubic, float32 ----

// One pass: [outer, in, inner] -> [outer, out, inner] along one axis. For output index j, taps
// begin[j] .. begin[j+1] of (index, weight); outside[j] gives the extrapolation value.
struct Pass {
  int64_t outer = 1, in = 1, out = 1, inner = 1;
  std::vector<int64_t> begin, index;
  std::vector<float> weight;
  std::vector<uint8_t> outside;
};

class InterpKernel final : public Kernel {
 public:
  InterpKernel(const ops::Resize& op, const Dims& in, const Dims& out) : extrap_(op.extrapolation_value) {
    const auto tables = op.axis_tables(in, out);
    Dims cur = in;
    for (int64_t d = static_cast<int64_t>(in.size()) - 1; d >= 0; --d) {
      const ops::ResizeAxis& ax = tables[static_cast<size_t>(d)];
      if (ax.identity()) continue;
      Pass p;
      for (int64_t k = 0; k < d; ++k) p.outer *= cur[static_cast<size_t>(k)];
      for (size_t k = static_cast<size_t>(d) + 1; k < cur.size(); ++k) p.inner *= cur[k];
      p.in = ax.in;
      p.out = ax.out;
      p.outside = ax.outside;
      p.begin.push_back(0);
      for (int64_t j = 0; j < ax.out; ++j) {
        for (int64_t t = 0; t < ax.taps; ++t) {
          const size_t k = static_cast<size_t>(j * ax.taps + t);
          if (ax.weight[k] == 0.0) continue;
          p.index.push_back(ax.index[k]);
          p.weight.push_back(static_cast<float>(ax.weight[k]));
        }
        p.begin.push_back(static_cast<int64_t>(p.index.size()));
      }
      cur[static_cast<size_t>(d)] = ax.out;
      passes_.push_back(std::move(p));
    }
    total_ = shape_elements(out);
    // Every pass but the last writes a scratch buffer; two alternate.
    for (size_t i = 0; i + 1 < passes_.size(); ++i)
      buf_elems_ = std::max(buf_elems_, passes_[i].outer * passes_[i].out * passes_[i].inner);
  }

  size_t scratchpad_bytes() const override {
    return passes_.size() < 2 ? 0 : 2 * align_up(sizeof(float) * static_cast<size_t>(buf_elems_));
  }

  BoundKernel bind(const KernelBinding& b) const override {
    const float* x = static_cast<const float*>(b.in.at(0));
    float* y = static_cast<float*>(b.out.at(0));
    float* s0 = static_cast<float*>(b.scratchpad);
    float* s1 = reinterpret_cast<float*>(static_cast<char*>(b.scratchpad) +
                                         align_up(sizeof(float) * static_cast<size_t>(buf_elems_)));
    return [this, x, y, s0, s1](dnnl::stream&) {
      if (passes_.empty()) {
        std::memcpy(y, x, sizeof(float) * static_cast<size_t>(total_));
        return;
      }
      const float* src = x;
      for (size_t i = 0; i < passes_.size(); ++i) {
        float* dst = i + 1 == passes_.size() ? y : (i % 2 == 0 ? s0 : s1);
        run(passes_[i], src, dst);
        src = dst;
      }
    };
  }

 private:
  void run(const Pass& p, const float* x, float* y) const {
    const int64_t rows = p.outer * p.out;
    const float ext = extrap_;
    if (p.inner == 1) {
#pragma omp parallel for schedule(static) if (rows > 256)
      for (int64_t o = 0; o < p.outer; ++o) {
        const float* src = x + o * p.in;
        float* dst = y + o * p.out;
        for (int64_t j = 0; j < p.out; ++j) {
          if (p.outside[static_cast<size_t>(j)]) {
            dst[j] = ext;
            continue;
          }
          float s = 0;
          for (int64_t k = p.begin[static_cast<size_t>(j)]; k < p.begin[static_cast<size_t>(j) + 1]; ++k)
            s += p.weight[static_cast<size_t>(k)] * src[p.index[static_cast<size_t>(k)]];
          dst[j] = s;
        }
      }
      return;
    }
#pragma omp parallel for schedule(static) if (rows * p.inner > 4096)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t o = r / p.out, j = r % p.out;
      float* dst = y + r * p.inner;
      if (p.outside[static_cast<size_t>(j)]) {
        std::fill(dst, dst + p.inner, ext);
        continue;
      }
      std::fill(dst, dst + p.inner, 0.f);
      for (int64_t k = p.begin[static_cast<size_t>(j)]; k < p.begin[static_cast<size_t>(j) + 1]; ++k) {
        const float w = p.weight[static_cast<size_t>(k)];
        const float* src = x + (o * p.in + p.index[static_cast<size_t>(k)]) * p.inner;
        for (int64_t i = 0; i < p.inner; ++i) dst[i] += w * src[i];
      }
    }
  }

  float extrap_;
  std::vector<Pass> passes_;
  int64_t total_ = 0, buf_elems_ = 0;
};

std::unique_ptr<Kernel> make_resize(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::Resize*>(&s.op);
  if (!op || s.in.empty() || s.out.size() != 1) return nullptr;
  const KernelTensor &x = s.in[0], &y = s.out[0];
  if (!x.layout.empty() || !y.layout.empty() || !shape_static(x.shape) || !shape_static(y.shape))
    return nullptr;
  if (x.shape.empty() || shape_elements(y.shape) == 0) return nullptr;
  // Parameters known only at run time would change the tables on every run: reference path.
  std::vector<TensorView> views;
  for (size_t i = 1; i < s.in.size(); ++i) {
    const KernelTensor& t = s.in[i];
    if (t.present() && !t.const_data) return nullptr;
    views.push_back(t.present() ? TensorView{t.dtype, t.shape, const_cast<void*>(t.const_data)} : TensorView{});
  }
  std::vector<const TensorView*> params;
  for (auto& v : views) params.push_back(v.data ? &v : nullptr);
  ops::Resize r;
  if (!op->resolved(params, r) || r.output_shape(x.shape) != y.shape) return nullptr;
  if (r.mode == ops::ResizeMode::Nearest) {
    const size_t es = dtype_size(x.dtype);
    if (es != 1 && es != 2 && es != 4 && es != 8) return nullptr;
    return std::make_unique<NearestKernel>(r, x.shape, y.shape, x.dtype);
  }
  if (x.dtype != DType::Float32) return nullptr;
  return std::make_unique<InterpKernel>(r, x.shape, y.shape);
}

KILN_REGISTER_KERNEL("Resize", "inhouse", make_resize);

}  // namespace
}  // namespace kiln
