#!/usr/bin/python3
"""One model test, end to end through the kiln CLI.

Compiles the ONNX model to a plan, runs the plan on the stored inputs, and compares every output
with the stored expected one (torch's) using scripts/compare_outputs.py. Registered by
tests/models/CMakeLists.txt; also handy by hand:

  /usr/bin/python3 tests/models/run_model_test.py --kiln build/tools/kiln/kiln \
      --model M.onnx --data M/test_data_set_0 --work /tmp/M [--rel-l2 1e-4] \
      [--compile-arg=--builderOptimizationLevel=3 ...]
"""
import argparse
import glob
import os
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


def run(cmd):
  print("+ " + " ".join(cmd), flush=True)
  t0 = time.monotonic()
  rc = subprocess.run(cmd).returncode
  print(f"  ({time.monotonic() - t0:.1f} s, exit {rc})", flush=True)
  if rc < 0:
    die(f"{os.path.basename(cmd[0])} {cmd[1]} crashed: killed by {signal.Signals(-rc).name}")
  if rc != 0:
    die(f"{os.path.basename(cmd[0])} {cmd[1]} failed with exit status {rc}")


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--kiln", required=True, help="path to the kiln CLI")
  ap.add_argument("--model", required=True, help="ONNX model")
  ap.add_argument("--data", required=True, help="test_data_set_N directory (input_K/output_K.pb)")
  ap.add_argument("--work", required=True, help="directory for the plan and kiln's outputs")
  ap.add_argument("--rel-l2", default="1e-4", help="max relative L2 error (default 1e-4)")
  ap.add_argument("--compile-arg", action="append", default=[],
                  help="extra argument for kiln compile (repeatable), e.g. "
                  "--compile-arg=--builderOptimizationLevel=3")
  args = ap.parse_args()

  if not os.access(args.kiln, os.X_OK):
    die(f"kiln CLI not found at {args.kiln} (build the 'kiln' target first)")
  if not os.path.isfile(args.model):
    die(f"model {args.model} missing (the export fixture test should have written it)")
  pbs = sorted(glob.glob(os.path.join(args.data, "input_*.pb")))
  if not pbs:
    die(f"no input_*.pb in {args.data}")

  # Each .pb names the graph input it feeds (the ONNX test-data convention).
  feeds = []
  for pb in pbs:
    t = onnx.TensorProto()
    with open(pb, "rb") as f:
      t.ParseFromString(f.read())
    if not t.name:
      die(f"{pb} has no tensor name, so it is unclear which graph input it feeds")
    feeds.append(f"{t.name}:{pb}")

  os.makedirs(args.work, exist_ok=True)
  plan = os.path.join(args.work, "model.plan")
  out = os.path.join(args.work, "out")
  # Stale results must never make a test pass.
  if os.path.exists(plan):
    os.remove(plan)
  shutil.rmtree(out, ignore_errors=True)
  os.makedirs(out)

  run([args.kiln, "compile", args.model, "-o", plan] + args.compile_arg)
  run([args.kiln, "run", f"--loadEngine={plan}", f"--loadInputs={','.join(feeds)}",
       f"--exportOutput={out}", "--iterations=1", "--warmUp=0", "--duration=0"])
  sys.argv = ["compare_outputs.py", out, args.data, "--rel-l2", args.rel_l2, "--model", args.model]
  compare_outputs.main()


if __name__ == "__main__":
  main()
