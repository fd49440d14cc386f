#!/usr/bin/python3
"""Side-by-side latency benchmark: kiln vs ONNX Runtime (CPU) on the same models, input and threads.

Usage (from anywhere; see docs/benchmarks.md):
  /usr/bin/python3 benchmarks/run_bench.py --build build [--models resnet50,mobilenet_v2]
      [--precision fp32|bf16|fp16|best[,...]] [--threads 2] [--rounds 5] [--iterations 20]
      [--warmup-ms 500] [--out results.json] [--skip-kiln]

Steps: installs npm onnxruntime-node into BUILD/bench/node_modules (once), exports the models with
scripts/export_models.py into BUILD/models (shared with the model tests), compiles each with
`kiln compile` once per --precision, checks that ORT and every kiln plan reproduce torch's
outputs (within a tolerance that depends on the precision), measures both runtimes' per-call
overhead on a one-element model, then times ROUNDS rounds per model. Each round runs ORT
(bench_ort.mjs) once and `kiln run` once per precision, alternating the order, so slow drifts in
machine load hit all alike. Both runtimes hand back raw per-iteration latencies (kiln through
--exportTimes, bench_ort.mjs in its JSON) and this script computes every statistic from them with
one function, latency_stats(), which uses kiln's definitions (tools/kiln/stats.cpp). A round's
number is its median; the reported number is the median over rounds. Ratio = ORT fp32 / kiln
(> 1 means kiln is faster).
"""
import argparse
import glob
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, HERE)
import chart  # noqa: E402
import compare_outputs  # noqa: E402  (restores numpy aliases before importing onnx)
import model_flops  # noqa: E402
import peak  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

# The zoo scripts/export_models.py builds: torchvision CNNs, ViT-B/16, a BERT-base encoder and a
# whole Hugging Face-style BERT-base (int64 token ids and attention mask in).
DEFAULT_MODELS = ("resnet50,mobilenet_v2,squeezenet1_1,efficientnet_b0,googlenet,densenet121,"
                  "vit_b_16,bert_base,bert_hf")
TORCHVISION = DEFAULT_MODELS.split(",")
ORT_PACKAGE = "onnxruntime-node"
# --precision: the kiln compile flags and the accuracy gate (max relative L2 error against torch's
# fp32 output) for each. fp32's gate is --max-rel-l2. ONNX Runtime always runs fp32.
PRECISIONS = {
    "fp32": ([], None),
    "bf16": (["--bf16"], 0.03),
    "fp16": (["--fp16"], 5e-3),
    "best": (["--best"], 0.03),
    # int8 calibrates on CALIB_SAMPLES inputs drawn like the zoo's (never the timed input).
    "int8": (["--int8"], 0.15),
    "int8bf16": (["--int8", "--bf16"], 0.15),
    # kiln's accuracy-driven fallback: the fewest layers leave int8 for the plan to be within rel.
    # L2 --fallback-tolerance (default 0.12) of fp32 on the calibration samples, a margin under the
    # 0.15 gate on the timed input. int8fb moves them to fp32, int8fbbf16 to bf16.
    "int8fb": (["--int8"], 0.15),
    "int8fbbf16": (["--int8", "--bf16"], 0.15),
    # MatMul/Gemm in int8 with run-time activation scales: no calibration (transformers).
    "int8dyn": (["--int8Dynamic"], 0.15),
    "int8dynbf16": (["--int8Dynamic", "--bf16"], 0.15),
    # The same with the scale per row (token) named, the default since 2026-12-07, or one per tensor.
    "int8dynrow": (["--int8DynamicScales=row"], 0.15),
    "int8dyntensor": (["--int8DynamicScales=tensor"], 0.15),
}
FALLBACK_PRECISIONS = ("int8fb", "int8fbbf16")
CALIB_SAMPLES = 16
# The per-call overhead model: one Add of a 1-element float32 tensor.
OVERHEAD_MODEL = "Add of a 1-element float32 tensor"


def die(msg):
  print(f"run_bench: error: {msg}", file=sys.stderr)
  sys.exit(1)


def log(msg):
  print(f"run_bench: {msg}", flush=True)


def run(cmd, env=None, capture=False):
  """Runs cmd; on failure dies showing its output. Returns stdout when capture is set."""
  res = subprocess.run(cmd, env=env, text=True,
                       stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.PIPE if capture else None)
  if res.returncode != 0:
    detail = f"\n--- stdout ---\n{res.stdout}\n--- stderr ---\n{res.stderr}" if capture else ""
    how = (f"killed by {signal.Signals(-res.returncode).name}" if res.returncode < 0
           else f"exit {res.returncode}")
    die(f"command failed ({how}): {' '.join(cmd)}{detail}")
  return res.stdout if capture else None


