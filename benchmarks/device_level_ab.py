#!/usr/bin/env python3
"""An int8 plan built untimed (level 0: each kernel's first choice) against the same model tuned at
level 1 (oneDNN's implementations timed layer by layer), on the device: the layers whose tactic the
tuner changed, with the times it measured, then alternating runs of both plans. It shows whether
build-time timings (one layer alone, its data hot in cache) pick what is faster inside the model.

Run on the device from the project root, carrying .device (../shared/device.md):
`python3 benchmarks/device_level_ab.py [resnet50|bert_hf]`, results in $OUT/ab_level_MODEL.json
(AB_ROUNDS, AB_SECONDS: rounds and seconds per run). Here, as a dry run:
`python3 benchmarks/device_level_ab.py MODEL.onnx CALIB_DIR SHAPES build/bin/kiln`.
"""
import json, os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import device_bench as db
out = os.environ.get("OUT", "/tmp/abo"); work = "/tmp/kd"; os.makedirs(work, exist_ok=True); os.makedirs(out, exist_ok=True)
local = len(sys.argv) > 2
if local:  # a dry run here: python3 device_level_ab.py MODEL.onnx CALIB SHAPES KILN
    path, calib, shapes, db.KILN = sys.argv[1:5]
    name = os.path.splitext(os.path.basename(path))[0]
else:
    name = sys.argv[1] if len(sys.argv) > 1 else "resnet50"
    m = db.make_models(work, [name])[name]
    path, calib, shapes = m["path"], db.write_calib(m, work, name), m["shapes"]
env = db.kiln_env()
pin = ["taskset", "-c", "2,3"] if not local else []
plans = {}
for level in (0, 1):
    plans[f"level{level}"] = plan = os.path.join(work, f"{name}_l{level}.plan")
    t = time.time()
    subprocess.run(pin + [db.KILN, "compile", path, "-o", plan, f"--builderOptimizationLevel={level}", "--threads=2",
                          "--shapes=" + shapes, "--int8", "--calib=" + calib], env=env, check=True, capture_output=True)
    print(f"{plan}: {time.time() - t:.0f} s", flush=True)
layers = {k: json.loads(subprocess.run([db.KILN, "inspect", "--json", p], env=env, check=True, capture_output=True,
                                       text=True).stdout)["layers"] for k, p in plans.items()}
changed = [{"layer": a["name"], "level0": a["tactic"], "level1": b["tactic"], "level1_us": b["time_us"],
            "runner_ups": b["runner_ups"]}
           for a, b in zip(layers["level0"], layers["level1"]) if a["name"] == b["name"] and a["tactic"] != b["tactic"]]
for c in changed:
    print(c["layer"], c["level0"], "->", c["level1"], c["level1_us"], c["runner_ups"][:2], flush=True)
res = db.alternate(plans, int(os.environ.get("AB_ROUNDS", "6")), os.environ.get("AB_SECONDS", "3"), pin, env)
res["changed"] = changed
json.dump(res, open(os.path.join(out, f"ab_level_{name}.json"), "w"), indent=1)
print(json.dumps({k: v for k, v in res.items() if k not in ("rounds", "changed")}))
