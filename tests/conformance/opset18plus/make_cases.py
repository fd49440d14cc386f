#!/usr/bin/env python3
"""Generates small ONNX node test cases for opsets 18-21, in onnx's backend-test layout.

Each case is written to OUT/node/<case>/ as
    model.onnx                       one small graph, opset_import '' = 18..21, ir_version 8
    test_data_set_0/input_K.pb       seeded inputs (TensorProto named after graph input K)
    test_data_set_0/output_K.pb      reference outputs (TensorProto named after graph output K)
which is what tests/conformance/run_conformance.py reads with --data OUT.

The reference outputs come from ONNX Runtime (npm package onnxruntime-node, CPU, graph
optimisations off) through ort_outputs.mjs: this script writes every model and its inputs as
raw little-endian files plus a JSON job list, runs `node ort_outputs.mjs`, reads the outputs
back and writes them as output_K.pb. Graph outputs are declared with their element type, and
their shapes are then filled in from the shapes ONNX Runtime actually produced.

Where a case has a numpy reference (most simple ops), ONNX Runtime's output is also checked
against it; a case that ONNX Runtime refuses, or whose output disagrees with the numpy
reference, is dropped and listed at the end (the script then exits 0 but prints DROPPED lines).

onnx 1.12 only knows opsets up to 17, so nodes are built with onnx.helper without the checker
or shape inference. Inputs are drawn from numpy's default_rng seeded with SEED and the case's
name, so regeneration is deterministic.

Regenerate (from the repository root; OUT/node is removed and rewritten):
    /usr/bin/python3 tests/conformance/opset18plus/make_cases.py \\
        --out tests/conformance/opset18plus/data --node-modules build/bench/node_modules
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

SEED = 20240618
IR_VERSION = 8  # onnx 1.12's newest; ONNX Runtime 1.30 accepts it with opsets 18-21

HERE = os.path.dirname(os.path.abspath(__file__))

NP_TO_ONNX = {
    np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE,
    np.dtype(np.int8): TensorProto.INT8, np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.int16): TensorProto.INT16, np.dtype(np.uint16): TensorProto.UINT16,
    np.dtype(np.int32): TensorProto.INT32, np.dtype(np.uint32): TensorProto.UINT32,
    np.dtype(np.int64): TensorProto.INT64, np.dtype(np.uint64): TensorProto.UINT64,
    np.dtype(np.bool_): TensorProto.BOOL,
}
NP_TO_ORT = {
    np.dtype(np.float32): "float32", np.dtype(np.float64): "float64",
    np.dtype(np.int8): "int8", np.dtype(np.uint8): "uint8",
    np.dtype(np.int16): "int16", np.dtype(np.uint16): "uint16",
    np.dtype(np.int32): "int32", np.dtype(np.uint32): "uint32",
    np.dtype(np.int64): "int64", np.dtype(np.uint64): "uint64",
    np.dtype(np.bool_): "bool",
}
ORT_TO_NP = {v: k for k, v in NP_TO_ORT.items()}

F32, I32, I64, U8, BOOL = (np.dtype(t) for t in (np.float32, np.int32, np.int64, np.uint8, np.bool_))


class Case:
    """One test case: a one-graph model plus its inputs.

    inputs: [(name, array)] graph inputs; inits: [(name, array)] initializers (constant inputs
    such as axes, pads, sizes); outputs: [(name, numpy dtype)]; ref: optional function of a
    {name: array} dict of inputs and initializers returning the expected outputs (numpy)."""

    def __init__(self, name, opset, nodes, inputs, outputs, inits=(), ref=None):
        self.name, self.opset, self.nodes = name, opset, nodes
        self.inputs, self.outputs, self.inits = list(inputs), list(outputs), list(inits)
        self.ref = ref

    def model(self, out_shapes=None):
        g_inputs = [helper.make_tensor_value_info(n, NP_TO_ONNX[a.dtype], list(a.shape))
                    for n, a in self.inputs]
        g_outputs = [helper.make_tensor_value_info(n, NP_TO_ONNX[np.dtype(t)],
                                                   None if out_shapes is None else list(out_shapes[k]))
                     for k, (n, t) in enumerate(self.outputs)]
        inits = [numpy_helper.from_array(a, n) for n, a in self.inits]
        graph = helper.make_graph(self.nodes, self.name, g_inputs, g_outputs, initializer=inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                              producer_name="kiln-opset18plus")
        m.ir_version = IR_VERSION
        return m


def rng_for(name):
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def uniform(rng, shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def i64(*v):
    return np.array(v, dtype=np.int64)


def f32(*v):
    return np.array(v, dtype=np.float32)


def node(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, **attrs)


# ---------------------------------------------------------------------------------------------
# numpy references

def _reduce_ref(kind, axes, keepdims):
    def fn(v):
        x = v["x"].astype(np.float64)
        ax = None if axes is None else tuple(axes)
        ops = {
            "ReduceMean": lambda: np.mean(x, axis=ax, keepdims=keepdims),
            "ReduceMax": lambda: np.max(x, axis=ax, keepdims=keepdims),
            "ReduceMin": lambda: np.min(x, axis=ax, keepdims=keepdims),
            "ReduceProd": lambda: np.prod(x, axis=ax, keepdims=keepdims),
            "ReduceL1": lambda: np.sum(np.abs(x), axis=ax, keepdims=keepdims),
            "ReduceL2": lambda: np.sqrt(np.sum(x * x, axis=ax, keepdims=keepdims)),
            "ReduceLogSum": lambda: np.log(np.sum(x, axis=ax, keepdims=keepdims)),
            "ReduceLogSumExp": lambda: np.log(np.sum(np.exp(x), axis=ax, keepdims=keepdims)),
            "ReduceSumSquare": lambda: np.sum(x * x, axis=ax, keepdims=keepdims),
        }
        return [ops[kind]().astype(np.float32)]
    return fn


def _full_pads(rank, pads, axes):
    axes = [a % rank for a in (axes if axes is not None else range(rank))]
    width = [(0, 0)] * rank
    n = len(axes)
    for i, a in enumerate(axes):
        width[a] = (int(pads[i]), int(pads[i + n]))
    return width


def _pad_ref(mode, pads, axes=None, value=0.0):
    def fn(v):
        x = v["x"]
        width = _full_pads(x.ndim, pads, axes)
        if mode == "constant":
            return [np.pad(x, width, mode="constant", constant_values=value)]
        return [np.pad(x, width, mode=mode)]
    return fn


def _scatter_elements_ref(reduction, axis):
    def fn(v):
        out = v["data"].copy()
        idx, upd = v["indices"], v["updates"]
        red = {"max": np.maximum, "min": np.minimum}[reduction]
        for pos in np.ndindex(idx.shape):
            tgt = list(pos)
            tgt[axis] = idx[pos]
            tgt = tuple(tgt)
            out[tgt] = red(out[tgt], upd[pos])
        return [out]
    return fn


def _scatter_nd_ref(reduction):
    def fn(v):
        out = v["data"].copy()
        idx, upd = v["indices"], v["updates"]
        red = {"max": np.maximum, "min": np.minimum}[reduction]
        for i in range(idx.shape[0]):
            t = tuple(idx[i])
            out[t] = red(out[t], upd[i])
        return [out]
    return fn


def _group_norm_ref(groups, eps, per_channel):
    def fn(v):
        x = v["x"].astype(np.float64)
        n, c = x.shape[:2]
        xg = x.reshape(n, groups, -1)
        mean = xg.mean(axis=2, keepdims=True)
        var = xg.var(axis=2, keepdims=True)
        y = ((xg - mean) / np.sqrt(var + eps))
        scale, bias = v["scale"].astype(np.float64), v["bias"].astype(np.float64)
        if per_channel:  # opset 21: scale/bias [C]
            y = y.reshape(x.shape)
            bshape = (1, c) + (1,) * (x.ndim - 2)
            y = y * scale.reshape(bshape) + bias.reshape(bshape)
        else:  # opset 18: scale/bias [num_groups]
            y = y * scale.reshape(1, groups, 1) + bias.reshape(1, groups, 1)
            y = y.reshape(x.shape)
        return [y.astype(np.float32)]
    return fn


def _mish(v):
    x = v["x"].astype(np.float64)
    return [(x * np.tanh(np.log1p(np.exp(x)))).astype(np.float32)]


def _gelu(approx):
    def fn(v):
        x = v["x"].astype(np.float64)
        if approx == "tanh":
            y = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
        else:
            y = 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
        return [y.astype(np.float32)]
    return fn


def _center_crop_pad_ref(shape, axes):
    def fn(v):
        x = v["x"]
        axes_ = [a % x.ndim for a in (axes if axes is not None else range(x.ndim))]
        out_shape = list(x.shape)
        for a, s in zip(axes_, shape):
            out_shape[a] = int(s)
        out = np.zeros(out_shape, x.dtype)
        src, dst = [slice(None)] * x.ndim, [slice(None)] * x.ndim
        for a, s in zip(axes_, shape):
            d = x.shape[a]
            if s < d:
                st = (d - s) // 2
                src[a] = slice(st, st + s)
            elif s > d:
                st = (s - d) // 2
                dst[a] = slice(st, st + d)
        out[tuple(dst)] = x[tuple(src)]
        return [out]
    return fn


def _avgpool_ref(kernel, strides, pads, dilations, ceil_mode):
    def fn(v):
        x = v["x"]
        n, c, h, w = x.shape
        dims = (h, w)
        out_sz = []
        for i in range(2):
            eff = dilations[i] * (kernel[i] - 1) + 1
            total = dims[i] + pads[i] + pads[i + 2] - eff
            o = (math.ceil if ceil_mode else math.floor)(total / strides[i]) + 1
            if ceil_mode and (o - 1) * strides[i] >= dims[i] + pads[i]:
                o -= 1  # the last window must start inside the input or its left padding
            out_sz.append(o)
        y = np.zeros((n, c, out_sz[0], out_sz[1]), np.float64)
        for oh in range(out_sz[0]):
            for ow in range(out_sz[1]):
                vals = []
                for kh in range(kernel[0]):
                    for kw in range(kernel[1]):
                        ih = oh * strides[0] - pads[0] + kh * dilations[0]
                        iw = ow * strides[1] - pads[1] + kw * dilations[1]
                        if 0 <= ih < h and 0 <= iw < w:
                            vals.append(x[:, :, ih, iw].astype(np.float64))
                y[:, :, oh, ow] = sum(vals) / len(vals)
        return [y.astype(np.float32)]
    return fn


def _grid_sample_ref(mode, align_corners):
    """GridSample-20 on 4-D input, padding_mode 'zeros', cubic_coeff_a -0.75."""
    def fn(v):
        x, grid = v["x"].astype(np.float64), v["grid"].astype(np.float64)
        n, c, h, w = x.shape
        _, oh, ow, _ = grid.shape

        def unnorm(g, size):
            return (g + 1) / 2 * (size - 1) if align_corners else ((g + 1) * size - 1) / 2

        def px(b, yy, xx):
            if 0 <= yy < h and 0 <= xx < w:
                return x[b, :, yy, xx]
            return np.zeros(c)

        def cubic_w(t):
            a = -0.75
            def k(d):
                d = abs(d)
                if d <= 1:
                    return (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1
                if d < 2:
                    return a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a
                return 0.0
            return [k(t + 1), k(t), k(1 - t), k(2 - t)]

        y = np.zeros((n, c, oh, ow))
        for b in range(n):
            for i in range(oh):
                for j in range(ow):
                    fx = unnorm(grid[b, i, j, 0], w)
                    fy = unnorm(grid[b, i, j, 1], h)
                    if mode == "nearest":
                        y[b, :, i, j] = px(b, int(np.rint(fy)), int(np.rint(fx)))
                    elif mode == "linear":
                        x0, y0 = math.floor(fx), math.floor(fy)
                        dx, dy = fx - x0, fy - y0
                        y[b, :, i, j] = (px(b, y0, x0) * (1 - dx) * (1 - dy) + px(b, y0, x0 + 1) * dx * (1 - dy)
                                         + px(b, y0 + 1, x0) * (1 - dx) * dy + px(b, y0 + 1, x0 + 1) * dx * dy)
                    else:
                        x0, y0 = math.floor(fx), math.floor(fy)
                        wx, wy = cubic_w(fx - x0), cubic_w(fy - y0)
                        acc = np.zeros(c)
                        for p in range(4):
                            for q in range(4):
                                acc += wy[p] * wx[q] * px(b, y0 - 1 + p, x0 - 1 + q)
                        y[b, :, i, j] = acc
        return [y.astype(np.float32)]
    return fn


def _quantize(x, scale, zp, lo, hi):
    return np.clip(np.rint(x.astype(np.float64) / scale) + zp, lo, hi)


def _dft_ref(inverse):
    def fn(v):
        x = v["x"].astype(np.float64)
        z = x[..., 0] + (1j * x[..., 1] if x.shape[-1] == 2 else 0)
        r = np.fft.ifft(z, axis=1) if inverse else np.fft.fft(z, axis=1)
        return [np.stack([r.real, r.imag], axis=-1).astype(np.float32)]
    return fn


# ---------------------------------------------------------------------------------------------
# the cases

def build_cases():
    cases = []

    def add(name, opset, nodes, inputs, outputs, inits=(), ref=None):
        cases.append(Case(name, opset, nodes, inputs, outputs, inits, ref))

    # -- opset 18: Reduce* with axes as an input -------------------------------------------------
    for op in ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
               "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"):
        name = f"test_{op.lower()}_axes_input_keepdims"
        rng = rng_for(name)
        x = uniform(rng, (2, 3, 4), 0.1, 2.0) if op == "ReduceLogSum" else uniform(rng, (2, 3, 4), -2, 2)
        add(name, 18, [node(op, ["x", "axes"], ["y"], keepdims=1)], [("x", x)], [("y", F32)],
            [("axes", i64(1))], _reduce_ref(op, [1], True))
    name = "test_reducemean_negative_axes_input_nokeepdims"
    add(name, 18, [node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)],
        [("x", uniform(rng_for(name), (2, 3, 4), -2, 2))], [("y", F32)], [("axes", i64(-1, 0))],
        _reduce_ref("ReduceMean", [-1, 0], False))
    name = "test_reducemax_no_axes_input_keepdims"
    add(name, 18, [node("ReduceMax", ["x"], ["y"], keepdims=1)],
        [("x", uniform(rng_for(name), (2, 3, 4), -2, 2))], [("y", F32)], (),
        _reduce_ref("ReduceMax", None, True))
    name = "test_reducemean_empty_axes_noop"
    add(name, 18, [node("ReduceMean", ["x", "axes"], ["y"], keepdims=1, noop_with_empty_axes=1)],
        [("x", uniform(rng_for(name), (2, 3, 4), -2, 2))], [("y", F32)],
        [("axes", np.zeros((0,), np.int64))], lambda v: [v["x"]])

    # -- opset 20: ReduceMax / ReduceMin on bool -------------------------------------------------
    for op, fn in (("ReduceMax", np.any), ("ReduceMin", np.all)):
        name = f"test_{op.lower()}_bool_axes_input"
        xb = rng_for(name).random((3, 4)) < 0.5
        xb[0, :] = True   # one all-true row and one all-false row
        xb[1, :] = False
        add(name, 20, [node(op, ["x", "axes"], ["y"], keepdims=1)], [("x", xb)], [("y", BOOL)],
            [("axes", i64(1))], lambda v, fn=fn: [fn(v["x"], axis=1, keepdims=True)])

    # -- Split-18 ---------------------------------------------------------------------------------
    name = "test_split_num_outputs_even"
    add(name, 18, [node("Split", ["x"], ["y0", "y1", "y2"], axis=1, num_outputs=3)],
        [("x", uniform(rng_for(name), (2, 6, 2)))], [("y0", F32), ("y1", F32), ("y2", F32)], (),
        lambda v: np.split(v["x"], [2, 4], axis=1))
    name = "test_split_num_outputs_uneven"
    add(name, 18, [node("Split", ["x"], ["y0", "y1", "y2"], axis=1, num_outputs=3)],
        [("x", uniform(rng_for(name), (2, 7, 2)))], [("y0", F32), ("y1", F32), ("y2", F32)], (),
        lambda v: np.split(v["x"], [3, 6], axis=1))
    name = "test_split_split_input"
    add(name, 18, [node("Split", ["x", "split"], ["y0", "y1"], axis=1)],
        [("x", uniform(rng_for(name), (2, 7, 2)))], [("y0", F32), ("y1", F32)], [("split", i64(2, 5))],
        lambda v: np.split(v["x"], [2], axis=1))

    # -- Pad-18 / Pad-19 --------------------------------------------------------------------------
    name = "test_pad_axes_constant_value"
    pads = i64(1, 0, 2, 1)  # axis 1: (1, 2), axis 3: (0, 1)
    add(name, 18, [node("Pad", ["x", "pads", "value", "axes"], ["y"], mode="constant")],
        [("x", uniform(rng_for(name), (1, 2, 3, 4)))], [("y", F32)],
        [("pads", pads), ("value", np.array(0.5, np.float32)), ("axes", i64(1, 3))],
        _pad_ref("constant", pads, [1, 3], 0.5))
    name = "test_pad_negative_axes"
    add(name, 18, [node("Pad", ["x", "pads", "", "axes"], ["y"])],
        [("x", uniform(rng_for(name), (1, 2, 3, 4)))], [("y", F32)],
        [("pads", i64(2, 1)), ("axes", i64(-1))], _pad_ref("constant", [2, 1], [-1]))
    name = "test_pad_wrap"
    pads = i64(0, 0, 1, 2, 0, 0, 2, 1)
    add(name, 19, [node("Pad", ["x", "pads"], ["y"], mode="wrap")],
        [("x", uniform(rng_for(name), (1, 1, 3, 4)))], [("y", F32)], [("pads", pads)],
        _pad_ref("wrap", pads))
    for mode in ("reflect", "edge"):
        name = f"test_pad_{mode}_axes"
        pads = i64(1, 2, 1, 1)  # axis 2: (1, 1), axis 3: (2, 1)
        add(name, 18, [node("Pad", ["x", "pads", "", "axes"], ["y"], mode=mode)],
            [("x", uniform(rng_for(name), (1, 2, 3, 4)))], [("y", F32)],
            [("pads", pads), ("axes", i64(2, 3))], _pad_ref(mode, pads, [2, 3]))

    # -- Resize-18 / Resize-19 (checked against onnx's reference implementation by hand) -------
    name = "test_resize_linear_axes_scales_up"
    add(name, 18, [node("Resize", ["x", "", "scales"], ["y"], mode="linear", axes=[2, 3])],
        [("x", uniform(rng_for(name), (1, 1, 3, 4)))], [("y", F32)], [("scales", f32(2.0, 2.0))])
    name = "test_resize_linear_axes_scales_down"
    add(name, 18, [node("Resize", ["x", "", "scales"], ["y"], mode="linear", axes=[2, 3], antialias=0)],
        [("x", uniform(rng_for(name), (1, 1, 8, 8)))], [("y", F32)], [("scales", f32(0.5, 0.5))])
    for mode in ("linear", "cubic"):
        name = f"test_resize_{mode}_antialias_down"
        add(name, 18, [node("Resize", ["x", "", "scales"], ["y"], mode=mode, antialias=1)],
            [("x", uniform(rng_for(name), (1, 1, 8, 8)))], [("y", F32)],
            [("scales", f32(1.0, 1.0, 0.5, 0.5))])
    for policy in ("not_larger", "not_smaller"):
        name = f"test_resize_nearest_sizes_{policy}"
        add(name, 18, [node("Resize", ["x", "", "", "sizes"], ["y"], mode="nearest", axes=[2, 3],
                            keep_aspect_ratio_policy=policy)],
            [("x", uniform(rng_for(name), (1, 1, 4, 6)))], [("y", F32)], [("sizes", i64(8, 8))])
    name = "test_resize_linear_half_pixel_symmetric_scales_up"
    add(name, 19, [node("Resize", ["x", "", "scales"], ["y"], mode="linear",
                        coordinate_transformation_mode="half_pixel_symmetric")],
        [("x", uniform(rng_for(name), (1, 1, 3, 5)))], [("y", F32)], [("scales", f32(1, 1, 1.5, 1.5))])
    name = "test_resize_linear_half_pixel_symmetric_sizes"
    add(name, 19, [node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear",
                        coordinate_transformation_mode="half_pixel_symmetric")],
        [("x", uniform(rng_for(name), (1, 1, 5, 7)))], [("y", F32)], [("sizes", i64(1, 1, 7, 10))])

    # -- ScatterElements-18 / ScatterND-18 with max / min ---------------------------------------
    for red in ("max", "min"):
        name = f"test_scatterelements_reduction_{red}"
        rng = rng_for(name)
        idx = np.array([[1, 0, 2], [1, 2, 2]], np.int64)  # duplicates in columns 0 and 2
        add(name, 18, [node("ScatterElements", ["data", "indices", "updates"], ["y"], axis=0, reduction=red)],
            [("data", uniform(rng, (3, 3), -2, 2)), ("indices", idx), ("updates", uniform(rng, (2, 3), -2, 2))],
            [("y", F32)], (), _scatter_elements_ref(red, 0))
        name = f"test_scatternd_reduction_{red}"
        rng = rng_for(name)
        idx = np.array([[1], [3], [1]], np.int64)  # row 1 twice
        add(name, 18, [node("ScatterND", ["data", "indices", "updates"], ["y"], reduction=red)],
            [("data", uniform(rng, (4, 4), -2, 2)), ("indices", idx), ("updates", uniform(rng, (3, 4), -2, 2))],
            [("y", F32)], (), _scatter_nd_ref(red))

    # -- AveragePool-19 with dilations ------------------------------------------------------------
    name = "test_averagepool_2d_dilations"
    add(name, 19, [node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], dilations=[2, 2],
                        count_include_pad=0)],
        [("x", uniform(rng_for(name), (1, 1, 5, 5)))], [("y", F32)], (),
        _avgpool_ref([2, 2], [1, 1], [0, 0, 0, 0], [2, 2], False))
    name = "test_averagepool_2d_dilations_pads_ceil"
    add(name, 19, [node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], dilations=[2, 2], strides=[2, 2],
                        pads=[1, 1, 0, 0], ceil_mode=1, count_include_pad=0)],
        [("x", uniform(rng_for(name), (1, 1, 5, 5)))], [("y", F32)], (),
        _avgpool_ref([2, 2], [2, 2], [1, 1, 0, 0], [2, 2], True))

    # -- GroupNormalization-18 (scale/bias per group) and -21 (per channel) -------------------
    name = "test_groupnormalization_opset18_per_group"
    rng = rng_for(name)
    add(name, 18, [node("GroupNormalization", ["x", "scale", "bias"], ["y"], num_groups=2, epsilon=1e-5)],
        [("x", uniform(rng, (2, 4, 3, 3), -2, 2))], [("y", F32)],
        [("scale", uniform(rng, (2,), 0.5, 1.5)), ("bias", uniform(rng, (2,), -0.5, 0.5))],
        _group_norm_ref(2, 1e-5, per_channel=False))
    name = "test_groupnormalization_opset21_per_channel"
    rng = rng_for(name)
    add(name, 21, [node("GroupNormalization", ["x", "scale", "bias"], ["y"], num_groups=2, epsilon=1e-5)],
        [("x", uniform(rng, (2, 4, 3, 3), -2, 2))], [("y", F32)],
        [("scale", uniform(rng, (4,), 0.5, 1.5)), ("bias", uniform(rng, (4,), -0.5, 0.5))],
        _group_norm_ref(2, 1e-5, per_channel=True))

    # -- Mish-18, Gelu-20 ---------------------------------------------------------------------------
    name = "test_mish_opset18"
    add(name, 18, [node("Mish", ["x"], ["y"])], [("x", uniform(rng_for(name), (3, 4), -4, 4))],
        [("y", F32)], (), _mish)
    for approx in ("none", "tanh"):
        name = f"test_gelu_{approx}"
        add(name, 20, [node("Gelu", ["x"], ["y"], approximate=approx)],
            [("x", uniform(rng_for(name), (3, 4), -4, 4))], [("y", F32)], (), _gelu(approx))

    # -- Bitwise* (opset 18) ----------------------------------------------------------------------
    def ints(rng, dtype, shape):
        if dtype == I32:
            return rng.integers(-2 ** 31, 2 ** 31, size=shape, dtype=np.int64).astype(np.int32)
        return rng.integers(0, 256, size=shape).astype(np.uint8)

    np_bit = {"BitwiseAnd": np.bitwise_and, "BitwiseOr": np.bitwise_or, "BitwiseXor": np.bitwise_xor}
    for op, fn in np_bit.items():
        for dt, tname in ((I32, "int32"), (U8, "uint8")):
            # one broadcasting case per type: And int32, Xor uint8
            bcast = (op, tname) in (("BitwiseAnd", "int32"), ("BitwiseXor", "uint8"))
            name = f"test_{op.lower()}_{tname}" + ("_broadcast" if bcast else "")
            rng = rng_for(name)
            a, b = ints(rng, dt, (3, 4)), ints(rng, dt, (4,) if bcast else (3, 4))
            add(name, 18, [node(op, ["a", "b"], ["y"])], [("a", a), ("b", b)], [("y", dt)], (),
                lambda v, fn=fn: [fn(v["a"], v["b"])])
    for dt, tname in ((I32, "int32"), (U8, "uint8")):
        name = f"test_bitwisenot_{tname}"
        add(name, 18, [node("BitwiseNot", ["x"], ["y"])], [("x", ints(rng_for(name), dt, (3, 4)))],
            [("y", dt)], (), lambda v: [np.invert(v["x"])])

    # -- CenterCropPad-18 -------------------------------------------------------------------------
    name = "test_centercroppad_crop_axes"
    add(name, 18, [node("CenterCropPad", ["x", "shape"], ["y"], axes=[2, 3])],
        [("x", uniform(rng_for(name), (1, 3, 6, 6)))], [("y", F32)], [("shape", i64(4, 4))],
        _center_crop_pad_ref([4, 4], [2, 3]))
    name = "test_centercroppad_pad_and_crop"
    add(name, 18, [node("CenterCropPad", ["x", "shape"], ["y"])],
        [("x", uniform(rng_for(name), (3, 5)))], [("y", F32)], [("shape", i64(5, 3))],
        _center_crop_pad_ref([5, 3], None))

    # -- GridSample-20 ------------------------------------------------------------------------------
    for mode, ac in (("linear", 0), ("linear", 1), ("cubic", 0), ("nearest", 0)):
        name = f"test_gridsample_{mode}_align_corners_{ac}"
        rng = rng_for(name)
        add(name, 20, [node("GridSample", ["x", "grid"], ["y"], mode=mode, align_corners=ac)],
            [("x", uniform(rng, (1, 1, 4, 4), -2, 2)), ("grid", uniform(rng, (1, 3, 3, 2), -1, 1))],
            [("y", F32)], (), _grid_sample_ref(mode, ac))

    # -- Cast-19, QuantizeLinear-19/-21, DequantizeLinear-21 --------------------------------------
    name = "test_cast_saturate_float_to_int32"
    add(name, 19, [node("Cast", ["x"], ["y"], to=TensorProto.INT32, saturate=1)],
        [("x", uniform(rng_for(name), (3, 4), -100, 100))], [("y", I32)], (),
        lambda v: [v["x"].astype(np.int32)])

    def quant_input(rng, shape, scale, zp):
        # x / scale lands at least 0.2 away from a rounding tie, so any correct rounding agrees
        q = rng.integers(-zp, 256 - zp, size=shape) + rng.uniform(-0.3, 0.3, size=shape)
        return (q * scale).astype(np.float32)

    name = "test_quantizelinear_saturate_uint8"
    rng = rng_for(name)
    x = quant_input(rng, (3, 4), 0.05, 128)
    x[0, :2] = (-10.0, 10.0)  # out of range: clamps to 0 and 255
    add(name, 19, [node("QuantizeLinear", ["x", "scale", "zp"], ["y"], saturate=1)],
        [("x", x)], [("y", U8)], [("scale", np.array(0.05, np.float32)), ("zp", np.array(128, np.uint8))],
        lambda v: [_quantize(v["x"], np.float64(v["scale"]), 128, 0, 255).astype(np.uint8)])
    name = "test_dequantizelinear_per_axis_uint8"
    rng = rng_for(name)
    scale, zp = uniform(rng, (3,), 0.01, 0.1), np.array([0, 128, 250], np.uint8)
    add(name, 21, [node("DequantizeLinear", ["x", "scale", "zp"], ["y"], axis=1, block_size=0)],
        [("x", rng.integers(0, 256, size=(2, 3, 4)).astype(np.uint8))], [("y", F32)],
        [("scale", scale), ("zp", zp)],
        lambda v: [((v["x"].astype(np.int32) - v["zp"].reshape(1, 3, 1).astype(np.int32)).astype(np.float32)
                    * v["scale"].reshape(1, 3, 1))])
    name = "test_quantizelinear_output_dtype_uint8_no_zero_point"
    rng = rng_for(name)
    x = quant_input(rng, (3, 4), 0.04, 0)
    x[0, 0] = -1.0  # clamps to 0
    add(name, 21, [node("QuantizeLinear", ["x", "scale"], ["y"], output_dtype=TensorProto.UINT8)],
        [("x", x)], [("y", U8)], [("scale", np.array(0.04, np.float32))],
        lambda v: [_quantize(v["x"], np.float64(v["scale"]), 0, 0, 255).astype(np.uint8)])

    # -- DFT-20 -----------------------------------------------------------------------------------
    name = "test_dft_axis_input_real"
    add(name, 20, [node("DFT", ["x", "", "axis"], ["y"], onesided=0)],
        [("x", uniform(rng_for(name), (1, 8, 1)))], [("y", F32)],
        [("axis", np.array(1, np.int64))], _dft_ref(False))
    name = "test_dft_axis_input_inverse_complex"
    add(name, 20, [node("DFT", ["x", "", "axis"], ["y"], inverse=1)],
        [("x", uniform(rng_for(name), (1, 8, 2)))], [("y", F32)],
        [("axis", np.array(1, np.int64))], _dft_ref(True))

    # -- opset 21: re-versioned ops, unsorted nodes -----------------------------------------------
    name = "test_opset21_reshape_transpose_flatten_unsqueeze_squeeze_cast"
    add(name, 21, [node("Reshape", ["x", "shape"], ["r"]),
                   node("Transpose", ["r"], ["t"], perm=[1, 0]),
                   node("Flatten", ["t"], ["f"], axis=1),
                   node("Unsqueeze", ["f", "uaxes"], ["u"]),
                   node("Squeeze", ["u", "saxes"], ["s"]),
                   node("Cast", ["s"], ["y"], to=TensorProto.INT32)],
        [("x", uniform(rng_for(name), (2, 3, 4), -10, 10))], [("y", I32)],
        [("shape", i64(4, 6)), ("uaxes", i64(0)), ("saxes", i64(0))],
        lambda v: [v["x"].reshape(4, 6).T.reshape(6, 4).astype(np.int32)])
    name = "test_opset21_shape_constantofshape"
    add(name, 21, [node("Shape", ["x"], ["s"]),
                   node("ConstantOfShape", ["s"], ["y"], value=numpy_helper.from_array(f32(2.5), "value"))],
        [("x", uniform(rng_for(name), (2, 3)))], [("y", F32)], (),
        lambda v: [np.full((2, 3), 2.5, np.float32)])
    name = "test_opset21_unsorted_nodes"
    rng = rng_for(name)
    add(name, 21, [node("Add", ["r", "b"], ["y"]),  # listed before the Relu that feeds it
                   node("Relu", ["x"], ["r"])],
        [("x", uniform(rng, (3, 4))), ("b", uniform(rng, (3, 4)))], [("y", F32)], (),
        lambda v: [np.maximum(v["x"], 0) + v["b"]])

    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    return cases


# ---------------------------------------------------------------------------------------------

def check_ref(case, values, got):
    """None when ONNX Runtime's outputs match the numpy reference, else a message."""
    if case.ref is None:
        return None
    want = case.ref(values)
    for k, ((oname, _), w, g) in enumerate(zip(case.outputs, want, got)):
        w = np.asarray(w)
        if w.shape != g.shape:
            return f"output {oname}: shape {g.shape} != numpy reference {w.shape}"
        if g.dtype.kind == "f":
            if not np.allclose(g, w, rtol=1e-4, atol=1e-5):
                return f"output {oname}: max |diff| {np.max(np.abs(g - w)):.3g} vs numpy reference"
        elif not np.array_equal(g, w.astype(g.dtype)):
            return f"output {oname}: differs from numpy reference"
    return None


