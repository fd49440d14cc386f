#!/usr/bin/env python3
"""Which CPUs of the lent AMX machine give stable timings? Exports torchvision ResNet-50, compiles
one kiln bf16 plan, and times `kiln run` pinned to several CPU pairs, a few times
each, printing the per-run medians. Used to choose device_bench's --cpus; writes OUT/cpu_probe.json.
  python3 benchmarks/device_cpu_probe.py --out $OUT [--pairs 0,1:2,3:4,5]
"""
import argparse, json, os, subprocess, sys
import torch, torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILN = os.path.join(ROOT, ".device", "bin", "kiln")
ENV = dict(os.environ, LD_LIBRARY_PATH=os.path.join(ROOT, ".device", "lib"))

ap = argparse.ArgumentParser()
ap.add_argument("--out", required=True)
ap.add_argument("--pairs", default="0,1:2,3:4,5:6,7:2,10:5,13:8,9:14,15")
ap.add_argument("--repeats", type=int, default=3)
a = ap.parse_args()
work = "/tmp/kiln_cpu_probe"
os.makedirs(work, exist_ok=True)
torch.manual_seed(0)
onnx = os.path.join(work, "r50.onnx")
torch.onnx.export(torchvision.models.resnet50().eval(), (torch.randn(1, 3, 224, 224),), onnx, opset_version=17, dynamo=False)
plan = os.path.join(work, "r50_bf16.plan")
subprocess.run([KILN, "compile", onnx, "-o", plan, "--bf16", "--threads=2"], env=ENV, check=True, capture_output=True)
res = {"lscpu": subprocess.run(["lscpu", "-e"], capture_output=True, text=True).stdout, "runs": {}}
print(res["lscpu"])
for rep in range(a.repeats):
    for pair in a.pairs.split(":"):
        p = subprocess.run(["taskset", "-c", pair, KILN, "run", f"--loadEngine={plan}", "--threads=2", "--iterations=40",
                            "--warmUp=300", "--json"], env=ENV, capture_output=True, text=True, check=True)
        lat = json.loads(p.stdout)["latency_ms"]
        res["runs"].setdefault(pair, []).append([round(lat["median"], 2), round(lat["min"], 2)])
        print(pair, res["runs"][pair][-1], flush=True)
json.dump(res, open(os.path.join(a.out, "cpu_probe.json"), "w"), indent=1)
