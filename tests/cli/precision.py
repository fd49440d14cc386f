#!/usr/bin/python3
"""Reduced precision through the CLI, against torch fp32 on the same weights.

Exports a small CNN (convs with a residual add, max pooling, global average pooling, a linear
layer) and a small attention block (LayerNorm, MatMul, Softmax, GELU), and checks:
- --bf16 plans (levels 0 and 3) record bf16 layers (`kiln inspect`, text and JSON), convert once
  at the input, keep the declared fp32 inputs/outputs, store bf16 weights, and match torch within
  bf16's precision (rel. L2 <= 0.03) where the CPU has native bf16; elsewhere they stay fp32 with
  a warning;
- --fp16 plans are at most 0.55x the fp32 plan's size and within 5e-3 of torch;
- --bf16 --fp16 and --best build and run;
- pins: --layerPrecisions=NAME:fp32 keeps that layer fp32; a pattern naming no layer, an unknown
  precision, int8, an unknown --precisionConstraints and a malformed spec are usage errors (exit 2)
  with a message naming the flag;
- the plan from a v4 build round-trips through inspect and run.

usage: precision.py KILN WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch

KILN, WORK = sys.argv[1:3]
# Nothing here depends on tuning, and level 0 (nothing timed) builds fastest.
L0 = "--builderOptimizationLevel=0"
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
torch.manual_seed(0)
fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)
    return cond


def kiln(*args):
    return subprocess.run([KILN, *args], capture_output=True, text=True)


class Cnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 32, 3, padding=1)
        self.b = torch.nn.Conv2d(32, 32, 3, padding=1)
        self.c = torch.nn.Conv2d(32, 64, 3, padding=1, stride=2)
        self.fc = torch.nn.Linear(64, 10)

    def forward(self, x):
        x = torch.relu(self.a(x))
        x = torch.relu(self.b(x) + x)
        x = torch.nn.functional.max_pool2d(x, 2)
        x = torch.relu(self.c(x))
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


class Attn(torch.nn.Module):
    def __init__(self, d=64, h=4):
        super().__init__()
        self.h, self.dh = h, d // h
        self.q, self.k, self.v, self.o = (torch.nn.Linear(d, d) for _ in range(4))
        self.ln = torch.nn.LayerNorm(d)
        self.ff = torch.nn.Sequential(torch.nn.Linear(d, 4 * d), torch.nn.GELU(), torch.nn.Linear(4 * d, d))

    def forward(self, x):
        b, s, d = x.shape
        split = lambda t: t.view(b, s, self.h, self.dh).permute(0, 2, 1, 3)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        p = torch.softmax(q @ k.transpose(-1, -2) / self.dh ** 0.5, dim=-1)
        ctx = (p @ v).permute(0, 2, 1, 3).reshape(b, s, d)
        x = self.ln(x + self.o(ctx))
        return x + self.ff(x)


def export(net, shape, name):
    net = net.eval()
    path = os.path.join(WORK, name + ".onnx")
    torch.onnx.export(net, torch.randn(*shape), path, input_names=["x"], output_names=["y"], opset_version=17)
    x = np.random.RandomState(1).uniform(-1, 1, shape).astype(np.float32)
    xin = os.path.join(WORK, name + "_x.npy")
    np.save(xin, x)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    return path, xin, want


def run(plan, xin, tag):
    out = os.path.join(WORK, "out_" + tag)
    r = kiln("run", "--loadEngine=" + plan, "--loadInputs=x:" + xin, "--exportOutput=" + out, "--iterations=2",
             "--duration=0", "--warmUp=0")
    if not check(r.returncode == 0, f"{tag}: run failed: {r.stderr}"):
        return None
    return np.load(os.path.join(out, "y.npy"))


def rel_l2(a, b):
    return float(np.linalg.norm((a - b).ravel()) / np.linalg.norm(b.ravel()))


native = None
for name, net, shape in (("cnn", Cnn(), (1, 3, 32, 32)), ("attn", Attn(), (1, 16, 64))):
    model, xin, want = export(net, shape, name)
    plans = {}
    for tag, flags in (("fp32", [L0]), ("bf16", ["--bf16", L0]), ("bf16_l3", ["--bf16", "--builderOptimizationLevel=3"]),
                       ("fp16", ["--fp16", L0]), ("bf16fp16", ["--bf16", "--fp16", L0]), ("best", ["--best", L0])):
        plan = os.path.join(WORK, f"{name}_{tag}.plan")
        r = kiln("compile", model, "-o", plan, "--threads=2", *flags)
        if not check(r.returncode == 0, f"{name} {tag}: compile failed: {r.stderr}"):
            continue
        plans[tag] = plan
        if tag == "bf16":
            check("kiln: precision:" in r.stderr, f"{name}: --bf16 printed no precision summary: {r.stderr}")
            if native is None:
                native = "no bfloat16 instructions" not in r.stderr
        got = run(plan, xin, f"{name}_{tag}")
        if got is None:
            continue
        err = rel_l2(got, want)
        limit = 1e-4 if tag == "fp32" else 5e-3 if tag == "fp16" else 0.03
        check(err <= limit, f"{name} {tag}: rel. L2 vs torch {err:.2e} > {limit}")
        if tag != "fp32" and native:
            check(err > 0, f"{name} {tag}: bit-identical to torch fp32, so nothing ran in reduced precision")
    if "fp32" not in plans or "bf16" not in plans:
        continue
    info = json.loads(kiln("inspect", "--json", plans["bf16"]).stdout)
    check(info["schema_version"] >= 4, f"schema_version {info['schema_version']}")
    check(info["inputs"][0]["dtype"] == "float32" and info["outputs"][0]["dtype"] == "float32",
          f"{name}: graph I/O changed type: {info['inputs']} {info['outputs']}")
    heavy = [l for l in info["layers"] if l["op"] in ("Conv", "MatMul", "Gemm")]
    if native:
        check(heavy and all(l["precision"] == "bfloat16" for l in heavy),
              f"{name}: heavy layers not bf16: {[(l['name'], l['precision']) for l in heavy]}")
        check(info["precision_counts"].get("bfloat16", 0) >= len(heavy), f"{name}: {info['precision_counts']}")
        check(all(l["kernel"] != "reference" for l in heavy), f"{name}: a bf16 layer runs the reference kernel")
        f32_size, bf16_size = os.path.getsize(plans["fp32"]), os.path.getsize(plans["bf16"])
        check(bf16_size < 0.6 * f32_size, f"{name}: bf16 plan {bf16_size} B is not about half of fp32 {f32_size} B")
        text = kiln("inspect", plans["bf16"]).stdout
        check("precision: bfloat16:" in text, f"{name}: text inspect shows no precision summary")
    else:
        check(all(l["precision"] == "float32" for l in heavy), f"{name}: bf16 chosen on a CPU without bf16")
    if "fp16" in plans:
        ratio = os.path.getsize(plans["fp16"]) / os.path.getsize(plans["fp32"])
        check(ratio <= 0.55, f"{name}: --fp16 plan is {ratio:.2f}x the fp32 plan (want <= 0.55)")

# A bf16 plan on a CPU without AVX-512 (oneDNN capped at AVX2): a clear error, no crash.
if native:
    env = dict(os.environ, DNNL_MAX_CPU_ISA="AVX2", ONEDNN_MAX_CPU_ISA="AVX2")
    r = subprocess.run([KILN, "run", "--loadEngine=" + os.path.join(WORK, "cnn_bf16.plan"), "--iterations=1",
                        "--warmUp=0", "--duration=0"], capture_output=True, text=True, env=env)
    check(r.returncode == 1 and r.stderr.startswith("error: ") and "bfloat16" in r.stderr and "--bf16" in r.stderr,
          f"bf16 plan under AVX2: exit {r.returncode}: {r.stderr[-500:]}")

# Pins and bad combinations.
model, xin, want = os.path.join(WORK, "cnn.onnx"), os.path.join(WORK, "cnn_x.npy"), None
pinned = os.path.join(WORK, "pinned.plan")
info = json.loads(kiln("inspect", "--json", os.path.join(WORK, "cnn_bf16.plan")).stdout)
convs = [l["name"] for l in info["layers"] if l["op"] == "Conv"]
if check(len(convs) >= 2, f"expected convs in {info['layers']}"):
    r = kiln("compile", L0, model, "-o", pinned, "--bf16", f"--layerPrecisions={convs[1]}:fp32")
    if check(r.returncode == 0, f"pinned compile failed: {r.stderr}"):
        layers = {l["name"]: l for l in json.loads(kiln("inspect", "--json", pinned).stdout)["layers"]}
        check(layers[convs[1]]["precision"] == "float32", f"pinned layer is {layers[convs[1]]['precision']}")
        if native:
            check(layers[convs[0]]["precision"] == "bfloat16", "the unpinned conv left bf16")
bad = [
    (["--bf16", "--layerPrecisions=nosuch*:fp32"], "names no layer"),
    (["--bf16", "--layerPrecisions=x:fp8"], "unknown precision"),
    (["--layerPrecisions=x:int8"], "int8"),
    (["--bf16", "--precisionConstraints=always"], "--precisionConstraints"),
    (["--bf16", "--layerPrecisions=fp32"], "NAME:PRECISION"),
    (["--layerOutputTypes=*:fp16"], "--layerOutputTypes"),
]
for flags, words in bad:
    out = os.path.join(WORK, "bad.plan")
    r = kiln("compile", L0, model, "-o", out, *flags)
    check(r.returncode == 2, f"{flags}: exit {r.returncode}, want 2 (usage error): {r.stderr}")
    check(r.stderr.startswith("error: ") and words in r.stderr, f"{flags}: message lacks '{words}': {r.stderr}")
    check(not os.path.exists(out), f"{flags}: a plan was written")

if fails:
    print("\n".join(fails))
    sys.exit(1)
print(f"precision: all checks passed (native bf16: {native})")
