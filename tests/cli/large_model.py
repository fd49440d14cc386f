#!/usr/bin/env python3
"""A model just over 2 GiB compiles, loads and matches its reference.

The model is a Gather over a float32 embedding table of 532480 x 1024 (2.03 GiB, past the 2 GiB
that protobuf and flatbuffers address) kept as ONNX external data, with cheap weights: row i, column
j holds (i % 1021) + j / 1024, written in chunks so the test never holds the table in memory. kiln
compile must put the weights in the plan's sidecar (plan.weights), kiln run must load the pair and
return the gathered rows exactly, and the sidecar must be refused when it does not match the plan.

usage: large_model.py KILN WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper

kiln, work = sys.argv[1], sys.argv[2]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
N, D = 532480, 1024
nbytes = N * D * 4
assert nbytes > 2**31


def rows(lo, hi):
    return ((np.arange(lo, hi, dtype=np.int64) % 1021)[:, None] + np.arange(D)[None, :] / 1024).astype(np.float32)


t0 = time.time()
with open(os.path.join(work, "table.bin"), "wb") as f:
    for lo in range(0, N, 32768):
        f.write(rows(lo, min(N, lo + 32768)).tobytes())
table = TensorProto()
table.name, table.data_type = "table", TensorProto.FLOAT
table.dims.extend([N, D])
table.data_location = TensorProto.EXTERNAL
for k, v in (("location", "table.bin"), ("offset", "0"), ("length", str(nbytes))):
    e = table.external_data.add()
    e.key, e.value = k, v
graph = helper.make_graph([helper.make_node("Gather", ["table", "ids"], ["y"])], "large",
                          [helper.make_tensor_value_info("ids", TensorProto.INT64, [8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, D])], [table])
model = os.path.join(work, "large.onnx")
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), model)
ids = np.array([0, 1, 1020, 1021, 262144, 500000, 12345, N - 1], dtype=np.int64)
np.save(os.path.join(work, "ids.npy"), ids)
print(f"model: {nbytes / 2**30:.2f} GiB of external data, written in {time.time() - t0:.1f} s", flush=True)


def run(cmd, env=None):
    """The finished process (returncode, stdout, stderr), its wall time, and its own peak RSS in bytes
    (os.wait4 on it alone; getrusage(RUSAGE_CHILDREN) would be the maximum over every child so far)."""
    t = time.time()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        p = subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())
    return p, time.time() - t, usage.ru_maxrss * 1024


want = ((ids % 1021)[:, None] + np.arange(D)[None, :] / 1024).astype(np.float32)

# kiln run --onnx builds in memory; a plan this large keeps its weights in a sidecar, which loads
# from files only: the pair goes through a private temporary folder that is gone afterwards. First,
# so that the disk never holds the model, that pair and the compiled pair below at once.
tmp = os.path.join(work, "tmp")
os.makedirs(tmp)
out_onnx = os.path.join(work, "out_onnx")
p, secs, _ = run([kiln, "run", "--onnx", model, "--builderOptimizationLevel=0", "--loadInputs", "ids:" + os.path.join(work, "ids.npy"),
                  "--exportOutput", out_onnx, "--iterations", "1", "--duration", "0"], dict(os.environ, TMPDIR=tmp))
if p.returncode:
    sys.exit(f"FAIL: kiln run --onnx on the large model: {p.stderr}")
if not np.array_equal(np.load(os.path.join(out_onnx, "y.npy")), want):
    sys.exit("FAIL: kiln run --onnx gathered other rows than the table's")
if os.listdir(tmp):
    sys.exit(f"FAIL: kiln run --onnx left files in its temporary folder: {os.listdir(tmp)}")
print(f"run --onnx: {secs:.1f} s, output matches the table exactly", flush=True)

plan = os.path.join(work, "large.plan")
# Level 0 (here and above): the test is about the weights' size; timing would only add time and memory.
p, secs, peak = run([kiln, "compile", model, "-o", plan, "--builderOptimizationLevel=0"])
if p.returncode:
    sys.exit(f"FAIL: kiln compile: {p.stderr}")
side = plan + ".weights"
if not os.path.exists(side) or os.path.getsize(side) < nbytes:
    sys.exit(f"FAIL: no weights sidecar of {nbytes} bytes beside the plan: {os.listdir(work)}")
if os.path.getsize(plan) > 2**20:
    sys.exit(f"FAIL: the plan itself is {os.path.getsize(plan)} bytes; its weights should be in the sidecar")
# The compiler holds a model's weights about once (issue 18: at most 1.5x).
print(f"compile: {secs:.1f} s, peak RSS {peak / 2**20:.0f} MiB ({peak / nbytes:.2f}x the weights), plan "
      f"{os.path.getsize(plan)} bytes + sidecar {os.path.getsize(side)} bytes", flush=True)
if peak > 1.5 * nbytes:
    sys.exit(f"FAIL: kiln compile peaked at {peak / 2**20:.0f} MiB, over 1.5x the {nbytes / 2**20:.0f} MiB of weights")
os.remove(os.path.join(work, "table.bin"))  # the plan pair must not need the model's data any more

out = os.path.join(work, "out")
p, secs, _ = run([kiln, "run", "--loadEngine", plan, "--loadInputs", "ids:" + os.path.join(work, "ids.npy"),
               "--exportOutput", out, "--iterations", "3", "--duration", "0", "--json"])
if p.returncode:
    sys.exit(f"FAIL: kiln run: {p.stderr}")
rep = json.loads(p.stdout)
y = np.load(os.path.join(out, "y.npy"))
if y.shape != want.shape or not np.array_equal(y, want):
    sys.exit(f"FAIL: the gathered rows differ from the table's: max diff {np.abs(y - want).max()}")
print(f"run: {secs:.1f} s, load {rep['load_ms']:.0f} ms, RSS after load {rep['load_rss_mb']:.0f} MiB; "
      "output matches the table exactly", flush=True)

# A sidecar that does not belong to the plan is refused by name, not used.
with open(side, "r+b") as f:
    f.seek(nbytes // 2)
    b = f.read(1)
    f.seek(nbytes // 2)
    f.write(bytes([b[0] ^ 0xFF]))
p, _, _ = run([kiln, "run", "--loadEngine", plan, "--iterations", "1", "--duration", "0"])
if p.returncode != 1 or "error:" not in p.stderr or "large.plan.weights" not in p.stderr:
    sys.exit(f"FAIL: a corrupted sidecar gave exit {p.returncode}: {p.stderr}")
shutil.rmtree(work)
print("a model over 2 GiB compiles into a plan and its weights file, loads and matches; a corrupted "
      "weights file is refused")
