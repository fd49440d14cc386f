#!/usr/bin/python3
"""`kiln compile --check/--checkTolerance`: the accuracy gate against an fp32 reference plan.

- --check prints the per-output table and the input source on stderr and still writes the plan;
- a tolerance that is met writes the plan and a report whose "check" object holds the figures;
- a missed tolerance exits 1 with "error: MODEL: output 'output': ... exceeds/is below
  --checkTolerance ...; no plan was written" and leaves no plan file (the report is still written);
- the input sources: seeded random (default), --loadInputs (.npy), --calib (ONNX test-data sets);
- malformed tolerance specs are usage errors (exit 2); a --loadInputs input the model lacks is a
  clean error naming it.

usage: check.py KILN MODEL.onnx DATA_DIR WORKDIR   (DATA_DIR holds test_data_set_0/input_0.pb)
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

KILN, MODEL, DATA, WORK = sys.argv[1:5]
# Nothing here depends on tuning, and level 0 (nothing timed) builds fastest.
L0 = "--builderOptimizationLevel=0"
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
# A folder with neither test-data sets nor .npy samples (WORK itself gains .npy files below).
EMPTY = os.path.join(WORK, "empty")
os.makedirs(EMPTY)
fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)
    return cond


def compile_(name, *flags):
    plan = os.path.join(WORK, name + ".plan")
    report = os.path.join(WORK, name + ".json")
    p = subprocess.run([KILN, "compile", L0, MODEL, "-o", plan, "--shapes=input:1x3x64x64", f"--report={report}", *flags],
                       capture_output=True, text=True)
    rep = json.load(open(report)) if os.path.exists(report) else None
    return p.returncode, p.stderr, plan, rep


def no_plan_left(plan):
    d, base = os.path.split(plan)
    return not os.path.exists(plan) and not any(f.startswith(base + ".tmp") for f in os.listdir(d))


# --check alone: figures printed, nothing gated, the plan written. fp32 against fp32 is exact.
rc, err, plan, rep = compile_("check", "--check")
if check(rc == 0, f"--check: exit {rc}: {err}"):
    check(os.path.exists(plan), "--check did not write the plan")
    check("plan vs fp32 reference on 4 samples from random inputs (seed 0)" in err, f"--check source line: {err}")
    check("max_abs" in err and "rel_l2" in err and "cosine" in err and "top1" in err, f"--check table: {err}")
    c = rep["check"]
    check(c["source"] == "random" and c["samples"] == 4 and c["tolerance"] is None and c["passed"],
          f"report check: {c}")
    (o,) = c["outputs"]
    check((o["name"], o["max_abs"], o["rel_l2"], o["cosine"], o["top1"], o["rows"]) == ("output", 0, 0, 1, 1, 4),
          f"fp32 vs fp32 figures: {o}")

# A tolerance identical plans meet: max_abs:0 (and a cosine/top1 of exactly 1).
rc, err, plan, rep = compile_("met", "--checkTolerance=max_abs:0,cosine:1,top1:1,rel_l2:0")
if check(rc == 0, f"max_abs:0: exit {rc}: {err}"):
    check(os.path.exists(plan), "a met tolerance did not write the plan")
    check("within --checkTolerance" in err, f"met tolerance message: {err}")
    check(rep["check"]["passed"] and rep["check"]["tolerance"] == {"rel_l2": 0, "max_abs": 0, "cosine": 1, "top1": 1},
          f"met tolerance report: {rep['check']}")
    check(rep["plan_written"] is True, "plan_written is not true")

# An impossible tolerance (cosine is at most 1): exit 1, the message, no plan, the report says why.
rc, err, plan, rep = compile_("missed", "--checkTolerance=cosine:1.5")
want = f"error: {MODEL}: output 'output': cosine 1 is below --checkTolerance cosine:1.5; no plan was written"
check(rc == 1, f"cosine:1.5: exit {rc}, want 1")
check(want in err, f"cosine:1.5 message: {err!r}, want {want!r}")
check(no_plan_left(plan), "a missed tolerance left a plan file")
check(rep is not None and not rep["check"]["passed"] and rep["plan_written"] is False
      and rep["check"]["misses"][0]["figure"] == "cosine", f"missed tolerance report: {rep and rep.get('check')}")

# Relies on --bf16 changing the outputs, which the precision assignment does where layers run in
# bf16; without any bf16 layer in the plan (a build or CPU without it) the plans are identical and
# the case is skipped.
rc, err, plan, rep = compile_("bf16", "--bf16", "--checkTolerance=rel_l2:1e-9")
bf16_layers = rep["precision_counts"].get("bfloat16", 0) if rep else 0
if bf16_layers:
    check(rc == 1 and "exceeds --checkTolerance rel_l2:1e-09; no plan was written" in err,
          f"--bf16 rel_l2:1e-9: exit {rc}: {err}")
    check(no_plan_left(plan), "--bf16 with a missed tolerance left a plan file")
else:
    print("SKIP: --bf16 gave no bf16 layers here, so the bf16 miss case cannot be checked")
    check(rc == 0, f"--bf16 without bf16 layers: exit {rc}: {err}")

# Input sources: --loadInputs (one .npy), --calib (the model's test-data sets).
x = np.random.RandomState(3).uniform(-1, 1, (1, 3, 64, 64)).astype(np.float32)
np.save(os.path.join(WORK, "x.npy"), x)
rc, err, plan, rep = compile_("load", f"--loadInputs=input:{WORK}/x.npy", "--checkTolerance=max_abs:0")
check(rc == 0 and "on 1 sample from --loadInputs" in err and rep["check"]["source"] == "loadInputs"
      and rep["check"]["samples"] == 1, f"--loadInputs: exit {rc}: {err}")
rc, err, plan, rep = compile_("calib", f"--calib={DATA}", "--check")
sets = len([d for d in os.listdir(DATA) if d.startswith("test_data_set_")])
check(rc == 0 and f"from --calib {DATA}" in err and rep["check"]["source"] == "calib"
      and rep["check"]["samples"] == sets, f"--calib: exit {rc}: {err}")

# Errors: a malformed spec is a usage error; a wrong input name or file is a clean failure.
cases = [
    (2, "unknown figure 'l2'", ["--checkTolerance=l2:0.1"]),
    (2, "'rel_l2' has no value", ["--checkTolerance=rel_l2"]),
    (2, "'max_abs' has no value", ["--checkTolerance=rel_l2:0.1,max_abs:"]),
    (2, "must not be negative", ["--checkTolerance=rel_l2:-0.5"]),
    (2, "is not a number", ["--checkTolerance=cosine:high"]),
    (2, "given twice", ["--checkTolerance=top1:0.9,top1:0.8"]),
    (2, "add --check", [f"--loadInputs=input:{WORK}/x.npy"]),
    (1, "--loadInputs: the model has no input 'nope'; its inputs are 'input'", ["--check", f"--loadInputs=nope:{WORK}/x.npy"]),
    (1, "missing.npy", ["--check", f"--loadInputs=input:{WORK}/missing.npy"]),
    (1, "no test_data_set_", ["--check", f"--calib={EMPTY}"]),
]
for code, needle, flags in cases:
    rc, err, plan, _ = compile_("err", *flags)
    check(rc == code and any(l.startswith("error: ") for l in err.splitlines()) and needle in err,
          f"{flags}: exit {rc}, stderr {err!r}; want exit {code} and {needle!r}")
    check(no_plan_left(plan), f"{flags} left a plan file")

if fails:
    print("\n".join("FAIL: " + f for f in fails))
    sys.exit(1)
print("check: --check figures, met and missed tolerances, input sources and errors as documented")
