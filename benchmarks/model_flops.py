#!/usr/bin/python3
"""Counts the floating-point work of an ONNX model: 2 x multiply-accumulates of Conv, ConvTranspose,
Gemm and MatMul (elementwise ops, pooling and normalisation are ignored; they are a few percent
of a CNN's work). Used by run_bench.py to turn latency into GFLOP/s.

Usage: /usr/bin/python3 benchmarks/model_flops.py MODEL.onnx [MODEL.onnx ...]
"""
import sys

import numpy as np

for _alias, _type in (("float", float), ("int", int), ("bool", bool), ("object", object)):
  if _alias not in np.__dict__:  # onnx 1.12 uses aliases numpy 1.24 removed
    setattr(np, _alias, _type)

import onnx  # noqa: E402
from onnx import shape_inference  # noqa: E402


def _shapes(model):
  shapes = {}
  g = model.graph
  for vi in list(g.input) + list(g.output) + list(g.value_info):
    dims = vi.type.tensor_type.shape.dim
    shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
  for init in g.initializer:
    shapes[init.name] = list(init.dims)
  return shapes


def _prod(xs):
  p = 1
  for x in xs:
    p *= x
  return p


COUNTED = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def model_flops(path, ops=COUNTED):
  """Returns the FLOP count (int) of the nodes whose type is in ops; raises ValueError when a
  counted op has an unknown shape."""
  model = shape_inference.infer_shapes(onnx.load(path))
  shapes = _shapes(model)
  total = 0
  for n in model.graph.node:
    if n.op_type not in ops:
      continue
    ins = [shapes.get(i) for i in n.input[:2]]
    out = shapes.get(n.output[0])
    if any(s is None or None in s for s in ins + [out]):
      raise ValueError(f"{path}: node {n.name or n.op_type} has unknown shapes; cannot count FLOPs")
    if n.op_type == "Conv":
      w = ins[1]  # [Cout, Cin/group, k...]
      macs = _prod(out) * _prod(w[1:])
    elif n.op_type == "ConvTranspose":
      x, w = ins  # w: [Cin, Cout/group, k...]
      macs = _prod(x) * _prod(w[1:])
    elif n.op_type == "Gemm":
      trans_a = next((a.i for a in n.attribute if a.name == "transA"), 0)
      k = ins[0][0] if trans_a else ins[0][1]
      macs = _prod(out) * k
    else:  # MatMul
      k = ins[0][-1]
      macs = _prod(out) * k
    total += 2 * macs
  return total


if __name__ == "__main__":
  if len(sys.argv) < 2:
    sys.exit(__doc__)
  for p in sys.argv[1:]:
    print(f"{p}: {model_flops(p) / 1e9:.3f} GFLOP")
