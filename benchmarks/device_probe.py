#!/usr/bin/env python3
"""Probe on the AMX machine: ResNet-50 bf16 in each conv-region layout (--activationLayout), then
kiln bf16 at builder levels 0 and 1 against ORT fp32, alternated, with the tactics each level
picked. Usage (there, after ../shared/device/pack.sh here): device_probe.py OUT"""
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import device_bench as db  # noqa: E402

out = sys.argv[1]
work = "/tmp/kiln_device_probe"
os.makedirs(work, exist_ok=True)
models = db.make_models(work)
log = open(os.path.join(out, "probe.txt"), "w")
r = models["resnet50"]
for layout in ("blocked", "plain", "nhwc"):
    plan = db.kiln_compile(r, work, f"r50_bf16_{layout}", [f"--shapes={r['shapes']}", "--bf16",
                                                            f"--activationLayout={layout}"], 0, [])
    ms = sorted(db.kiln_time(plan, 2, 30) for _ in range(3))[1]
    log.write(f"resnet50 bf16 --activationLayout={layout}: {ms:.2f} ms at 2 threads\n")
for name, m in models.items():
    plans = {}
    for lv in (0, 1):
        plans[lv] = db.kiln_compile(m, work, f"{name}_bf16_l{lv}", [f"--shapes={m['shapes']}", "--bf16"], lv, [])
        with open(os.path.join(out, f"inspect_{name}_l{lv}.txt"), "w") as f:
            f.write(subprocess.run([db.KILN, "inspect", plans[lv]], env=db.kiln_env(), capture_output=True,
                                   text=True).stdout)
    sess = db.ort_session(m["path"], 2)
    t = {"l0": [], "l1": [], "ort": []}
    for r in range(5):
        t["l0"].append(db.kiln_time(plans[0], 2, 30))
        t["l1"].append(db.kiln_time(plans[1], 2, 30))
        t["ort"].append(db.ort_time(sess, m["feeds"], 20)[0])
    med = {k: statistics.median(v) for k, v in t.items()}
    log.write(f"{name} 2 threads medians ms: {med}; ratios vs ORT fp32: "
              f"l0 {med['ort'] / med['l0']:.2f}x, l1 {med['ort'] / med['l1']:.2f}x; rounds {t}\n")
    log.flush()
log.close()
print(open(os.path.join(out, "probe.txt")).read())
