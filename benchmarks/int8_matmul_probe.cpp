// What BERT's int8 matmuls cost in oneDNN alone, on this machine (docs/performance.md, int8): the
// FFN-up matmul (128x768 u8 times 768x3072 s8, per-column scales, bias) writing u8 with no post-op,
// with the erf or tanh GELU post-op, and writing f32 (the form kiln's in-house GELU pass reads);
// Q, K and V as three 768-column matmuls against one of 2304 columns; and the FFN-up matmul over 24
// weight matrices in turn (weights streamed, not cache-hot) on 4 KiB against transparent huge pages;
// and BERT-base's 72 matrices in model order, streamed against hot, per kind (what a matmul costs
// inside the model when nothing but reading its weights differs from the probe); and the attention
// matmuls Q.K^T (K^T as a strided view or contiguous, f32 or s8 scores) and P.V.
// Medians of ITERS runs (default 200), each block three times. Threads follow OMP_NUM_THREADS.
//
//   ninja -C build kiln_int8_matmul_probe && OMP_NUM_THREADS=2 build/benchmarks/kiln_int8_matmul_probe
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

double median_ms(const std::function<void()>& f, int iters) {
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

enum class Post { None, GeluErf, GeluTanh };

dnnl::matmul::primitive_desc make(const dnnl::engine& eng, int M, int K, int N, dt out, Post post) {
  memory::desc a({M, K}, dt::u8, tag::ab), b({K, N}, dt::s8, tag::any), bias({1, N}, dt::f32, tag::ab),
      c({M, N}, out, tag::ab);
  dnnl::primitive_attr attr;
  attr.set_output_scales(2, std::vector<float>(N, 0.01f));
  dnnl::post_ops po;
  if (post != Post::None)
    po.append_eltwise(1.f, post == Post::GeluErf ? dnnl::algorithm::eltwise_gelu_erf : dnnl::algorithm::eltwise_gelu_tanh,
                      0.f, 0.f);
  attr.set_post_ops(po);
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, bias, c), attr, eng);
}

struct Bound {
  dnnl::matmul prim;
  memory a, w, bias, c;
};

Bound bind(const dnnl::engine& eng, const dnnl::matmul::primitive_desc& pd) {
  Bound r{dnnl::matmul(pd), memory(pd.src_desc(), eng), memory(pd.weights_desc(), eng), memory(pd.bias_desc(), eng),
          memory(pd.dst_desc(), eng)};
  std::memset(r.a.get_data_handle(), 7, pd.src_desc().get_size());
  std::memset(r.w.get_data_handle(), 3, pd.weights_desc().get_size());
  std::memset(r.bias.get_data_handle(), 0, pd.bias_desc().get_size());
  return r;
}

void run(dnnl::stream& s, Bound& r, const memory& w) {
  r.prim.execute(s, {{DNNL_ARG_SRC, r.a}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, r.bias}, {DNNL_ARG_DST, r.c}});
  s.wait();
}

