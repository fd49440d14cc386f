#include "tune/timer.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace kiln::tune {

namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<uint8_t, FreeDeleter>;

// 64-byte aligned, filled with small finite values: zeros or garbage could hit denormal or NaN
// slow paths that the real data never takes.
Buffer buffer(size_t bytes, DType t) {
  const size_t n = std::max<size_t>((bytes + 63) / 64 * 64, 64);
  Buffer b(static_cast<uint8_t*>(std::aligned_alloc(64, n)));
  if (!b) throw Error("out of memory while timing a layer (" + std::to_string(bytes) + " bytes)");
  if (t == DType::Float32) {
    auto* f = reinterpret_cast<float*>(b.get());
    for (size_t i = 0; i < n / sizeof(float); ++i) f[i] = 0.01f * static_cast<float>(static_cast<int>(i * 7 % 13) - 6);
  } else {
    std::memset(b.get(), 1, n);
  }
  return b;
}

double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

double time_kernel(const Kernel& k, const KernelSpec& spec, const TimerConfig& cfg) {
  std::vector<Buffer> owned;
  KernelBinding b;
  for (const KernelTensor& t : spec.in) {
    if (!t.present()) {
      b.in.push_back(nullptr);
    } else if (t.const_data) {
      b.in.push_back(const_cast<void*>(t.const_data));
    } else {
      owned.push_back(buffer(dnn::physical_bytes(t.dtype, t.shape, t.layout), t.dtype));
      b.in.push_back(owned.back().get());
    }
  }
  for (const KernelTensor& t : spec.out) {
    owned.push_back(buffer(dnn::physical_bytes(t.dtype, t.shape, t.layout), t.dtype));
    b.out.push_back(owned.back().get());
  }
  owned.push_back(buffer(k.scratchpad_bytes(), DType::UInt8));
  b.scratchpad = owned.back().get();
  BoundKernel run = k.bind(b);
  dnnl::stream st(spec.engine);
  // Warm-up: first-touch pages, JIT caches, OpenMP team start. Its duration sets the repetitions.
  run(st);
  st.wait();
  double t0 = now_us();
  run(st);
  st.wait();
  const double once = std::max(now_us() - t0, 0.01);
  const int reps = std::clamp(static_cast<int>(cfg.min_sample_us / once) + 1, 1, 100);
  std::vector<double> samples;
  for (int s = 0; s < std::max(cfg.samples, 1); ++s) {
    t0 = now_us();
    for (int r = 0; r < reps; ++r) run(st);
    st.wait();
    samples.push_back((now_us() - t0) / reps);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace kiln::tune
