#!/usr/bin/python3
"""`kiln compile --mean --scale --reverseInputChannels --inputLayout --inputType`: values, not exit codes.

1. tiny_resnet compiled for raw uint8 NHWC RGB images gives, on such an image, the plain plan's output
   on the float NCHW input computed here by hand ((bgr - mean) / scale, transposed); the plan's input
   is uint8 1x64x64x3; the channel reversal and the division are folded into the first conv (no
   Gather or Div layer left, only Cast, Transpose and the mean Sub: its conv pads, so the mean stays).
   The same plan with --disable-pass=fold-preprocess agrees too. The Python binding (when built)
   reports the uint8 NHWC input and gives the same result.
2. On conv models without padding (plain and grouped) the mean folds as well: the layer count equals
   the plain model's, and the values still match the hand-normalised input.
3. Error cases: malformed values exit 2, values that do not fit the model exit 1, each with a
   message naming the flag or the input.

usage: preprocess.py KILN MODEL.onnx WORKDIR [PYTHON_BINDING_DIR]
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

KILN, MODEL, WORK = sys.argv[1:4]
# Nothing here depends on tuning, and level 0 (nothing timed) builds fastest.
L0 = "--builderOptimizationLevel=0"
PYDIR = sys.argv[4] if len(sys.argv) > 4 else None
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
failures = []
passes = 0
MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
SCALE = np.array([58.395, 57.12, 57.375], dtype=np.float32)
PRE = ["--mean=123.675,116.28,103.53", "--scale=58.395,57.12,57.375"]


def check(cond, what):
    global passes
    if cond:
        passes += 1
    else:
        failures.append(what)
        print("FAIL:", what)


def kiln(*args):
    return subprocess.run([KILN, *args], capture_output=True, text=True, timeout=300)


def compile_plan(model, name, *flags):
    plan = os.path.join(WORK, name + ".plan")
    p = kiln("compile", L0, model, "-o", plan, *flags)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: kiln compile {' '.join(flags)} exited {p.returncode}: {p.stderr}")
    return plan


def inspect(plan):
    p = kiln("inspect", "--json", plan)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: kiln inspect {plan}: {p.stderr}")
    return json.loads(p.stdout)


def run(plan, arr, name):
    """Runs one inference on `arr` bound to the plan's only input; returns the only output."""
    info = inspect(plan)
    src = os.path.join(WORK, name + "_in.npy")
    np.save(src, arr)
    out_dir = os.path.join(WORK, name + "_out")
    p = kiln("run", "--loadEngine=" + plan, f"--loadInputs={info['inputs'][0]['name']}:{src}",
             "--exportOutput=" + out_dir, "--iterations=1", "--duration=0", "--warmUp=0")
    if p.returncode != 0:
        raise SystemExit(f"FAIL: kiln run {plan} exited {p.returncode}: {p.stderr}")
    return np.load(os.path.join(out_dir, info["outputs"][0]["name"] + ".npy"))


def rel_l2(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b) / max(np.linalg.norm(b.astype(np.float64)), 1e-30))


def fused_tags(info):
    return [t for l in info["layers"] for t in l["fused"] if t.startswith("preprocess:")]


rng = np.random.default_rng(7)

# ---- 1. tiny_resnet: uint8 NHWC RGB in, everything but the mean folded into the stem conv ----
plain = compile_plan(MODEL, "plain")
pre = compile_plan(MODEL, "pre", "--inputType=u8", "--inputLayout=NHWC", "--reverseInputChannels", *PRE)
unfolded = compile_plan(MODEL, "unfolded", "--inputType=u8", "--inputLayout=NHWC", "--reverseInputChannels", *PRE,
                        "--disable-pass=fold-preprocess")
img = rng.integers(0, 256, size=(1, 64, 64, 3), dtype=np.uint8)  # RGB, HWC, as an image decoder gives it
bgr = img[..., ::-1].astype(np.float32)
x = ((bgr - MEAN) / SCALE).transpose(0, 3, 1, 2).copy()  # what the plain plan expects
want = run(plain, x, "plain")
got = run(pre, img, "pre")
check(rel_l2(got, want) < 1e-4, f"u8 NHWC plan differs from the plain plan on the normalised input: "
                                 f"rel L2 {rel_l2(got, want):.2e}")
