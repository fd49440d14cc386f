#!/usr/bin/env python3
"""ONNX backend node conformance through kiln's real path.

Each case of onnx's backend node test suite goes through exactly what a user's model goes
through: `kiln compile` (import, passes, plan serialisation) and `kiln run --loadEngine`
(plan load, run), one process each. Outputs are compared as onnx's own runner compares them:
rtol 1e-3 / atol 1e-7 for floating point, exact for everything else.

The manifest (expected_failures.txt) lists every case expected to fail, each with a reason. The
run fails on any unexpected failure AND on any unexpected pass, so the manifest stays true.

usage: run_conformance.py --kiln KILN --work DIR [--manifest FILE] [--jobs N] [--filter SUBSTR]
                          [--update-manifest]
"""
import argparse
import concurrent.futures as cf
import os
import re
import shutil
import subprocess
import sys

import numpy as np

# onnx 1.12's case code still uses aliases numpy 1.24 removed.
for _name, _type in (("float", float), ("int", int), ("bool", bool), ("object", object)):
    if _name not in np.__dict__:
        setattr(np, _name, _type)

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

# Element types kiln does not handle at all (strings) and value kinds that are not tensors
# (sequences, optionals): these cases are out of scope, not failures.
OUT_OF_SCOPE_ELEM = {onnx.TensorProto.STRING, onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128}


def generate(data_dir):
    if os.path.isdir(os.path.join(data_dir, "node")):
        return
    tmp = data_dir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    from onnx.backend.test.cmd_tools import main as gen_main  # noqa: E402
    argv = sys.argv
    sys.argv = ["onnx-backend-test", "generate-data", "-o", tmp]
    try:
        gen_main()
    finally:
        sys.argv = argv
    os.rename(tmp, data_dir)


SEQUENCE_OR_OPTIONAL_OPS = {
    "SequenceConstruct", "SequenceInsert", "SequenceAt", "SequenceEmpty", "SequenceErase",
    "SequenceLength", "SplitToSequence", "ConcatFromSequence", "SequenceMap", "Optional",
    "OptionalGetElement", "OptionalHasElement", "StringNormalizer"}


def in_scope(model):
    """False for cases that use strings, sequences or optionals anywhere (graph I/O, node types,
    Cast targets); control flow on plain tensors (If, Loop, Scan) stays in scope."""
    def tensor_io(vi):
        t = vi.type
        return t.HasField("tensor_type") and t.tensor_type.elem_type not in OUT_OF_SCOPE_ELEM

    def nodes(graph):
        for n in graph.node:
            yield n
            for a in n.attribute:
                subgraphs = [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)
                for sg in subgraphs:
                    yield from nodes(sg)

    g = model.graph
    if not all(tensor_io(v) for v in list(g.input) + list(g.output)):
        return False
    for n in nodes(g):
        if n.op_type in SEQUENCE_OR_OPTIONAL_OPS:
            return False
        for a in n.attribute:
            if n.op_type == "Cast" and a.name == "to" and a.i == onnx.TensorProto.STRING:
                return False
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == onnx.TensorProto.STRING:
                return False
    return True


def safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def compare(got, want):
    if got.shape != want.shape:
        return f"shape {got.shape} != expected {want.shape}"
    if want.dtype.kind in "fc":
        if got.dtype != want.dtype:
            return f"dtype {got.dtype} != expected {want.dtype}"
        try:
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-7)
        except AssertionError as e:
            lines = [l for l in str(e).splitlines() if "Mismatched" in l or "Max" in l]
            return "values differ: " + "; ".join(l.strip() for l in lines)
        return None
    if got.dtype != want.dtype:
        return f"dtype {got.dtype} != expected {want.dtype}"
    if not np.array_equal(got, want):
        return f"values differ in {int(np.sum(got != want))} of {want.size} elements"
    return None


