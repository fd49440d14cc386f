#include "tune/timer.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

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
    for (size_t i = 0; i < n / sizeof(float); ++i)
      f[i] = 0.01f * static_cast<float>(static_cast<int>(i * 7 % 13) - 6);
  } else {
    std::memset(b.get(), 1, n);
  }
  return b;
}

double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

double cpu_pressure() {
  std::ifstream f("/proc/pressure/cpu");
  std::string word;
  while (f >> word)
    if (word.rfind("avg10=", 0) == 0) return std::strtod(word.c_str() + 6, nullptr);
  return -1;
}

std::vector<double> time_kernels(const std::vector<const Kernel*>& ks, const KernelSpec& spec,
                                 const TimerConfig& cfg) {
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
  size_t scratch = 0;
  for (const Kernel* k : ks) scratch = std::max(scratch, k->scratchpad_bytes());
  owned.push_back(buffer(scratch, DType::UInt8));
  b.scratchpad = owned.back().get();
  dnnl::stream st(spec.engine);
  std::vector<BoundKernel> runs;
  std::vector<int> reps;
  for (const Kernel* k : ks) {
    runs.push_back(k->bind(b));
    // Warm-up: first-touch pages, JIT caches, OpenMP team start. Its duration sets the repetitions.
    runs.back()(st);
    st.wait();
    const double t0 = now_us();
    runs.back()(st);
    st.wait();
    const double once = std::max(now_us() - t0, 0.01);
    reps.push_back(std::clamp(static_cast<int>(cfg.min_sample_us / once) + 1, 1, 100));
  }
  std::vector<std::vector<double>> samples(ks.size());
  for (int s = 0; s < std::max(cfg.samples, 1); ++s)
    for (size_t i = 0; i < ks.size(); ++i) {
      const double t0 = now_us();
      for (int r = 0; r < reps[i]; ++r) runs[i](st);
      st.wait();
      samples[i].push_back((now_us() - t0) / reps[i]);
    }
  std::vector<double> medians;
  for (auto& v : samples) {
    std::sort(v.begin(), v.end());
    medians.push_back(v[v.size() / 2]);
  }
  return medians;
}

double time_kernel(const Kernel& k, const KernelSpec& spec, const TimerConfig& cfg) {
  return time_kernels({&k}, spec, cfg).at(0);
}

}  // namespace kiln::tune
