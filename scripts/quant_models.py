#!/usr/bin/python3
"""Writes already-quantized ONNX models the way users bring them, and times kiln against ONNX Runtime on them.

Usage:
  /usr/bin/python3 scripts/quant_models.py OUT_DIR [--size 224] [--bench --kiln build/bin/kiln
      [--node-modules DIR] [--threads 2] [--iterations 20] [--rounds 3]]

Models (ResNet-18's layer shapes, random weights):
  convinteger_s8.onnx  dynamic quantization as ONNX Runtime's quantize_dynamic writes it: per conv,
                       DynamicQuantizeLinear -> ConvInteger -> Cast -> Mul(x_scale * w_scale) ->
                       Add(bias reshaped to [1, M, 1, 1]); weights int8 symmetric (zero point 0);
                       the classifier as DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul -> Add.
  convinteger_u8.onnx  the same with uint8 asymmetric weights (weight_type=QUInt8): zero points
                       other than 128, which kiln's kernel handles with its window-sum correction.
  qlinearconv.onnx     the QOperator format: QuantizeLinear -> QLinearConv ... (ReLU as a y zero
                       point of 0, per-channel int8 weights, int32 biases, uint8 activation
                       scales and zero points from a min/max calibration run), residual adds as
                       DequantizeLinear -> Add -> QuantizeLinear (ONNX's QLinearAdd is a contrib
                       op), the classifier as QLinearMatMul, DequantizeLinear at the end.
Also input.npy (float32 [1, 3, SIZE, SIZE]).

--bench compiles each model with kiln, runs `kiln run` and benchmarks/ort/bench_ort.mjs (onnxruntime-node;
give --node-modules a node_modules holding it, e.g. the one benchmarks/run_bench.py installs into
BUILD/bench), alternating the order for --rounds rounds, and prints the median latencies and how the
outputs compare (max |kiln - ORT| in units of the output's quantization step where it has one).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import numpy as np

for _alias, _type in (("float", float), ("int", int), ("bool", bool), ("object", object)):
  if _alias not in np.__dict__:  # onnx 1.12 uses aliases numpy 1.24 removed
    setattr(np, _alias, _type)

import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# ResNet-18: (channels, first stride) per stage, two basic blocks each.
STAGES = [(64, 1), (128, 2), (256, 2), (512, 2)]


class Builder:
  def __init__(self, seed):
    self.nodes, self.inits, self.rng, self.n = [], [], np.random.default_rng(seed), 0

  def name(self, what):
    self.n += 1
    return f"{what}_{self.n}"

  def init(self, what, array):
    name = self.name(what)
    self.inits.append(numpy_helper.from_array(np.asarray(array), name))
    return name

  def node(self, op, inputs, n_out=1, **attrs):
    outs = [self.name(op.lower()) for _ in range(n_out)]
    self.nodes.append(helper.make_node(op, inputs, outs, name=self.name(op), **attrs))
    return outs if n_out > 1 else outs[0]

  def weights(self, m, c, k):
    return (self.rng.standard_normal((m, c, k, k)) * np.sqrt(2.0 / (c * k * k))).astype(np.float32)

  def model(self, inputs, outputs):
    g = helper.make_graph(self.nodes, "quantized", inputs, outputs, self.inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="kiln quant_models.py")
    onnx.checker.check_model(m)
    return m


# ---- dynamic quantization (ConvInteger) ----

def quant_weights(w, unsigned):
  """Per-tensor weight quantization as quantize_dynamic does it: int8 symmetric, uint8 min/max."""
  if unsigned:
    lo, hi = min(float(w.min()), 0.0), max(float(w.max()), 0.0)
    scale = (hi - lo) / 255.0
    zp = int(np.clip(np.round(-lo / scale), 0, 255))
    return np.clip(np.round(w / scale) + zp, 0, 255).astype(np.uint8), np.float32(scale), np.uint8(zp)
  scale = float(np.abs(w).max()) / 127.0
  return np.clip(np.round(w / scale), -127, 127).astype(np.int8), np.float32(scale), np.int8(0)


def dyn_conv(b, x, m, c, k, stride, unsigned, relu, dq_cache):
  """Conv(x) + bias, quantized the quantize_dynamic way; one DynamicQuantizeLinear per tensor."""
  if x not in dq_cache:
    dq_cache[x] = b.node("DynamicQuantizeLinear", [x], 3)
  xq, xs, xz = dq_cache[x]
  wq, ws, wz = quant_weights(b.weights(m, c, k), unsigned)
  bias = (b.rng.standard_normal(m) * 0.05).astype(np.float32)
  y = b.node("ConvInteger", [xq, b.init("w", wq), xz, b.init("w_zp", wz)], kernel_shape=[k, k],
             strides=[stride, stride], pads=[k // 2] * 4)
  y = b.node("Cast", [y], to=TensorProto.FLOAT)
  s = b.node("Mul", [xs, b.init("w_scale", ws)])
  y = b.node("Mul", [y, s])
  y = b.node("Add", [y, b.node("Reshape", [b.init("bias", bias), b.init("shape", np.array([1, -1, 1, 1], np.int64))])])
  return b.node("Relu", [y]) if relu else y


def convinteger_model(size, unsigned, seed=1):
  b = Builder(seed)
  dq = {}
  x = dyn_conv(b, "input", 64, 3, 7, 2, unsigned, True, dq)
  x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
  c = 64
  for m, first_stride in STAGES:
    for blk in range(2):
      s = first_stride if blk == 0 else 1
      y = dyn_conv(b, x, m, c, 3, s, unsigned, True, dq)
      y = dyn_conv(b, y, m, m, 3, 1, unsigned, False, dq)
      short = x if (s == 1 and c == m) else dyn_conv(b, x, m, c, 1, s, unsigned, False, dq)
      x = b.node("Relu", [b.node("Add", [y, short])])
      c = m
  x = b.node("Flatten", [b.node("GlobalAveragePool", [x])])
  xq, xs, xz = b.node("DynamicQuantizeLinear", [x], 3)
  wq, ws, wz = quant_weights((b.rng.standard_normal((512, 1000)) * 0.05).astype(np.float32), unsigned)
  y = b.node("MatMulInteger", [xq, b.init("fc_w", wq), xz, b.init("fc_zp", wz)])
  y = b.node("Mul", [b.node("Cast", [y], to=TensorProto.FLOAT), b.node("Mul", [xs, b.init("fc_scale", ws)])])
  b.nodes[-1].output[0] = "logits_noBias"
  y = b.node("Add", ["logits_noBias", b.init("fc_b", np.zeros(1000, np.float32))])
  b.nodes[-1].output[0] = "logits"
  return b.model([helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
                 [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])])


# ---- QOperator (QLinearConv) ----
# Scales come from a float run of the same network on a calibration input (another draw than the
# timed input.npy), min/max per tensor, as quantize_static's default calibration picks them: fixed
# guesses saturate 10-20% of some tensors, which no calibrated model does.

def conv_nchw(x, w, stride, pad):
  """Float conv of x [1, C, H, W] with w [M, C, k, k], for the calibration run."""
  k = w.shape[2]
  xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
  win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
  c, ho, wo = win.shape[1:4]
  cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(ho * wo, c * k * k)
  return (cols @ w.reshape(w.shape[0], -1).T).T.reshape(1, -1, ho, wo)


def max_pool_3x3_s2(x):
  xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
  return np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))[:, :, ::2, ::2].max(axis=(4, 5))


def calibrated(yf):
  """uint8 (scale, zero point) over yf's range widened to contain 0, and yf quantized through them."""
  lo, hi = min(float(yf.min()), 0.0), max(float(yf.max()), 0.0)
  scale = np.float32((hi - lo) / 255.0)
  zp = np.uint8(np.clip(np.round(-lo / scale), 0, 255))
  yq = np.clip(np.round(yf / scale) + float(zp), 0, 255)
  return (scale, zp), ((yq - float(zp)) * scale).astype(np.float32)


