#!/usr/bin/python3
"""Compares kiln's outputs with expected ONNX test-data outputs (the model-test verdict).

Usage:
  /usr/bin/python3 scripts/compare_outputs.py ACTUAL_DIR EXPECTED_DIR [--rel-l2 1e-4] [--model M]

ACTUAL_DIR holds what `kiln run --exportOutput=ACTUAL_DIR` wrote: one <name>.npy per graph output,
where <name> is the output name with every character outside [A-Za-z0-9_.-] replaced by '_'.
EXPECTED_DIR is an ONNX test-data set (test_data_set_N/) holding output_0.pb, output_1.pb, ...;
each TensorProto's name says which graph output it is. A .pb without a name is matched by index
to the graph outputs of --model.

Metric: relative L2 error ||actual - expected||_2 / ||expected||_2 (absolute L2 when the expected
tensor is all zeros), which must be <= --rel-l2. The max absolute difference is printed too.
Exit status is 0 only if every expected output exists, has the expected shape, is finite where the
expected one is, and passes the threshold.
"""
import argparse
import glob
import os
import re
import sys

import numpy as np

for _alias, _type in (("float", float), ("int", int), ("bool", bool), ("object", object)):
  if _alias not in np.__dict__:  # onnx 1.12 uses aliases numpy 1.24 removed
    setattr(np, _alias, _type)

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402


def sanitize(name):
  return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def load_pb(path):
  t = onnx.TensorProto()
  with open(path, "rb") as f:
    t.ParseFromString(f.read())
  return t.name, numpy_helper.to_array(t)


def compare(actual, expected):
  """Returns (rel_l2, max_abs, problem or None)."""
  if actual.shape != expected.shape:
    return None, None, f"shape {list(actual.shape)} != expected {list(expected.shape)}"
  a = actual.astype(np.float64)
  b = expected.astype(np.float64)
  bad = ~np.isfinite(a) & np.isfinite(b)
  if bad.any():
    return None, None, f"{int(bad.sum())} non-finite values where the expected output is finite"
  if a.size == 0:
    return 0.0, 0.0, None
  # Where both are the same inf or both NaN the element matches; exclude it from the norms.
  same = (a == b) | (np.isnan(a) & np.isnan(b))
  diff = np.where(same, 0.0, a - b)
  if not np.all(np.isfinite(diff)):
    return None, None, "non-finite differences (mismatched inf/NaN)"
  bf = np.where(np.isfinite(b), b, 0.0)
  nb = np.linalg.norm(bf.ravel())
  nd = np.linalg.norm(diff.ravel())
  rel = nd / nb if nb > 0 else nd
  return float(rel), float(np.max(np.abs(diff))), None


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("actual_dir", help="directory of .npy files from kiln run --exportOutput")
  ap.add_argument("expected_dir", help="ONNX test-data directory with output_K.pb files")
  ap.add_argument("--rel-l2", type=float, default=1e-4, help="max relative L2 error (default 1e-4)")
  ap.add_argument("--model", help="ONNX model, to name expected outputs whose .pb has no name")
  args = ap.parse_args()

  def fail(msg):
    print(f"compare_outputs: error: {msg}", file=sys.stderr)
    sys.exit(2)

  if not os.path.isdir(args.actual_dir):
    fail(f"{args.actual_dir} is not a directory (did kiln run --exportOutput write it?)")
  expected = sorted(glob.glob(os.path.join(args.expected_dir, "output_*.pb")),
                    key=lambda p: int(re.search(r"output_(\d+)\.pb$", p).group(1)))
  if not expected:
    fail(f"no output_*.pb files in {args.expected_dir}")
  graph_outputs = None

  failures = 0
  used = set()
  for k, path in enumerate(expected):
    name, b = load_pb(path)
    if not name:
      if graph_outputs is None and args.model:
        model = onnx.load(args.model, load_external_data=False)
        graph_outputs = [o.name for o in model.graph.output]
      if graph_outputs is None or k >= len(graph_outputs):
        fail(f"{path} has no tensor name; pass --model so it can be matched by index")
      name = graph_outputs[k]
    fname = sanitize(name) + ".npy"
    apath = os.path.join(args.actual_dir, fname)
    used.add(fname)
    if not os.path.isfile(apath):
      print(f"FAIL {name}: kiln wrote no {apath}")
      failures += 1
      continue
    a = np.load(apath, allow_pickle=False)
    rel, mx, problem = compare(a, b)
    if problem:
      print(f"FAIL {name}: {problem}")
      failures += 1
      continue
    ok = rel <= args.rel_l2
    failures += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}: shape {list(b.shape)} rel_l2 {rel:.3e} "
          f"(limit {args.rel_l2:.1e}) max_abs_diff {mx:.3e} max_abs_expected "
          f"{float(np.max(np.abs(b))) if b.size else 0.0:.3e}")
  extra = sorted(set(os.listdir(args.actual_dir)) - used)
  if extra:
    print(f"note: ignoring kiln outputs with no expected value: {', '.join(extra)}")
  if failures:
    print(f"compare_outputs: {failures} of {len(expected)} output(s) failed", file=sys.stderr)
    sys.exit(1)
  print(f"compare_outputs: all {len(expected)} output(s) match")


if __name__ == "__main__":
  main()
