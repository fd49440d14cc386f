#!/usr/bin/env bash
# `kiln compile --report` writes a JSON build record that agrees with the plan it describes
# (`kiln inspect --json`), with the ONNX model (node count by the onnx package) and with the file
# on disk; `kiln compile` prints nothing on stdout unless `--report=-` asks for the report there.
# usage: compile_report.sh KILN PYTHON MODEL.onnx WORKDIR
set -eu
KILN=$1 PY=$2 MODEL=$3 WORK=$4
rm -rf "$WORK" && mkdir -p "$WORK"

"$KILN" compile "$MODEL" -o "$WORK/a.plan" --builderOptimizationLevel=0 --report="$WORK/a.json" --shapes=input:1x3x64x64 \
  >"$WORK/stdout" 2>"$WORK/stderr"
if [ -s "$WORK/stdout" ]; then echo "FAIL: kiln compile --report=FILE wrote on stdout:"; cat "$WORK/stdout"; exit 1; fi
"$KILN" inspect --json "$WORK/a.plan" >"$WORK/inspect.json"
# --report=- : the report alone on stdout (the summary stays on stderr).
"$KILN" compile "$MODEL" -o "$WORK/b.plan" --builderOptimizationLevel=0 --report=- >"$WORK/b.json" 2>/dev/null
# A report that cannot be written is a failure (exit 1) with an error naming the path.
set +e
err=$("$KILN" compile "$MODEL" -o "$WORK/c.plan" --builderOptimizationLevel=0 --report="$WORK/no/such/dir/r.json" 2>&1 >/dev/null)
rc=$?
set -e
if [ $rc -ne 1 ] || ! grep -q "^error: .*no/such/dir/r.json" <<<"$err"; then
  echo "FAIL: unwritable --report: exit $rc, stderr: $err"; exit 1
fi

"$PY" - "$WORK" "$MODEL" "$KILN" <<'PYEOF'
import json, os, sys
import numpy as np
for a, t in (("float", float), ("int", int), ("bool", bool), ("object", object)):
  if a not in np.__dict__:
    setattr(np, a, t)
import onnx
work, model, kiln = sys.argv[1:]
fails = []
def check(cond, msg):
  if not cond:
    fails.append(msg)

rep = json.load(open(os.path.join(work, "a.json")))
ins = json.load(open(os.path.join(work, "inspect.json")))
onnx_model = onnx.load(model)

for k in ["kiln_version", "model", "plan", "schema_version", "build_time_s", "onnx_nodes", "layer_count",
          "plan_bytes", "weight_bytes", "arena_bytes", "activation_bytes", "machine", "options", "inputs",
          "outputs", "fusions", "precision_counts", "kernel_counts", "warnings", "layers"]:
  check(k in rep, f"report lacks key '{k}'")
if fails:
  print("\n".join("FAIL: " + f for f in fails)); sys.exit(1)

version = os.popen(f"'{kiln}' --version").read().split()[-1]
check(rep["kiln_version"] == version, f"kiln_version {rep['kiln_version']} != `kiln --version` {version}")
check(rep["onnx_nodes"] == len(onnx_model.graph.node),
      f"onnx_nodes {rep['onnx_nodes']} != {len(onnx_model.graph.node)} nodes in {model}")
check(rep["layer_count"] == len(ins["layers"]) == len(rep["layers"]),
      f"layer_count {rep['layer_count']}, {len(rep['layers'])} layers listed, inspect has {len(ins['layers'])}")
check(rep["plan_bytes"] == os.path.getsize(os.path.join(work, "a.plan")) == ins["plan_bytes"],
      f"plan_bytes {rep['plan_bytes']} is not the plan's file size")
for k in ["schema_version", "weight_bytes", "arena_bytes", "activation_bytes", "machine", "inputs", "outputs"]:
  check(rep[k] == ins[k], f"{k}: report {rep[k]} != inspect {ins[k]}")
for k in ["isa", "cpu", "cores", "threads"]:
  check(k in rep["machine"], f"machine lacks '{k}'")
check(rep["inputs"][0]["name"] == onnx_model.graph.input[0].name, "input name differs from the model's")
check(rep["options"]["shapes"] == {"input": [1, 3, 64, 64]}, f"options.shapes {rep['options']['shapes']}")
check(0 <= rep["build_time_s"] < 600, f"build_time_s {rep['build_time_s']}")
check(isinstance(rep["warnings"], list), "warnings is not a list")

# Per layer, the report is the plan: same names, ops, kernels, precision, fused op lists.
for i, (r, p) in enumerate(zip(rep["layers"], ins["layers"])):
  for k in ["name", "op", "kernel", "precision", "format", "fused"]:
    check(r[k] == p[k], f"layer {i} {k}: report {r[k]!r} != inspect {p[k]!r}")
  check(r["index"] == i, f"layer {i} has index {r['index']}")
# Aggregates are recomputed here from the per-layer lists.
want_fusions, want_prec, want_kernels = {}, {}, {}
for l in ins["layers"]:
  if len(l["fused"]) > 1:
    key = "+".join(l["fused"])
    want_fusions[key] = want_fusions.get(key, 0) + 1
  want_prec[l["precision"]] = want_prec.get(l["precision"], 0) + 1
  want_kernels[l["kernel"]] = want_kernels.get(l["kernel"], 0) + 1
check(rep["fusions"] == want_fusions, f"fusions {rep['fusions']} != {want_fusions}")
check(rep["precision_counts"] == want_prec, f"precision_counts {rep['precision_counts']} != {want_prec}")
check(rep["kernel_counts"] == want_kernels, f"kernel_counts {rep['kernel_counts']} != {want_kernels}")
# tiny_resnet's Conv+Relu pairs must fuse (the model has 5 Relu after Conv or Add).
relus = sum(1 for n in onnx_model.graph.node if n.op_type == "Relu")
fused_relus = sum(n * k.split("+").count("Relu") for k, n in rep["fusions"].items())
check(fused_relus == relus, f"{fused_relus} of the model's {relus} Relu nodes are fused")

b = json.load(open(os.path.join(work, "b.json")))
check(b["layer_count"] == rep["layer_count"] and b["layers"] == rep["layers"],
      "--report=- on stdout differs from --report=FILE")
if fails:
  print("\n".join("FAIL: " + f for f in fails)); sys.exit(1)
print(f"compile report: {rep['layer_count']} layers, {rep['onnx_nodes']} ONNX nodes, fusions {rep['fusions']}: "
      "consistent with the plan and the model")
PYEOF
