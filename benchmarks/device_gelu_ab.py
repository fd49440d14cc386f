#!/usr/bin/env python3
"""BERT int8 on the device: the FFN-up GELU's three forms end to end, alternating runs of their plans:
kiln's byte table over quantized pre-activations after the matmul (table, the default), kiln's float
pass after the matmul (gelu-split), and oneDNN's post-op (gelu-postop).

A level-2 build fills a timing cache; in a copy per form the other forms' entries are made slow (and
the cache resealed), so the builds differ only in that layer's form. Run on the device from the
project root, carrying .device (../shared/device.md): `python3 benchmarks/device_gelu_ab.py`, results in
$OUT/ab_gelu.json (AB_ROUNDS, AB_SECONDS: rounds and seconds per run; AB_FORMS: a comma list of
table, split, postop). Here, as a dry run:
`python3 benchmarks/device_gelu_ab.py MODEL.onnx CALIB_DIR SHAPES build/bin/kiln`.
"""
import json, os, re, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import device_bench as db
out = os.environ.get("OUT", "/tmp/abo"); work = "/tmp/kd"; os.makedirs(work, exist_ok=True); os.makedirs(out, exist_ok=True)
local = len(sys.argv) > 1
if local:  # a dry run here: python3 ab.py MODEL.onnx CALIB SHAPES KILN
    path, calib, shapes, db.KILN = sys.argv[1:5]
else:
    m = db.make_models(work, ["bert_hf"])["bert_hf"]
    path, calib, shapes = m["path"], db.write_calib(m, work, "bert_hf"), m["shapes"]
env = db.kiln_env()
pin = ["taskset", "-c", "2,3"] if not local else []
def compile(plan, cache, level):
    t = time.time()
    p = subprocess.run(pin + [db.KILN, "compile", path, "-o", plan, f"--builderOptimizationLevel={level}", "--threads=2",
                        "--shapes=" + shapes, "--int8", "--calib=" + calib, "--timingCacheFile=" + cache, "-v"],
                       env=env, capture_output=True, text=True)
    if p.returncode: raise SystemExit(p.stderr[-2000:])
    rows = [l for l in p.stderr.splitlines() if re.search(r"(intermediate|ffn_in)\S*MatMul\s+MatMul", l)]
    print(f"{plan}: {time.time() - t:.0f} s; {rows[0] if rows else 'no row'}", flush=True)
    return p.stderr
cache = os.path.join(work, "tc.txt")
if os.path.exists(cache): os.remove(cache)
log = compile(os.path.join(work, "l2.plan"), cache, 2)
open(os.path.join(out, "l2_compile.txt"), "w").write(log[-100000:])
lines = open(cache).read().splitlines()
def fnv1a(b):
    h = 1469598103934665603  # kiln's offset (timing_cache.cpp)
    for x in b:
        h = ((h ^ x) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h
def form(l):
    return "postop" if "gelu-postop/" in l else "split" if "gelu-split/" in l else "table"
def forced(keep):  # the other forms' entries made slow, the cache resealed (count and FNV-1a of the body)
    c = os.path.join(work, f"tc_{keep}.txt")
    body = []
    for l in lines[:-1]:
        if "post_act=[11,]" in l and "qint8[" in l.split("out(")[-1] and form(l) != keep:
            l = "0x1p+30\t" + l.split("\t", 1)[1]
        body.append(l + "\n")
    text = "".join(body)
    with open(c, "w") as f:
        f.write(text + "end %d %016x\n" % (len(body) - 1, fnv1a(text.encode())))
    return c
plans = {}
for name in os.environ.get("AB_FORMS", "table,split,postop").split(","):
    plans[name] = os.path.join(work, f"{name}.plan")
    compile(plans[name], forced(name), 2)
res = db.alternate(plans, int(os.environ.get("AB_ROUNDS", "6")), os.environ.get("AB_SECONDS", "3"), pin, env)
json.dump(res, open(os.path.join(out, "ab_gelu.json"), "w"), indent=1)
print(json.dumps({k: v for k, v in res.items() if k != "rounds"}))
