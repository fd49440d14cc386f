#!/usr/bin/python3
"""Side-by-side latency benchmark: kiln vs ONNX Runtime (CPU) on the same models, input and threads.

Usage (from anywhere; see docs/benchmarks.md):
  /usr/bin/python3 benchmarks/run_bench.py --build build [--models resnet50,mobilenet_v2]
      [--threads 2] [--rounds 5] [--iterations 20] [--warmup-ms 500] [--out results.json]
      [--skip-kiln]

Steps: installs npm onnxruntime-node into BUILD/bench/node_modules (once), exports the models with
scripts/export_models.py into BUILD/models (shared with the model tests), compiles each with
`kiln compile`, checks that both runtimes reproduce torch's output, then times ROUNDS rounds per
model. Each round runs `kiln run --json` and bench_ort.mjs once each, alternating which goes first,
so slow drifts in machine load hit both alike. A round's number is that run's median latency; the
reported number is the median over rounds. Ratio = ORT / kiln (> 1 means kiln is faster).
"""
import argparse
import json
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
from onnx import numpy_helper  # noqa: E402

# The zoo scripts/export_models.py builds: torchvision CNNs, ViT-B/16 and a BERT-base encoder.
DEFAULT_MODELS = ("resnet50,mobilenet_v2,squeezenet1_1,efficientnet_b0,googlenet,densenet121,"
                  "vit_b_16,bert_base")
TORCHVISION = DEFAULT_MODELS.split(",")
ORT_PACKAGE = "onnxruntime-node"


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
  t = onnx.TensorProto()
  with open(pb, "rb") as f:
    t.ParseFromString(f.read())
  arr = numpy_helper.to_array(t)
  if arr.dtype != np.float32:
    die(f"{pb}: input dtype {arr.dtype}; the harness feeds float32 only")
  np.save(npy, arr)
  return t.name


def parse_json(text, who):
  try:
    return json.loads(text)
  except ValueError:
    die(f"{who} did not print exactly one JSON object on stdout; it printed:\n{text}")


def check_output(out_dir, data_dir, who, max_rel):
  """Returns the relative L2 error against torch's output_0.pb; dies on mismatch."""
  name, expected = compare_outputs.load_pb(os.path.join(data_dir, "output_0.pb"))
  path = os.path.join(out_dir, compare_outputs.sanitize(name) + ".npy")
  if not os.path.isfile(path):
    die(f"{who} wrote no output {path}")
  rel, _, problem = compare_outputs.compare(np.load(path), expected)
  if problem:
    die(f"{who} output is wrong: {problem}")
  if rel > max_rel:
    die(f"{who} output is wrong: relative L2 error {rel:.2e} against torch > {max_rel:.1e}; "
        "a fast wrong answer is not a benchmark result")
  return rel


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
  """Maps a --models entry to (name, model.onnx, test_data_set_0 dir, torchvision export needed)."""
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
  die(f"--models entry '{spec}' is neither a torchvision model ({', '.join(TORCHVISION)}), "
      "tiny_resnet, a directory with model.onnx + test_data_set_0/, nor an existing .onnx file")


def bench_model(spec, args, kiln, bench_dir):
  m, onnx_path, data, _ = spec
  for p in (onnx_path, os.path.join(data, "input_0.pb"), os.path.join(data, "output_0.pb")):
    if not os.path.isfile(p):
      die(f"{m}: {p} is missing")
  wdir = os.path.join(bench_dir, m)
  os.makedirs(wdir, exist_ok=True)
  npy = os.path.join(wdir, "input.npy")
  in_name = pb_to_npy(os.path.join(data, "input_0.pb"), npy)
  flops = model_flops.model_flops(onnx_path)
  result = {"model": m, "gflop": flops / 1e9, "kiln": None, "ort": None}

  ort_cmd = ["node", os.path.join(HERE, "ort", "bench_ort.mjs"), "--model", onnx_path,
             "--input", npy, "--threads", str(args.threads), "--warmup-ms", str(args.warmup_ms),
             "--iterations", str(args.iterations)]
  ort_out = os.path.join(wdir, "ort_out")
  shutil.rmtree(ort_out, ignore_errors=True)  # stale outputs must not pass the check
  os.makedirs(ort_out)
  # One short run to check ORT computes torch's answer (and to warm the page cache).
  run(ort_cmd[:-4] + ["--warmup-ms", "0", "--iterations", "1", "--save-output",
                      os.path.join(ort_out, "output.npy")], env=node_env(bench_dir), capture=True)
  result["ort_rel_l2_vs_torch"] = check_output(ort_out, data, "onnxruntime", args.max_rel_l2)

  kiln_cmd = None
  if kiln:
    plan = os.path.join(wdir, "model.plan")
    t0 = time.monotonic()
    run([kiln, "compile", onnx_path, "-o", plan, f"--threads={args.threads}",
         f"--builderOptimizationLevel={args.builder_level}",
         f"--timingCacheFile={os.path.join(bench_dir, 'timing.cache')}"], capture=True)
    result["kiln_compile_s"] = time.monotonic() - t0
    kiln_out = os.path.join(wdir, "kiln_out")
    shutil.rmtree(kiln_out, ignore_errors=True)
    os.makedirs(kiln_out)
    feed = f"--loadInputs={in_name}:{npy}"
    run([kiln, "run", f"--loadEngine={plan}", feed, f"--exportOutput={kiln_out}",
         "--iterations=1", "--warmUp=0", "--duration=0", f"--threads={args.threads}"],
        capture=True)
    result["kiln_rel_l2_vs_torch"] = check_output(kiln_out, data, "kiln", args.max_rel_l2)
    kiln_cmd = [kiln, "run", f"--loadEngine={plan}", feed, f"--iterations={args.iterations}",
                f"--warmUp={args.warmup_ms}", "--duration=0", f"--threads={args.threads}",
                "--json"]

  rounds = {"kiln": [], "ort": []}
  loads = []
  for r in range(args.rounds):
    order = [("kiln", kiln_cmd), ("ort", ort_cmd)]
    if r % 2:
      order.reverse()
    for who, cmd in order:
      if cmd is None:
        continue
      env = node_env(bench_dir) if who == "ort" else None
      res = parse_json(run(cmd, env=env, capture=True), who)
      try:
        rounds[who].append(res["latency_ms"])
      except KeyError:
        die(f"{who} JSON has no latency_ms: {res}")
    loads.append(os.getloadavg()[0])
    log(f"  {m} round {r + 1}/{args.rounds}: " + ", ".join(
        f"{who} {rounds[who][-1]['median']:.2f} ms" for who in ("kiln", "ort") if rounds[who]))

  for who in ("kiln", "ort"):
    if rounds[who]:
      med = statistics.median(x["median"] for x in rounds[who])
      result[who] = {"median_ms": med, "rounds": rounds[who],
                     "gflops": flops / 1e9 / (med / 1e3)}
  if kiln_cmd:
    result["kiln"]["layers"] = layer_efficiency(kiln_cmd, onnx_path, wdir)
  if result["kiln"] and result["ort"]:
    result["ratio_ort_over_kiln"] = result["ort"]["median_ms"] / result["kiln"]["median_ms"]
  result["load_avg_1min"] = loads
  return result


