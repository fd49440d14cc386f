/* Times one plan load through the C API, as an application would: kiln_engine_load_file, then
 * one context and one inference (the first run faults in what loading mapped). Prints one line of
 * JSON: engine_ms (kiln_engine_load_file alone), load_ms (with the context: what `kiln run` calls
 * its load time), rss_after_load_mb, first_run_ms, rss_after_run_mb. `--cold` first evicts the plan
 * (and its weights sidecar) from the page cache with posix_fadvise, which needs no privileges.
 * benchmarks/load_bench.py runs it many times, each load in a fresh process. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kiln/runtime.h"

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double rss_mb(void) {
  long pages = 0, resident = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (!f || fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  if (f) fclose(f);
  return resident * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

static void evict(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return;
  fdatasync(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PLAN [--cold]\n", argv[0]);
    return 2;
  }
  const char* plan = argv[1];
  if (argc > 2 && strcmp(argv[2], "--cold") == 0) {
    char side[4096];
    evict(plan);
    snprintf(side, sizeof side, "%s.weights", plan);
    evict(side);
  }
  kiln_engine* engine = NULL;
  double t0 = now_ms();
  if (kiln_engine_load_file(plan, &engine) != KILN_OK) {
    fprintf(stderr, "error: %s\n", kiln_last_error());
    return 1;
  }
  double load = now_ms() - t0;
  kiln_context* ctx = NULL;
  if (kiln_context_create(engine, &ctx) != KILN_OK) {
    fprintf(stderr, "error: %s\n", kiln_last_error());
    return 1;
  }
  /* What `kiln run` reports as its load time: the engine and one context, ready to run. */
  double ready = now_ms() - t0, rss_load = rss_mb();
  t0 = now_ms();
  if (kiln_context_run(ctx) != KILN_OK) {
    fprintf(stderr, "error: %s\n", kiln_last_error());
    return 1;
  }
  double first = now_ms() - t0;
  printf("{\"engine_ms\": %.3f, \"load_ms\": %.3f, \"rss_after_load_mb\": %.1f, \"first_run_ms\": %.3f, "
         "\"rss_after_run_mb\": %.1f}\n",
         load, ready, rss_load, first, rss_mb());
  kiln_context_destroy(ctx);
  kiln_engine_destroy(engine);
  return 0;
}