got_unfolded = run(unfolded, img, "unfolded")
check(rel_l2(got_unfolded, want) < 1e-4, f"unfolded pre-processing differs: rel L2 {rel_l2(got_unfolded, want):.2e}")
# Without the reversal the result must differ: guards against a reversal that silently does nothing.
norev = compile_plan(MODEL, "norev", "--inputType=u8", "--inputLayout=NHWC", *PRE)
check(rel_l2(run(norev, img, "norev"), want) > 1e-3, "dropping --reverseInputChannels did not change the output")

info_plain, info_pre, info_unf = inspect(plain), inspect(pre), inspect(unfolded)
inp = info_pre["inputs"][0]
check(inp["name"] == "input" and inp["dtype"] == "uint8" and inp["shape"] == [1, 64, 64, 3],
      f"plan input is {inp}, expected input uint8 [1, 64, 64, 3]")
check(info_pre["outputs"] == info_plain["outputs"], "pre-processing changed the plan's outputs")
tags = fused_tags(info_pre)
standalone = [l["fused"] for l in info_pre["layers"] if any(t.startswith("preprocess:") for t in l["fused"])
              and l["op"] != "Conv"]
check(sorted(tags) == ["preprocess:cast", "preprocess:mean", "preprocess:reverse_channels", "preprocess:scale",
                       "preprocess:to_nchw"], f"pre-processing ops in the plan: {tags}")
check(sorted(t[0] for t in standalone) == ["preprocess:cast", "preprocess:mean", "preprocess:to_nchw"],
      f"standalone pre-processing layers: {standalone} (expected Cast, Transpose and the mean Sub only)")
conv_tags = [l["fused"] for l in info_pre["layers"] if l["op"] == "Conv" and "preprocess:scale" in l["fused"]]
check(len(conv_tags) == 1 and "preprocess:reverse_channels" in conv_tags[0], f"folded into a conv: {conv_tags}")
check(len(info_pre["layers"]) == len(info_plain["layers"]) + 3,
      f"{len(info_pre['layers'])} layers vs {len(info_plain['layers'])} plain: expected exactly 3 more")
check(len(info_unf["layers"]) == len(info_plain["layers"]) + 5,
      f"with fold-preprocess disabled {len(info_unf['layers'])} layers vs {len(info_plain['layers'])} + 5")


# ---- 1b. the Python binding sees the new input type ----
try:
    if PYDIR:
        sys.path.insert(0, PYDIR)
    import kiln as kiln_py
except ImportError as e:
    kiln_py = None
    print(f"note: Python binding not importable ({e}); its check is skipped")
if kiln_py is not None:
    eng = kiln_py.Engine(pre)
    (pi,) = eng.inputs
    check((pi.name, pi.dtype, tuple(pi.shape)) == ("input", np.dtype(np.uint8), (1, 64, 64, 3)),
          f"Python Engine.inputs: {pi!r}")
    y_py = eng.create_context().run({"input": img})["output"]
    check(rel_l2(y_py, want) < 1e-4, f"Python run of the u8 plan: rel L2 {rel_l2(y_py, want):.2e}")
    # kiln.compile(preprocess=...) builds the same plan as the CLI flags, byte for byte.
    py_plan = os.path.join(WORK, "pre_py.plan")
    kiln_py.compile(MODEL, py_plan, preprocess={"": {
        "mean": [123.675, 116.28, 103.53], "scale": [58.395, 57.12, 57.375], "reverse_channels": True,
        "layout": "NHWC", "dtype": "uint8"}})
    with open(py_plan, "rb") as a, open(pre, "rb") as b:
        check(a.read() == b.read(), "kiln.compile(preprocess=...) and the CLI flags built different plans")
    try:
        kiln_py.compile(MODEL, py_plan, preprocess={"": {"means": [1, 2, 3]}})
        check(False, "an unknown preprocess key was accepted")
    except Exception as e:  # kiln.Error
        check("unknown key 'means'" in str(e), f"unknown preprocess key: {e}")