def run_case(kiln, case_dir, work):
    """Returns (status, detail): status is 'pass', 'fail' or 'skip' (out of scope)."""
    model = onnx.load(os.path.join(case_dir, "model.onnx"))
    if not in_scope(model):
        return "skip", "strings, sequences or optionals"
    os.makedirs(work, exist_ok=True)
    plan = os.path.join(work, "model.plan")
    if os.path.exists(plan):  # a failed compile must not leave an older plan for op_notes_kernels.py
        os.remove(plan)
    # Level 0: a node model has little to tune, and a thousand untimed builds are much faster.
    cmd = [kiln, "compile", os.path.join(case_dir, "model.onnx"), "-o", plan, "--builderOptimizationLevel=0"]
    # Like trtexec --shapes: symbolic input dims are fixed to the shapes of the data the case runs.
    first = os.path.join(case_dir, "test_data_set_0")
    shapes = []
    declared = {vi.name: vi for vi in model.graph.input}
    for f in sorted(os.listdir(first)) if os.path.isdir(first) else []:
        if f.startswith("input_"):
            t = onnx.load_tensor(os.path.join(first, f))
            vi = declared.get(t.name)
            dims = vi.type.tensor_type.shape.dim if vi is not None else []
            if t.dims and any(not d.HasField("dim_value") for d in dims):
                shapes.append(t.name + ":" + "x".join(str(d) for d in t.dims))
    if shapes:
        cmd.append("--shapes=" + ",".join(shapes))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        return "fail", "compile: " + (r.stderr.strip().splitlines() or ["(no message)"])[-1][:300]
    sets = sorted(d for d in os.listdir(case_dir) if d.startswith("test_data_set_"))
    for s in sets:
        sdir = os.path.join(case_dir, s)
        inputs = []
        for f in sorted(os.listdir(sdir)):
            if f.startswith("input_"):
                t = onnx.load_tensor(os.path.join(sdir, f))
                inputs.append(f"{t.name}:{os.path.join(sdir, f)}")
        out_dir = os.path.join(work, s)
        shutil.rmtree(out_dir, ignore_errors=True)
        cmd = [kiln, "run", f"--loadEngine={plan}", f"--exportOutput={out_dir}", "--iterations=1",
               "--duration=0", "--warmUp=0", "--threads=1"]
        if inputs:
            cmd.append("--loadInputs=" + ",".join(inputs))
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            if r.returncode < 0:
                return "fail", f"run: CRASH (signal {-r.returncode})"
            return "fail", "run: " + (r.stderr.strip().splitlines() or ["(no message)"])[-1][:300]
        outs = sorted(f for f in os.listdir(sdir) if f.startswith("output_"))
        for f in outs:
            want_t = onnx.load_tensor(os.path.join(sdir, f))
            want = numpy_helper.to_array(want_t)
            path = os.path.join(out_dir, safe(want_t.name) + ".npy")
            if not os.path.exists(path):
                return "fail", f"output '{want_t.name}' missing"
            msg = compare(np.load(path), want)
            if msg:
                return "fail", f"{s} output '{want_t.name}': {msg}"
    return "pass", ""


def load_manifest(path):
    expected = {}
    if not os.path.exists(path):
        return expected
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, reason = line.partition(":")
            if not reason.strip():
                sys.exit(f"run_conformance: manifest entry '{name}' has no reason")
            expected[name.strip()] = reason.strip()
    return expected


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--data", help="generated onnx backend data (default WORK/onnx-data)")
    ap.add_argument("--manifest", default=os.path.join(os.path.dirname(__file__), "expected_failures.txt"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--filter", default="")
    ap.add_argument("--update-manifest", action="store_true",
                    help="rewrite the manifest from this run, keeping existing reasons (review the diff!)")
    args = ap.parse_args()

    data = args.data or os.path.join(args.work, "onnx-data")
    generate(data)
    node_dir = os.path.join(data, "node")
    cases = sorted(c for c in os.listdir(node_dir) if args.filter in c)
    expected = load_manifest(args.manifest)

    results = {}
    with cf.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futs = {pool.submit(run_case, args.kiln, os.path.join(node_dir, c), os.path.join(args.work, "cases", c)): c
                for c in cases}
        for fut in cf.as_completed(futs):
            c = futs[fut]
            try:
                results[c] = fut.result()
            except Exception as e:  # a timeout or a broken case file is a failure, not a crash of the suite
                results[c] = ("fail", f"harness: {type(e).__name__}: {e}")

    passed = [c for c in cases if results[c][0] == "pass"]
    skipped = [c for c in cases if results[c][0] == "skip"]
    failed = [c for c in cases if results[c][0] == "fail"]
    unexpected_fail = [c for c in failed if c not in expected]
    unexpected_pass = [c for c in passed if c in expected]
    for c in unexpected_fail:
        print(f"UNEXPECTED FAIL {c}: {results[c][1]}")
    for c in unexpected_pass:
        print(f"UNEXPECTED PASS {c} (remove it from {os.path.basename(args.manifest)})")
    if not args.filter:
        stale = [c for c in expected if c not in results]
        for c in stale:
            print(f"STALE MANIFEST ENTRY {c}: no such case")
    else:
        stale = []

    if args.update_manifest:
        with open(args.manifest, "w") as f:
            f.write("# Expected failures of the ONNX backend node suite: one 'case: reason' per line.\n"
                    "# The suite fails on an unexpected failure and on an unexpected pass.\n")
            for c in failed:
                f.write(f"{c}: {expected.get(c, results[c][1])}\n")

    in_scope_n = len(cases) - len(skipped)
    print(f"conformance: {len(passed)} of {in_scope_n} in-scope cases pass "
          f"({len(failed)} fail, {len(failed) - len(unexpected_fail)} of them expected; "
          f"{len(skipped)} out of scope)")
    bad = len(unexpected_fail) + len(unexpected_pass) + len(stale)
    # Expected failures and out-of-scope cases count as skipped, never as passed.
    print(f"{len(passed) - len(unexpected_pass)} passed, {bad} failed, "
          f"{len(failed) - len(unexpected_fail) + len(skipped)} skipped")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
