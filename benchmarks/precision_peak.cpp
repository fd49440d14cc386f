// Arithmetic ceiling of each precision on this machine: a 2048^3 oneDNN matmul in f32, bf16
// (f32 accumulate) and int8 (u8 x s8 -> s32), timed back to back in one process so machine load
// hits all three alike. The ratios bound what --bf16 / --int8 plans can gain over fp32 here
// (docs/performance.md). Threads follow OMP_NUM_THREADS.
//
//   ninja -C build kiln_precision_peak && OMP_NUM_THREADS=2 build/benchmarks/kiln_precision_peak
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace {

using dnnl::memory;
using dt = memory::data_type;

struct Result {
  double gops;
  const char* impl;
};

Result time_matmul(const dnnl::engine& eng, dnnl::stream& st, dt a, dt b, dt c, memory::dim n) {
  memory::desc ma({n, n}, a, memory::format_tag::ab), mc({n, n}, c, memory::format_tag::ab);
  memory::desc mb({n, n}, b, memory::format_tag::any);  // packed as the kernel prefers, like a plan's weights
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(ma, mb, mc), eng);
  dnnl::matmul prim(pd);
  memory A(ma, eng), B(pd.weights_desc(), eng), C(mc, eng);
  std::vector<double> t;
  for (int i = 0; i < 15; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    prim.execute(st, {{DNNL_ARG_SRC, A}, {DNNL_ARG_WEIGHTS, B}, {DNNL_ARG_DST, C}});
    st.wait();
    if (i >= 3) t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return {2.0 * n * n * n / t[t.size() / 2] / 1e9, pd.impl_info_str()};
}

}  // namespace

int main() {
  try {
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream st(eng);
    const memory::dim n = 2048;
    std::vector<double> f32, bf16, i8;
    const char *fi = "", *bi = "", *ii = "";
    for (int round = 0; round < 5; ++round) {
      auto f = time_matmul(eng, st, dt::f32, dt::f32, dt::f32, n);
      auto b = time_matmul(eng, st, dt::bf16, dt::bf16, dt::f32, n);
      auto i = time_matmul(eng, st, dt::u8, dt::s8, dt::s32, n);
      f32.push_back(f.gops), bf16.push_back(b.gops), i8.push_back(i.gops);
      fi = f.impl, bi = b.impl, ii = i.impl;
    }
    auto med = [](std::vector<double> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; };
    const double f = med(f32), b = med(bf16), q = med(i8);
    std::printf("2048^3 matmul, median of 5 rounds:\n");
    std::printf("  fp32 %7.0f GFLOP/s          (%s)\n", f, fi);
    std::printf("  bf16 %7.0f GFLOP/s  %.2fx fp32 (%s)\n", b, b / f, bi);
    std::printf("  int8 %7.0f GOP/s    %.2fx fp32 (%s)\n", q, q / f, ii);
    return 0;
  } catch (const dnnl::error& e) {
    std::fprintf(stderr, "error: oneDNN: %s (status %d)\n", e.what(), static_cast<int>(e.status));
    return 1;
  }
}