# ---- 2. convs without padding: the mean folds into the bias too ----
def conv_model(path, group, out_ch):
    w = rng.standard_normal((out_ch, 3 // group, 3, 3)).astype(np.float32)
    b = rng.standard_normal(out_ch).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], group=group, strides=[2, 2]),
             helper.make_node("Relu", ["c"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 9, 11])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, out_ch, 4, 5])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


for group, out_ch, rev in [(1, 5, True), (3, 6, False)]:
    path = os.path.join(WORK, f"conv_g{group}.onnx")
    conv_model(path, group, out_ch)
    flags = [f"--mean=x:{MEAN[0]},{MEAN[1]},{MEAN[2]}", "--scale=x:58.395,57.12,57.375"] + (
        ["--reverseInputChannels=x"] if rev else [])
    p_plain = compile_plan(path, f"g{group}_plain")
    p_pre = compile_plan(path, f"g{group}_pre", *flags)
    raw = rng.uniform(0, 255, size=(2, 3, 9, 11)).astype(np.float32)
    src = raw[:, ::-1] if rev else raw
    xn = ((src - MEAN[None, :, None, None]) / SCALE[None, :, None, None]).astype(np.float32)
    want = run(p_plain, xn, f"g{group}_plain")
    got = run(p_pre, raw, f"g{group}_pre")
    check(rel_l2(got, want) < 1e-4, f"group {group}: folded plan differs: rel L2 {rel_l2(got, want):.2e}")
    n_plain, i_pre = len(inspect(p_plain)["layers"]), inspect(p_pre)
    check(len(i_pre["layers"]) == n_plain, f"group {group}: {len(i_pre['layers'])} layers, plain has {n_plain}: "
                                           "mean/scale/reversal were not all folded")
    check(i_pre["inputs"][0]["dtype"] == "float32" and i_pre["inputs"][0]["shape"] == [2, 3, 9, 11],
          f"group {group}: input {i_pre['inputs'][0]}")

# In-graph normalisation (Add/Mul by per-channel constants, as some exporters write it) folds the same way;
# numpy computes the expected output independently here.
w = rng.standard_normal((4, 3, 1, 3)).astype(np.float32)
bias = rng.standard_normal(4).astype(np.float32)
shift = rng.standard_normal((1, 3, 1, 1)).astype(np.float32)
mul = rng.uniform(0.5, 2, size=(3, 1, 1)).astype(np.float32)
nodes = [helper.make_node("Add", ["x", "shift"], ["t"]), helper.make_node("Mul", ["t", "mul"], ["u"]),
         helper.make_node("Conv", ["u", "w", "b"], ["y"], kernel_shape=[1, 3])]
ingraph = os.path.join(WORK, "ingraph.onnx")
onnx.save(helper.make_model(helper.make_graph(
    nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 5, 6])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 5, 4])],
    [numpy_helper.from_array(a, n) for a, n in [(w, "w"), (bias, "b"), (shift, "shift"), (mul, "mul")]]),
    opset_imports=[helper.make_opsetid("", 13)]), ingraph)
p_in = compile_plan(ingraph, "ingraph")
xi = rng.standard_normal((1, 3, 5, 6)).astype(np.float32)
u = (xi + shift) * mul
want = np.zeros((1, 4, 5, 4), np.float64)
for j in range(4):  # 1x3 kernel, no padding: output column j reads input columns j..j+2
    want[0, :, :, j] = np.einsum("ock,chk->oh", w[:, :, 0, :], u[0, :, :, j:j + 3]) + bias[:, None]
got = run(p_in, xi, "ingraph")
check(rel_l2(got, want) < 1e-5, f"in-graph Add/Mul folded into the conv: rel L2 {rel_l2(got, want):.2e}")
layers_in = [(l["op"], sorted(l["fused"])) for l in inspect(p_in)["layers"] if l["op"] != "Reorder"]
check(layers_in == [("Conv", ["Add", "Conv", "Mul"])], f"in-graph Add/Mul not folded: layers {layers_in}")

