#!/usr/bin/python3
"""`kiln run` as a benchmark tool: the report's values, not just its exit codes.

Checks, on the bundled tiny_resnet: --json prints exactly one object with every documented key;
percentiles are ordered and agree with numpy on the --exportTimes latencies; --duration is honoured
(internally and by an external clock); the per-layer profile adds up to the measured latency;
--exportOutput JSON equals the .npy export and torch's output; --streams counts queries over all
streams; --batch compiles a dynamic-batch model; bad flags exit 2 and unwritable paths exit 1
before the run starts.

usage: run_report.py KILN MODEL.onnx WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper

KILN, MODEL, WORK = sys.argv[1:4]
# Nothing here depends on tuning, and level 0 (nothing timed) builds fastest.
L0 = "--builderOptimizationLevel=0"
HERE = os.path.dirname(os.path.abspath(MODEL))
INPUT = os.path.join(HERE, "tiny_resnet", "input_0.npy")
TORCH_OUT = numpy_helper.to_array(onnx.load_tensor(os.path.join(HERE, "tiny_resnet", "test_data_set_0", "output_0.pb")))
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
PLAN = os.path.join(WORK, "tiny.plan")
failures = []
passes = 0


def check(cond, what):
    global passes
    if cond:
        passes += 1
    else:
        failures.append(what)
        print("FAIL:", what)


def kiln(*args):
    return subprocess.run([KILN, *args], capture_output=True, text=True, timeout=120)


def run_json(*args):
    """Runs `kiln run --json ...`; the whole of stdout must be one JSON object."""
    p = kiln("run", "--json", *args)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: kiln run {' '.join(args)} exited {p.returncode}: {p.stderr}")
    lines = p.stdout.strip().splitlines()
    check(len(lines) == 1, f"--json printed {len(lines)} lines on stdout: {p.stdout[:300]!r}")
    obj = json.loads(p.stdout)  # raises on anything but exactly one JSON value
    check(isinstance(obj, dict), "--json stdout is not an object")
    return obj, p.stderr


def load_json(path):
    with open(path) as f:
        return json.load(f)


def near(a, b, rel):
    return abs(a - b) <= rel * max(abs(a), abs(b))


subprocess.run([KILN, "compile", L0, MODEL, "-o", PLAN], check=True, capture_output=True)

# 1. Keys, percentiles, exportTimes and exportOutput (JSON) on one run with known inputs.
times_f, out_json = os.path.join(WORK, "times.json"), os.path.join(WORK, "out.json")
rep, _ = run_json("--loadEngine=" + PLAN, "--loadInputs=input:" + INPUT, "--iterations=200", "--duration=0",
                  "--warmUp=50", "--percentile=50,99.9", "--exportTimes=" + times_f, "--exportOutput=" + out_json)
lat = rep["latency_ms"]
for k in ["min", "max", "mean", "median", "p90", "p95", "p99", "p50", "p99.9"]:
    check(k in lat, f"latency_ms lacks '{k}'")
for k in ["throughput_qps", "iterations", "streams", "threads", "load_ms", "load_rss_mb", "peak_rss_mb", "first_inference_ms",
          "wall_time_s"]:
    check(k in rep, f"the report lacks '{k}'")
order = [lat["min"], lat["p50"], lat["p90"], lat["p95"], lat["p99"], lat["p99.9"], lat["max"]]
check(all(a <= b for a, b in zip(order, order[1:])) and lat["min"] > 0, f"percentiles out of order: {order}")
check(lat["p50"] == lat["median"], "p50 differs from the median")
check(rep["iterations"] == 200 and rep["streams"] == 1, f"iterations/streams: {rep['iterations']}/{rep['streams']}")
check(rep["peak_rss_mb"] > 1 and 1 < rep["load_rss_mb"] <= rep["peak_rss_mb"] and rep["load_ms"] > 0 and rep["first_inference_ms"] > 0, "load/RSS/first figures")
check(near(rep["throughput_qps"], rep["iterations"] / rep["wall_time_s"], 1e-6), "throughput != iterations / wall")

times = load_json(times_f)
check(len(times) == rep["iterations"], f"exportTimes has {len(times)} records for {rep['iterations']} iterations")
check(all(abs(t["latency_ms"] - (t["end_ms"] - t["start_ms"])) < 1e-6 and t["start_ms"] >= 0 for t in times),
      "exportTimes latency_ms != end_ms - start_ms")
check(all(a["end_ms"] <= b["start_ms"] + 1e-9 for a, b in zip(times, times[1:])),
      "one stream's queries overlap in exportTimes")
check(near(max(t["end_ms"] for t in times), rep["wall_time_s"] * 1000, 0.01), "exportTimes span != wall_time_s")
# The report's statistics, recomputed independently from the per-query times.
ls = np.array([t["latency_ms"] for t in times])
for key, want in [("min", ls.min()), ("max", ls.max()), ("mean", ls.mean()), ("median", np.median(ls)),
                  ("p90", np.percentile(ls, 90)), ("p99.9", np.percentile(ls, 99.9))]:
    check(abs(lat[key] - want) <= 1e-6 * max(1.0, want), f"latency_ms.{key} = {lat[key]}, numpy says {want}")
# --avgRuns (default 10): the averages of windows of 10 consecutive queries, recomputed the same way.
avg, win = rep.get("averaged_ms", {}), ls.reshape(-1, 10).mean(axis=1)
check(avg.get("runs") == 10 and avg.get("windows") == 20, f"averaged_ms: {avg}")
for key, want in [("min", win.min()), ("max", win.max()), ("mean", win.mean()), ("median", np.median(win))]:
    check(abs(avg.get(key, -1) - want) <= 1e-6 * max(1.0, want), f"averaged_ms.{key} = {avg.get(key)}, numpy says {want}")

outs = load_json(out_json)
check(len(outs) == 1 and outs[0]["name"] == "output" and outs[0]["dimensions"] == "1x10", f"exportOutput: {outs}")
got = np.array(outs[0]["values"], dtype=np.float32).reshape(outs[0]["shape"])
check(np.allclose(got, TORCH_OUT, rtol=1e-4, atol=1e-4), "exportOutput JSON values differ from torch's output")

# 2. The .npy export of the same inference holds exactly the same values as the JSON.
npy_dir = os.path.join(WORK, "npy")
run_json("--loadEngine=" + PLAN, "--loadInputs=input:" + INPUT, "--iterations=1", "--duration=0", "--warmUp=0",
         "--exportOutput=" + npy_dir)
check(np.array_equal(np.load(os.path.join(npy_dir, "output.npy")), got), "exportOutput JSON != .npy export")

# 3. --duration=1 is honoured within 10%, by the report and by an outside clock.
t0 = time.monotonic()
rep, _ = run_json("--loadEngine=" + PLAN, "--duration=1", "--iterations=1", "--warmUp=0")
elapsed = time.monotonic() - t0
check(1.0 <= rep["wall_time_s"] <= 1.1, f"--duration=1 ran {rep['wall_time_s']} s")
overhead_s = (rep["load_ms"] + rep["first_inference_ms"]) / 1000
check(rep["wall_time_s"] <= elapsed <= rep["wall_time_s"] + overhead_s + 1.0,
      f"process took {elapsed:.3f} s for a {rep['wall_time_s']:.3f} s run")

# 4. Profiling during the timed run: the per-layer times are sub-intervals of each query, so the sum
# of their averages is at most the mean latency of the same runs, and falls short only by the
# per-query work outside layers (loop, timestamps, final stream wait: microseconds against a ~0.2 ms
# query); 20% is generous, yet a profile that drops or double-counts one of the 11 layers fails.
# Means on a busy shared machine are dominated by preemption outliers (they can double), so the
# comparison with the median latency uses the sum of per-layer medians: 30% allows for per-layer
# medians not adding up exactly to the median of the sums.
prof_f = os.path.join(WORK, "profile.json")
rep, err = run_json("--loadEngine=" + PLAN, "--iterations=200", "--duration=0", "--warmUp=50", "--dumpProfile",
                    "--exportProfile=" + prof_f)
prof = load_json(prof_f)
check("=== Profile" in err, "--dumpProfile with --json did not print the table on stderr")
check(prof["runs"] == rep["iterations"] and prof["during_timed_run"] and rep["latency_includes_profiling"],
      f"profile runs {prof['runs']} during the {rep['iterations']} timed iterations")
layers = prof["layers"]
check(len(layers) > 0 and all(k in layers[0] for k in ["name", "op", "fused", "tactic", "precision", "layout",
                                                        "average_ms", "median_ms", "percent"]), "profile layer keys")
check(abs(sum(l["average_ms"] for l in layers) - prof["total_ms"]) < 1e-6, "profile total != sum of layers")
check(abs(sum(l["median_ms"] for l in layers) - prof["total_median_ms"]) < 1e-6, "median total != sum of layers")
check(abs(sum(l["percent"] for l in layers) - 100) < 1e-6, "profile percentages do not add up to 100")
mean, median = rep["latency_ms"]["mean"], rep["latency_ms"]["median"]
check(0.8 * mean <= prof["total_ms"] <= mean * 1.001, f"profile total {prof['total_ms']} vs mean latency {mean}")
check(near(prof["total_median_ms"], median, 0.3),
      f"profile's sum of medians {prof['total_median_ms']} vs median latency {median}")
# With --separateProfileRun the timed latencies carry no profiling and the profile is its own pass.
rep, _ = run_json("--loadEngine=" + PLAN, "--iterations=30", "--duration=0", "--warmUp=20", "--exportProfile=" + prof_f,
                  "--separateProfileRun")
prof = load_json(prof_f)
check(not rep["latency_includes_profiling"] and not prof["during_timed_run"] and prof["runs"] >= 30,
      "--separateProfileRun still profiled the timed run")

# 5. Streams: queries are counted over both streams and both serve queries concurrently. Enough of
# them that the run outlasts a scheduler time slice: on a loaded machine (ctest -j) a 60-query run
# of this tiny model could end before the second stream's thread was scheduled at all.
times2 = os.path.join(WORK, "times2.json")
rep, _ = run_json("--loadEngine=" + PLAN, "--streams=2", "--iterations=2000", "--duration=0", "--warmUp=20",
                  "--exportTimes=" + times2)
t2 = load_json(times2)
check(rep["streams"] == 2 and rep["iterations"] == 2000 and len(t2) == 2000, f"streams=2: {rep}")
check({t["stream"] for t in t2} == {0, 1}, "one of two streams served no query")
if "OMP_NUM_THREADS" not in os.environ:
    want = max(1, len(os.sched_getaffinity(0)) // 2)
    check(rep["threads"] == want, f"--streams=2 picked {rep['threads']} threads per stream, expected {want}")
rep, _ = run_json("--loadEngine=" + PLAN, "--streams=2", "--threads=1", "--iterations=10", "--duration=0", "--warmUp=0")
check(rep["threads"] == 1 and rep["streams"] == 2, "--threads=1 --streams=2 not reported")
p = kiln("run", "--loadEngine=" + PLAN, "--streams=2", "--iterations=10", "--duration=0", "--warmUp=0",
         "--percentile=99.9")
for text in ["=== Performance summary ===", "Throughput:", "percentile(99.9%)", "Total Host Walltime:",
             "Streams: 2, threads per stream:", "divided among 2 streams", "first inference:", "RSS after load:", "peak RSS:"]:
    check(text in p.stdout, f"the human summary lacks '{text}'")

# 6. --batch: a plan accepts its own batch only; a dynamic-batch model compiles for the batch asked.
check(kiln("run", "--loadEngine=" + PLAN, "--batch=1", "--iterations=1", "--duration=0").returncode == 0,
      "--batch=1 on a batch-1 plan failed")
dyn = onnx.load(MODEL)
for vi in [dyn.graph.input[0], dyn.graph.output[0]]:
    vi.type.tensor_type.shape.dim[0].dim_param = "N"
del dyn.graph.value_info[:]
dyn_path, in2 = os.path.join(WORK, "dyn.onnx"), os.path.join(WORK, "input_b2.npy")
onnx.save(dyn, dyn_path)
np.save(in2, np.concatenate([np.load(INPUT)] * 2))
b2 = os.path.join(WORK, "b2.json")
run_json("--onnx=" + dyn_path, L0, "--batch=2", "--loadInputs=input:" + in2, "--iterations=1", "--duration=0",
         "--warmUp=0", "--exportOutput=" + b2)
o = load_json(b2)[0]
v = np.array(o["values"], dtype=np.float32).reshape(o["shape"])
check(o["dimensions"] == "2x10" and np.allclose(v, np.concatenate([TORCH_OUT] * 2), rtol=1e-4, atol=1e-4),
      f"--batch=2 output {o['dimensions']} differs from torch's batch-1 output repeated")


# 7. Usage errors exit 2; failures exit 1 naming the path, before the (30 s) run would start.
def expect(code, pattern, *args):
    t = time.monotonic()
    p = kiln("run", *args)
    ok = p.returncode == code and p.stderr.startswith("error: ") and pattern in p.stderr and p.stdout == ""
    check(ok and time.monotonic() - t < 10, f"kiln run {' '.join(args)} -> {p.returncode} {p.stderr!r}")


long_run = ["--loadEngine=" + PLAN, "--duration=30"]
expect(2, "--percentile", *long_run, "--percentile=101")
expect(2, "--percentile", *long_run, "--percentile=99,abc")
expect(2, "--percentile", *long_run, "--percentile=nan")
expect(2, "contradicts", *long_run, "--batch=2", "--shapes=input:1x3x64x64")
expect(1, "was built for", *long_run, "--batch=2")
expect(1, "fixes the first dimension", "--onnx=" + MODEL, "--batch=2", "--duration=30")
bad = os.path.join(WORK, "no", "such", "dir", "t.json")
expect(1, bad, *long_run, "--exportTimes=" + bad)
expect(1, bad, *long_run, "--exportProfile=" + bad)
expect(1, bad, *long_run, "--exportOutput=" + bad)
open(os.path.join(WORK, "afile"), "w").close()
expect(1, os.path.join(WORK, "afile", "sub"), *long_run, "--exportOutput=" + os.path.join(WORK, "afile", "sub"))

# trtexec's build-and-keep: kiln run --onnx --saveEngine writes the plan kiln compile would, and
# --skipInference stops after loading it.
saved = os.path.join(WORK, "saved.plan")
rep, _ = run_json("--onnx=" + MODEL, "--saveEngine=" + saved, "--skipInference")
check(rep.get("inference") == "skipped" and rep.get("load_ms", 0) > 0 and "latency_ms" not in rep,
      f"--skipInference report: {rep}")
check(os.path.isfile(saved), "--saveEngine wrote no plan")
# Without build flags, kiln compile's defaults: tactics timed at level 3.
insp = kiln("inspect", saved)
check(insp.returncode == 0 and "builder level 3" in insp.stdout, f"--onnx default level: {insp.stdout[:300]!r}")
rep, _ = run_json("--loadEngine=" + saved, "--iterations=2", "--duration=0", "--warmUp=0")
check(rep.get("iterations") == 2, f"the saved plan did not run: {rep}")
p = kiln("run", "--loadEngine=" + saved, "--skipInference")
check(p.returncode == 0 and "inference skipped" in p.stdout, f"--skipInference on a plan: {p.stdout!r} {p.stderr!r}")
# --dumpOutput prints what --exportOutput=F.json writes: on stdout, or on stderr beside --json.
dumped = os.path.join(WORK, "dumped.json")
p = kiln("run", "--loadEngine=" + saved, "--iterations=1", "--duration=0", "--dumpOutput", "--exportOutput=" + dumped)
head, _, rest = p.stdout.partition("Output tensors of the first inference:\n")
dump = json.JSONDecoder().raw_decode(rest)[0] if rest else None
check(p.returncode == 0 and dump == load_json(dumped), f"--dumpOutput differs from --exportOutput: {p.stdout[:300]!r}")
rep, err = run_json("--loadEngine=" + saved, "--iterations=1", "--duration=0", "--dumpOutput")
check("Output tensors of the first inference" in err, "--dumpOutput with --json did not go to stderr")
p = kiln("run", "--loadEngine=" + PLAN, "--iterations=10", "--duration=0", "--warmUp=0", "--avgRuns=4")
check(p.returncode == 0 and "Average on 4 runs: min = " in p.stdout and "(over 2 windows of consecutive queries)" in p.stdout,
      f"--avgRuns=4 summary: {p.stdout!r}")
expect(2, "--avgRuns", *long_run, "--avgRuns=0")
expect(2, "--saveEngine", *long_run, "--saveEngine=" + os.path.join(WORK, "x.plan"))
# kiln compile's build flags, one definition for both commands: --onnx takes them (--fp16 stores the
# weights as half: the plan shrinks), --loadEngine refuses them, naming the flag.
half = os.path.join(WORK, "half.plan")
rep, _ = run_json("--onnx=" + MODEL, "--saveEngine=" + half, "--fp16", L0, "--iterations=1", "--duration=0",
                  "--warmUp=0")
check(rep.get("iterations") == 1 and os.path.isfile(half) and os.path.getsize(half) < os.path.getsize(PLAN) * 0.7,
      f"--onnx --fp16 --saveEngine: {rep} {os.path.getsize(half) if os.path.isfile(half) else 'no plan'}")
insp = kiln("inspect", half)
check(insp.returncode == 0 and "builder level 0" in insp.stdout, f"--onnx {L0}: {insp.stdout[:300]!r}")
# A profile built by --onnx: --shapes then picks the shape to run inside it, as with a plan.
prof_out = os.path.join(WORK, "prof.json")
run_json("--onnx=" + dyn_path, L0, "--minShapes=input:1x3x64x64", "--optShapes=input:1x3x64x64",
         "--maxShapes=input:4x3x64x64", "--shapes=input:2x3x64x64", "--loadInputs=input:" + in2, "--iterations=1",
         "--duration=0", "--warmUp=0", "--exportOutput=" + prof_out)
o = load_json(prof_out)[0]
check(o["dimensions"] == "2x10" and np.allclose(np.array(o["values"], dtype=np.float32).reshape(o["shape"]),
                                                np.concatenate([TORCH_OUT] * 2), rtol=1e-4, atol=1e-4),
      f"--onnx with a profile at --shapes=input:2x3x64x64: {o['dimensions']}")
expect(2, "--fp16", *long_run, "--fp16")
expect(2, "--builderOptimizationLevel", *long_run, L0)
expect(2, "--calibCache", "--onnx=" + MODEL, "--calibCache=" + os.path.join(WORK, "c.txt"), "--duration=30")
expect(1, bad, "--onnx=" + MODEL, "--saveEngine=" + bad, "--duration=30")

print(f"{passes} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
