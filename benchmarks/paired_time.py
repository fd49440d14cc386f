#!/usr/bin/env python3
"""Paired timing of kiln plans and ONNX Runtime in one process, for machines whose speed changes
in phases (the lent AMX machine switches between a fast and a ~2.5x slower state every fraction
of a second, so engines timed in separate processes seconds apart see different machines).

kiln runs through its C API (libkiln_runtime, loaded with ctypes), ORT through its Python API
with IOBinding. The engines alternate in short blocks (--block runs each; the first run of a
block is discarded, so another engine's spinning threads never overlap a timed run), and every
block of kiln is compared with the ORT block of the same round, a few blocks away (the order
reverses every round). Reported per kiln plan:
median latency of each engine over all kept runs, and the median of the per-block ratios
(ORT / kiln), which cancels phases slower than a block.

  python3 benchmarks/paired_time.py --onnx m.onnx --feeds feeds.npz --plan int8=a.plan [--plan ...]
      [--threads 2] [--seconds 60] [--block 4] [--mem-mb 256] [--lib .device/lib] --out res.json

--mem-mb also reads an MB-sized array (DRAM) and a 1 MiB one (L2) once per round, and "states"
splits the rounds into the machine's fast and slow state (by the first plan's block time) and
reports the ratios and the read bandwidth of each: is the slow state a memory-bandwidth state?
Run with OMP_NUM_THREADS set to --threads, and under taskset to pin both engines to the same CPUs.
"""
import argparse
import ctypes
import json
import os
import statistics
import time

import numpy as np


class Kiln:
    def __init__(self, libdir):
        for dep in ("libgomp.so.1", "libfmt.so.9", "libdnnl.so.2"):  # resolved here, not via LD_LIBRARY_PATH
            p = os.path.join(libdir, dep)
            if os.path.exists(p):
                ctypes.CDLL(p, mode=ctypes.RTLD_GLOBAL)
        self.lib = ctypes.CDLL(os.path.join(libdir, "libkiln_runtime.so.0"))
        self.lib.kiln_last_error.restype = ctypes.c_char_p

    def check(self, status, what):
        if status != 0:
            raise RuntimeError(f"{what}: {self.lib.kiln_last_error().decode()}")

    def load(self, plan, feeds):
        eng, ctx = ctypes.c_void_p(), ctypes.c_void_p()
        self.check(self.lib.kiln_engine_load_file(plan.encode(), ctypes.byref(eng)), plan)
        self.check(self.lib.kiln_context_create(eng, ctypes.byref(ctx)), plan)
        keep = []
        for name, v in feeds.items():
            idx = ctypes.c_size_t()
            self.check(self.lib.kiln_engine_input_index(eng, name.encode(), ctypes.byref(idx)), name)
            v = np.ascontiguousarray(v)
            keep.append(v)
            self.check(self.lib.kiln_context_set_input(ctx, idx, v.ctypes.data_as(ctypes.c_void_p),
                                                       ctypes.c_size_t(v.nbytes)), name)
        run = self.lib.kiln_context_run

        def call():
            self.check(run(ctx), plan)
        call.keep = keep  # the bound inputs must outlive the context
        return call


def ort_runner(path, feeds, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    io = sess.io_binding()
    for k, v in feeds.items():
        io.bind_ortvalue_input(k, ort.OrtValue.ortvalue_from_numpy(v))
    out = sess.get_outputs()[0].name
    io.bind_output(out, "cpu")
    sess.run_with_iobinding(io)
    shape = io.get_outputs()[0].shape()
    io.clear_binding_outputs()
    io.bind_ortvalue_output(out, ort.OrtValue.ortvalue_from_shape_and_type(shape, np.float32))

    return lambda: sess.run_with_iobinding(io)


def block(fn, n):
    fn()  # discarded: may overlap the previous engine's spinning threads
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts), ts


def mem_probe(big, small):
    """Read bandwidth in GB/s of one pass over `big` (beyond the caches) and of 32 passes over
    `small` (L2-resident), single-threaded numpy sums."""
    t = time.perf_counter()
    big.sum()
    t_big = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(32):
        small.sum()
    t_small = time.perf_counter() - t
    return big.nbytes / t_big / 1e9, 32 * small.nbytes / t_small / 1e9