def qlinear_conv(b, x, xq, xf, m, c, k, stride, relu):
  """QLinearConv of the uint8 tensor x with quantization params xq = (scale, zp), xf its calibration
  value; returns (y, (scale, zp), y's calibration value)."""
  w = b.weights(m, c, k)
  ws = (np.abs(w).reshape(m, -1).max(axis=1) / 127.0).astype(np.float32)
  wq = np.clip(np.round(w / ws[:, None, None, None]), -127, 127).astype(np.int8)
  bias = np.round(b.rng.standard_normal(m) * 0.05 / (xq[0] * ws)).astype(np.int32)
  yf = conv_nchw(xf, wq * ws[:, None, None, None], stride, k // 2) + (bias * xq[0] * ws)[None, :, None, None]
  yq, ycal = calibrated(np.maximum(yf, 0) if relu else yf)  # a fused ReLU is a zero point of 0
  y = b.node("QLinearConv", [x, b.init("x_scale", np.float32(xq[0])), b.init("x_zp", xq[1]), b.init("w", wq),
                             b.init("w_scale", ws), b.init("w_zp", np.zeros(m, np.int8)),
                             b.init("y_scale", yq[0]), b.init("y_zp", yq[1]), b.init("bias", bias)],
             kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4)
  return y, yq, ycal


def qlinear_model(size, seed=2):
  b = Builder(seed)
  aq, xf = calibrated(np.random.default_rng(seed + 100).standard_normal((1, 3, size, size)).astype(np.float32))
  x = b.node("QuantizeLinear", ["input", b.init("in_scale", aq[0]), b.init("in_zp", aq[1])])
  x, q, xf = qlinear_conv(b, x, aq, xf, 64, 3, 7, 2, True)
  x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
  xf = max_pool_3x3_s2(xf)
  c = 64
  for m, first_stride in STAGES:
    for blk in range(2):
      s = first_stride if blk == 0 else 1
      y, yq, yf = qlinear_conv(b, x, q, xf, m, c, 3, s, True)
      y, yq, yf = qlinear_conv(b, y, yq, yf, m, m, 3, 1, False)
      if s == 1 and c == m:
        short, sq, sf = x, q, xf
      else:
        short, sq, sf = qlinear_conv(b, x, q, xf, m, c, 1, s, False)
      f = b.node("Add", [b.node("DequantizeLinear", [y, b.init("s", yq[0]), b.init("z", yq[1])]),
                         b.node("DequantizeLinear", [short, b.init("s", sq[0]), b.init("z", sq[1])])])
      q, xf = calibrated(np.maximum(yf + sf, 0))  # the block's ReLU: zero point 0 clamps negatives
      x = b.node("QuantizeLinear", [f, b.init("s", q[0]), b.init("z", q[1])])
      c = m
  x = b.node("GlobalAveragePool", [b.node("DequantizeLinear", [x, b.init("s", q[0]), b.init("z", q[1])])])
  fq, ff = calibrated(xf.mean(axis=(2, 3)))
  x = b.node("QuantizeLinear", [b.node("Flatten", [x]), b.init("s", fq[0]), b.init("z", fq[1])])
  w = (b.rng.standard_normal((512, 1000)) * 0.05).astype(np.float32)
  wsc = (np.abs(w).max(axis=0) / 127.0).astype(np.float32)
  wq = np.clip(np.round(w / wsc), -127, 127).astype(np.int8)
  yq, _ = calibrated(ff @ (wq * wsc))
  y = b.node("QLinearMatMul", [x, b.init("s", fq[0]), b.init("z", fq[1]), b.init("fc_w", wq), b.init("fc_ws", wsc),
                               b.init("fc_wz", np.zeros(1000, np.int8)), b.init("ys", yq[0]),
                               b.init("yz", yq[1])])
  b.node("DequantizeLinear", [y, b.init("s", yq[0]), b.init("z", yq[1])])
  b.nodes[-1].output[0] = "logits"
  return b.model([helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
                 [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])])


