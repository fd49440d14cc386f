#!/usr/bin/python3
"""QDQ models through the CLI: a quantized ONNX model runs on kiln's int8 kernels at its own scales.

Builds a small CNN in QDQ form as ONNX Runtime's quantize_static writes it (tests/cli/qdq_model.py:
uint8 activations, s8 per-channel weights and int32 biases behind DequantizeLinear, ReLUs folded
into uint8 pairs, a max pooling, residual Adds, a linear layer), and checks:
- `kiln compile` without --int8 or calibration makes every Conv and the Gemm an int8 layer with a
  fast kernel (`kiln inspect --json`), with the model's own per-channel weight scales, and says so
  (the first conv, with 3 input channels, may stay float where oneDNN has no int8 kernel for it,
  and then the build must warn); no Q/DQ pair is left; the max pooling runs on int8;
- the plan's output (the last layer's float result: the test model has no pair on it, so errors
  below a quantization step show) is within rel. L2 0.03 of a numpy evaluation of the QDQ graph
  with ONNX's definitions, no element further than 4 int8 steps of the output's range;
- with --disable-pass=fold-qdq the pairs stay, no layer is int8, and the output equals the numpy
  evaluation up to float rounding (rel. L2 <= 1e-4), so the oracle and the reference path agree
  and the comparison above means something.

usage: qdq.py KILN WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qdq_model  # noqa: E402

KILN, WORK = sys.argv[1:3]
# Nothing here depends on tuning, and level 0 (nothing timed) builds fastest.
L0 = "--builderOptimizationLevel=0"
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)
    return cond


def kiln(*args):
    return subprocess.run([KILN, *args], capture_output=True, text=True)


def rel_l2(a, b):
    return float(np.linalg.norm((a - b).ravel()) / np.linalg.norm(b.ravel()))


net, out_shape = qdq_model.small_net(seed=3)
calib = [np.random.RandomState(10 + k).standard_normal(net.in_shape).astype(np.float32) for k in range(4)]
# The output unrounded (no Q/DQ pair on it), so differences below the output's step show.
model = qdq_model.qdq_model(net, out_shape, calib, output_qdq=False)
path = os.path.join(WORK, "qdq_cnn.onnx")
onnx.save(model, path)
x = np.random.RandomState(99).standard_normal(net.in_shape).astype(np.float32)
xin = os.path.join(WORK, "x.npy")
np.save(xin, x)
want = qdq_model.run(model, {"x": x})["y"]
inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
y_step = float(np.abs(want).max()) / 127  # what an int8 output step would be


def run(plan, tag):
    out = os.path.join(WORK, "out_" + tag)
    r = kiln("run", "--loadEngine=" + plan, "--loadInputs=x:" + xin, "--exportOutput=" + out, "--iterations=1",
             "--duration=0", "--warmUp=0")
    if not check(r.returncode == 0, f"{tag}: run failed: {r.stderr}"):
        return None
    return np.load(os.path.join(out, "y.npy"))


# The model asks for int8 itself: no --int8, no calibration data.
plan = os.path.join(WORK, "qdq.plan")
r = kiln("compile", L0, path, "-o", plan, "--threads=2")
if check(r.returncode == 0, f"compile failed: {r.stderr}"):
    check("compute in int8" in r.stderr and "scale the model gave it" in r.stderr,
          f"the compile report does not say the layers run in int8 at the model's scales: {r.stderr}")
    info = json.loads(kiln("inspect", "--json", plan).stdout)
    check(info["inputs"][0]["dtype"] == "float32" and info["outputs"][0]["dtype"] == "float32",
          "graph I/O changed type")
    layers = info["layers"]
    heavy = [l for l in layers if l["op"] in ("Conv", "Gemm", "MatMul")]
    # The first conv (3 input channels) has no int8 kernel in oneDNN 2.6 here; the build must say so.
    int8 = [l for l in heavy if l["precision"] == "int8"]
    check(len(heavy) == 8 and all(l["precision"] == "int8" for l in heavy if l["name"] != "conv1"),
          f"not every conv and the linear layer are int8: {[(l['name'], l['op'], l['precision']) for l in heavy]}")
    check(len(int8) == 8 or "'conv1' (Conv) has a quantized input but" in r.stderr,
          f"conv1 stays float without a warning: {r.stderr}")
    check(all(l["kernel"] != "reference" for l in int8), "an int8 layer runs the reference kernel")
    for l in int8:
        base = l["name"] if l["op"] == "Conv" else "fc"
        want_ws = inits.get(base + ".w_scale")
        w = [q for q in l["quantized"] if not q["output"] and len(q["scale"]) > 1]
        if check(want_ws is not None and w, f"{l['name']}: no per-channel weight scales or no such model conv: "
                 f"{l['quantized']}"):
            check(np.allclose(np.array(w[0]["scale"], np.float32), want_ws, rtol=1e-6, atol=0),
                  f"{l['name']}: weight scales are not the model's: {w[0]['scale'][:4]} vs {want_ws[:4]}")
    qdq_layers = [l["name"] for l in layers if l["op"] in ("QuantizeLinear", "DequantizeLinear")]
    check(not qdq_layers, f"Q/DQ layers left: {qdq_layers}")
    check(any(l["op"] == "MaxPool" and l["precision"] == "int8" for l in layers),
          f"max pooling does not pass int8 on: {[(l['name'], l['precision']) for l in layers if l['op'] == 'MaxPool']}")
    got = run(plan, "int8")
    if got is not None:
        err, worst = rel_l2(got, want), float(np.abs(got - want).max()) / y_step
        print(f"int8 plan vs the QDQ graph: rel. L2 {err:.4f}, worst {worst:.2f} int8 steps of the output")
        check(0 < err <= 0.03 and worst <= 4, f"int8 plan vs the QDQ graph: rel. L2 {err:.4f}, worst {worst:.2f} steps")

# The pairs unfolded: ONNX's semantics on the reference kernels, no int8 layer.
plan_off = os.path.join(WORK, "qdq_off.plan")
r = kiln("compile", L0, path, "-o", plan_off, "--threads=2", "--disable-pass=fold-qdq")
if check(r.returncode == 0, f"compile with fold-qdq disabled failed: {r.stderr}"):
    info = json.loads(kiln("inspect", "--json", plan_off).stdout)
    check(not any(l["precision"] == "int8" for l in info["layers"]), "int8 layers with fold-qdq disabled")
    got = run(plan_off, "off")
    if got is not None:
        err = rel_l2(got, want)
        print(f"unfolded plan vs the QDQ graph: rel. L2 {err:.2e}")
        check(err <= 1e-4, f"the unfolded plan differs from the numpy QDQ evaluation: rel. L2 {err:.3g}")

for f in fails:
    print("FAIL:", f)
print("qdq: " + ("FAILED" if fails else "passed"))
sys.exit(1 if fails else 0)
