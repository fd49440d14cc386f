#!/usr/bin/python3
"""Reference int8 calibration thresholds computed with numpy, for the C++ calibrator to match.

Usage: calib_reference.py OUT_DIR

Writes seeded datasets (OUT_DIR/<name>.f32, raw little-endian float32) and what numpy makes of
each (OUT_DIR/<name>.txt): the finite count, min/max, numpy.histogram of |x| over [0, amax] in
2048 bins, the min-max, percentile and entropy (KL divergence, without the exact zeros)
thresholds, and the divergence of
every entropy candidate, so that a near tie can be told from a wrong pick. OUT_DIR/manifest.txt
lists the datasets. The methods are written here from their definitions (docs/cli-guide.md#int8,
TensorRT's "8-bit Inference with TensorRT", GTC 2017), with numpy's own histogram, cumulative sums
and bincount, independently of compiler/quant/calibrator.cpp.
"""
import os
import sys

import numpy as np

BINS = 2048
PERCENTILES = ["50", "99", "99.9", "99.99", "100"]


def histogram(x):
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return finite, 0.0, np.zeros(BINS, dtype=np.int64)
    amax = float(np.max(np.abs(finite)))
    if amax == 0.0:
        hist = np.zeros(BINS, dtype=np.int64)
        hist[0] = finite.size
        return finite, amax, hist
    hist, _ = np.histogram(np.abs(finite.astype(np.float64)), bins=BINS, range=(0.0, amax))
    return finite, amax, hist


def percentile_threshold(hist, amax, p):
    """The smallest bin upper edge with at least p% of the values at or below it."""
    cum = np.cumsum(hist)
    k = int(np.searchsorted(cum, float(p) / 100.0 * float(cum[-1]), side="left"))
    return np.float32((k + 1) * amax / BINS)


def kl_curve(hist, levels):
    """KL(P || Q) for every candidate i in [levels, BINS] (inf where Q misses part of P)."""
    hist = hist.astype(np.float64)
    total = hist.sum()
    kl = np.full(BINS + 1, np.inf)
    for i in range(levels, BINS + 1):
        p = hist[:i].copy()
        p[-1] += hist[i:].sum()  # the clipped values pile up in the last kept bin
        group = np.arange(i) * levels // i  # bin -> one of `levels` int8 steps
        mass = np.bincount(group, weights=hist[:i], minlength=levels)
        occupied = np.bincount(group, weights=(p > 0).astype(np.float64), minlength=levels)
        q = np.zeros(i)
        nz = p > 0
        q[nz] = mass[group[nz]] / occupied[group[nz]]
        if q.sum() == 0 or np.any(q[nz] == 0):
            continue
        pn, qn = p[nz] / p.sum(), q[nz] / q.sum()
        kl[i] = np.sum(pn * np.log(pn / qn))
    return kl


def entropy_threshold(hist, amax, levels, zeros):
    """The search runs without the exact zeros, which quantize exactly at any threshold."""
    if 0 < zeros < hist.sum():
        hist = hist.copy()
        hist[0] -= zeros
    kl = kl_curve(hist, levels)
    best = np.flatnonzero(kl == kl.min()).max()  # ties: the largest i (clip the least)
    threshold = min(np.float32((2 * best + 1) * amax / (2 * BINS)), np.float32(amax))
    return np.float32(threshold), int(best), kl


def datasets():
    rng = np.random.default_rng(20261204)
    normal = rng.normal(0.0, 1.0, 200_000).astype(np.float32)

    laplace = rng.laplace(0.0, 0.5, 200_000).astype(np.float32)
    outliers = rng.uniform(20.0, 40.0, 40) * rng.choice([-1.0, 1.0], 40)
    laplace[rng.choice(laplace.size, 40, replace=False)] = outliers.astype(np.float32)
    laplace[rng.choice(laplace.size, 6, replace=False)] = np.array(
        [np.nan, np.nan, np.nan, np.inf, np.inf, -np.inf], dtype=np.float32)

    uniform = rng.uniform(0.0, 6.0, 100_000).astype(np.float32)  # ReLU6-like, unsigned

    relu = np.maximum(rng.normal(0.5, 1.0, 150_000), 0.0).astype(np.float32)  # zeros spike, unsigned

    sparse = np.zeros(100_000, dtype=np.float32)
    where = rng.choice(sparse.size, 3_000, replace=False)
    sparse[where] = (rng.exponential(1.0, where.size) * rng.choice([-1.0, 1.0], where.size)).astype(np.float32)

    return [("normal", normal, 128), ("laplace_outliers", laplace, 128), ("uniform_unsigned", uniform, 256),
            ("relu_unsigned", relu, 256), ("sparse", sparse, 128)]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    names = []
    for name, x, levels in datasets():
        x.astype("<f4").tofile(os.path.join(out, name + ".f32"))
        finite, amax, hist = histogram(x)
        assert hist.sum() == finite.size
        lines = [f"levels {levels}", f"count {finite.size}", f"nonfinite {x.size - finite.size}",
                 f"min {float(finite.min()).hex()}", f"max {float(finite.max()).hex()}",
                 "hist " + " ".join(str(int(c)) for c in hist),
                 f"minmax {float(np.float32(amax)).hex()}"]
        for p in PERCENTILES:
            lines.append(f"percentile {p} {float(percentile_threshold(hist, amax, p)).hex()}")
        threshold, best, kl = entropy_threshold(hist, amax, levels, int(np.count_nonzero(finite == 0)))
        lines.append(f"entropy {float(threshold).hex()} {best}")
        lines.append("kl " + " ".join(repr(float(v)) for v in kl[levels:]))
        with open(os.path.join(out, name + ".txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        names.append(name)
        print(f"{name}: amax {amax:.6g}, entropy threshold {threshold:.6g} (bin {best}), "
              f"percentile 99.99 {percentile_threshold(hist, amax, '99.99'):.6g}")
    with open(os.path.join(out, "manifest.txt"), "w") as f:
        f.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main()