def output_step(model_path):
  """The quantization step of a model whose output comes from a DequantizeLinear, else None."""
  m = onnx.load(model_path)
  last = m.graph.node[-1]
  if last.op_type != "DequantizeLinear":
    return None
  inits = {t.name: t for t in m.graph.initializer}
  return float(numpy_helper.to_array(inits[last.input[1]]))


# ---- benchmark ----

def run(cmd, env=None):
  res = subprocess.run(cmd, capture_output=True, text=True, env=env)
  if res.returncode != 0:
    sys.exit(f"quant_models.py: {' '.join(cmd)} failed:\n{res.stdout}\n{res.stderr}")
  return res.stdout


def last_json(text):
  for line in reversed(text.strip().splitlines()):
    if line.startswith("{"):
      return json.loads(line)
  sys.exit(f"quant_models.py: no JSON in:\n{text}")


def bench(args, out_dir, names):
  env = dict(os.environ, NODE_PATH=os.path.abspath(args.node_modules))
  ort_js = os.path.join(HERE, "..", "benchmarks", "ort", "bench_ort.mjs")
  inp = os.path.join(out_dir, "input.npy")
  rows = []
  for name in names:
    model = os.path.join(out_dir, name + ".onnx")
    plan = os.path.join(out_dir, name + ".plan")
    run([args.kiln, "compile", model, "-o", plan, f"--threads={args.threads}"])
    kiln_out, ort_out = os.path.join(out_dir, name + ".kiln_out"), os.path.join(out_dir, name + ".ort_out")
    k_cmd = [args.kiln, "run", f"--loadEngine={plan}", f"--loadInputs=input:{inp}", f"--threads={args.threads}",
             f"--iterations={args.iterations}", "--warmUp=300", "--duration=0", "--json"]
    o_cmd = ["node", ort_js, "--model", model, "--input", f"input:{inp}", "--threads", str(args.threads),
             "--iterations", str(args.iterations), "--warmup-ms", "300"]
    run(k_cmd[:-1] + [f"--exportOutput={kiln_out}"])
    run(o_cmd + ["--save-outputs", ort_out], env)
    k_med, o_med = [], []
    for r in range(args.rounds):
      for who in (("k", "o") if r % 2 == 0 else ("o", "k")):
        if who == "k":
          k_med.append(last_json(run(k_cmd))["latency_ms"]["median"])
        else:
          o_med.append(last_json(run(o_cmd, env))["latency_ms"]["median"])
    a = np.load(os.path.join(kiln_out, "logits.npy")).astype(np.float64)
    e = np.load(os.path.join(ort_out, "logits.npy")).astype(np.float64)
    diff = np.abs(a - e)
    step = output_step(model)
    rows.append((name, statistics.median(k_med), statistics.median(o_med), float(diff.max()),
                 float(np.linalg.norm(a - e) / max(np.linalg.norm(e), 1e-30)), step))
  print(f"threads={args.threads}, medians of {args.rounds} alternated rounds x {args.iterations} iterations")
  print("| model | kiln ms | ORT ms | kiln/ORT | max abs diff | rel L2 diff |")
  print("| --- | --- | --- | --- | --- | --- |")
  for name, k, o, mx, rel, step in rows:
    d = f"{mx:.3g}" + (f" ({mx / step:.2f} steps)" if step else "")
    print(f"| {name} | {k:.2f} | {o:.2f} | {k / o:.2f} | {d} | {rel:.2e} |")


