#!/usr/bin/python3
"""Plan load time and memory, from `kiln run` and from a C program on the C API (plan_load.c).

Each load runs in a fresh process, alternating the two programs, N times warm (the plan in the
page cache) and N times cold (evicted first with posix_fadvise, no root needed); medians are
reported. Also the plan's weight bytes, so the resident set can be read against them.

  ninja -C build kiln_plan_load
  /usr/bin/python3 benchmarks/load_bench.py --kiln build/bin/kiln \
      --c-loader build/benchmarks/kiln_plan_load --runs 10 PLAN [PLAN ...]
"""
import argparse
import json
import os
import re
import statistics
import subprocess


def evict(path):
  for p in (path, path + ".weights"):
    if os.path.exists(p):
      fd = os.open(p, os.O_RDONLY)
      os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
      os.close(fd)


def kiln_run(kiln, plan, cold):
  if cold:
    evict(plan)
  p = subprocess.run([kiln, "run", f"--loadEngine={plan}", "--iterations=1", "--warmUp=0", "--duration=0",
                      "--threads=2"], capture_output=True, text=True, check=True)
  m = re.search(r"Load time: ([\d.]+) ms, first inference: ([\d.]+) ms, RSS after load: ([\d.]+) MiB", p.stdout + p.stderr)
  return {"load_ms": float(m[1]), "first_run_ms": float(m[2]), "rss_after_load_mb": float(m[3])}


def c_load(loader, plan, cold):
  p = subprocess.run([loader, plan] + (["--cold"] if cold else []), capture_output=True, text=True, check=True,
                     env=dict(os.environ, OMP_NUM_THREADS="2"))
  return json.loads(p.stdout)


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--kiln", required=True)
  ap.add_argument("--c-loader", required=True)
  ap.add_argument("--runs", type=int, default=10)
  ap.add_argument("plans", nargs="+")
  a = ap.parse_args()
  for plan in a.plans:
    info = json.loads(subprocess.run([a.kiln, "inspect", plan, "--json"], capture_output=True, text=True,
                                     check=True).stdout)
    weights = info["weight_bytes"] / 2**20
    print(f"{plan}: {info['plan_bytes'] / 2**20:.1f} MiB plan, {weights:.1f} MiB weights, "
          f"arena {info['arena_bytes'] / 2**20:.2f} MiB, schema v{info['schema_version']}")
    for cold in (False, True):
      res = {"kiln run": [], "C API": []}
      for _ in range(a.runs):
        res["kiln run"].append(kiln_run(a.kiln, plan, cold))
        res["C API"].append(c_load(a.c_loader, plan, cold))
      for who, rs in res.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        lo, hi = min(r["load_ms"] for r in rs), max(r["load_ms"] for r in rs)
        print(f"  {'cold' if cold else 'warm'} {who:8s}: load {med['load_ms']:7.1f} ms (median of {len(rs)}; "
              f"{lo:.1f}-{hi:.1f})" + (f", engine alone {med['engine_ms']:.1f} ms" if "engine_ms" in med else "") +
              f", RSS after load {med['rss_after_load_mb']:6.1f} MiB, first run "
              f"{med['first_run_ms']:6.1f} ms" +
              (f", RSS after it {med['rss_after_run_mb']:.1f} MiB" if "rss_after_run_mb" in med else ""))


if __name__ == "__main__":
  main()
