#!/usr/bin/python3
"""What one plan for a range of shapes costs: an HF-style BERT compiled with an optimisation
profile against the same model compiled static, both run at the profile's opt shape (issue 17:
"at 1x128 runs within 1.15x of a static 1x128 plan's latency (medians)").

  /usr/bin/python3 benchmarks/dynamic_vs_static.py [--kiln build/bin/kiln] [--layers 12]
      [--rounds 7] [--iterations 20] [--warmup-ms 200] [--threads 2] [--level N]
      [--workdir DIR] [--max-ratio 1.15] [--out result.json]

Steps: builds scripts/bert_hf.py's BertModel (seeded as scripts/export_models.py seeds it, --layers
encoder layers, BERT-base otherwise) and exports it at opset 17 with dynamic batch and sequence
axes on both inputs (input_ids, attention_mask) and both outputs; compiles it twice with the same
flags: once with --minShapes=1x1 --optShapes=1x128 --maxShapes=4x256 for both inputs (the
"dynamic" plan), once with --shapes=1x128 (the "static" plan); the profile is built first, so a
kiln that refuses it fails in seconds. Both plans share one timing cache (--no-timing-cache: none),
so they tune the same layers alike and the comparison is about the profile, not timing noise.
Each plan's outputs at 1x128 (bert_hf.example_inputs: the last 16 positions padding) are checked
against torch (rel. L2 <= --max-rel-l2) before anything is timed.

Timing: ROUNDS rounds; each runs `kiln run --loadEngine=PLAN --shapes=...:1x128 --json` once per
plan (ITERATIONS timed queries after WARMUP ms), the order alternating every round, so drifts in a
noisy machine's speed hit both alike. A round's number is kiln's median latency of that run; each
plan's result is the median over rounds. Printed and written to --out: both medians, the ratio of
medians dynamic/static (the issue's number) and the median of the per-round ratios (which cancels
drifts slower than a round).

Exit status: 0 when the ratio of medians is <= --max-ratio, 1 on any failure (a build, a run, the
accuracy check, or a ratio over --max-ratio); the JSON (when --out is given) is written either way
and says which in "status" and "error".
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import bert_hf  # noqa: E402

MODEL_SEED = 0  # scripts/export_models.py's
INPUT_SEED = 1234
# Bump when the export below changes, so a cached export is redone.
RECIPE = 1
PROFILE = ([1, 1], [1, 128], [4, 256])  # min, opt, max for both inputs
SHAPE = [1, 128]  # where both plans are timed: the profile's opt shape


def log(msg):
  print(f"dynamic_vs_static: {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
  def __init__(self, status, msg):
    super().__init__(msg)
    self.status = status


def dims(s):
  return "x".join(map(str, s))


def shapes(flag, s):
  return f"--{flag}=" + ",".join(f"{n}:{dims(s)}" for n in bert_hf.INPUT_NAMES)


def kiln_cmd(kiln, *args):
  return subprocess.run([kiln, *args], capture_output=True, text=True)


def export(layers, work):
  """Exports the seeded model (cached by layers and recipe); returns (model, onnx path)."""
  bert_hf.LAYERS = layers
  torch.manual_seed(MODEL_SEED)
  model = bert_hf.BertModel().eval()
  if len(model.encoder.layer) != layers:
    raise Failure("export_failed", "scripts/bert_hf.py no longer reads LAYERS when the model is built")
  path = os.path.join(work, f"bert_hf_l{layers}_dynamic.onnx")
  stamp = path + ".json"
  meta = {"recipe": RECIPE, "layers": layers, "seed": MODEL_SEED, "torch": torch.__version__}
  if os.path.isfile(path) and os.path.isfile(stamp):
    with open(stamp) as f:
      if json.load(f) == meta:
        return model, path
  log(f"exporting bert_hf ({layers} layers) with dynamic batch and sequence to {path}")
  axes = {0: "batch", 1: "seq"}
  torch.manual_seed(INPUT_SEED)
  example = bert_hf.example_inputs(2)  # batch 2: no traced dimension is 1
  torch.onnx.export(model, example, path, input_names=bert_hf.INPUT_NAMES, output_names=bert_hf.OUTPUT_NAMES,
                    opset_version=17, dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                                    "last_hidden_state": axes, "pooler_output": {0: "batch"}})
  with open(stamp, "w") as f:
    json.dump(meta, f)
  return model, path


def build(a, onnx_path, plan, shape_flags, what):
  args = ["compile", onnx_path, "-o", plan, *shape_flags]
  if a.level is not None:
    args.append(f"--builderOptimizationLevel={a.level}")
  if not a.no_timing_cache:
    args.append("--timingCacheFile=" + os.path.join(a.workdir, "timing.cache"))
  log(f"building the {what} plan: kiln {' '.join(args)}")
  t0 = time.time()
  r = kiln_cmd(a.kiln, *args)
  seconds = time.time() - t0
  if r.returncode != 0:
    raise Failure(f"{what}_build_failed", f"kiln compile of the {what} plan failed (exit {r.returncode}):\n"
                  f"  kiln {' '.join(args)}\n{r.stderr.strip()}")
  return {"seconds": seconds, "plan_mib": os.path.getsize(plan) / 2**20, "command": ["kiln", *args]}


def check_accuracy(a, plan, what, feeds, want):
  out = os.path.join(a.workdir, f"out_{what}")
  r = kiln_cmd(a.kiln, "run", "--loadEngine=" + plan, shapes("shapes", SHAPE),
               "--loadInputs=" + ",".join(f"{n}:{p}" for n, p in feeds.items()), "--exportOutput=" + out,
               "--iterations=1", "--duration=0", "--warmUp=0", f"--threads={a.threads}")
  if r.returncode != 0:
    raise Failure(f"{what}_run_failed", f"kiln run of the {what} plan at {dims(SHAPE)} failed "
                  f"(exit {r.returncode}):\n{r.stderr.strip()}")
  errs = {}
  for name, w in want.items():
    got = np.load(os.path.join(out, name + ".npy"))
    if got.shape != w.shape:
      raise Failure(f"{what}_wrong", f"the {what} plan's {name} has shape {list(got.shape)}, torch's {list(w.shape)}")
    errs[name] = float(np.linalg.norm((got.astype(np.float64) - w).ravel()) / np.linalg.norm(w.ravel()))
  bad = {n: e for n, e in errs.items() if not e <= a.max_rel_l2}
  if bad:
    raise Failure(f"{what}_wrong", f"the {what} plan differs from torch at {dims(SHAPE)}: rel. L2 {bad} "
                  f"(> {a.max_rel_l2:g})")
  return errs


def time_plan(a, plan, what, feeds):
  r = kiln_cmd(a.kiln, "run", "--loadEngine=" + plan, shapes("shapes", SHAPE),
               "--loadInputs=" + ",".join(f"{n}:{p}" for n, p in feeds.items()), f"--iterations={a.iterations}",
               "--duration=0", f"--warmUp={a.warmup_ms}", f"--threads={a.threads}", "--json")
  if r.returncode != 0:
    raise Failure(f"{what}_run_failed", f"timing the {what} plan failed (exit {r.returncode}):\n{r.stderr.strip()}")
  try:
    return float(json.loads(r.stdout)["latency_ms"]["median"])
  except (ValueError, KeyError) as e:
    raise Failure(f"{what}_run_failed", f"kiln run --json printed no latency_ms.median ({e}): {r.stdout[:300]}")


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--kiln", default=os.path.join(ROOT, "build", "bin", "kiln"))
  ap.add_argument("--layers", type=int, default=12, help="encoder layers (default 12, BERT-base)")
  ap.add_argument("--rounds", type=int, default=7)
  ap.add_argument("--iterations", type=int, default=20, help="timed queries per plan per round")
  ap.add_argument("--warmup-ms", type=int, default=200)
  ap.add_argument("--threads", type=int, default=2)
  ap.add_argument("--level", type=int, default=None,
                  help="--builderOptimizationLevel for both builds (default: kiln's default)")
  ap.add_argument("--no-timing-cache", action="store_true", help="build both plans without a shared timing cache")
  ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench", "dynamic_vs_static"))
  ap.add_argument("--max-ratio", type=float, default=1.15, help="the most dynamic/static may be (default 1.15)")
  ap.add_argument("--max-rel-l2", type=float, default=1e-4, help="accuracy gate against torch (default 1e-4)")
  ap.add_argument("--out", help="write the result as JSON here")
  a = ap.parse_args()
  if a.layers < 1 or a.rounds < 1 or a.iterations < 1:
    ap.error("--layers, --rounds and --iterations must be >= 1")
  if not os.access(a.kiln, os.X_OK):
    ap.error(f"no kiln executable at {a.kiln} (give --kiln)")
  os.makedirs(a.workdir, exist_ok=True)
  version = kiln_cmd(a.kiln, "--version").stdout.strip()
  result = {
      "benchmark": "dynamic_vs_static", "model": "bert_hf", "layers": a.layers, "shape": dims(SHAPE),
      "profile": {"min": dims(PROFILE[0]), "opt": dims(PROFILE[1]), "max": dims(PROFILE[2])},
      "inputs": bert_hf.INPUT_NAMES, "threads": a.threads, "rounds": a.rounds, "iterations": a.iterations,
      "warmup_ms": a.warmup_ms, "builder_optimization_level": a.level, "timing_cache": not a.no_timing_cache,
      "kiln": version, "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
      "method": "each round runs `kiln run --json` once per plan, order alternating; a round's number is "
                "kiln's median latency; each plan's number is the median over rounds",
      "status": "ok", "error": None,
  }
  try:
    model, onnx_path = export(a.layers, a.workdir)
    torch.manual_seed(INPUT_SEED)
    ids, mask = bert_hf.example_inputs(SHAPE[0])
    feeds = {}
    for name, v in zip(bert_hf.INPUT_NAMES, (ids, mask)):
      feeds[name] = os.path.join(a.workdir, f"{name}_{dims(SHAPE)}.npy")
      np.save(feeds[name], v.numpy())
    with torch.no_grad():
      want = {n: o.numpy() for n, o in zip(bert_hf.OUTPUT_NAMES, model(ids, mask))}

    plans = {"dynamic": os.path.join(a.workdir, f"bert_hf_l{a.layers}_profile.plan"),
             "static": os.path.join(a.workdir, f"bert_hf_l{a.layers}_static.plan")}
    result["builds"] = {
        # The profile first: a kiln that cannot build it fails before the long static build.
        "dynamic": build(a, onnx_path, plans["dynamic"],
                         [shapes(f, s) for f, s in zip(("minShapes", "optShapes", "maxShapes"), PROFILE)],
                         "dynamic"),
        "static": build(a, onnx_path, plans["static"], [shapes("shapes", SHAPE)], "static"),
    }
    result["accuracy_rel_l2"] = {w: check_accuracy(a, p, w, feeds, want) for w, p in plans.items()}

    rounds = {"dynamic": [], "static": []}
    order = ["dynamic", "static"]
    for i in range(a.rounds):
      for what in order:
        rounds[what].append(time_plan(a, plans[what], what, feeds))
      log(f"round {i + 1}/{a.rounds}: dynamic {rounds['dynamic'][-1]:.3f} ms, static {rounds['static'][-1]:.3f} ms")
      order.reverse()
    med = {w: statistics.median(v) for w, v in rounds.items()}
    ratio = med["dynamic"] / med["static"]
    paired = statistics.median(d / s for d, s in zip(rounds["dynamic"], rounds["static"]))
    result.update({
        "dynamic": {"median_ms": med["dynamic"], "rounds_ms": rounds["dynamic"]},
        "static": {"median_ms": med["static"], "rounds_ms": rounds["static"]},
        "ratio_dynamic_over_static": ratio, "median_paired_ratio": paired,
        "max_ratio": a.max_ratio, "within_max_ratio": ratio <= a.max_ratio,
    })
    print(f"bert_hf ({a.layers} layers) at {dims(SHAPE)}, {a.threads} threads, median of {a.rounds} rounds "
          f"x {a.iterations} runs:")
    labels = {"dynamic": f"dynamic (profile {dims(PROFILE[0])}..{dims(PROFILE[2])}, opt {dims(PROFILE[1])})",
              "static": f"static ({dims(SHAPE)})"}
    for what, label in labels.items():
      print(f"  {label:<44} {med[what]:9.3f} ms   rounds: {' '.join(f'{x:.2f}' for x in rounds[what])}")
    print(f"  dynamic / static: {ratio:.3f} (median of per-round ratios {paired:.3f}); "
          f"{'within' if ratio <= a.max_ratio else 'OVER'} {a.max_ratio:g}x")
    if ratio > a.max_ratio:
      raise Failure("over_max_ratio", f"the dynamic plan is {ratio:.3f}x the static plan's median latency, "
                    f"more than --max-ratio {a.max_ratio:g}")
  except Failure as f:
    result["status"], result["error"] = f.status, str(f)
    log(f"error: {f}")
    if f.status == "dynamic_build_failed":
      log("kiln cannot (yet) build one plan for this profile (issue 17, symbolic shapes end to end); "
          "nothing was timed")
  if a.out:
    with open(a.out, "w") as fh:
      json.dump(result, fh, indent=2)
      fh.write("\n")
    log(f"wrote {a.out}")
  return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
  sys.exit(main())
