#!/usr/bin/python3
"""Optimisation profiles through the CLI, against torch.

Exports two torch models with dynamic axes: a small CNN (Conv/BatchNorm/ReLU/MaxPool, a residual
block, GlobalAveragePool, Linear) with dynamic batch, H and W, and a self-attention block
(LayerNorm, Q/K/V projections, softmax(Q K^T / 8) V, residual) with a dynamic sequence length.
Each is compiled once with --minShapes/--optShapes/--maxShapes; `kiln run --shapes` at several
shapes inside the profile must reproduce torch's output for the same input, and the build report
and `kiln inspect` must show the range. Shapes outside the profile exit 1 with an error naming the input, the shape
and the range; incomplete profile flags exit 1 naming the missing flag.

usage: profiles.py KILN WORKDIR
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


class Cnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16),
                                        torch.nn.ReLU(), torch.nn.MaxPool2d(2))
        self.a = torch.nn.Conv2d(16, 16, 3, padding=1)
        self.b = torch.nn.Conv2d(16, 16, 3, padding=1)
        self.fc = torch.nn.Linear(16, 10)

    def forward(self, x):
        x = self.stem(x)
        x = torch.relu(self.b(torch.relu(self.a(x))) + x)
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = torch.nn.LayerNorm(64)
        self.q = torch.nn.Linear(64, 64)
        self.k = torch.nn.Linear(64, 64)
        self.v = torch.nn.Linear(64, 64)

    def forward(self, x):
        h = self.ln(x)
        a = torch.softmax(torch.matmul(self.q(h), self.k(h).transpose(1, 2)) / 8.0, dim=-1)
        return torch.matmul(a, self.v(h)) + x


class Upsample(torch.nn.Module):
    """A segmentation-style head whose output size is computed from the input's shape: Shape ->
    Gather -> Mul -> Concat feeds Resize's sizes, a shape program under a profile."""

    def __init__(self):
        super().__init__()
        self.c = torch.nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        return torch.nn.functional.interpolate(self.c(x), size=(x.shape[2] * 2, x.shape[3] * 2), mode="bilinear",
                                               align_corners=False)


def export(model, example, axes, name, out_axes=None):
    model.eval()
    with torch.no_grad():
        for p in model.parameters():  # non-trivial BatchNorm statistics and biases
            p.add_(torch.randn_like(p) * 0.05)
        if isinstance(model, Cnn):
            model.stem[1].running_mean.uniform_(-0.2, 0.2)
            model.stem[1].running_var.uniform_(0.5, 1.5)
    path = os.path.join(WORK, name + ".onnx")
    torch.onnx.export(model, example, path, input_names=["x"], output_names=["y"], opset_version=17,
                      dynamic_axes={"x": axes, "y": out_axes or {a: n for a, n in axes.items() if a == 0}})
    return path


def kiln(*args):
    return subprocess.run([KILN, *args], capture_output=True, text=True)


def check_model(model, path, lo, opt, hi, shapes, bad_shapes):
    plan = path.replace(".onnx", ".plan")
    dims = lambda s: "x".join(map(str, s))
    r = kiln("compile", L0, path, "-o", plan, "--minShapes=x:" + dims(lo), "--optShapes=x:" + dims(opt),
             "--maxShapes=x:" + dims(hi), "--report=-")
    check(r.returncode == 0, f"{path}: compile with a profile failed: {r.stderr}")
    if r.returncode:
        return
    report = json.loads(r.stdout)
    check(report["options"]["min_shapes"] == {"x": lo} and report["options"]["max_shapes"] == {"x": hi},
          f"{plan}: report options {report['options']}")
    check(report["inputs"] == [{"name": "x", "dtype": "float32", "shape": opt, "min_shape": lo, "max_shape": hi}],
          f"{plan}: report inputs {report['inputs']}")
    r = kiln("inspect", "--json", plan)
    check(json.loads(r.stdout)["inputs"] == report["inputs"], f"{plan}: inspect --json inputs {r.stdout[:300]}")
    r = kiln("inspect", plan)
    check(f"(opt; profile {dims(lo)} to {dims(hi)})" in r.stdout, f"{plan}: inspect shows no profile: {r.stdout}")
    for i, shape in enumerate(shapes):
        x = np.random.RandomState(i).uniform(-1, 1, shape).astype(np.float32)
        xin, out = os.path.join(WORK, f"x{i}.npy"), os.path.join(WORK, f"out{i}")
        np.save(xin, x)
        r = kiln("run", "--loadEngine=" + plan, "--shapes=x:" + dims(shape), "--loadInputs=x:" + xin,
                 "--exportOutput=" + out, "--iterations=2", "--duration=0", "--warmUp=0")
        check(r.returncode == 0, f"{plan} at {dims(shape)}: run failed: {r.stderr}")
        if r.returncode:
            continue
        got = np.load(os.path.join(out, "y.npy"))
        with torch.no_grad():
            want = model(torch.from_numpy(x)).numpy()
        check(got.shape == want.shape, f"{plan} at {dims(shape)}: output shape {got.shape}, torch {want.shape}")
        if got.shape == want.shape:
            err = float(np.max(np.abs(got - want) / (1 + np.abs(want))))
            check(err < 1e-4, f"{plan} at {dims(shape)}: differs from torch by {err}")
    for shape in bad_shapes:
        r = kiln("run", "--loadEngine=" + plan, "--shapes=x:" + dims(shape), "--iterations=1", "--duration=0")
        want = f"error: input 'x': shape {dims(shape)} is outside the allowed range: the plan's profile allows " \
               f"{dims(lo)} to {dims(hi)}"
        check(r.returncode == 1 and want in r.stderr,
              f"{plan} at {dims(shape)}: exit {r.returncode}, stderr {r.stderr!r}, wanted {want!r}")