def install_ort(bench_dir):
  """npm-installs onnxruntime-node (pinned in benchmarks/ort/package.json) into bench_dir."""
  for tool in ("node", "npm"):
    if shutil.which(tool) is None:
      die(f"'{tool}' not found; install Debian's nodejs and npm packages")
  with open(os.path.join(HERE, "ort", "package.json")) as f:
    want = json.load(f)["dependencies"][ORT_PACKAGE]
  installed = os.path.join(bench_dir, "node_modules", ORT_PACKAGE, "package.json")
  if os.path.isfile(installed):
    with open(installed) as f:
      if json.load(f)["version"] == want:
        return
  log(f"installing {ORT_PACKAGE}@{want} into {bench_dir}/node_modules")
  res = subprocess.run(["npm", "view", f"{ORT_PACKAGE}@{want}", "version"], text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  if res.returncode != 0 or want not in res.stdout:
    die(f"the npm registry does not answer for {ORT_PACKAGE}@{want} (`npm view` said: "
        f"{res.stderr.strip() or res.stdout.strip()}); check network access to registry.npmjs.org")
  os.makedirs(bench_dir, exist_ok=True)
  shutil.copy(os.path.join(HERE, "ort", "package.json"), os.path.join(bench_dir, "package.json"))
  # The package bundles the CPU binaries; its postinstall only fetches optional CUDA EP binaries
  # from api.nuget.org, which is unreachable offline and unneeded here, so skip that step.
  env = dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip")
  res = subprocess.run(["npm", "install", "--prefix", bench_dir, "--no-audit", "--no-fund",
                        "--no-save"], env=env, text=True, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
  if res.returncode != 0:
    die(f"npm install of {ORT_PACKAGE}@{want} failed:\n{res.stdout}")
  check = subprocess.run(["node", "-e", f"require('{ORT_PACKAGE}')"], env=node_env(bench_dir),
                         text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
  if check.returncode != 0:
    die(f"{ORT_PACKAGE} installed but its native binding does not load:\n{check.stdout}")


def node_env(bench_dir):
  return dict(os.environ, NODE_PATH=os.path.join(bench_dir, "node_modules"))


def pb_to_npy(pb, npy):
  """Writes the TensorProto in pb as a .npy file; returns its (graph input) name."""
  t = onnx.TensorProto()
  with open(pb, "rb") as f:
    t.ParseFromString(f.read())
  if not t.name:
    die(f"{pb} has no tensor name, so it is unclear which graph input it feeds")
  np.save(npy, numpy_helper.to_array(t))
  return t.name


def convert_inputs(data_dir, wdir):
  """[(graph input name, .npy path)] for every input_K.pb of the test-data set, in order."""
  pbs = sorted(glob.glob(os.path.join(data_dir, "input_*.pb")),
               key=lambda p: int(os.path.basename(p)[6:-3]))
  if not pbs:
    die(f"no input_*.pb in {data_dir}")
  return [(pb_to_npy(pb, os.path.join(wdir, f"input_{k}.npy")), os.path.join(wdir, f"input_{k}.npy"))
          for k, pb in enumerate(pbs)]


def calib_sets(data_dir, wdir):
  """Writes CALIB_SAMPLES ONNX test-data sets for --int8 into wdir/calib and returns the folder.
  Float inputs are standard normal, as scripts/export_models.py draws the zoo's inputs; integer
  inputs (token ids, masks) are random permutations of the test input's values. Seeds differ from
  the test input's, so the timed and checked input is never a calibration sample."""
  out = os.path.join(wdir, "calib")
  if os.path.isdir(out) and len(glob.glob(os.path.join(out, "test_data_set_*"))) == CALIB_SAMPLES:
    return out
  shutil.rmtree(out, ignore_errors=True)
  pbs = sorted(glob.glob(os.path.join(data_dir, "input_*.pb")), key=lambda p: int(os.path.basename(p)[6:-3]))
  tensors = []
  for pb in pbs:
    t = onnx.TensorProto()
    with open(pb, "rb") as f:
      t.ParseFromString(f.read())
    tensors.append((t.name, numpy_helper.to_array(t)))
  rng = np.random.RandomState(20261204)
  for k in range(CALIB_SAMPLES):
    d = os.path.join(out, f"test_data_set_{k}")
    os.makedirs(d)
    for i, (name, x) in enumerate(tensors):
      if np.issubdtype(x.dtype, np.floating):
        y = rng.standard_normal(x.shape).astype(x.dtype)
      else:
        y = rng.permutation(x.ravel()).reshape(x.shape)
      with open(os.path.join(d, f"input_{i}.pb"), "wb") as f:
        f.write(numpy_helper.from_array(y, name).SerializeToString())
  return out


def parse_json(text, who):
  try:
    return json.loads(text)
  except ValueError:
    die(f"{who} did not print exactly one JSON object on stdout; it printed:\n{text}")


# ---- statistics: one definition for both runtimes ------------------------------------------------

def percentile(sorted_v, p):
  """kiln's percentile (tools/kiln/stats.cpp): linear interpolation between the two nearest order
  statistics at rank p/100 * (n - 1) of the sorted values (numpy's default 'linear' method)."""
  if not sorted_v:
    return 0.0
  rank = min(max(p, 0.0), 100.0) / 100.0 * (len(sorted_v) - 1)
  lo, hi = math.floor(rank), math.ceil(rank)
  return sorted_v[lo] + (sorted_v[hi] - sorted_v[lo]) * (rank - lo)


def latency_stats(lat):
  """Statistics of raw per-iteration latencies (ms), with kiln's definitions: min, max, mean,
  median = p50, p90, p95, p99 (percentile() above) and the population standard deviation."""
  v = sorted(lat)
  if not v:
    die("no latencies to summarise")
  mean = sum(v) / len(v)
  out = {"n": len(v), "min": v[0], "max": v[-1], "mean": mean, "median": percentile(v, 50)}
  for p in (90, 95, 99):
    out[f"p{p}"] = percentile(v, p)
  out["stddev"] = math.sqrt(sum((x - mean) ** 2 for x in v) / len(v))
  return out


def summarize_rounds(rounds):
  """rounds: a list of per-round raw latency lists. Returns the headline (median of the round
  medians), every round's statistics and the statistics of all iterations pooled."""
  per_round = [latency_stats(r) for r in rounds]
  return {"median_ms": percentile(sorted(r["median"] for r in per_round), 50),
          "rounds": per_round,
          "pooled": latency_stats([x for r in rounds for x in r])}


def same_number(a, b):
  return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def run_kiln_timed(cmd, times_path):
  """One `kiln run --json --exportTimes` run; returns its raw latencies (ms, in start order)."""
  if os.path.exists(times_path):
    os.remove(times_path)
  res = parse_json(run(cmd + [f"--exportTimes={times_path}"], capture=True), "kiln")
  with open(times_path) as f:
    lat = [q["latency_ms"] for q in json.load(f)]
  # kiln summarised the same times itself: the two definitions must agree.
  mine, theirs = latency_stats(lat)["median"], res.get("latency_ms", {}).get("median")
  if theirs is None or not same_number(mine, theirs):
    die(f"kiln's median {theirs} differs from the harness's {mine} over the same --exportTimes; "
        "tools/kiln/stats.cpp and latency_stats() no longer define the median alike")
  return lat


def run_ort_timed(cmd, env):
  """One bench_ort.mjs run; returns (its raw latencies, its JSON)."""
  res = parse_json(run(cmd, env=env, capture=True), "bench_ort.mjs")
  lat = res.get("latencies_ms")
  if not lat:
    die(f"bench_ort.mjs JSON has no latencies_ms: {res}")
  mine, theirs = latency_stats(lat)["median"], res["latency_ms"]["median"]
  if not same_number(mine, theirs):
    die(f"bench_ort.mjs's median {theirs} differs from the harness's {mine} over the same times")
  return lat, res


# ---- correctness ---------------------------------------------------------------------------------

def check_outputs(out_dir, data_dir, who, max_rel):
  """Compares every output_K.pb (torch's) with <name>.npy in out_dir. Returns (worst relative L2
  error, {output: rel L2}, problem or None); a problem means: do not time this."""
  rels, problems = {}, []
  pbs = sorted(glob.glob(os.path.join(data_dir, "output_*.pb")))
  if not pbs:
    die(f"no output_*.pb in {data_dir}")
  for pb in pbs:
    name, expected = compare_outputs.load_pb(pb)
    path = os.path.join(out_dir, compare_outputs.sanitize(name) + ".npy")
    if not os.path.isfile(path):
      problems.append(f"{who} wrote no output {path}")
      continue
    rel, _, problem = compare_outputs.compare(np.load(path), expected)
    if problem:
      problems.append(f"{who} output {name} is wrong: {problem}")
      continue
    rels[name] = rel
    if rel > max_rel:
      problems.append(f"{who} output {name}: relative L2 error {rel:.2e} against torch > "
                      f"{max_rel:.1e}")
  worst = max(rels.values()) if rels else None
  return worst, rels, ("; ".join(problems) or None)


def cpu_name():
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def resolve_model(spec, models_dir):
  """Maps a --models entry to (name, model.onnx, test_data_set_0 dir, zoo export needed)."""
  if spec in TORCHVISION:
    d = os.path.join(models_dir, spec)
    return spec, os.path.join(d, "model.onnx"), os.path.join(d, "test_data_set_0"), True
  if spec == "tiny_resnet":
    d = os.path.join(ROOT, "examples", "models")
    return spec, os.path.join(d, "tiny_resnet.onnx"), os.path.join(d, "tiny_resnet",
                                                                  "test_data_set_0"), False
  if os.path.isdir(spec):
    d = os.path.abspath(spec)
    return os.path.basename(d), os.path.join(d, "model.onnx"), os.path.join(d, "test_data_set_0"), \
        False
  if spec.endswith(".onnx") and os.path.isfile(spec):
    stem = os.path.splitext(os.path.abspath(spec))[0]
    return os.path.basename(stem), os.path.abspath(spec), os.path.join(stem, "test_data_set_0"), \
        False
  die(f"--models entry '{spec}' is neither a zoo model ({', '.join(TORCHVISION)}), "
      "tiny_resnet, a directory with model.onnx + test_data_set_0/, nor an existing .onnx file")


def ort_command(onnx_path, inputs, args, iterations, warmup_ms):
  cmd = ["node", os.path.join(HERE, "ort", "bench_ort.mjs"), "--model", onnx_path]
  for name, npy in inputs:
    cmd += ["--input", f"{name}:{npy}"]
  return cmd + ["--threads", str(args.threads), "--warmup-ms", str(warmup_ms),
                "--iterations", str(iterations)]


def kiln_command(kiln, plan, inputs, args, iterations, warmup_ms):
  feed = "--loadInputs=" + ",".join(f"{name}:{npy}" for name, npy in inputs)
  return [kiln, "run", f"--loadEngine={plan}", feed, f"--iterations={iterations}",
          f"--warmUp={warmup_ms}", "--duration=0", f"--threads={args.threads}", "--json"]


def soft_run(cmd):
  """Runs cmd; returns None on success, else a one-line reason with the end of its stderr."""
  res = subprocess.run(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  if res.returncode == 0:
    return None
  how = (f"killed by {signal.Signals(-res.returncode).name}" if res.returncode < 0
         else f"exit {res.returncode}")
  err = (res.stderr.strip() or res.stdout.strip()).splitlines()[-3:]
  return f"`{' '.join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd[:2]))}` " \
         f"failed ({how}): {' | '.join(err)}"


def tolerance(prec, args):
  if prec != "fp32" and args.reduced_gate is not None:
    return args.reduced_gate
  return args.max_rel_l2 if prec == "fp32" else PRECISIONS[prec][1]


# ---- the per-call overhead -----------------------------------------------------------------------

def measure_overhead(kiln, args, bench_dir):
  """Times a one-element Add on both runtimes, alternating over --rounds rounds of
  --overhead-iterations calls: what one call costs beyond the model's own work (kiln:
  ExecutionContext::run() on bound buffers, from C++; ORT: the awaited session.run(feeds,
  fetches) through onnxruntime-node). Both must compute x + 1."""
  wdir = os.path.join(bench_dir, "overhead")
  os.makedirs(wdir, exist_ok=True)
  model = os.path.join(wdir, "add1.onnx")
  graph = helper.make_graph(
      [helper.make_node("Add", ["x", "one"], ["y"], name="add")], "add1",
      [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
      [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
      [numpy_helper.from_array(np.ones(1, np.float32), "one")])
  m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
  m.ir_version = 8
  onnx.save(m, model)
  npy = os.path.join(wdir, "x.npy")
  np.save(npy, np.array([2.5], np.float32))
  inputs = [("x", npy)]
  n, warm = args.overhead_iterations, min(args.warmup_ms, 200)
  env = node_env(bench_dir)
  out = {"model": OVERHEAD_MODEL, "iterations": n, "rounds": args.rounds}
  ort_cmd = ort_command(model, inputs, args, n, warm)
  got = os.path.join(wdir, "ort_out")
  shutil.rmtree(got, ignore_errors=True)
  run(ort_command(model, inputs, args, 1, 0) + ["--save-outputs", got], env=env, capture=True)
  if np.load(os.path.join(got, "y.npy")).tolist() != [3.5]:
    die("ORT computed the wrong x + 1 on the overhead model")
  cmds = [("ort", ort_cmd)]
  if kiln:
    plan = os.path.join(wdir, "add1.plan")
    run([kiln, "compile", model, "-o", plan, f"--threads={args.threads}"], capture=True)
    got = os.path.join(wdir, "kiln_out")
    shutil.rmtree(got, ignore_errors=True)
    os.makedirs(got)
    run(kiln_command(kiln, plan, inputs, args, 1, 0)[:-1] + [f"--exportOutput={got}"],
        capture=True)
    if np.load(os.path.join(got, "y.npy")).tolist() != [3.5]:
      die("kiln computed the wrong x + 1 on the overhead model")
    cmds.append(("kiln", kiln_command(kiln, plan, inputs, args, n, warm)))
  lats = {who: [] for who, _ in cmds}
  for r in range(args.rounds):
    for who, cmd in (cmds if r % 2 == 0 else cmds[::-1]):
      if who == "ort":
        lats[who].append(run_ort_timed(cmd, env)[0])
      else:
        lats[who].append(run_kiln_timed(cmd, os.path.join(wdir, "times.json")))
  for who, rounds in lats.items():
    out[who] = summarize_rounds(rounds)
  log("per-call overhead (" + OVERHEAD_MODEL + "): " + ", ".join(
      f"{who} {1000 * out[who]['median_ms']:.1f} us" for who in ("kiln", "ort") if who in out))
  return out


# ---- one model -----------------------------------------------------------------------------------

def bench_model(spec, args, kiln, bench_dir):
  """Returns one result row per kiln precision (one row with kiln None under --skip-kiln); every
  row carries the same ONNX Runtime fp32 measurement."""
  m, onnx_path, data, _ = spec
  for p in (onnx_path, os.path.join(data, "input_0.pb"), os.path.join(data, "output_0.pb")):
    if not os.path.isfile(p):
      die(f"{m}: {p} is missing")
  wdir = os.path.join(bench_dir, m)
  os.makedirs(wdir, exist_ok=True)
  inputs = convert_inputs(data, wdir)
  flops = model_flops.model_flops(onnx_path)
  env = node_env(bench_dir)
  precisions = args.precisions if kiln else [None]
  rows = [{"model": m, "precision": p, "gflop": flops / 1e9, "kiln": None, "ort": None}
          for p in precisions]

  ort_cmd = ort_command(onnx_path, inputs, args, args.iterations, args.warmup_ms)
  ort_out = os.path.join(wdir, "ort_out")
  shutil.rmtree(ort_out, ignore_errors=True)  # stale outputs must not pass the check
  # One short run to check ORT computes torch's answer (and to warm the page cache).
  run(ort_command(onnx_path, inputs, args, 1, 0) + ["--save-outputs", ort_out], env=env,
      capture=True)
  ort_rel, ort_rels, problem = check_outputs(ort_out, data, "onnxruntime", args.max_rel_l2)
  for row in rows:
    row.update(ort_rel_l2_vs_torch=ort_rel, ort_rel_l2_per_output=ort_rels)
  if problem:
    log(f"{m}: not timed: {problem}")
    for row in rows:
      row["error"] = problem
    return rows

  kiln_cmds = {}
  for row in rows:
    prec = row["precision"]
    if prec is None:
      continue
    flags, _ = PRECISIONS[prec]
    if prec in FALLBACK_PRECISIONS:
      flags = flags + [f"--checkTolerance=rel_l2:{args.fallback_tolerance}"]
    if "--int8" in flags:
      calib = calib_sets(data, wdir)
      flags = flags + [f"--calib={calib}"]
    tol = tolerance(prec, args)
    row["rel_l2_limit"] = tol
    plan = os.path.join(wdir, f"model.{prec}.plan")
    if os.path.exists(plan):
      os.remove(plan)
    cache = os.path.join(bench_dir, "timing.cache" if prec == "fp32" else f"timing.{prec}.cache")
    t0 = time.monotonic()
    problem = soft_run([kiln, "compile", onnx_path, "-o", plan, f"--threads={args.threads}",
                        f"--builderOptimizationLevel={args.builder_level}",
                        f"--timingCacheFile={cache}"] + flags)
    row["kiln_compile_s"] = time.monotonic() - t0
    if problem:
      row["error"] = f"kiln compile {' '.join(flags) or '(fp32)'}: {problem}"
      log(f"{m} {prec}: not timed: {row['error']}")
      continue
    row["plan_bytes"] = os.path.getsize(plan)
    kiln_out = os.path.join(wdir, f"kiln_out_{prec}")
    shutil.rmtree(kiln_out, ignore_errors=True)
    os.makedirs(kiln_out)
    cmd = kiln_command(kiln, plan, inputs, args, args.iterations, args.warmup_ms)
    problem = soft_run(kiln_command(kiln, plan, inputs, args, 1, 0)[:-1]
                       + [f"--exportOutput={kiln_out}"])
    if not problem:
      rel, rels, problem = check_outputs(kiln_out, data, f"kiln {prec}", tol)
      row.update(kiln_rel_l2_vs_torch=rel, kiln_rel_l2_per_output=rels)
    if problem:
      row["error"] = problem
      log(f"{m} {prec}: not timed: {problem} (a fast wrong answer is not a benchmark result)")
      continue
    kiln_cmds[prec] = cmd

  order = [("ort", ort_cmd)] + list(kiln_cmds.items())
  lats = {who: [] for who, _ in order}
  ort_extra = []
  loads = []
  for r in range(args.rounds):
    for who, cmd in (order if r % 2 == 0 else order[::-1]):
      if who == "ort":
        lat, res = run_ort_timed(cmd, env)
        ort_extra.append({k: res[k] for k in ("output_bytes", "output_copy_ms", "warmup_runs")})
      else:
        lat = run_kiln_timed(cmd, os.path.join(wdir, f"times.{who}.json"))
      lats[who].append(lat)
    loads.append(os.getloadavg()[0])
    log(f"  {m} round {r + 1}/{args.rounds}: " + ", ".join(
        f"{'ORT' if who == 'ort' else 'kiln ' + who} {percentile(sorted(lats[who][-1]), 50):.2f} ms"
        for who, _ in order))

  ort = summarize_rounds(lats["ort"])
  ort["gflops"] = flops / 1e9 / (ort["median_ms"] / 1e3)
  ort["output_bytes"] = ort_extra[0]["output_bytes"]
  ort["output_copy_ms"] = percentile(sorted(e["output_copy_ms"] for e in ort_extra), 50)
  for row in rows:
    row["ort"] = ort
    row["load_avg_1min"] = loads
    prec = row["precision"]
    if prec not in kiln_cmds:
      continue
    k = summarize_rounds(lats[prec])
    k["gflops"] = flops / 1e9 / (k["median_ms"] / 1e3)
    k["layers"] = layer_efficiency(kiln_cmds[prec], onnx_path, wdir, prec)
    row["kiln"] = k
    row["ratio_ort_over_kiln"] = ort["median_ms"] / k["median_ms"]
  return rows


def layer_efficiency(kiln_cmd, onnx_path, wdir, prec):
  """GFLOP/s of kiln's convolution layers and of its Gemm/MatMul layers alone, from one profiled
  run (kiln's per-layer median times; a layer counts as a conv when its fused ops start with Conv).
  Fused post-ops (bias, residual Add, activations) are part of those layers' time."""
  prof = os.path.join(wdir, f"profile.{prec}.json")
  cmd = [c for c in kiln_cmd if c != "--json"] + [f"--exportProfile={prof}"]
  run(cmd, capture=True)
  with open(prof) as f:
    layers = json.load(f)["layers"]
  out = {}
  for key, ops in (("conv", ("Conv",)), ("matmul", ("Gemm", "MatMul"))):
    fl = model_flops.model_flops(onnx_path, ops)
    ms = sum(l["median_ms"] for l in layers if l["fused"] and l["fused"][0] in ops)
    if fl and ms > 0:
      out[key] = {"gflop": fl / 1e9, "ms": ms, "gflops": fl / 1e9 / (ms / 1e3)}
  return out


def print_table(results, peak_gflops):
  hdr = (f"{'model':<14} {'prec':<5} {'GFLOP':>6} {'kiln ms':>9} {'ORT ms':>9} {'ORT/kiln':>8} "
         f"{'kiln GF/s':>9} {'ORT GF/s':>8} {'kiln %pk':>8} {'layers %pk':>16} {'kiln err':>8} "
         f"{'ORT err':>8} {'plan MB':>8}")
  print(hdr)
  print("-" * len(hdr))

  def f(v, fmt):
    return format(v, fmt) if v is not None else "-"

  def pct(v):
    return f"{v:.0f}%" if v is not None else "-"
  for r in results:
    k, o = r["kiln"], r["ort"]
    print(f"{r['model']:<14} {r['precision'] or '-':<5} {r['gflop']:>6.2f} "
          f"{f(k and k['median_ms'], '9.3f'):>9} "
          f"{f(o and o['median_ms'], '9.3f'):>9} {f(r.get('ratio_ort_over_kiln'), '8.3g'):>8} "
          f"{f(k and k['gflops'], '9.1f'):>9} {f(o and o['gflops'], '8.1f'):>8} "
          f"{pct(k and peak_gflops and 100 * k['gflops'] / peak_gflops):>8} "
          f"{layer_pct(k, peak_gflops):>16} "
          f"{f(r.get('kiln_rel_l2_vs_torch'), '8.1e'):>8} "
          f"{f(r.get('ort_rel_l2_vs_torch'), '8.1e'):>8} "
          f"{f(r.get('plan_bytes') and r['plan_bytes'] / 1e6, '8.1f'):>8}"
          + (f"  NOT TIMED: {r['error']}" if r.get("error") else ""))


def layer_pct(k, peak_gflops):
  """'conv 87%' / 'matmul 70%': the heavy layers' share of the measured peak."""
  if not k or not peak_gflops or not k.get("layers"):
    return "-"
  return " ".join(f"{key} {100 * v['gflops'] / peak_gflops:.0f}%" for key, v in k["layers"].items())


def geomean(xs):
  return statistics.geometric_mean(xs) if xs else None


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                  help="kiln build directory (default: <repo>/build)")
  ap.add_argument("--kiln", help="kiln CLI (default: BUILD/bin/kiln)")
  ap.add_argument("--models", default=DEFAULT_MODELS,
                  help=f"comma-separated: zoo names ({DEFAULT_MODELS}), tiny_resnet, "
                  "directories holding model.onnx + test_data_set_0/, or .onnx files with "
                  "<stem>/test_data_set_0/ beside them")
  ap.add_argument("--precision", default="fp32",
                  help="kiln precision(s), comma-separated, one table row each: fp32 (default), bf16 "
                  "(kiln compile --bf16), fp16 (--fp16), best (--best), int8 (--int8, calibrated on 16 "
                  "generated samples), int8bf16 (--int8 --bf16), int8fb (--int8 with the accuracy-driven "
                  "fallback to fp32 within --fallback-tolerance on the calibration samples), "
                  "int8fbbf16 (the same fallback to bf16), int8dyn (--int8Dynamic), int8dynbf16 (--int8Dynamic "
                  "--bf16), int8dynrow (--int8DynamicScales=row), int8dyntensor (--int8DynamicScales=tensor); ONNX Runtime runs fp32")
  ap.add_argument("--fallback-tolerance", type=float, default=0.12,
                  help="rel. L2 that int8fb/int8fbbf16 pass to --checkTolerance (default 0.12)")
  ap.add_argument("--threads", type=int, default=2, help="threads for both runtimes (default 2)")
  ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
  ap.add_argument("--iterations", type=int, default=20, help="timed runs per round (default 20)")
  ap.add_argument("--warmup-ms", type=int, default=500, help="warm-up per round (default 500)")
  ap.add_argument("--reduced-gate", type=float, default=None,
                  help="override the bf16/fp16/best accuracy gates (e.g. 0.2 to time a model whose random "
                  "weights amplify rounding); the table still shows each row's error against torch")
  ap.add_argument("--max-rel-l2", type=float, default=1e-3,
                  help="do not time a runtime whose fp32 output is further than this from "
                  "torch's (default 1e-3); reduced precisions have their own gates: bf16 and best "
                  "0.03, fp16 5e-3")
  ap.add_argument("--overhead-iterations", type=int, default=1000,
                  help="calls per round when timing the per-call overhead on a one-element Add "
                  "(default 1000; 0 skips it)")
  ap.add_argument("--out", help="results JSON (default: BUILD/bench/results.json)")
  ap.add_argument("--builder-level", type=int, default=3,
                  help="kiln compile --builderOptimizationLevel (default 3: tactics timed on this "
                  "machine; the timing cache BUILD/bench/timing.cache makes reruns fast)")
  ap.add_argument("--no-peak", action="store_true",
                  help="skip measuring the fp32 peak (a 2048^3 matmul through kiln)")
  ap.add_argument("--chart", help="PNG bar chart (default: BUILD/bench/results.png)")
  ap.add_argument("--skip-kiln", action="store_true",
                  help="time ONNX Runtime alone (e.g. while the kiln CLI is not built)")
  args = ap.parse_args()
  if args.threads < 1 or args.rounds < 1 or args.iterations < 1 or args.warmup_ms < 0 \
          or args.overhead_iterations < 0:
    die("--threads, --rounds and --iterations must be >= 1, --warmup-ms and "
        "--overhead-iterations >= 0")
  args.precisions = [p.strip() for p in args.precision.split(",") if p.strip()]
  bad = [p for p in args.precisions if p not in PRECISIONS]
  if bad or not args.precisions or len(set(args.precisions)) != len(args.precisions):
    die(f"--precision '{args.precision}': give distinct values among {', '.join(PRECISIONS)}")

  build = os.path.abspath(args.build)
  bench_dir = os.path.join(build, "bench")
  models_dir = os.path.join(build, "models")
  out = os.path.abspath(args.out or os.path.join(bench_dir, "results.json"))
  kiln = None
  if not args.skip_kiln:
    kiln = os.path.abspath(args.kiln or os.path.join(build, "bin", "kiln"))
    if not os.access(kiln, os.X_OK):
      die(f"kiln CLI not found at {kiln}; build it (ninja -C {build} kiln), pass --kiln, "
          "or pass --skip-kiln to time ONNX Runtime alone")
  specs = [resolve_model(m.strip(), models_dir) for m in args.models.split(",") if m.strip()]
  if not specs:
    die("--models is empty")
  names = [s[0] for s in specs]
  if len(set(names)) != len(names):
    die(f"--models names a model twice: {names}")

  install_ort(bench_dir)
  to_export = [s[0] for s in specs if s[3]]
  if to_export:
    run([sys.executable, os.path.join(ROOT, "scripts", "export_models.py"), models_dir,
         "--models", ",".join(to_export), "--opset", "13", "--batch", "1"])

  cores = os.cpu_count() or 1
  load = os.getloadavg()[0]
  if load > 0.5:
    log(f"warning: 1-minute load average is {load:.1f} on {cores} cores before starting; other "
        "processes compete for the CPU, so absolute latencies are inflated and noisy (the "
        "alternating rounds keep the ratio fairer, but rerun on an idle machine for real numbers)")
  peak_info = None
  if kiln and not args.no_peak:
    try:
      peak_info = peak.measure_peak(kiln, os.path.join(bench_dir, "peak"), args.threads)
    except RuntimeError as e:
      die(f"measuring the fp32 peak: {e}")
    log(f"measured fp32 peak: {peak_info['gflops']:.1f} GFLOP/s (2048^3 matmul, {args.threads} threads)")
  overhead = measure_overhead(kiln, args, bench_dir) if args.overhead_iterations else None
  results = []
  for spec in specs:
    log(f"{spec[0]}: {args.rounds} rounds x {args.iterations} iterations, {args.threads} threads"
        + (f", kiln {args.precision}" if kiln else ""))
    results.extend(bench_model(spec, args, kiln, bench_dir))

  if peak_info:
    # Again at the end: the peak is the best the machine does, and a busy moment at the start
    # would understate it (and flatter every %pk).
    again = peak.measure_peak(kiln, os.path.join(bench_dir, "peak"), args.threads)
    peak_info["runs_gflops"] = [peak_info["gflops"], again["gflops"]]
    if again["gflops"] > peak_info["gflops"]:
      peak_info.update({k: again[k] for k in ("gflops", "median_ms")})
    log(f"fp32 peak at the end: {again['gflops']:.1f} GFLOP/s; using {peak_info['gflops']:.1f}")
  with open(os.path.join(bench_dir, "node_modules", ORT_PACKAGE, "package.json")) as f:
    ort_version = json.load(f)["version"]
  report = {
      "machine": {"cpu": cpu_name(), "cores": cores, "load_avg_1min_start": load},
      "config": {"threads": args.threads, "rounds": args.rounds, "iterations": args.iterations,
                 "builder_level": args.builder_level, "precisions": args.precisions,
                 "rel_l2_limits": {p: tolerance(p, args) for p in args.precisions},
                 "warmup_ms": args.warmup_ms, "batch": 1, "ort": f"{ORT_PACKAGE} {ort_version}",
                 "ort_path": "await session.run(feeds, fetches): inputs created once, outputs "
                             "pre-allocated and reused (bench_ort.mjs)",
                 "kiln_path": "kiln run: ExecutionContext::run() on bound buffers, in-process C++",
                 "kiln": kiln},
      "statistics": "every statistic is computed by run_bench.py latency_stats() from raw "
                    "per-iteration latencies (kiln --exportTimes, bench_ort.mjs latencies_ms), "
                    "with kiln's definitions: percentile p = linear interpolation at rank "
                    "p/100*(n-1) of the sorted times, median = p50, population stddev; median_ms "
                    "= median over rounds of each round's median; pooled = all iterations",
      "overhead": overhead or {},
      "peak": peak_info or {},
      "results": results,
      "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
  }
  os.makedirs(os.path.dirname(out), exist_ok=True)
  with open(out, "w") as f:
    json.dump(report, f, indent=1)
  png = os.path.abspath(args.chart or os.path.join(bench_dir, "results.png"))
  if any(r["kiln"] and r["ort"] for r in results):
    chart.draw_chart(report, png)
  print()
  pk = peak_info["gflops"] if peak_info else None
  print_table(results, pk)
  print()
  for prec in args.precisions if kiln else []:
    ratios = [r["ratio_ort_over_kiln"] for r in results
              if r["precision"] == prec and r.get("ratio_ort_over_kiln")]
    if ratios:
      print(f"geomean speedup of kiln {prec} over ONNX Runtime fp32: {geomean(ratios):.3f}x over "
            f"{len(ratios)} models")
  if overhead:
    print(f"\nper-call overhead ({OVERHEAD_MODEL}, median of {args.rounds} rounds x "
          f"{args.overhead_iterations} calls): " + ", ".join(
              f"{name} {1000 * overhead[who]['median_ms']:.1f} us"
              for who, name in (("kiln", "kiln (C++ ExecutionContext::run)"),
                                ("ort", "ONNX Runtime (Node session.run, awaited)"))
              if who in overhead))
    copies = [(r["model"], r["ort"]["output_copy_ms"]) for r in results
              if r["ort"] and r["precision"] in (None, args.precisions[0])]
    if copies:
      print("  plus, for ORT, a copy of the outputs per call (estimated): " + ", ".join(
          f"{m} {1000 * c:.1f} us" for m, c in copies))
  if pk:
    print(f"measured fp32 peak: {pk:.1f} GFLOP/s (2048^3 oneDNN matmul); %pk = achieved / peak; "
          "layers %pk = kiln's conv / matmul layers alone, from a profiled run")
  print(f"\nmedian latency over {args.rounds} rounds (each the median of {args.iterations} runs), "
        f"{args.threads} threads, batch 1; ratio = ORT fp32 / kiln at that precision, > 1 means "
        f"kiln is faster; err = worst relative L2 vs torch fp32 over the outputs; plan MB = the "
        f"kiln plan file.\nresults: {out}\nchart: {png}")
  failed = [r for r in results if r.get("error")]
  if failed:
    die(f"{len(failed)} row(s) not timed because of a failed build or a wrong output: " + "; ".join(
        f"{r['model']} {r['precision'] or ''}".strip() for r in failed))


if __name__ == "__main__":
  main()
