#include "run_loop.h"

#include <omp.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <exception>
#include <thread>

namespace kiln::cli {

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct StreamState {
  std::vector<QueryTime> queries;
  LayerProfile profile;
  std::exception_ptr error;
};

}  // namespace

LoopResult run_streams(const std::vector<ExecutionContext*>& contexts, const LoopConfig& cfg) {
  const int n = static_cast<int>(contexts.size());
  const double duration_ms = cfg.duration_s * 1000.0;
  std::vector<StreamState> state(n);
  std::atomic<int64_t> claimed{0};
  std::atomic<bool> abort{false};
  // Every stream warms up first; the barrier's completion step, which runs once before any stream
  // is released, stamps the common start of the timed run.
  Clock::time_point t_start;
  std::barrier ready(n, [&t_start]() noexcept { t_start = Clock::now(); });

  auto stream = [&](int s) {
    StreamState& me = state[s];
    ExecutionContext& ctx = *contexts[s];
    bool arrived = false;
    try {
      // OpenMP's thread count is a per-thread setting; a new std::thread starts from the
      // environment's default, not from what the main thread set.
      omp_set_num_threads(cfg.threads);
      const auto t_warm = Clock::now();
      while (ms_between(t_warm, Clock::now()) < cfg.warmup_ms && !abort.load(std::memory_order_relaxed))
        ctx.run();
      ctx.set_profiling(cfg.profile);
      me.queries.reserve(static_cast<size_t>(std::min<int64_t>(cfg.iterations, int64_t(1) << 20)));
      arrived = true;
      ready.arrive_and_wait();
      while (!abort.load(std::memory_order_relaxed)) {
        // A query is claimed before it runs, so the total over all streams is exactly
        // `iterations` whenever the duration is already satisfied.
        const int64_t k = claimed.fetch_add(1, std::memory_order_relaxed);
        const auto t0 = Clock::now();
        if (k >= cfg.iterations && ms_between(t_start, t0) >= duration_ms) break;
        ctx.run();
        const auto t1 = Clock::now();
        me.queries.push_back({s, ms_between(t_start, t0), ms_between(t_start, t1)});
        if (cfg.profile) me.profile.add(ctx.layer_times_ms());
      }
      ctx.set_profiling(false);
    } catch (...) {
      me.error = std::current_exception();
      abort = true;
      if (!arrived) ready.arrive_and_drop();
    }
  };

  // One stream runs on this thread. libgomp keeps a thread pool per thread that starts parallel
  // regions, and once its pools hold more threads than there are CPUs it stops spin-waiting
  // between regions (its "throttled" spin count): a second pool, next to the one loading the
  // plan made here, made MobileNetV2 at 2 threads 2.2x slower (4.1 vs 1.8 ms on 2 cores).
  std::vector<std::thread> threads;
  threads.reserve(n);
  if (n == 1) stream(0);
  else
    for (int s = 0; s < n; ++s) threads.emplace_back(stream, s);
  for (auto& t : threads) t.join();
  for (auto& st : state)
    if (st.error) std::rethrow_exception(st.error);

  LoopResult r;
  r.profile.during_timed_run = cfg.profile;
  for (auto& st : state) {
    for (const QueryTime& q : st.queries) r.wall_ms = std::max(r.wall_ms, q.end_ms);
    r.queries.insert(r.queries.end(), st.queries.begin(), st.queries.end());
    r.profile.merge(st.profile);
  }
  return r;
}

LayerProfile profile_pass(ExecutionContext& ctx, const LoopConfig& cfg) {
  LayerProfile p;
  ctx.set_profiling(true);
  const auto t0 = Clock::now();
  while (p.runs < cfg.iterations || ms_between(t0, Clock::now()) < cfg.duration_s * 1000.0) {
    ctx.run();
    p.add(ctx.layer_times_ms());
  }
  ctx.set_profiling(false);
  return p;
}

}  // namespace kiln::cli
