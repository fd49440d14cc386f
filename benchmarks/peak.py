#!/usr/bin/python3
"""Measures the machine's practical fp32 peak the way the issue tracker states it: a 2048^3
matrix multiplication on oneDNN (through a one-layer kiln plan), with the benchmark's thread
count, median of several runs. GFLOP/s of whole models are quoted against this number.

The model is built here with onnx.helper: Y = X @ W with W a constant initializer (seeded), so
kiln prepacks W once at load and the timed work is the GEMM alone.

Usage: /usr/bin/python3 benchmarks/peak.py KILN WORKDIR [--threads 2] [--size 2048]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

for _alias, _type in (("float", float), ("int", int), ("bool", bool), ("object", object)):
  if _alias not in np.__dict__:  # onnx 1.12 uses aliases numpy 1.24 removed
    setattr(np, _alias, _type)

import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def matmul_model(path, n):
  w = np.random.RandomState(0).uniform(-1, 1, (n, n)).astype(np.float32)
  graph = helper.make_graph(
      [helper.make_node("MatMul", ["x", "w"], ["y"], name="gemm")], "peak",
      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])],
      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])],
      [numpy_helper.from_array(w, "w")])
  onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def measure_peak(kiln, workdir, threads, size=2048, iterations=20):
  """Returns {"gflops", "median_ms", "size", "threads"}; raises RuntimeError on a kiln failure."""
  os.makedirs(workdir, exist_ok=True)
  model, plan = os.path.join(workdir, f"matmul{size}.onnx"), os.path.join(workdir, f"matmul{size}.plan")
  if not os.path.isfile(model):
    matmul_model(model, size)
  for cmd in ([kiln, "compile", model, "-o", plan, f"--threads={threads}"],
              [kiln, "run", f"--loadEngine={plan}", f"--threads={threads}", f"--iterations={iterations}",
               "--warmUp=500", "--duration=0", "--json"]):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
      raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
  med = json.loads(r.stdout)["latency_ms"]["median"]
  return {"gflops": 2 * size ** 3 / 1e9 / (med / 1e3), "median_ms": med, "size": size, "threads": threads}


if __name__ == "__main__":
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("kiln")
  ap.add_argument("workdir")
  ap.add_argument("--threads", type=int, default=2)
  ap.add_argument("--size", type=int, default=2048)
  a = ap.parse_args()
  try:
    p = measure_peak(a.kiln, a.workdir, a.threads, a.size)
  except RuntimeError as e:
    sys.exit(f"peak: error: {e}")
  print(f"fp32 peak: {p['gflops']:.1f} GFLOP/s ({a.size}^3 matmul, {p['median_ms']:.2f} ms, {a.threads} threads)")