def layer_efficiency(kiln_cmd, onnx_path, wdir):
  """GFLOP/s of kiln's convolution layers and of its Gemm/MatMul layers alone, from one profiled
  run (kiln's per-layer median times; a layer counts as a conv when its fused ops start with Conv).
  Fused post-ops (bias, residual Add, activations) are part of those layers' time."""
  prof = os.path.join(wdir, "profile.json")
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
  hdr = (f"{'model':<16} {'GFLOP':>6} {'kiln ms':>9} {'ORT ms':>9} {'ORT/kiln':>9} "
         f"{'kiln GF/s':>10} {'ORT GF/s':>9} {'kiln %pk':>8} {'layers %pk':>16} {'kiln err':>9} "
         f"{'ORT err':>9}")
  print(hdr)
  print("-" * len(hdr))

  def f(v, fmt):
    return format(v, fmt) if v is not None else "-"
  for r in results:
    k, o = r["kiln"], r["ort"]
    print(f"{r['model']:<16} {r['gflop']:>6.2f} {f(k and k['median_ms'], '9.3f'):>9} "
          f"{f(o and o['median_ms'], '9.3f'):>9} {f(r.get('ratio_ort_over_kiln'), '9.3g'):>9} "
          f"{f(k and k['gflops'], '10.1f'):>10} {f(o and o['gflops'], '9.1f'):>9} "
          f"{f(k and peak_gflops and 100 * k['gflops'] / peak_gflops, '7.0f'):>7}% "
          f"{layer_pct(k, peak_gflops):>16} "
          f"{f(r.get('kiln_rel_l2_vs_torch'), '9.1e'):>9} "
          f"{f(r.get('ort_rel_l2_vs_torch'), '9.1e'):>9}")


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
                  help=f"comma-separated: torchvision names ({DEFAULT_MODELS}), tiny_resnet, "
                  "directories holding model.onnx + test_data_set_0/, or .onnx files with "
                  "<stem>/test_data_set_0/ beside them")
  ap.add_argument("--threads", type=int, default=2, help="threads for both runtimes (default 2)")
  ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
  ap.add_argument("--iterations", type=int, default=20, help="timed runs per round (default 20)")
  ap.add_argument("--warmup-ms", type=int, default=500, help="warm-up per round (default 500)")
  ap.add_argument("--max-rel-l2", type=float, default=1e-3,
                  help="stop if a runtime's output is this far from torch's (default 1e-3)")
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
  if args.threads < 1 or args.rounds < 1 or args.iterations < 1 or args.warmup_ms < 0:
    die("--threads, --rounds and --iterations must be >= 1 and --warmup-ms >= 0")

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
  results = []
  for spec in specs:
    log(f"{spec[0]}: {args.rounds} rounds x {args.iterations} iterations, {args.threads} threads")
    results.append(bench_model(spec, args, kiln, bench_dir))

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
                 "builder_level": args.builder_level,
                 "warmup_ms": args.warmup_ms, "batch": 1, "ort": f"{ORT_PACKAGE} {ort_version}",
                 "kiln": kiln},
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
  ratios = [r["ratio_ort_over_kiln"] for r in results if r.get("ratio_ort_over_kiln")]
  if ratios:
    print(f"\ngeomean speedup of kiln over ONNX Runtime: {geomean(ratios):.3f}x over {len(ratios)} models")
  if pk:
    print(f"measured fp32 peak: {pk:.1f} GFLOP/s (2048^3 oneDNN matmul); %pk = achieved / peak; "
          "layers %pk = kiln's conv / matmul layers alone, from a profiled run")
  print(f"\nmedian latency over {args.rounds} rounds (each the median of {args.iterations} runs), "
        f"{args.threads} threads, batch 1; ratio > 1 means kiln is faster; err = relative L2 vs "
        f"torch.\nresults: {out}\nchart: {png}")


if __name__ == "__main__":
  main()
