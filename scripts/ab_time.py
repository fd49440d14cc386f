#!/usr/bin/python3
"""A/B latency of kiln plans on a noisy shared machine: alternate `kiln run` over the plans for
several rounds and report each plan's median of per-round medians (and the spread).

  /usr/bin/python3 scripts/ab_time.py --kiln build/bin/kiln --rounds 6 --duration 5 A.plan B.plan
"""
import argparse
import json
import statistics
import subprocess


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("plans", nargs="+")
  ap.add_argument("--kiln", default="build/bin/kiln")
  ap.add_argument("--rounds", type=int, default=6)
  ap.add_argument("--duration", type=float, default=5)
  ap.add_argument("--threads", type=int, default=2)
  args = ap.parse_args()
  med = {p: [] for p in args.plans}
  for r in range(args.rounds):
    order = args.plans if r % 2 == 0 else list(reversed(args.plans))
    for p in order:
      out = subprocess.run([args.kiln, "run", f"--loadEngine={p}", f"--threads={args.threads}",
                            f"--duration={args.duration}", "--json"], capture_output=True, text=True,
                           check=True).stdout
      med[p].append(json.loads(out)["latency_ms"]["median"])
  base = statistics.median(med[args.plans[0]])
  for p in args.plans:
    m = statistics.median(med[p])
    print(f"{p}: median {m:.3f} ms (rounds {min(med[p]):.3f}..{max(med[p]):.3f}), {m / base:.3f}x of the first")


if __name__ == "__main__":
  main()