# ---- 3. errors ----
two_d = os.path.join(WORK, "two_d.onnx")
onnx.save(helper.make_model(helper.make_graph(
    [helper.make_node("Relu", ["v"], ["y"])], "g", [helper.make_tensor_value_info("v", TensorProto.FLOAT, [4, 3])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 3])]), opset_imports=[helper.make_opsetid("", 13)]),
    two_d)
two_in = os.path.join(WORK, "two_inputs.onnx")
onnx.save(helper.make_model(helper.make_graph(
    [helper.make_node("Add", ["a", "b"], ["y"])], "g",
    [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3, 4, 4]) for n in "ab"],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])]), opset_imports=[helper.make_opsetid("", 13)]),
    two_in)
out = os.path.join(WORK, "err.plan")
cases = [
    (MODEL, ["--mean=1,2"], 1, ["input 'input'", "3 channels", "--mean gives 2"]),
    (MODEL, ["--scale=1,2,3,4"], 1, ["input 'input'", "3 channels", "--scale gives 4"]),
    (MODEL, ["--scale=1,0,1"], 2, ["--scale", "zero"]),
    (MODEL, ["--mean=a,b,c"], 2, ["--mean", "'a'", "not a finite number"]),
    (MODEL, ["--mean=1,,3"], 2, ["--mean", "not a finite number"]),
    (MODEL, ["--mean=inf,1,1"], 2, ["--mean", "not a finite number"]),
    (MODEL, ["--inputLayout=NHCW"], 2, ["--inputLayout", "NHCW", "NHWC or NCHW"]),
    (MODEL, ["--inputType=i16"], 2, ["--inputType", "i16", "u8 or f32"]),
    (MODEL, ["--mean=1,2,3", "--mean=4,5,6"], 2, ["--mean", "twice"]),
    (MODEL, ["--mean=nosuch:1,2,3"], 1, ["'nosuch'", "'input'"]),
    (MODEL, ["--reverseInputChannels=nosuch"], 1, ["'nosuch'"]),
    (MODEL, ["--mean=1,2,3", "--scale=input:1,2,3", "--mean=input:1,2,3"], 1, ["input 'input'", "--mean twice"]),
    (two_d, ["--inputLayout=NHWC"], 1, ["input 'v'", "rank 2", "4-D"]),
    (two_in, ["--mean=1,2,3"], 1, ["2 inputs", "'a'", "'b'", "name the input"]),
]
for model, flags, code, words in cases:
    p = kiln("compile", L0, model, "-o", out, *flags)
    what = f"kiln compile {os.path.basename(model)} {' '.join(flags)}"
    check(p.returncode == code, f"{what}: exit {p.returncode}, expected {code}: {p.stderr.strip()}")
    check(p.stderr.startswith("error: ") and all(w in p.stderr for w in words),
          f"{what}: stderr {p.stderr.strip()!r} lacks {words}")
    check("Traceback" not in p.stderr and "internal" not in p.stderr, f"{what}: {p.stderr.strip()}")
# Naming each input of a multi-input model works, and each gets its own normalisation.
p_two = compile_plan(two_in, "two_inputs", "--mean=a:1,2,3", "--scale=b:2,4,8", "--inputType=b:u8")
a = rng.standard_normal((1, 3, 4, 4)).astype(np.float32)
bu = rng.integers(0, 256, size=(1, 3, 4, 4), dtype=np.uint8)
np.save(os.path.join(WORK, "a.npy"), a)
np.save(os.path.join(WORK, "b.npy"), bu)
p = kiln("run", "--loadEngine=" + p_two, f"--loadInputs=a:{WORK}/a.npy,b:{WORK}/b.npy",
         f"--exportOutput={WORK}/two_out", "--iterations=1", "--duration=0", "--warmUp=0")
check(p.returncode == 0, f"two-input run: {p.stderr}")
if p.returncode == 0:
    y = np.load(os.path.join(WORK, "two_out", "y.npy"))
    want = (a - np.array([1, 2, 3], np.float32)[None, :, None, None]) + \
        bu.astype(np.float32) / np.array([2, 4, 8], np.float32)[None, :, None, None]
    check(rel_l2(y, want) < 1e-6, f"two-input pre-processing: rel L2 {rel_l2(y, want):.2e}")

print(f"{passes} checks passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