def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("out_dir")
  ap.add_argument("--size", type=int, default=224, help="input height and width (default 224)")
  ap.add_argument("--bench", action="store_true", help="time kiln against ONNX Runtime on the models")
  ap.add_argument("--kiln", default=os.path.join(HERE, "..", "build", "bin", "kiln"))
  ap.add_argument("--node-modules", default=os.path.join(HERE, "..", "build", "bench", "node_modules"))
  ap.add_argument("--threads", type=int, default=2)
  ap.add_argument("--iterations", type=int, default=20)
  ap.add_argument("--rounds", type=int, default=3)
  ap.add_argument("--models", default="convinteger_s8,convinteger_u8,qlinearconv")
  args = ap.parse_args()
  if args.size < 32:
    sys.exit("quant_models.py: --size must be >= 32")
  os.makedirs(args.out_dir, exist_ok=True)
  makers = {"convinteger_s8": lambda: convinteger_model(args.size, False),
            "convinteger_u8": lambda: convinteger_model(args.size, True),
            "qlinearconv": lambda: qlinear_model(args.size)}
  names = args.models.split(",")
  for n in names:
    if n not in makers:
      sys.exit(f"quant_models.py: unknown model '{n}' (known: {', '.join(makers)})")
    onnx.save(makers[n](), os.path.join(args.out_dir, n + ".onnx"))
  x = np.random.default_rng(0).standard_normal((1, 3, args.size, args.size)).astype(np.float32)
  np.save(os.path.join(args.out_dir, "input.npy"), x)
  print(f"wrote {', '.join(n + '.onnx' for n in names)} and input.npy to {args.out_dir}")
  if args.bench:
    bench(args, args.out_dir, names)


if __name__ == "__main__":
  main()