def command_line(doc, build_cases):
    """The generators' shared command line: parses it, picks the cases (--filter) and clears their
    folders under OUT/node (all of OUT/node without a filter). Returns (args, cases, node_dir)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--out", required=True, help="output directory; cases go to OUT/node/<case>")
    ap.add_argument("--node-modules", required=True, help="node_modules directory holding onnxruntime-node")
    ap.add_argument("--node", default="node", help="node executable")
    ap.add_argument("--filter", default="", help="only cases whose name contains this")
    args = ap.parse_args()

    cases = [c for c in build_cases() if args.filter in c.name]
    node_dir = os.path.join(args.out, "node")
    if args.filter:
        for c in cases:
            shutil.rmtree(os.path.join(node_dir, c.name), ignore_errors=True)
    else:
        shutil.rmtree(node_dir, ignore_errors=True)
    os.makedirs(node_dir, exist_ok=True)
    return args, cases, node_dir


def main():
    args, cases, node_dir = command_line(__doc__, build_cases)

    with tempfile.TemporaryDirectory(prefix="opset18plus-") as tmp:
        jobs = []
        for c in cases:
            cdir = os.path.join(tmp, c.name)
            os.makedirs(cdir)
            mpath = os.path.join(cdir, "model.onnx")
            onnx.save(c.model(), mpath)
            ins = []
            for k, (n, a) in enumerate(c.inputs):
                f = os.path.join(cdir, f"input_{k}.bin")
                np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tofile(f)
                ins.append({"name": n, "file": f, "dtype": NP_TO_ORT[a.dtype], "dims": list(a.shape)})
            jobs.append({"name": c.name, "model": mpath, "out_dir": os.path.join(cdir, "ort"), "inputs": ins})
        jobs_path = os.path.join(tmp, "jobs.json")
        with open(jobs_path, "w") as f:
            json.dump(jobs, f, indent=1)
        subprocess.run([args.node, os.path.join(HERE, "ort_outputs.mjs"), jobs_path, args.node_modules],
                       check=True)

        produced, dropped = [], []
        for c, job in zip(cases, jobs):
            with open(os.path.join(job["out_dir"], "ort_outputs.json")) as f:
                res = json.load(f)
            if not res["ok"]:
                dropped.append((c.name, "onnxruntime: " + res["error"].strip().replace("\n", " ")))
                continue
            by_name = {o["name"]: o for o in res["outputs"]}
            got, err = [], None
            for oname, otype in c.outputs:
                o = by_name.get(oname)
                if o is None:
                    err = f"onnxruntime gave no output '{oname}'"
                    break
                dt = ORT_TO_NP.get(o["dtype"])
                if dt != np.dtype(otype):
                    err = f"output '{oname}': onnxruntime type {o['dtype']}, declared {np.dtype(otype)}"
                    break
                arr = np.fromfile(o["file"], dtype=dt.newbyteorder("<")).astype(dt)
                got.append(arr.reshape(o["dims"]))
            if err is None:
                values = dict(c.inputs)
                values.update(dict(c.inits))
                err = check_ref(c, values, got)
            if err is not None:
                dropped.append((c.name, err))
                continue

            out_case = os.path.join(node_dir, c.name)
            data_dir = os.path.join(out_case, "test_data_set_0")
            os.makedirs(data_dir)
            onnx.save(c.model(out_shapes=[g.shape for g in got]), os.path.join(out_case, "model.onnx"))
            for k, (n, a) in enumerate(c.inputs):
                onnx.save_tensor(numpy_helper.from_array(a, n), os.path.join(data_dir, f"input_{k}.pb"))
            for k, ((n, _), g) in enumerate(zip(c.outputs, got)):
                onnx.save_tensor(numpy_helper.from_array(g, n), os.path.join(data_dir, f"output_{k}.pb"))
            produced.append(c.name)

    checked = sum(1 for c in cases if c.ref is not None and c.name in produced)
    print(f"make_cases: wrote {len(produced)} cases to {node_dir} "
          f"({checked} also checked against a numpy reference)")
    for n, why in dropped:
        print(f"DROPPED {n}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