// BERT's int8 attention for one sequence of 128, 12 heads of 64: Q.K^T reads K^T as a strided view
// of the K projection's [128, 768] output (what kiln's fused transposes give oneDNN) against K
// copied head by head into contiguous [12, 64, 128]; f32 scores (the softmax's input) against s8;
// and P.V for comparison (the same arithmetic).
void attention(const dnnl::engine& eng, dnnl::stream& s, int iters) {
  using dims = memory::dims;
  const memory::dim H = 12, S = 128, D = 64, W = H * D;
  const memory::desc q({1, H, S, D}, dt::s8, dims{S * W, D, W, 1}), kt_view({1, H, D, S}, dt::s8, dims{S * W, D, 1, W}),
      kt_plain({1, H, D, S}, dt::s8, tag::abcd), p({1, H, S, S}, dt::u8, tag::abcd),
      v({1, H, S, D}, dt::s8, dims{S * W, D, W, 1}), ctx({1, H, S, D}, dt::s8, dims{S * W, D, W, 1});
  auto pd = [&](const memory::desc& a, const memory::desc& b, const memory::desc& c) {
    dnnl::primitive_attr attr;
    attr.set_output_scales(0, {0.01f});
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, c), attr, eng);
  };
  std::vector<int8_t> qkv(size_t(S) * W * 3, 3), kt(size_t(H) * D * S);
  std::vector<uint8_t> probs(size_t(H) * S * S, 7);
  std::vector<float> scores(size_t(H) * S * S);
  std::vector<int8_t> scores8(size_t(H) * S * S), out(size_t(S) * W);
  auto mem = [&](const memory::desc& d, void* h) { return memory(d, eng, h); };
  auto time = [&](const memory::desc& b, void* bh, const memory::desc& c, void* ch, const char* what) {
    const auto d = pd(q, b, c);
    dnnl::matmul m(d);
    memory A = mem(q, qkv.data()), B = mem(b, bh), C = mem(c, ch);
    const double t = median_ms([&] { m.execute(s, {{DNNL_ARG_SRC, A}, {DNNL_ARG_WEIGHTS, B}, {DNNL_ARG_DST, C}}); s.wait(); }, iters);
    std::printf("  Q.K^T %s: %.4f ms (%s)\n", what, t, d.impl_info_str());
  };
  const memory::desc f32({1, H, S, S}, dt::f32, tag::abcd), s8({1, H, S, S}, dt::s8, tag::abcd);
  for (int rep = 0; rep < 2; ++rep) {
    std::printf("attention, 12 heads x 128 x 64:\n");
    time(kt_view, qkv.data() + S * W, f32, scores.data(), "K^T as a strided view, f32 scores");
    time(kt_plain, kt.data(), f32, scores.data(), "K^T contiguous, f32 scores");
    time(kt_view, qkv.data() + S * W, s8, scores8.data(), "K^T as a strided view, s8 scores");
    time(kt_plain, kt.data(), s8, scores8.data(), "K^T contiguous, s8 scores");
    const int8_t* k = qkv.data() + S * W;
    const double tt = median_ms([&] {
      for (int h = 0; h < H; ++h)
        for (int t = 0; t < S; ++t)
          for (int d = 0; d < D; ++d) kt[(size_t(h) * D + d) * S + t] = k[size_t(t) * W + h * D + d];
    }, iters);
    std::printf("  copying K into [12, 64, 128] (plain loop, one thread): %.4f ms\n", tt);
    const auto pv = pd(p, v, ctx);
    dnnl::matmul m(pv);
    memory P = mem(p, probs.data()), V = mem(v, qkv.data() + 2 * S * W), O = mem(ctx, out.data());
    std::printf("  P.V: %.4f ms (%s)\n",
                median_ms([&] { m.execute(s, {{DNNL_ARG_SRC, P}, {DNNL_ARG_WEIGHTS, V}, {DNNL_ARG_DST, O}}); s.wait(); }, iters),
                pv.impl_info_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int iters = argc > 1 ? std::max(1, std::atoi(argv[1])) : 200;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  const int M = 128, K = 768, N = 3072;
  std::printf("implementation: %s\n", make(eng, M, K, N, dt::u8, Post::GeluErf).impl_info_str());
  for (int rep = 0; rep < 3; ++rep) {
    Bound none = bind(eng, make(eng, M, K, N, dt::u8, Post::None)), erf = bind(eng, make(eng, M, K, N, dt::u8, Post::GeluErf)),
          tanh = bind(eng, make(eng, M, K, N, dt::u8, Post::GeluTanh)), f32 = bind(eng, make(eng, M, K, N, dt::f32, Post::None));
    std::printf("FFN-up ms: u8 no post-op %.4f, gelu_erf %.4f, gelu_tanh %.4f, f32 no post-op %.4f\n",
                median_ms([&] { run(s, none, none.w); }, iters), median_ms([&] { run(s, erf, erf.w); }, iters),
                median_ms([&] { run(s, tanh, tanh.w); }, iters), median_ms([&] { run(s, f32, f32.w); }, iters));
    Bound q1 = bind(eng, make(eng, M, K, 768, dt::s8, Post::None)), q3 = bind(eng, make(eng, M, K, 2304, dt::s8, Post::None));
    std::printf("QKV ms: 3 x 768 columns %.4f, 1 x 2304 columns %.4f\n", 3 * median_ms([&] { run(s, q1, q1.w); }, iters),
                median_ms([&] { run(s, q3, q3.w); }, iters));
  }
  for (int rep = 0; rep < 2; ++rep)
    for (int huge = 0; huge < 2; ++huge) {
      const auto pd = make(eng, M, K, N, dt::u8, Post::None);
      const size_t bytes = pd.weights_desc().get_size(), huge_page = size_t(2) << 20;
      const size_t per = (bytes + huge_page - 1) / huge_page * huge_page;
      const int L = 24;
      char* base = static_cast<char*>(std::aligned_alloc(huge_page, per * L));
      if (!base) return 1;
      madvise(base, per * L, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
      std::memset(base, 3, per * L);
      Bound r = bind(eng, pd);
      std::vector<memory> w;
      for (int l = 0; l < L; ++l) w.emplace_back(pd.weights_desc(), eng, base + per * l);
      const double t = median_ms([&] { for (auto& m : w) run(s, r, m); }, iters / 10 + 5);
      std::printf("FFN-up over %d weight matrices of %.1f MB in turn, %s pages: %.4f ms per matmul\n", L, bytes / 1e6,
                  huge ? "huge" : "4 KiB", t / L);
      std::free(base);
    }
  // BERT-base's 72 weight matrices (85 MB) in model order, as kiln's plan runs them: per kind, the
  // median over runs of its mean time, first on weights streamed in order (each matrix read once
  // per pass), then each matmul run twice in a row and only the second timed (weights hot).
  struct Kind { const char* name; int K, N; };
  const Kind kinds[] = {{"Q", 768, 768}, {"K", 768, 768}, {"V", 768, 768}, {"O", 768, 768}, {"FFN-up", 768, 3072},
                        {"FFN-down", 3072, 768}};
  std::vector<Bound> seq;
  for (int l = 0; l < 12; ++l)
    for (const Kind& k : kinds) seq.push_back(bind(eng, make(eng, M, k.K, k.N, dt::u8, Post::None)));
  for (int hot = 0; hot < 2; ++hot) {
    std::vector<std::vector<double>> per(6);
    for (int it = 0; it < iters / 10 + 5; ++it) {
      std::vector<double> sum(6, 0.0);
      for (size_t i = 0; i < seq.size(); ++i) {
        if (hot) run(s, seq[i], seq[i].w);
        const auto t0 = std::chrono::steady_clock::now();
        run(s, seq[i], seq[i].w);
        sum[i % 6] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      }
      for (int k = 0; k < 6; ++k) per[k].push_back(sum[k] / 12);
    }
    std::printf("BERT's 72 matmuls in model order, %s:", hot ? "each run twice, the second timed" : "streamed");
    for (int k = 0; k < 6; ++k) {
      std::sort(per[k].begin(), per[k].end());
      std::printf(" %s %.4f", kinds[k].name, per[k][per[k].size() / 2]);
    }
    std::printf(" ms\n");
  }
  attention(eng, s, iters);
  return 0;
}
