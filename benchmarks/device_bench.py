#!/usr/bin/env python3
"""kiln fp32 / bf16 / int8 against ONNX Runtime fp32 (and int8) and torch bf16 autocast on the lent
AMX machine.

Runs there (Ubuntu 24.04, python 3.12 with torch, transformers, onnxruntime; kiln packed into
.device/ by ../shared/device/pack.sh), in one command, and writes results.json to OUT:
  python3 benchmarks/device_bench.py --out $OUT [--threads 2,16] [--rounds 5] [--iters 20]

Models are made there (no weights travel): torchvision ResNet-50 and a Hugging Face BertModel
(bert-base shape, seq 128, attention_mask and token ids as inputs), both with seeded random
weights, exported with torch.onnx.export(dynamo=False). For every thread count each engine runs
ROUNDS rounds of ITERS timed iterations, alternating the order of the engines per round; a round's
figure is its median latency and the reported figure the median over rounds. ORT runs with its
inputs and outputs bound once (IOBinding), like kiln's pre-bound buffers. kiln's latencies come
from `kiln run --json` (median of its timed iterations). Accuracy: relative L2 of each engine's
output against torch fp32 on the same input.

--precisions adds int8: kiln --int8 calibrated on CALIB_SAMPLES inputs drawn like the timed one
(never the timed input itself); ONNX Runtime's own int8 as the peer (its quantize_static QDQ model
for ResNet-50, quantize_dynamic for BERT, calibrated on the same samples); and kiln compiling those
two ORT-made models (a QDQ model and a QOperator model made with a standard tool).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILN = os.path.join(ROOT, ".device", "bin", "kiln")
LIBS = os.path.join(ROOT, ".device", "lib")


def kiln_env():
    e = dict(os.environ)
    e["LD_LIBRARY_PATH"] = LIBS  # only for kiln: Debian's protobuf would break the device's python packages
    return e


def alternate(plans, rounds, seconds, pin=(), env=None):
    """kiln run of each plan (a dict name -> path) in turn for ROUNDS rounds of SECONDS each, each
    plan first in turn; returns each plan's per-round medians and, per plan, the median over rounds
    and the median per-round ratio to the first plan."""
    names = list(plans)
    med = {k: [] for k in names}
    for r in range(rounds):
        for k in names[r % len(names):] + names[:r % len(names)]:
            o = subprocess.run(list(pin) + [KILN, "run", "--loadEngine=" + plans[k], "--threads=2",
                                            f"--duration={seconds}", "--json"],
                               env=env or kiln_env(), capture_output=True, text=True, check=True).stdout
            med[k].append(json.loads(o)["latency_ms"]["median"])
        print(r, {k: v[-1] for k, v in med.items()}, flush=True)
    res = {k: statistics.median(v) for k, v in med.items()}
    for k in names:
        res[f"ratio_{k}_over_{names[0]}"] = statistics.median([a / b for a, b in zip(med[k], med[names[0]])])
    res["rounds"] = med
    return res


def rel_l2(a, b):
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


class BertWrap(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def make_models(work, names=("resnet50", "bert_hf")):
    """The named models (exporting one costs tens of seconds of device time), each seeded as if all
    were made."""
    torch.manual_seed(0)
    import torchvision
    models = {}
    r50 = torchvision.models.resnet50().eval()
    x = torch.randn(1, 3, 224, 224)
    if "resnet50" in names:
        path = os.path.join(work, "resnet50.onnx")
        torch.onnx.export(r50, (x,), path, input_names=["input"], output_names=["logits"], opset_version=17,
                          dynamo=False)
        with torch.no_grad():
            ref = r50(x).numpy()
        models["resnet50"] = dict(path=path, module=r50, feeds={"input": x.numpy()}, torch_args=(x,), ref=ref,
                                  shapes="input:1x3x224x224")
    if "bert_hf" not in names:
        return models
    from transformers import BertConfig, BertModel
    cfg = BertConfig()  # bert-base: 12 layers, hidden 768, 12 heads
    cfg.attn_implementation = "eager"
    bert = BertModel(cfg, add_pooling_layer=False).eval()
    try:
        bert.config._attn_implementation = "eager"
    except Exception:
        pass
    wrap = BertWrap(bert).eval()
    ids = torch.randint(0, cfg.vocab_size, (1, 128))
    mask = torch.ones(1, 128, dtype=torch.int64)
    path = os.path.join(work, "bert_hf.onnx")
    torch.onnx.export(wrap, (ids, mask), path, input_names=["input_ids", "attention_mask"],
                      output_names=["last_hidden_state"], opset_version=17, dynamo=False)
    with torch.no_grad():
        ref = wrap(ids, mask).numpy()
    models["bert_hf"] = dict(path=path, module=wrap, feeds={"input_ids": ids.numpy(), "attention_mask": mask.numpy()},
                             torch_args=(ids, mask), ref=ref, shapes="input_ids:1x128,attention_mask:1x128")
    return models


CALIB_SAMPLES = 16


def calib_samples(m):
    """CALIB_SAMPLES input dicts drawn like m's feeds: floats standard normal, token ids uniform,
    masks all ones (seeded apart from the timed input)."""
    rng = np.random.RandomState(20261204)
    out = []
    for _ in range(CALIB_SAMPLES):
        s = {}
        for k, v in m["feeds"].items():
            if np.issubdtype(v.dtype, np.floating):
                s[k] = rng.standard_normal(v.shape).astype(v.dtype)
            elif "mask" in k:
                s[k] = np.ones_like(v)
            else:
                s[k] = rng.randint(0, 30522, v.shape).astype(v.dtype)
        out.append(s)
    return out


def write_calib(m, work, name):
    from onnx import numpy_helper
    d = os.path.join(work, f"calib_{name}")
    for k, s in enumerate(calib_samples(m)):
        sd = os.path.join(d, f"test_data_set_{k}")
        os.makedirs(sd, exist_ok=True)
        for i, (n, v) in enumerate(s.items()):
            with open(os.path.join(sd, f"input_{i}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(v, n).SerializeToString())
    return d


def ort_int8_model(m, work, name):
    """ORT's own int8: quantize_static (QDQ, per-channel weights) for CNNs, quantize_dynamic for BERT."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    pre = os.path.join(work, f"{name}_pre.onnx")
    quant_pre_process(m["path"], pre, skip_symbolic_shape=True)
    out = os.path.join(work, f"{name}_ort_int8.onnx")
    if name.startswith("bert"):
        quantize_dynamic(pre, out, weight_type=QuantType.QInt8)
        return out

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(calib_samples(m))

        def get_next(self):
            return next(self.it, None)

    quantize_static(pre, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return out


def kiln_compile(m, work, name, flags, level, log, path=None):
    plan = os.path.join(work, f"{name}.plan")
    cmd = [KILN, "compile", path or m["path"], "-o", plan, f"--builderOptimizationLevel={level}", "--threads=2"] + flags
    t = time.time()
    p = subprocess.run(cmd, env=kiln_env(), capture_output=True, text=True)
    log.append({"cmd": " ".join(cmd), "rc": p.returncode, "stderr": p.stderr[-3000:], "s": time.time() - t})
    if p.returncode:
        raise RuntimeError(p.stderr)
    return plan


def feed_files(m, work, tag):
    """The model's timed inputs as .npy files, in kiln's --loadInputs form."""
    bindings = []
    for k, v in m["feeds"].items():
        f = os.path.join(work, f"{tag}_{k}.npy")
        np.save(f, v)
        bindings.append(f"{k}:{f}")
    return "--loadInputs=" + ",".join(bindings)


def kiln_output(plan, m, work, tag):
    out = os.path.join(work, f"{tag}_out")
    subprocess.run([KILN, "run", f"--loadEngine={plan}", feed_files(m, work, tag),
                    f"--exportOutput={out}", "--iterations=1", "--warmUp=0", "--threads=2"],
                   env=kiln_env(), check=True, capture_output=True)
    files = sorted(os.listdir(out))
    return np.load(os.path.join(out, files[0]))


def kiln_time(plan, threads, iters):
    p = subprocess.run([KILN, "run", f"--loadEngine={plan}", f"--threads={threads}", f"--iterations={iters}",
                        "--warmUp=300", "--json"], env=kiln_env(), capture_output=True, text=True, check=True)
    return json.loads(p.stdout)["latency_ms"]["median"]


def ort_session(path, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ort_time(sess, feeds, iters):
    import onnxruntime as ort
    io = sess.io_binding()
    for k, v in feeds.items():
        io.bind_ortvalue_input(k, ort.OrtValue.ortvalue_from_numpy(v))
    out = sess.get_outputs()[0]
    io.bind_output(out.name, "cpu")
    sess.run_with_iobinding(io)  # learns the output shape
    shape = io.get_outputs()[0].shape()
    io.clear_binding_outputs()
    io.bind_ortvalue_output(out.name, ort.OrtValue.ortvalue_from_shape_and_type(shape, np.float32))
    for _ in range(3):
        sess.run_with_iobinding(io)
    ts = []
    for _ in range(iters):
        t = time.perf_counter()
        sess.run_with_iobinding(io)
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts), io.copy_outputs_to_cpu()[0]


def torch_bf16_time(m, threads, iters):
    torch.set_num_threads(threads)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for _ in range(3):
            y = m["module"](*m["torch_args"])
        ts = []
        for _ in range(iters):
            t = time.perf_counter()
            y = m["module"](*m["torch_args"])
            ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts), y.float().numpy()


