#!/usr/bin/env python3
"""The op notes must not claim "reference kernel only" for an op a fast kernel runs.

The notes (compiler/import/op_notes.cpp, printed by `kiln ops --markdown` and published in
docs/operators.md) are hand-written; the kernels are chosen by the kernel registry. This reads the
plans conformance.onnx_backend_node compiled (one per ONNX backend node case, WORK/cases/<case>/
model.plan) and, for every single-node case whose op's note says the reference kernel runs it
alone, asks `kiln inspect --json` which kernel each layer got. A layer on any other kernel means
the note is stale: the test fails naming the op, the case, the layer and its kernel. (That notes
exist for every imported op is the unit tests OpNotes.*.)
usage: op_notes_kernels.py --kiln KILN --work CONFORMANCE_WORK
"""
import argparse
import json
import os
import re
import subprocess
import sys

import onnx

REFERENCE_ONLY = re.compile(r"reference (kernel )?only")


def notes(kiln):
    """ONNX op type -> its limits cell, from the first table of `kiln ops --markdown`."""
    md = subprocess.run([kiln, "ops", "--markdown"], check=True, capture_output=True, text=True).stdout
    table = md.split("| ONNX op | opsets | dtypes | limits |", 1)[1].split("\n\n", 1)[0]
    out = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 4:
            out[cells[0]] = cells[3]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--work", required=True, help="conformance.onnx_backend_node's --work folder")
    args = ap.parse_args()
    limits = notes(args.kiln)
    node_dir = os.path.join(args.work, "onnx-data", "node")
    checked, stale = set(), []
    for case in sorted(os.listdir(node_dir)):
        plan = os.path.join(args.work, "cases", case, "model.plan")
        if not os.path.exists(plan):
            continue  # out of scope, or failed to compile (the conformance manifest says why)
        nodes = onnx.load(os.path.join(node_dir, case, "model.onnx")).graph.node
        if len(nodes) != 1 or nodes[0].domain not in ("", "ai.onnx"):
            continue
        op = nodes[0].op_type
        if not REFERENCE_ONLY.search(limits.get(op, "")):
            continue
        r = subprocess.run([args.kiln, "inspect", "--json", plan], capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"FAIL: kiln inspect {plan}: {r.stderr}")
        checked.add(op)
        for layer in json.loads(r.stdout)["layers"]:
            # Conversions kiln puts around the op (float16 widened to float32 and back) are not the op.
            plumbing = layer["op"] in ("Cast", "Reorder") and op not in ("Cast", "CastLike")
            if layer["kernel"] != "reference" and not plumbing:
                stale.append(f"{op} ({case}): layer {layer['name']} ({layer['op']}) runs kernel '{layer['kernel']}'")
    for s in stale:
        print(f"STALE NOTE {s}")
    print(f"{len(checked)} ops noted as reference-only checked against their plans; {len(stale)} layer(s) "
          "contradict the note")
    if not checked:
        sys.exit("FAIL: no plan of a reference-only op was found; did conformance.onnx_backend_node run?")
    if stale:
        sys.exit("FAIL: fix those ops' notes in compiler/import/op_notes.cpp (then regenerate docs/operators.md)")


if __name__ == "__main__":
    main()
