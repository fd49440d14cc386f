// GlobalAveragePool over an 8-bit quantized tensor (one scale and zero point), writing float32 or
// bfloat16, for int8 plans: a CNN's last block (ResNet's layer4) then writes its output int8 like
// every other block, where oneDNN's pooling (same type in and out) would have it write float for
// the pool and quantize it again for the next block's convs. Integers sum exactly in int32; the
// mean is scale * (sum - zero_point * positions) / positions, in float.
//
// Row-major (NCHW: each plane is contiguous) and channels-last sources (what oneDNN's int8 convs
// write); the output [N, C, 1, ...] has the same bytes in either layout.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/kernel.h"
#include "ops/nn/pool.h"
#include "ops/tensor/shape.h"

namespace kiln {
namespace {

// Sums of at least this many values are split across the runtime's OpenMP threads.
constexpr int64_t kParallelElements = int64_t(1) << 16;
// Channels per task in channels-last sums: 64 int32 accumulators stay in registers / L1.
constexpr int64_t kChannelBlock = 64;

const char* channels_last(size_t rank) { return rank == 3 ? "nwc" : rank == 4 ? "nhwc" : rank == 5 ? "ndhwc" : ""; }

template <class Q, class Y>
void pool(const Q* x, Y* y, int64_t n, int64_t c, int64_t sz, bool cl, float scale, int32_t zp) {
  const float mul = scale / static_cast<float>(sz);
  const int64_t offset = static_cast<int64_t>(zp) * sz;
  auto store = [&](int64_t i, int32_t sum) {
    const float v = mul * static_cast<float>(sum - offset);
    if constexpr (std::is_same_v<Y, float>) y[i] = v;
    else y[i] = ops::float_to_bf16(v);
  };
  if (!cl) {
#pragma omp parallel for schedule(static) if (n * c * sz >= kParallelElements)
    for (int64_t p = 0; p < n * c; ++p) {
      int32_t s = 0;
      for (int64_t i = 0; i < sz; ++i) s += x[p * sz + i];
      store(p, s);
    }
    return;
  }
  const int64_t blocks = (c + kChannelBlock - 1) / kChannelBlock;
#pragma omp parallel for schedule(static) if (n * c * sz >= kParallelElements)
  for (int64_t t = 0; t < n * blocks; ++t) {
    const int64_t b = t / blocks, c0 = (t % blocks) * kChannelBlock, w = std::min(kChannelBlock, c - c0);
    int32_t acc[kChannelBlock] = {};
    const Q* row = x + b * sz * c + c0;
    for (int64_t i = 0; i < sz; ++i, row += c)
      for (int64_t k = 0; k < w; ++k) acc[k] += row[k];
    for (int64_t k = 0; k < w; ++k) store(b * c + c0 + k, acc[k]);
  }
}

class QuantGlobalAvgPoolKernel final : public Kernel {
 public:
  QuantGlobalAvgPoolKernel(const KernelSpec& s, bool cl)
      : in_(s.in[0].dtype), out_(s.out[0].dtype), cl_(cl), scale_(s.in[0].quant.scale[0]),
        zp_(s.in[0].quant.zero_point) {
    const Dims& x = s.in[0].shape;
    n_ = x[0];
    c_ = x[1];
    sz_ = shape_elements(Dims(x.begin() + 2, x.end()));
  }

  BoundKernel bind(const KernelBinding& b) const override {
    const void* x = b.in.at(0);
    void* y = b.out.at(0);
    const int64_t n = n_, c = c_, sz = sz_;
    const bool cl = cl_;
    const float scale = scale_;
    const int32_t zp = zp_;
    const bool u = in_ == DType::QUInt8, f = out_ == DType::Float32;
    return [=](dnnl::stream&) {
      if (u && f) pool(static_cast<const uint8_t*>(x), static_cast<float*>(y), n, c, sz, cl, scale, zp);
      else if (u) pool(static_cast<const uint8_t*>(x), static_cast<uint16_t*>(y), n, c, sz, cl, scale, zp);
      else if (f) pool(static_cast<const int8_t*>(x), static_cast<float*>(y), n, c, sz, cl, scale, zp);
      else pool(static_cast<const int8_t*>(x), static_cast<uint16_t*>(y), n, c, sz, cl, scale, zp);
    };
  }

 private:
  DType in_, out_;
  bool cl_;
  float scale_;
  int32_t zp_;
  int64_t n_ = 0, c_ = 0, sz_ = 0;
};

std::unique_ptr<Kernel> make_quant_global_avg_pool(const KernelSpec& s) {
  if (!dynamic_cast<const ops::GlobalAveragePool*>(&s.op) || s.in.size() != 1 || s.out.size() != 1) return nullptr;
  const KernelTensor &x = s.in[0], &y = s.out[0];
  const size_t r = x.shape.size();
  if (!dtype_quantized(x.dtype) || x.quant.scale.size() != 1 || !(x.quant.scale[0] > 0.f) ||
      !ops::f32_or_bf16(y.dtype) || r < 3 || y.shape.size() != r || !shape_static(x.shape) ||
      y.shape[0] != x.shape[0] || y.shape[1] != x.shape[1])
    return nullptr;
  const std::string cl = channels_last(r);
  if (!x.layout.empty() && x.layout != cl) return nullptr;
  if (!y.layout.empty() && y.layout != cl) return nullptr;
  const int64_t sz = shape_elements(Dims(x.shape.begin() + 2, x.shape.end()));
  // int32 sums of up to 255 per value; an empty pool has no mean.
  if (sz <= 0 || sz > (int64_t(1) << 23) || x.shape[0] <= 0 || x.shape[1] <= 0) return nullptr;
  return std::make_unique<QuantGlobalAvgPoolKernel>(s, !x.layout.empty());
}

KILN_REGISTER_KERNEL("GlobalAveragePool", "inhouse", make_quant_global_avg_pool);

}  // namespace
}  // namespace kiln
