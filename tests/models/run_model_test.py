#!/usr/bin/python3
"""One model test, end to end through the kiln CLI.

Compiles the ONNX model to a plan once, runs the plan on the stored inputs of each test-data set
(--data, repeatable; a pattern such as 'M/test_data_set_*' names every set it matches), and
compares every output with the stored expected one (torch's or ONNX Runtime's) using
scripts/compare_outputs.py. Every graph output of the model must have an expected value in every
set. Registered by tests/models/CMakeLists.txt; also handy by hand:

  /usr/bin/python3 tests/models/run_model_test.py --kiln build/tools/kiln/kiln \
      --model M.onnx --data M/test_data_set_0 [--data M/test_data_set_1 ...] --work /tmp/M \
      [--rel-l2 1e-4] [--compile-arg=--builderOptimizationLevel=3 ...]
"""
import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "..", "..", "scripts")
sys.path.insert(0, SCRIPTS)
import compare_outputs  # noqa: E402  (restores numpy aliases before importing onnx)
import onnx  # noqa: E402


def die(msg):
  print(f"run_model_test: error: {msg}", file=sys.stderr)
  sys.exit(1)


def run(cmd, env=None, expect_stderr=None):
  print("+ " + " ".join(cmd), flush=True)
  t0 = time.monotonic()
  p = subprocess.run(cmd, env=env, stderr=subprocess.PIPE if expect_stderr else None, text=True)
  rc = p.returncode
  if expect_stderr:
    sys.stderr.write(p.stderr)
    if rc == 0 and not re.search(expect_stderr, p.stderr):
      die(f"{os.path.basename(cmd[0])} {cmd[1]} did not say /{expect_stderr}/ on stderr")
  print(f"  ({time.monotonic() - t0:.1f} s, exit {rc})", flush=True)
  if rc < 0:
    die(f"{os.path.basename(cmd[0])} {cmd[1]} crashed: killed by {signal.Signals(-rc).name}")
  if rc != 0:
    die(f"{os.path.basename(cmd[0])} {cmd[1]} failed with exit status {rc}")


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--kiln", required=True, help="path to the kiln CLI")
  ap.add_argument("--model", required=True, help="ONNX model")
  ap.add_argument("--data", required=True, action="append",
                  help="test_data_set_N directory (input_K/output_K.pb); repeat for more sets, "
                  "all run on the one plan; a glob pattern (quoted) names every directory it "
                  "matches")
  ap.add_argument("--work", required=True, help="directory for the plan and kiln's outputs")
  ap.add_argument("--rel-l2", default="1e-4", help="max relative L2 error (default 1e-4)")
  ap.add_argument("--compile-arg", action="append", default=[],
                  help="extra argument for kiln compile (repeatable), e.g. "
                  "--compile-arg=--builderOptimizationLevel=3")
  ap.add_argument("--run-env", action="append", default=[],
                  help="NAME=VALUE for kiln run only (repeatable): the plan is built without it, as "
                  "on another machine, e.g. --run-env=ONEDNN_MAX_CPU_ISA=AVX2")
  ap.add_argument("--expect-run-stderr", default=None,
                  help="a regular expression kiln run must print on stderr (a warning)")
  args = ap.parse_args()

  if not os.access(args.kiln, os.X_OK):
    die(f"kiln CLI not found at {args.kiln} (build the 'kiln' target first)")
  if not os.path.isfile(args.model):
    die(f"model {args.model} missing (the export fixture test should have written it)")
  graph_outputs = [o.name for o in onnx.load(args.model, load_external_data=False).graph.output]
  dirs = []
  for spec in args.data:
    if glob.has_magic(spec):
      found = sorted((d for d in glob.glob(spec) if os.path.isdir(d)),
                     key=lambda d: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", d)])
      if not found:
        die(f"--data {spec} matches no directory")
      dirs += found
    else:
      dirs.append(spec)
  sets = []
  for data in dirs:
    pbs = sorted(glob.glob(os.path.join(data, "input_*.pb")))
    if not pbs:
      die(f"no input_*.pb in {data}")
    # Each .pb names the graph input it feeds (the ONNX test-data convention).
    feeds = []
    for pb in pbs:
      t = onnx.TensorProto()
      with open(pb, "rb") as f:
        t.ParseFromString(f.read())
      if not t.name:
        die(f"{pb} has no tensor name, so it is unclear which graph input it feeds")
      feeds.append(f"{t.name}:{pb}")
    # An output without an expected value would go unchecked (compare_outputs only notes it).
    expected = set()
    for pb in glob.glob(os.path.join(data, "output_*.pb")):
      name, _ = compare_outputs.load_pb(pb)
      k = int(os.path.basename(pb)[len("output_"):-len(".pb")])
      expected.add(name or (graph_outputs[k] if k < len(graph_outputs) else pb))
    missing = [o for o in graph_outputs if o not in expected]
    if missing:
      die(f"{data} has no expected value for graph output(s) {', '.join(missing)}")
    sets.append((data, feeds))

  os.makedirs(args.work, exist_ok=True)
  plan = os.path.join(args.work, "model.plan")
  # One folder per set, numbered: two sets may share a folder name (a/test_data_set_0, b/...).
  outs = [os.path.join(args.work, "out" if len(sets) == 1 else
                       f"out_{k}_{os.path.basename(os.path.normpath(d))}")
          for k, (d, _) in enumerate(sets)]
  # Stale results must never make a test pass.
  if os.path.exists(plan):
    os.remove(plan)
  for out in outs:
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)

  # Level 0 (nothing timed) unless the test names a level: fast and reproducible, and the level-3
  # twins (model.<name>.level3) cover tuned plans.
  if not any(a.startswith("--builderOptimizationLevel") for a in args.compile_arg):
    args.compile_arg.append("--builderOptimizationLevel=0")
  run([args.kiln, "compile", args.model, "-o", plan] + args.compile_arg)
  run_env = dict(os.environ, **dict(e.split("=", 1) for e in args.run_env)) if args.run_env else None
  failed = []
  for (data, feeds), out in zip(sets, outs):
    run([args.kiln, "run", f"--loadEngine={plan}", f"--loadInputs={','.join(feeds)}",
         f"--exportOutput={out}", "--iterations=1", "--warmUp=0", "--duration=0"], run_env,
        args.expect_run_stderr)
    sys.argv = ["compare_outputs.py", out, data, "--rel-l2", args.rel_l2, "--model", args.model]
    if len(sets) > 1:
      print(f"{os.path.basename(os.path.normpath(data))}:", flush=True)
    try:
      compare_outputs.main()
    except SystemExit as e:  # compare_outputs exits non-zero on a mismatch
      if e.code:
        failed.append(data)
    sys.stdout.flush()
  if failed:
    die(f"outputs differ in {len(failed)} of {len(sets)} test-data set(s): {', '.join(failed)}")


if __name__ == "__main__":
  main()