cnn = Cnn()
cnn_path = export(cnn, torch.randn(1, 3, 32, 32), {0: "batch", 2: "h", 3: "w"}, "cnn")
check_model(cnn, cnn_path, [1, 3, 16, 16], [2, 3, 64, 64], [4, 3, 96, 96],
            [[2, 3, 64, 64], [1, 3, 16, 16], [4, 3, 96, 96], [3, 3, 40, 72], [1, 3, 17, 95]],
            [[5, 3, 64, 64], [1, 3, 15, 64], [1, 3, 64, 97]])
att = Attention()
att_path = export(att, torch.randn(1, 16, 64), {1: "seq"}, "attention")
check_model(att, att_path, [1, 1, 64], [1, 32, 64], [1, 256, 64],
            [[1, 32, 64], [1, 1, 64], [1, 256, 64], [1, 100, 64], [1, 7, 64]], [[1, 257, 64], [2, 32, 64]])
up = Upsample()
up_path = export(up, torch.randn(1, 3, 16, 16), {2: "h", 3: "w"}, "upsample", out_axes={2: "h2", 3: "w2"})
check_model(up, up_path, [1, 3, 8, 8], [1, 3, 16, 16], [1, 3, 64, 64],
            [[1, 3, 16, 16], [1, 3, 24, 40], [1, 3, 8, 64], [1, 3, 64, 9]], [[1, 3, 65, 8]])

# Pre-processing and a profile together: the plan takes raw uint8 NHWC images of any size in the
# range, and the range itself is stated in that layout.
pplan = os.path.join(WORK, "cnn_pre.plan")
mean, scale = [120.0, 110.0, 100.0], [60.0, 55.0, 50.0]
r = kiln("compile", L0, cnn_path, "-o", pplan, "--minShapes=x:1x3x16x16", "--optShapes=x:2x3x64x64",
         "--maxShapes=x:4x3x96x96", "--mean=" + ",".join(map(str, mean)), "--scale=" + ",".join(map(str, scale)),
         "--reverseInputChannels", "--inputLayout=NHWC", "--inputType=u8")
check(r.returncode == 0, f"{pplan}: compile with a profile and pre-processing failed: {r.stderr}")
r = kiln("inspect", pplan)
check("uint8[2x64x64x3] (opt; profile 1x16x16x3 to 4x96x96x3)" in r.stdout, f"{pplan}: inspect: {r.stdout[:400]}")
for i, shape in enumerate([[3, 40, 72, 3], [1, 96, 96, 3]]):
    img = np.random.RandomState(10 + i).randint(0, 256, shape).astype(np.uint8)
    xin, out = os.path.join(WORK, f"img{i}.npy"), os.path.join(WORK, f"img_out{i}")
    np.save(xin, img)
    r = kiln("run", "--loadEngine=" + pplan, "--shapes=x:" + "x".join(map(str, shape)), "--loadInputs=x:" + xin,
             "--exportOutput=" + out, "--iterations=1", "--duration=0", "--warmUp=0")
    check(r.returncode == 0, f"{pplan} at {shape}: run failed: {r.stderr}")
    if r.returncode == 0:
        # NHWC -> NCHW, BGR -> RGB (reversal happens before mean/scale, which are in model order).
        x = img.astype(np.float32).transpose(0, 3, 1, 2)[:, ::-1]
        x = (x - np.array(mean, np.float32)[None, :, None, None]) / np.array(scale, np.float32)[None, :, None, None]
        with torch.no_grad():
            want = cnn(torch.from_numpy(np.ascontiguousarray(x))).numpy()
        got = np.load(os.path.join(out, "y.npy"))
        err = float(np.max(np.abs(got - want) / (1 + np.abs(want)))) if got.shape == want.shape else 1e9
        check(err < 1e-4, f"{pplan} at {shape}: differs from torch on the normalised image by {err}")

# An incomplete profile is refused, naming the flag that lacks the input.
r = kiln("compile", L0, cnn_path, "-o", os.path.join(WORK, "bad.plan"), "--minShapes=x:1x3x16x16",
         "--optShapes=x:2x3x64x64")
check(r.returncode == 1 and "--maxShapes does not name input 'x'" in r.stderr, f"incomplete profile: {r.stderr}")

if fails:
    print("\n".join("FAIL: " + f for f in fails))
    sys.exit(1)
print("profiles: all checks passed")