def cpu_busy(seconds=2.0):
    """Fraction of each CPU's time spent busy over a short sample of /proc/stat."""
    def snap():
        out = {}
        for line in open("/proc/stat"):
            f = line.split()
            if f[0].startswith("cpu") and f[0] != "cpu":
                v = [int(x) for x in f[1:]]
                out[int(f[0][3:])] = (sum(v), v[3] + v[4])  # total, idle + iowait
        return out
    a = snap()
    time.sleep(seconds)
    b = snap()
    return {c: 1.0 - (b[c][1] - a[c][1]) / max(1, b[c][0] - a[c][0]) for c in a}


def idle_cpus(n):
    """The n least busy CPUs, one per physical core (hyperthread siblings share execution units,
    so two busy siblings would time each other)."""
    busy = cpu_busy()
    chosen, cores = [], set()
    for c in sorted(busy, key=busy.get):
        try:
            sib = open(f"/sys/devices/system/cpu/cpu{c}/topology/thread_siblings_list").read().strip()
        except OSError:
            sib = str(c)
        if sib in cores:
            continue
        cores.add(sib)
        chosen.append(c)
        if len(chosen) == n:
            break
    print("cpu busy:", {c: round(b, 2) for c, b in sorted(busy.items())}, "-> pinned to", chosen, flush=True)
    return sorted(chosen)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", default="2,16")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--level", type=int, default=1)
    ap.add_argument("--models", default="resnet50,bert_hf")
    ap.add_argument("--precisions", default="fp32,bf16", help="kiln precisions: fp32, bf16, int8, int8bf16 (--int8 --bf16), int8dyn (--int8Dynamic), "
                    "int8dynbf16 (--int8Dynamic --bf16), int8dynrow (--int8DynamicScales=row), int8dyntensor (--int8DynamicScales=tensor)")
    ap.add_argument("--kiln-on-ort-int8", action="store_true",
                    help="with int8: also compile and time ORT's quantized models in kiln")
    ap.add_argument("--profile", action="store_true",
                    help="also write kiln's per-layer profile of each plan (2 threads, the timed inputs) to "
                    "OUT/profile_<model>_<prec>.txt")
    ap.add_argument("--cpus", help="pin this process and every engine it starts to these CPUs (e.g. 4,5): the "
                    "same cores for all, and no migration noise on a shared machine; 'auto' picks the least busy ones, "
                    "one per physical core, for the largest thread count")
    ap.add_argument("--paired", type=float, default=0, metavar="SECONDS",
                    help="also time kiln's plans and ORT fp32 alternating in short blocks in one process for "
                    "SECONDS per model and thread count (benchmarks/paired_time.py); --rounds 0 skips the "
                    "process-per-round timing")
    ap.add_argument("--paired-args", default="", help="more paired_time.py options, e.g. '--block 1 --mem-mb 256' "
                    "(one run per engine per round, a bandwidth probe, fast/slow state split)")
    a = ap.parse_args()
    if a.cpus == "auto":
        a.cpus = ",".join(str(c) for c in idle_cpus(max(int(t) for t in a.threads.split(","))))
    if a.cpus:  # inherited by the kiln subprocesses and by ORT's and torch's thread pools
        os.sched_setaffinity(0, {int(c) for c in a.cpus.split(",")})
    work = "/tmp/kiln_device_bench"
    os.makedirs(work, exist_ok=True)
    res = {"log": [], "results": {}, "cpus": a.cpus, "loadavg": open("/proc/loadavg").read().split()[:3], "cpu": open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0]}
    models = make_models(work, a.models.split(","))
    for name in a.models.split(","):
        m = models[name]
        precs = a.precisions.split(",")
        flags = {"fp32": [], "bf16": ["--bf16"], "int8dyn": ["--int8Dynamic"], "int8dynbf16": ["--int8Dynamic", "--bf16"],
                 "int8dynrow": ["--int8DynamicScales=row"], "int8dyntensor": ["--int8DynamicScales=tensor"]}
        ort_int8 = None
        if "int8" in precs or "int8bf16" in precs:
            flags["int8"] = ["--int8", "--calib=" + write_calib(m, work, name)]
            flags["int8bf16"] = flags["int8"] + ["--bf16"]
        if ("int8" in precs or "int8bf16" in precs) and (a.rounds or a.kiln_on_ort_int8):  # ORT's int8 is timed
            t = time.time()
            ort_int8 = ort_int8_model(m, work, name)
            res["log"].append({"ort_int8_model": ort_int8, "s": time.time() - t})
        plans = {p: kiln_compile(m, work, f"{name}_{p}", [f"--shapes={m['shapes']}"] + flags[p], a.level, res["log"])
                 for p in precs}
        if ort_int8 and a.kiln_on_ort_int8:  # kiln on ORT's quantized model (QDQ for CNNs, QOperator for BERT)
            try:
                plans["ortq"] = kiln_compile(m, work, f"{name}_ortq", [f"--shapes={m['shapes']}"], a.level,
                                             res["log"], path=ort_int8)
            except RuntimeError as e:
                res["log"].append({"kiln_on_ort_int8_failed": str(e)[-2000:]})
        acc = {k: rel_l2(kiln_output(p, m, work, f"{name}_{k}"), m["ref"]) for k, p in plans.items()}
        if a.profile:  # where each plan's time goes, layer by layer, on the inputs the paired run times
            for k, p in plans.items():
                r = subprocess.run([KILN, "run", f"--loadEngine={p}", feed_files(m, work, f"{name}_{k}"), "--threads=2",
                                    "--iterations=50", "--dumpProfile", "--separateProfileRun"],
                                   env=kiln_env(), capture_output=True, text=True)
                with open(os.path.join(a.out, f"profile_{name}_{k}.txt"), "w") as f:
                    f.write(r.stdout + r.stderr)
        sizes = {k: os.path.getsize(p) for k, p in plans.items()}
        if a.paired:  # kiln and ORT fp32 alternating in one process: see benchmarks/paired_time.py
            feeds = os.path.join(work, f"{name}_feeds.npz")
            np.savez(feeds, **m["feeds"])
            for threads in [int(t) for t in a.threads.split(",")]:
                out = os.path.join(a.out, f"paired_{name}_{threads}.json")
                cmd = [sys.executable, os.path.join(ROOT, "benchmarks", "paired_time.py"), "--onnx", m["path"],
                       "--feeds", feeds, "--threads", str(threads), "--seconds", str(a.paired), "--out", out]
                cmd += [f"--plan={k}={p}" for k, p in plans.items()] + a.paired_args.split()
                p = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS=str(threads)), capture_output=True,
                                   text=True)
                print(name, threads, "paired:", p.stdout.strip() or p.stderr[-2000:], flush=True)
                if p.returncode == 0:
                    res.setdefault("paired", {})[f"{name}@{threads}"] = json.load(open(out))
                    res["paired"][f"{name}@{threads}"]["rel_l2_vs_torch_fp32"] = acc
        for threads in [int(t) for t in a.threads.split(",")] if a.rounds else []:
            sess = ort_session(m["path"], threads)
            sess8 = ort_session(ort_int8, threads) if ort_int8 else None
            rows = {f"kiln_{p}": [] for p in plans}
            rows.update({"ort_fp32": [], "torch_bf16": []})
            if sess8:
                rows["ort_int8"] = []
            ort8_out = None
            ort_out = tb_out = None
            for r in range(a.rounds):
                order = list(rows) if r % 2 == 0 else list(reversed(rows))
                for eng in order:
                    if eng.startswith("kiln"):
                        rows[eng].append(kiln_time(plans[eng[5:]], threads, a.iters))
                    elif eng == "ort_fp32":
                        t, ort_out = ort_time(sess, m["feeds"], a.iters)
                        rows[eng].append(t)
                    elif eng == "ort_int8":
                        t, ort8_out = ort_time(sess8, m["feeds"], a.iters)
                        rows[eng].append(t)
                    else:
                        t, tb_out = torch_bf16_time(m, threads, a.iters)
                        rows[eng].append(t)
            med = {k: statistics.median(v) for k, v in rows.items()}
            res["results"][f"{name}@{threads}"] = {
                "median_ms": med, "rounds_ms": rows,
                "speed_vs_ort_fp32": {k: med["ort_fp32"] / v for k, v in med.items()},
                "rel_l2_vs_torch_fp32": dict(acc, ort_fp32=rel_l2(ort_out, m["ref"]), torch_bf16=rel_l2(tb_out, m["ref"]),
                                             **({"ort_int8": rel_l2(ort8_out, m["ref"])} if ort8_out is not None else {})),
                "plan_bytes": sizes}
            print(name, threads, json.dumps(res["results"][f"{name}@{threads}"]["median_ms"]), flush=True)
            with open(os.path.join(a.out, "results.json"), "w") as f:
                json.dump(res, f, indent=1)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
