#!/usr/bin/python3
"""Counts the floating-point work of an ONNX model: 2 x multiply-accumulates of Conv, ConvTranspose,
Gemm and MatMul (elementwise ops, pooling and normalisation are ignored; they are a few percent
of a CNN's work). Used by run_bench.py to turn latency into GFLOP/s.

Usage: /usr/bin/python3 benchmarks/model_flops.py MODEL.onnx [MODEL.onnx ...]
"""
import functools
import os
import sys

import numpy as np

for _alias, _type in (("float", float), ("int", int), ("bool", bool), ("object", object)):
  if _alias not in np.__dict__:  # onnx 1.12 uses aliases numpy 1.24 removed
    setattr(np, _alias, _type)

import onnx  # noqa: E402
from onnx import helper, mapping, numpy_helper, shape_inference  # noqa: E402


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
SMALL = 64  # constants up to this many elements are kept (and folded); bigger ones become inputs


def _attr(n, name, default=None):
  a = next((a for a in n.attribute if a.name == name), None)
  return helper.get_attribute_value(a) if a is not None else default


def _eval_small(n, vals):
  """numpy value of a small shape-arithmetic node whose inputs are all known, else None."""
  x = [vals.get(i) for i in n.input]
  if any(v is None for v in x):
    return None
  t = n.op_type
  if t == "Constant":
    v = _attr(n, "value")
    return numpy_helper.to_array(v) if v is not None else None
  if t == "ConstantOfShape":
    v = _attr(n, "value")
    fill = numpy_helper.to_array(v) if v is not None else np.zeros(1, np.float32)
    return np.full(tuple(int(d) for d in x[0]), fill.ravel()[0], fill.dtype)
  ops = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Equal": np.equal}
  if t in ops:
    return ops[t](x[0], x[1])
  if t == "Where":
    return np.where(x[0], x[1], x[2])
  if t == "Cast":
    return x[0].astype(mapping.TENSOR_TYPE_TO_NP_TYPE[_attr(n, "to")])
  if t == "Concat":
    return np.concatenate(x, axis=_attr(n, "axis"))
  if t == "Unsqueeze":
    axes = x[1] if len(x) > 1 else _attr(n, "axes")
    return np.expand_dims(x[0], tuple(int(a) for a in axes))
  return None


def _light_model(model):
  """A copy without the big weights (they become graph inputs of the same shape, which is all
  shape inference needs), with small shape arithmetic folded to constants: onnx's inference does
  not see through e.g. the ConstantOfShape/Equal/Where/Expand that torch exports for
  `x.expand(batch, seq)`, and would leave the batch dimension unknown downstream."""
  g = model.graph
  light = onnx.ModelProto()
  light.ir_version = model.ir_version
  light.opset_import.extend(model.opset_import)
  lg = light.graph
  lg.input.extend(g.input)
  lg.output.extend(g.output)
  vals = {}
  for init in g.initializer:
    if _prod(init.dims) <= SMALL:
      lg.initializer.append(init)
      vals[init.name] = numpy_helper.to_array(init)
    elif init.name not in {i.name for i in g.input}:
      lg.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
  for n in g.node:
    v = _eval_small(n, vals) if len(n.output) == 1 else None
    if v is not None and v.size <= SMALL:
      vals[n.output[0]] = v
      lg.node.append(helper.make_node("Constant", [], [n.output[0]],
                                      value=numpy_helper.from_array(np.asarray(v))))
    else:
      lg.node.append(n)
  return light


@functools.lru_cache(maxsize=16)
def flops_by_op(path):
  """{op_type: FLOP count} over the counted ops of the model at path (cached per path); raises
  ValueError when a counted op has an unknown shape."""
  model = shape_inference.infer_shapes(_light_model(onnx.load(path)))
  shapes = _shapes(model)
  total = {}
  for n in model.graph.node:
    if n.op_type not in COUNTED:
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
      trans_a = _attr(n, "transA", 0)
      k = ins[0][0] if trans_a else ins[0][1]
      macs = _prod(out) * k
    else:  # MatMul
      k = ins[0][-1]
      macs = _prod(out) * k
    total[n.op_type] = total.get(n.op_type, 0) + 2 * macs
  return total


def model_flops(path, ops=COUNTED):
  """Returns the FLOP count (int) of the nodes whose type is in ops; raises ValueError when a
  counted op has an unknown shape."""
  return sum(v for k, v in flops_by_op(os.path.abspath(path)).items() if k in ops)


if __name__ == "__main__":
  if len(sys.argv) < 2:
    sys.exit(__doc__)
  for p in sys.argv[1:]:
    print(f"{p}: {model_flops(p) / 1e9:.3f} GFLOP")
