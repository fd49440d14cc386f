#!/usr/bin/env python3
"""int8 plans run from the mapped plan file (4 KiB page-cache pages, the default) against the same plan
copied into anonymous memory with MADV_HUGEPAGE (2 MiB pages), alternating runs, on the device. It asks
whether streaming 81 MiB of BERT weights per inference is held back by 4 KiB pages (TLB walks, and
hardware prefetchers that stop at page boundaries).

Run on the device from the project root, carrying .device: `python3 benchmarks/device_hugepage_ab.py
[resnet50,bert_hf]`, results in $OUT/ab_hugepage.json (AB_ROUNDS, AB_SECONDS). A level-1 plan already
in /tmp/kd (device_level_ab.py's) is reused. Here, as a dry run:
`python3 benchmarks/device_hugepage_ab.py PLAN build/bin/kiln`.
"""
import json, os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import device_bench as db
out = os.environ.get("OUT", "/tmp/abo"); work = "/tmp/kd"; os.makedirs(work, exist_ok=True); os.makedirs(out, exist_ok=True)
local = len(sys.argv) > 2
env = db.kiln_env()
pin = [] if local else ["taskset", "-c", "2,3"]
plans = {}
if local:
    plans["plan"], db.KILN = sys.argv[1:3]
else:
    for name in (sys.argv[1] if len(sys.argv) > 1 else "resnet50,bert_hf").split(","):
        plan = os.path.join(work, f"{name}_l1.plan")
        if not os.path.exists(plan):
            m = db.make_models(work, [name])[name]
            calib = db.write_calib(m, work, name)
            t = time.time()
            subprocess.run(pin + [db.KILN, "compile", m["path"], "-o", plan, "--builderOptimizationLevel=1", "--threads=2",
                                  "--shapes=" + m["shapes"], "--int8", "--calib=" + calib], env=env, check=True,
                           capture_output=True)
            print(f"{plan}: {time.time() - t:.0f} s", flush=True)
        plans[name] = plan
res = {"thp": {f: open(f"/sys/kernel/mm/transparent_hugepage/{f}").read().strip() for f in ("enabled", "defrag")}}
for name, plan in plans.items():
    p = subprocess.run([db.KILN, "run", "--loadEngine=" + plan, "--threads=2", "--iterations=3"],
                       env={**env, "KILN_HUGE_PAGES": "1", "KILN_HUGE_PAGES_DEBUG": "1"}, capture_output=True, text=True)
    res[name + "_smaps"] = [l for l in (p.stdout + p.stderr).splitlines() if l.startswith(("Rss", "AnonHugePages"))]
    print(name, res[name + "_smaps"], flush=True)
    res[name] = db.alternate({"mapped": plan, "huge": (plan, {"KILN_HUGE_PAGES": "1"})},
                             int(os.environ.get("AB_ROUNDS", "8")), os.environ.get("AB_SECONDS", "3"), pin, env)
    print(name, json.dumps({k: v for k, v in res[name].items() if k != "rounds"}), flush=True)
json.dump(res, open(os.path.join(out, "ab_hugepage.json"), "w"), indent=1)
