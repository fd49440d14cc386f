#!/usr/bin/python3
"""Timed tactic selection through the CLI, against torch.

Exports a small CNN (3x3 stride-1 convs that Winograd applies to, a residual add, max pooling, a
1x1 conv, global average pooling, a linear layer) and checks:
- a tuned build (--builderOptimizationLevel=3 --timingCacheFile) records a timed tactic, with
  runner-ups fastest first, for every heavy layer, and --verbose prints the tactic table and the
  build time;
- warm rebuilds time nothing and are byte-identical to each other and to the cold build;
- the plan matches torch, also under DNNL_MAX_CPU_ISA=AVX2, where the AVX-512 tactics are missing:
  the runtime re-selects, warns once, and still matches torch; `kiln run --retune` too;
- a damaged timing cache is reported, ignored and rewritten; a level outside 0..5 is a usage error;
- --noBuilderCache times every candidate where it appears and cannot go with --timingCacheFile;
- level 0 records the heuristic's tactic per layer, untimed.

usage: tune.py KILN WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch

KILN, WORK = sys.argv[1:3]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
torch.manual_seed(0)
fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)
    return cond


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 32, 3, padding=1)
        self.b = torch.nn.Conv2d(32, 32, 3, padding=1)
        self.c = torch.nn.Conv2d(32, 64, 1)
        self.fc = torch.nn.Linear(64, 10)

    def forward(self, x):
        x = torch.relu(self.a(x))
        x = torch.relu(self.b(x) + x)
        x = torch.nn.functional.max_pool2d(x, 2)
        x = torch.relu(self.c(x))
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


net = Net().eval()
model = os.path.join(WORK, "net.onnx")
torch.onnx.export(net, torch.randn(1, 3, 32, 32), model, input_names=["x"], output_names=["y"], opset_version=17)
x = np.random.RandomState(1).uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)
xin = os.path.join(WORK, "x.npy")
np.save(xin, x)
with torch.no_grad():
    want = net(torch.from_numpy(x)).numpy()
cache = os.path.join(WORK, "timing.cache")


def kiln(*args, env=None):
    return subprocess.run([KILN, *args], capture_output=True, text=True, env=env)


def compile_tuned(out, *extra):
    return kiln("compile", model, "-o", out, "--builderOptimizationLevel=3", "--timingCacheFile=" + cache,
                "--threads=2", *extra)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def matches_torch(plan, tag, *flags, env=None):
    out = os.path.join(WORK, "out_" + tag)
    r = kiln("run", "--loadEngine=" + plan, "--loadInputs=x:" + xin, "--exportOutput=" + out, "--iterations=2",
             "--duration=0", "--warmUp=0", *flags, env=env)
    if not check(r.returncode == 0, f"{tag}: run failed: {r.stderr}"):
        return r
    got = np.load(os.path.join(out, "y.npy"))
    err = float(np.max(np.abs(got - want) / (1 + np.abs(want))))
    check(err < 1e-4, f"{tag}: differs from torch by {err}")
    return r


# Cold build: everything timed, the table and the build time printed.
cold = os.path.join(WORK, "cold.plan")
r = compile_tuned(cold, "--verbose")
check(r.returncode == 0, f"cold compile failed: {r.stderr}")
check("tactics (--builderOptimizationLevel=3):" in r.stderr and "total build" in r.stderr,
      f"--verbose printed no tactic table or build time: {r.stderr[-2000:]}")
check(" 0 candidates measured" not in r.stderr, "the cold build measured nothing")
check(read(cache).startswith(b"kiln-timing-cache 1\n"), "the timing cache has no versioned header")

# Warm builds: nothing timed, identical bytes.
warm = [os.path.join(WORK, f"warm{i}.plan") for i in range(2)]
for p in warm:
    r = compile_tuned(p, "--verbose")
    check(r.returncode == 0 and ", 0 candidates measured," in r.stderr, f"warm build timed something: {r.stderr[-1500:]}")
check(read(warm[0]) == read(warm[1]), "two warm builds differ")
check(read(warm[0]) == read(cold), "the warm build differs from the cold one")

# The plan records a timed tactic per heavy layer.
info = json.loads(kiln("inspect", "--json", warm[0]).stdout)
check(info["builder_level"] == 3, f"builder_level {info['builder_level']}")
heavy = [l for l in info["layers"] if l["op"] in ("Conv", "Gemm", "MatMul", "MaxPool", "GlobalAveragePool")]
check(len(heavy) >= 6, f"expected at least 6 heavy layers, got {[l['op'] for l in info['layers']]}")
for l in heavy:
    check(l["tactic"] and l["tactic"] == l["planned_tactic"], f"{l['name']}: tactic {l['tactic']!r}")
    check(l["time_us"] > 0, f"{l['name']}: not timed")
    times = [u["time_us"] for u in l["runner_ups"]]
    check(times == sorted(times), f"{l['name']}: runner-ups not fastest first: {times}")
    check(all(t >= l["time_us"] * 0.97 for t in times),
          f"{l['name']}: a runner-up beat the winner by more than the noise margin: {l}")
convs = [l for l in heavy if l["op"] == "Conv"]
check(all(l["weights_format"] for l in convs), "a conv layer records no weights format")
text = kiln("inspect", warm[0]).stdout
check(convs and convs[0]["tactic"] in text, "text inspect does not show the tactic")
matches_torch(warm[0], "tuned")

# Another ISA: AVX-512 tactics are missing under AVX2; one warning, correct output.
env = dict(os.environ, DNNL_MAX_CPU_ISA="AVX2", ONEDNN_MAX_CPU_ISA="AVX2")
r = matches_torch(warm[0], "avx2", env=env)
lines = [l for l in r.stderr.splitlines() if "tactics are not available on this CPU" in l]
check(len(lines) == 1, f"expected one re-selection warning under AVX2, got: {r.stderr}")
check(lines and "plan tuned for avx512" in lines[0] and "running on avx2" in lines[0], f"warning text: {lines}")
avx2 = json.loads(kiln("inspect", "--json", warm[0], env=env).stdout)
check(any(l["tactic"] != l["planned_tactic"] for l in avx2["layers"]), "under AVX2 no layer was re-selected")
check(all("avx512" not in l["tactic"] for l in avx2["layers"]), "an AVX-512 tactic runs under AVX2")
# The plan's nChw16c convs have only oneDNN's reference kernel on AVX2 (~1000x slower); they must
# run an AVX2 kernel between reorders instead.
avx2_convs = [l for l in avx2["layers"] if l["op"] == "Conv" and l["kernel"] == "onednn"]
check(avx2_convs and all(not l["tactic"].startswith("ref") for l in avx2_convs),
      f"a conv runs oneDNN's reference kernel under AVX2: {[l['tactic'] for l in avx2_convs]}")

# --retune: re-selects every layer here, warns about nothing, still correct.
r = matches_torch(warm[0], "retune", "--retune")
check("not available on this CPU" not in r.stderr, f"--retune warned: {r.stderr}")

# A damaged cache is reported, ignored (everything timed again) and rewritten.
data = bytearray(read(cache))
data[len(data) // 2] ^= 0x01
with open(cache, "wb") as f:
    f.write(data)
r = compile_tuned(os.path.join(WORK, "after_damage.plan"), "--verbose")
check(r.returncode == 0 and "timing cache ignored" in r.stderr and cache in r.stderr,
      f"damaged cache not reported: {r.stderr[-1500:]}")
check(" 0 candidates measured" not in r.stderr, "a damaged cache was trusted")
r = compile_tuned(os.path.join(WORK, "after_rewrite.plan"), "--verbose")
check("timing cache ignored" not in r.stderr and ", 0 candidates measured," in r.stderr,
      f"the cache was not rewritten: {r.stderr[-1500:]}")

# --noBuilderCache: every candidate timed where it appears, none taken from any cache (the level-3
# layout choice times the plain graph's layers again), and no file beside it.
nocache = os.path.join(WORK, "nocache.plan")
r = kiln("compile", model, "-o", nocache, "--builderOptimizationLevel=3", "--threads=2", "--noBuilderCache", "--verbose")
check(r.returncode == 0 and ", 0 from the timing cache," in r.stderr and " 0 candidates measured" not in r.stderr,
      f"--noBuilderCache: {r.stderr[-1500:]}")
matches_torch(nocache, "nocache")
r = kiln("compile", model, "-o", nocache, "--noBuilderCache", "--timingCacheFile=" + cache)
check(r.returncode == 2 and "--noBuilderCache" in r.stderr, f"--noBuilderCache with a file: exit {r.returncode} {r.stderr}")

# Level 0: the heuristic's tactic per layer, nothing timed.
r = kiln("compile", model, "-o", os.path.join(WORK, "l0.plan"), "--builderOptimizationLevel=0")
check(r.returncode == 0, f"level 0 failed: {r.stderr}")
l0 = json.loads(kiln("inspect", "--json", os.path.join(WORK, "l0.plan")).stdout)
check(l0["builder_level"] == 0, "level 0 not recorded")
for l in l0["layers"]:
    if l["op"] == "Conv":
        check(l["tactic"] and l["time_us"] == 0 and not l["runner_ups"], f"level 0 {l['name']}: {l}")

r = kiln("compile", model, "-o", os.path.join(WORK, "bad.plan"), "--builderOptimizationLevel=6")
check(r.returncode == 2 and "builderOptimizationLevel" in r.stderr, f"level 6: exit {r.returncode} {r.stderr}")

if fails:
    print("\n".join("FAIL: " + f for f in fails))
    sys.exit(1)
print("tune: all checks passed")