def split_states(res, blocks, mem, first):
    """Rounds whose first plan ran below the log-midpoint of its 10th and 90th percentile block
    time are 'fast', the rest 'slow' (one state when those percentiles are within 1.5x)."""
    ts = sorted(blocks[first])
    lo, hi = ts[len(ts) // 10], ts[(9 * len(ts)) // 10]
    cut = (lo * hi) ** 0.5 if hi > 1.5 * lo else float("inf")
    out = {"classified_by": first, "cut_ms": cut if cut != float("inf") else None}
    for state in ("fast", "slow"):
        idx = [i for i, t in enumerate(blocks[first]) if (t < cut) == (state == "fast")]
        if not idx:
            continue
        st = {"rounds": len(idx), "median_ms": {k: statistics.median(v[i] for i in idx) for k, v in blocks.items()},
              "paired_ratio": {k: statistics.median(blocks["ort_fp32"][i] / v[i] for i in idx)
                               for k, v in blocks.items() if k != "ort_fp32"}}
        if mem:
            st["dram_read_GBps"] = statistics.median(mem[i][0] for i in idx)
            st["l2_read_GBps"] = statistics.median(mem[i][1] for i in idx)
        out[state] = st
    res["states"] = out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--feeds", required=True, help=".npz of the inputs by name")
    ap.add_argument("--plan", action="append", required=True, help="TAG=PLAN")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--block", type=int, default=4)
    ap.add_argument("--mem-mb", type=int, default=0, help="read-bandwidth probe per round over this many MB")
    ap.add_argument("--gap-ms", type=float, default=0,
                    help="idle time before each block, so the previous engine's spinning threads (ORT's pool, "
                    "OpenMP's) have gone to sleep: without it, on 2 CPUs, kiln right after ORT ran 2-6x slower in "
                    "a third of the rounds on the device")
    ap.add_argument("--lib", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                  ".device", "lib"))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    feeds = dict(np.load(a.feeds))
    kiln = Kiln(a.lib)
    engines = {"ort_fp32": ort_runner(a.onnx, feeds, a.threads)}
    for spec in a.plan:
        tag, path = spec.split("=", 1)
        engines["kiln_" + tag] = kiln.load(path, feeds)
    for fn in engines.values():  # warm-up
        for _ in range(5):
            fn()
    runs = {k: [] for k in engines}
    blocks = {k: [] for k in engines}
    order = list(engines)
    end = time.time() + a.seconds
    r = 0
    mem = []
    if a.mem_mb:
        big = np.ones(a.mem_mb * 2**20 // 4, np.float32)
        small = np.ones(2**20 // 4, np.float32)
    while time.time() < end:
        for name in (order if r % 2 == 0 else order[::-1]):
            if a.gap_ms:
                time.sleep(a.gap_ms / 1e3)
            med, ts = block(engines[name], a.block)
            blocks[name].append(med)
            runs[name].extend(ts)
        if a.mem_mb:
            mem.append(mem_probe(big, small))
        r += 1
    res = {"threads": a.threads, "rounds": r, "block": a.block, "gap_ms": a.gap_ms, "cpus": sorted(os.sched_getaffinity(0)),
           "median_ms": {k: statistics.median(v) for k, v in runs.items()},
           "min_ms": {k: min(v) for k, v in runs.items()}, "speed_vs_ort_fp32": {}, "paired_ratio": {}}
    for k in engines:
        if k == "ort_fp32":
            continue
        res["speed_vs_ort_fp32"][k] = res["median_ms"]["ort_fp32"] / res["median_ms"][k]
        # each kiln block against the ORT block of the same round
        res["paired_ratio"][k] = statistics.median(o / x for o, x in zip(blocks["ort_fp32"], blocks[k]))
    res["block_ms"] = blocks
    split_states(res, blocks, mem, order[1])
    if mem:
        res["mem_GBps"] = mem
    print(json.dumps({k: res[k] for k in ("rounds", "median_ms", "speed_vs_ort_fp32", "paired_ratio", "states")}),
          flush=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
