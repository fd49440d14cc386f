#!/usr/bin/python3
"""fuse-attention end to end: a torch-exported BERT-style encoder compiles with every layer's
scores MatMul absorbing the scale, the mask Add and the Q/K^T Transposes (and the context MatMul
the V Transpose and the head merge) on the oneDNN kernel, six layers per encoder layer fewer than with
--disable-pass=fuse-attention, and the plan's output matches torch's.

  attention_fusion.py KILN MODEL_DIR WORK   (MODEL_DIR from scripts/export_encoder.py)
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "..", "models", "run_model_test.py")


def fail(msg):
  print(f"attention_fusion: FAIL: {msg}", file=sys.stderr)
  sys.exit(1)


def compile_report(kiln, model, plan, extra):
  # Fusion does not depend on tuning, and level 0 (nothing timed) builds fastest.
  out = subprocess.run([kiln, "compile", model, "-o", plan, "--report=-", "--builderOptimizationLevel=0"] + extra, capture_output=True,
                       text=True)
  if out.returncode != 0:
    fail(f"kiln compile {' '.join(extra)} exited {out.returncode}: {out.stderr}")
  return json.loads(out.stdout)


def main():
  kiln, mdir, work = sys.argv[1:4]
  os.makedirs(work, exist_ok=True)
  model = os.path.join(mdir, "model.onnx")
  layers = json.load(open(os.path.join(mdir, "export.json")))["layers"]

  fused = compile_report(kiln, model, os.path.join(work, "fused.plan"), [])
  scores = [l for l in fused["layers"] if l["op"] == "MatMul" and l["fused"][:2] == ["MatMul", "Div"]]
  if len(scores) != layers:
    fail(f"expected {layers} scores MatMuls with the scale fused, got {len(scores)}: "
         f"{[l['fused'] for l in fused['layers'] if l['op'] == 'MatMul']}")
  for l in scores:
    if l["fused"].count("Transpose") != 2 or "Add" not in l["fused"] or l["kernel"] != "onednn":
      fail(f"layer {l['name']}: fused {l['fused']} on kernel {l['kernel']}; want MatMul+Div+Add+2 Transposes "
           "on onednn")
  context = [l for l in fused["layers"]
             if l["op"] == "MatMul" and l["fused"] == ["MatMul", "Transpose", "Transpose"]]
  if len(context) != layers:
    fail(f"expected {layers} context MatMuls reading V and writing the head merge through strides, "
         f"got {len(context)}")
  # No Transpose and no Div is left as a layer.
  transposes = sum(1 for l in fused["layers"] if l["op"] == "Transpose")
  if transposes:
    fail(f"{transposes} Transpose layers left, want none")
  if any(l["op"] == "Binary" and "Div" in l["fused"] for l in fused["layers"]):
    fail("a Div layer is left")
  plain = compile_report(kiln, model, os.path.join(work, "plain.plan"), ["--disable-pass=fuse-attention"])
  if plain["layer_count"] - fused["layer_count"] != 6 * layers:
    fail(f"fused plan has {fused['layer_count']} layers, unfused {plain['layer_count']}: want 6 fewer per "
         "encoder layer (Div, Add, four Transposes)")

  data = os.path.join(mdir, "test_data_set_0")
  # run_model_test compiles with the default pipeline, i.e. the fused plan checked above.
  rc = subprocess.run([sys.executable, RUNNER, "--kiln", kiln, "--model", model, "--data", data, "--work",
                       os.path.join(work, "run"), "--rel-l2", "1e-4"]).returncode
  if rc != 0:
    fail("the fused plan does not match torch")
  print("attention_fusion: ok")


if __name__ == "__main__":
  main()
