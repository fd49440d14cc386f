#!/usr/bin/env python3
"""Generates small ONNX control-flow test cases (If, Loop, Scan), in onnx's backend-test layout.

Each case is written to OUT/node/<case>/ as
    model.onnx                       one graph with If / Loop / Scan subgraphs, opset 17, ir_version 8
    test_data_set_N/input_K.pb       seeded inputs (TensorProto named after graph input K)
    test_data_set_N/output_K.pb      reference outputs (TensorProto named after graph output K)
which is what tests/conformance/run_conformance.py reads with --data OUT. A case may have more
than one data set (test_if_runtime_cond has one per branch).

This reuses the machinery of ../opset18plus/make_cases.py (imported, not copied: type tables,
seeded generators, node builder, numpy-reference check) and ../opset18plus/ort_outputs.mjs: the
reference outputs come from ONNX Runtime (npm package onnxruntime-node, CPU, graph optimisations
off). Every case also has a numpy reference that ORT's outputs are checked against; a case that
ORT refuses or that disagrees is dropped and listed at the end (exit status 1 then).

Opset 17 is known to onnx 1.12, so every model (declared output shapes included) passes
onnx.checker.check_model with full_check (strict shape inference) before it is written.

Regenerate (from the repository root; OUT/node is removed and rewritten):
    /usr/bin/python3 tests/conformance/controlflow/make_cases.py \\
        --out tests/conformance/controlflow/data --node-modules build/bench/node_modules
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
O18_DIR = os.path.normpath(os.path.join(HERE, "..", "opset18plus"))
# Both scripts are called make_cases.py: put opset18plus's directory first so that the import
# below finds that one (this script runs as __main__, so there is no clash in sys.modules).
sys.path.insert(0, O18_DIR)
import make_cases as o18  # noqa: E402
assert os.path.dirname(os.path.abspath(o18.__file__)) == O18_DIR, o18.__file__

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import helper, numpy_helper, TensorProto  # noqa: E402

from make_cases import (F32, I64, NP_TO_ONNX, NP_TO_ORT, ORT_TO_NP, check_ref, f32, i64, node,  # noqa: E402
                        rng_for, uniform)

OPSET = 17
IR_VERSION = 8
ORT_OUTPUTS_MJS = os.path.join(O18_DIR, "ort_outputs.mjs")


class Case:
    """One test case: a graph (with subgraphs) plus one or more sets of inputs.

    input_sets: [[(name, array)]] one list of graph inputs per test_data_set_N (same names,
    shapes and dtypes in every set); inits: [(name, array)] main-graph initializers;
    outputs: [(name, numpy dtype)]; ref: function of a {name: array} dict of one set's inputs
    and the initializers returning the expected outputs (numpy)."""

    def __init__(self, name, nodes, input_sets, outputs, inits, ref):
        self.name, self.nodes = name, nodes
        self.input_sets = [list(s) for s in input_sets]
        self.outputs, self.inits, self.ref = list(outputs), list(inits), ref
        first = [(n, a.shape, a.dtype) for n, a in self.input_sets[0]]
        assert all([(n, a.shape, a.dtype) for n, a in s] == first for s in self.input_sets), name

    def model(self, out_shapes=None):
        g_inputs = [helper.make_tensor_value_info(n, NP_TO_ONNX[a.dtype], list(a.shape))
                    for n, a in self.input_sets[0]]
        g_outputs = [helper.make_tensor_value_info(n, NP_TO_ONNX[np.dtype(t)],
                                                   None if out_shapes is None else list(out_shapes[k]))
                     for k, (n, t) in enumerate(self.outputs)]
        inits = [numpy_helper.from_array(a, n) for n, a in self.inits]
        graph = helper.make_graph(self.nodes, self.name, g_inputs, g_outputs, initializer=inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="kiln-controlflow")
        m.ir_version = IR_VERSION
        return m


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, NP_TO_ONNX[np.dtype(dtype)], shape)


def graph(name, nodes, outputs, inputs=()):
    """A subgraph: outputs / inputs are (name, dtype, shape) triples."""
    return helper.make_graph(nodes, name, [vi(*i) for i in inputs], [vi(*o) for o in outputs])


def const(out, value):
    return node("Constant", [], [out], value=numpy_helper.from_array(np.asarray(value), out))


def scalar_i64(v):
    return np.array(v, dtype=np.int64)


def scalar_f32(v):
    return np.array(v, dtype=np.float32)


TRUE = np.array(True)
SCALAR = []  # shape of a rank-0 tensor
LOOP_HEAD = [("iter", I64, SCALAR), ("cond_in", np.bool_, SCALAR)]  # a Loop body's first two inputs


# ---------------------------------------------------------------------------------------------
# the cases

def build_cases():
    cases = []

    def add(name, nodes, input_sets, outputs, inits, ref):
        cases.append(Case(name, nodes, input_sets, outputs, inits, ref))

    # 1. If on a Constant condition; the then-branch holds a nested If whose condition folds from
    #    an outer-scope initializer and whose branches read outer initializers and the graph input.
    name = "test_if_const_cond_nested_outer_init"
    rng = rng_for(name)
    x = uniform(rng, (3, 4))
    w_outer, b_outer, alt = uniform(rng, (3, 4)), uniform(rng, (4,)), uniform(rng, (3, 4))
    gate = uniform(rng, (3,), 0.1, 1.0)  # sum > 0: the nested If takes its then-branch
    inner_then = graph("inner_then", [node("Mul", ["x", "w_outer"], ["it_m"]),
                                      node("Add", ["it_m", "b_outer"], ["it_y"])],
                       [("it_y", F32, [3, 4])])
    inner_else = graph("inner_else", [node("Sub", ["x", "alt"], ["ie_y"])], [("ie_y", F32, [3, 4])])
    outer_then = graph("outer_then", [
        node("ReduceSum", ["gate"], ["ot_sum"], keepdims=0),
        const("ot_zero", scalar_f32(0)),
        node("Greater", ["ot_sum", "ot_zero"], ["ot_cond"]),
        node("If", ["ot_cond"], ["ot_y"], then_branch=inner_then, else_branch=inner_else)],
        [("ot_y", F32, [3, 4])])
    outer_else = graph("outer_else", [node("Add", ["x", "alt"], ["oe_a"]),
                                      node("Neg", ["oe_a"], ["oe_y"])], [("oe_y", F32, [3, 4])])
    add(name, [const("cond", TRUE),
               node("If", ["cond"], ["y"], then_branch=outer_then, else_branch=outer_else)],
        [[("x", x)]], [("y", F32)],
        [("w_outer", w_outer), ("b_outer", b_outer), ("alt", alt), ("gate", gate)],
        lambda v: [v["x"] * v["w_outer"] + v["b_outer"]])

    # 2. If on a run-time condition (sum(x) > 0); one data set per branch.
    name = "test_if_runtime_cond"
    rng = rng_for(name)
    w1, w2 = uniform(rng, (3, 4)), uniform(rng, (3, 4))
    x_pos = uniform(rng, (2, 3), -0.5, 1.0)
    x_neg = uniform(rng, (2, 3), -1.0, 0.5)
    assert x_pos.sum() > 0 and x_neg.sum() < 0
    then_g = graph("then", [node("MatMul", ["x", "W1"], ["t_mm"]), node("Relu", ["t_mm"], ["t_y"])],
                   [("t_y", F32, [2, 4])])
    else_g = graph("else", [node("MatMul", ["x", "W2"], ["e_mm"]), node("Sigmoid", ["e_mm"], ["e_y"])],
                   [("e_y", F32, [2, 4])])
    add(name, [node("ReduceSum", ["x"], ["s"], keepdims=0),
               const("zero", scalar_f32(0)),
               node("Greater", ["s", "zero"], ["cond"]),
               node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)],
        [[("x", x_pos)], [("x", x_neg)]], [("y", F32)], [("W1", w1), ("W2", w2)],
        lambda v: [np.maximum(v["x"] @ v["W1"], 0) if v["x"].sum() > 0
                   else 1 / (1 + np.exp(-(v["x"] @ v["W2"])))])

    # 3. Loop with a Constant trip count and condition: one carried value that reads the
    #    outer-scope graph input x and the iteration number, plus one scan output.
    name = "test_loop_const_trip_carried_and_scan"
    rng = rng_for(name)
    body = graph("body", [
        node("Cast", ["iter"], ["b_itf"], to=TensorProto.FLOAT),
        node("Mul", ["x", "b_itf"], ["b_xi"]),
        node("Add", ["y_in", "b_xi"], ["y_out"]),
        node("Identity", ["cond_in"], ["cond_out"]),
        const("b_two", scalar_f32(2)),
        node("Mul", ["y_out", "b_two"], ["scan_out"])],
        [("cond_out", np.bool_, SCALAR), ("y_out", F32, [2, 3]), ("scan_out", F32, [2, 3])],
        LOOP_HEAD + [("y_in", F32, [2, 3])])

    def ref3(v):
        y, scans = v["y0"].copy(), []
        for i in range(4):
            y = y + v["x"] * np.float32(i)
            scans.append(y * 2)
        return [y, np.stack(scans)]
    add(name, [const("M", scalar_i64(4)), const("cond", TRUE),
               node("Loop", ["M", "cond", "y0"], ["y", "ys"], body=body)],
        [[("x", uniform(rng, (2, 3))), ("y0", uniform(rng, (2, 3)))]], [("y", F32), ("ys", F32)], (), ref3)

    # 4. Loop whose trip count folds from a static shape: M = Gather(Shape(x), 0) = 3, no
    #    condition input; the body sums the rows of the outer-scope x into a carried value.
    name = "test_loop_trip_from_shape"
    rng = rng_for(name)
    body = graph("body", [
        node("Gather", ["x", "iter"], ["b_row"], axis=0),
        node("Add", ["acc_in", "b_row"], ["acc_out"]),
        node("Identity", ["cond_in"], ["cond_out"])],
        [("cond_out", np.bool_, SCALAR), ("acc_out", F32, [2])],
        LOOP_HEAD + [("acc_in", F32, [2])])
    add(name, [node("Shape", ["x"], ["sh"]),
               const("zero", scalar_i64(0)),
               node("Gather", ["sh", "zero"], ["M"], axis=0),
               node("Loop", ["M", "", "acc0"], ["acc"], body=body)],
        [[("x", uniform(rng, (3, 2)))]], [("acc", F32)], [("acc0", f32(0.5, -0.5))],
        lambda v: [v["acc0"] + v["x"].sum(axis=0)])

    # 5. Loop with M = 10 whose body's condition output is Less(iteration_num, 2): it stops after
    #    3 iterations. The carried value doubles each iteration; one scan output.
    name = "test_loop_cond_from_iteration"
    rng = rng_for(name)
    body = graph("body", [
        const("b_two", scalar_f32(2)),
        node("Mul", ["v_in", "b_two"], ["v_out"]),
        const("b_limit", scalar_i64(2)),
        node("Less", ["iter", "b_limit"], ["cond_out"]),
        node("Cast", ["iter"], ["b_itf"], to=TensorProto.FLOAT),
        node("Add", ["v_out", "b_itf"], ["scan_out"])],
        [("cond_out", np.bool_, SCALAR), ("v_out", F32, [3]), ("scan_out", F32, [3])],
        LOOP_HEAD + [("v_in", F32, [3])])

    def ref5(v):
        val, scans, i = v["v0"].copy(), [], 0
        while i < 10:
            val = val * 2
            scans.append(val + np.float32(i))
            if not i < 2:
                break
            i += 1
        return [val, np.stack(scans)]
    add(name, [const("M", scalar_i64(10)), const("cond", TRUE),
               node("Loop", ["M", "cond", "v0"], ["v", "vs"], body=body)],
        [[("v0", uniform(rng, (3,)))]], [("v", F32), ("vs", F32)], (), ref5)

    # 6. Loop (M = 3) whose body holds an If on Equal(Mod(iteration_num, 2), 0); the branches read
    #    the loop-carried value and an outer-scope initializer.
    name = "test_loop_with_if_in_body"
    rng = rng_for(name)
    even_g = graph("even", [node("Add", ["c_in", "k"], ["ev_y"])], [("ev_y", F32, [2, 2])])
    odd_g = graph("odd", [node("Mul", ["c_in", "k"], ["od_y"])], [("od_y", F32, [2, 2])])
    body = graph("body", [
        const("b_two", scalar_i64(2)),
        node("Mod", ["iter", "b_two"], ["b_rem"]),
        const("b_zero", scalar_i64(0)),
        node("Equal", ["b_rem", "b_zero"], ["b_even"]),
        node("If", ["b_even"], ["c_out"], then_branch=even_g, else_branch=odd_g),
        node("Identity", ["cond_in"], ["cond_out"]),
        node("Identity", ["c_out"], ["scan_out"])],
        [("cond_out", np.bool_, SCALAR), ("c_out", F32, [2, 2]), ("scan_out", F32, [2, 2])],
        LOOP_HEAD + [("c_in", F32, [2, 2])])

    def ref6(v):
        c, scans = v["c0"].copy(), []
        for i in range(3):
            c = c + v["k"] if i % 2 == 0 else c * v["k"]
            scans.append(c)
        return [c, np.stack(scans)]
    add(name, [const("M", scalar_i64(3)), const("cond", TRUE),
               node("Loop", ["M", "cond", "c0"], ["c", "cs"], body=body)],
        [[("c0", uniform(rng, (2, 2)))]], [("c", F32), ("cs", F32)], [("k", uniform(rng, (2, 2)))], ref6)

    # 7. Scan (opset 16 version): one state, two scan inputs (a along axis 0 forward, b along
    #    axis 1 reversed), one scan output stacked along axis 1.
    name = "test_scan_reverse_axes"
    rng = rng_for(name)
    body = graph("body", [
        node("Add", ["a_t", "b_t"], ["b_sum"]),
        node("Add", ["s_in", "b_sum"], ["s_out"]),
        node("Mul", ["s_out", "b_t"], ["y_t"])],
        [("s_out", F32, [3]), ("y_t", F32, [3])],
        [("s_in", F32, [3]), ("a_t", F32, [3]), ("b_t", F32, [3])])

    def ref7(v):
        s, a, b = v["s0"].copy(), v["a"], v["b"]
        y = np.zeros((3, 4), np.float32)
        for t in range(4):
            bt = b[:, 3 - t]
            s = s + (a[t] + bt)
            y[:, t] = s * bt
        return [s, y]
    add(name, [node("Scan", ["s0", "a", "b"], ["s", "y"], body=body, num_scan_inputs=2,
                    scan_input_directions=[0, 1], scan_input_axes=[0, 1], scan_output_axes=[1])],
        [[("s0", uniform(rng, (3,))), ("a", uniform(rng, (4, 3))), ("b", uniform(rng, (3, 4)))]],
        [("s", F32), ("y", F32)], (), ref7)

    # 8. Loop whose trip count is a graph input (expected to be refused by kiln).
    name = "test_loop_runtime_trip_count"
    rng = rng_for(name)
    body = graph("body", [
        const("b_step", scalar_f32(1.5)),
        node("Add", ["v_in", "b_step"], ["v_out"]),
        node("Identity", ["cond_in"], ["cond_out"])],
        [("cond_out", np.bool_, SCALAR), ("v_out", F32, [2])],
        LOOP_HEAD + [("v_in", F32, [2])])
    add(name, [const("cond", TRUE), node("Loop", ["M", "cond", "v0"], ["v"], body=body)],
        [[("M", scalar_i64(3)), ("v0", uniform(rng, (2,)))]], [("v", F32)], (),
        lambda v: [v["v0"] + np.float32(1.5) * int(v["M"])])

    # 9. If on a run-time condition whose branches give different shapes ([2] vs [3]; expected to
    #    be refused by kiln). The data set takes the then-branch.
    name = "test_if_runtime_cond_shapes_differ"
    rng = rng_for(name)
    then_g = graph("then", [const("t_starts", i64(0)), const("t_ends", i64(2)),
                            node("Slice", ["x", "t_starts", "t_ends"], ["t_y"])], [("t_y", F32, [2])])
    else_g = graph("else", [const("e_two", scalar_f32(2)), node("Mul", ["x", "e_two"], ["e_y"])],
                   [("e_y", F32, [3])])
    x = uniform(rng, (3,), -0.5, 1.0)
    assert x.sum() > 0
    add(name, [node("ReduceSum", ["x"], ["s"], keepdims=0),
               const("zero", scalar_f32(0)),
               node("Greater", ["s", "zero"], ["cond"]),
               node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)],
        [[("x", x)]], [("y", F32)], (),
        lambda v: [v["x"][:2] if v["x"].sum() > 0 else v["x"] * 2])

    # A run-time condition whose else branch cannot run for these shapes (Reshape of 6 elements
    # to 5x5): ORT fails only when it is selected; kiln builds the then branch and guards it.
    name = "test_if_runtime_cond_one_branch_valid"
    rng = rng_for(name)
    then_g = graph("then", [const("t_shape", i64(2, 3)), node("Reshape", ["x", "t_shape"], ["t_y"])],
                   [("t_y", F32, [2, 3])])
    else_g = graph("else", [const("e_shape", i64(5, 5)), node("Reshape", ["x", "e_shape"], ["e_y"])],
                   [("e_y", F32, [5, 5])])
    x = uniform(rng, (6,), -0.5, 1.0)
    assert x.sum() > 0
    add(name, [node("ReduceSum", ["x"], ["s"], keepdims=0),
               const("zero", scalar_f32(0)),
               node("Greater", ["s", "zero"], ["cond"]),
               node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)],
        [[("x", x)]], [("y", F32)], (),
        lambda v: [v["x"].reshape(2, 3)])

    # 10. Run-time loops (kiln keeps them as a Loop layer whose body is a plan of its own).
    #     Trip count from a graph input, no condition input; the body reads an outer-scope graph
    #     input (x, an extra input of the layer) and an outer initializer (W, copied into the body),
    #     carries h and gives two scan outputs: a row sum [2] and the iteration number as a scalar.
    name = "test_loop_runtime_trip_scan_outer"
    rng = rng_for(name)
    body = graph("body", [
        node("MatMul", ["h_in", "W"], ["b_mm"]),
        node("Add", ["b_mm", "x"], ["b_pre"]),
        node("Tanh", ["b_pre"], ["h_out"]),
        const("b_axes", i64(1)),
        node("ReduceSum", ["h_out", "b_axes"], ["row_sum"], keepdims=0),
        node("Cast", ["iter"], ["iter_f"], to=TensorProto.FLOAT),
        node("Identity", ["cond_in"], ["cond_out"])],
        [("cond_out", np.bool_, SCALAR), ("h_out", F32, [2, 3]), ("row_sum", F32, [2]), ("iter_f", F32, SCALAR)],
        LOOP_HEAD + [("h_in", F32, [2, 3])])

    def ref10(v):
        h, sums, its = v["h0"].copy(), [], []
        for i in range(int(v["M"])):
            h = np.tanh(h @ v["W"] + v["x"])
            sums.append(h.sum(axis=1))
            its.append(np.float32(i))
        return [h, np.stack(sums), np.array(its, np.float32)]
    add(name, [node("Loop", ["M", "", "h0"], ["h", "sums", "its"], body=body)],
        [[("M", scalar_i64(5)), ("x", uniform(rng, (2, 3))), ("h0", uniform(rng, (2, 3)))]],
        [("h", F32), ("sums", F32), ("its", F32)], [("W", uniform(rng, (3, 3)))], ref10)

    # 11. Constant trip count (10) and condition, but the body's condition depends on a graph
    #     input (stop once sum(v) reaches `limit`): the exit is known only at run time. Two data
    #     sets stop after different numbers of iterations; a carried counter says how many.
    name = "test_loop_runtime_cond_early_exit"
    rng = rng_for(name)
    body = graph("body", [
        const("b_two", scalar_f32(2)),
        node("Mul", ["v_in", "b_two"], ["v_out"]),
        const("b_one", scalar_i64(1)),
        node("Add", ["n_in", "b_one"], ["n_out"]),
        node("ReduceSum", ["v_out"], ["b_sum"], keepdims=0),
        node("Less", ["b_sum", "limit"], ["cond_out"])],
        [("cond_out", np.bool_, SCALAR), ("v_out", F32, [3]), ("n_out", I64, SCALAR)],
        LOOP_HEAD + [("v_in", F32, [3]), ("n_in", I64, SCALAR)])

    def ref11(v):
        val, n = v["v0"].copy(), np.int64(0)
        for _ in range(10):
            val, n = val * 2, n + 1
            if not val.sum() < v["limit"]:
                break
        return [val, np.array(n, np.int64)]
    v0 = uniform(rng, (3,), 0.5, 1.0)
    add(name, [const("M", scalar_i64(10)), const("cond", TRUE), const("n0", scalar_i64(0)),
               node("Loop", ["M", "cond", "v0", "n0"], ["v", "n"], body=body)],
        [[("v0", v0), ("limit", scalar_f32(20))], [("v0", v0), ("limit", scalar_f32(200))]],
        [("v", F32), ("n", I64)], (), ref11)

    # 12. A while loop: no trip count; the initial condition and the body's are computed from
    #     graph inputs; the body adds an outer initializer and reads the outer input `limit`.
    name = "test_loop_runtime_while"
    rng = rng_for(name)
    body = graph("body", [
        node("Add", ["x_in", "step"], ["x_out"]),
        node("ReduceSum", ["x_out"], ["b_sum"], keepdims=0),
        node("Less", ["b_sum", "limit"], ["cond_out"]),
        node("Identity", ["b_sum"], ["sum_out"])],
        [("cond_out", np.bool_, SCALAR), ("x_out", F32, [2, 2]), ("sum_out", F32, SCALAR)],
        LOOP_HEAD + [("x_in", F32, [2, 2])])

    def ref12(v):
        x, sums = v["x0"].copy(), []
        while x.sum() < v["limit"]:
            x = x + v["step"]
            sums.append(np.float32(x.sum()))
        return [x, np.array(sums, np.float32)]
    add(name, [node("ReduceSum", ["x0"], ["s0"], keepdims=0),
               node("Less", ["s0", "limit"], ["cond"]),
               node("Loop", ["", "cond", "x0"], ["x", "sums"], body=body)],
        [[("x0", uniform(rng, (2, 2))), ("limit", scalar_f32(6))]],
        [("x", F32), ("sums", F32)], [("step", uniform(rng, (2, 2), 0.2, 0.5))], ref12)

    # 13. A run-time trip count of 0: the carried value passes through and the scan output is
    #     empty ([0, 2]).
    name = "test_loop_runtime_zero_trip"
    rng = rng_for(name)
    body = graph("body", [
        const("b_step", scalar_f32(1.5)),
        node("Add", ["v_in", "b_step"], ["v_out"]),
        node("Identity", ["v_out"], ["scan_out"]),
        node("Identity", ["cond_in"], ["cond_out"])],
        [("cond_out", np.bool_, SCALAR), ("v_out", F32, [2]), ("scan_out", F32, [2])],
        LOOP_HEAD + [("v_in", F32, [2])])
    add(name, [const("cond", TRUE), node("Loop", ["M", "cond", "v0"], ["v", "vs"], body=body)],
        [[("M", scalar_i64(0)), ("v0", uniform(rng, (2,)))]], [("v", F32), ("vs", F32)], (),
        lambda v: [v["v0"], np.zeros((0, 2), np.float32)])

    # 14. A run-time trip count with a carried value that grows each iteration (Concat with
    #     itself): expected to be refused by kiln, whose body plan is built for one shape.
    name = "test_loop_runtime_carried_grows"
    rng = rng_for(name)
    body = graph("body", [
        node("Concat", ["v_in", "v_in"], ["v_out"], axis=0),
        node("Identity", ["cond_in"], ["cond_out"])],
        [("cond_out", np.bool_, SCALAR), ("v_out", F32, ["n"])],
        LOOP_HEAD + [("v_in", F32, ["n"])])
    add(name, [const("cond", TRUE), node("Loop", ["M", "cond", "v0"], ["v"], body=body)],
        [[("M", scalar_i64(2)), ("v0", uniform(rng, (2,)))]], [("v", F32)], (),
        lambda v: [np.concatenate([v["v0"]] * 4)])

    # 15. Nested run-time loops: the outer trip count is a graph input; the inner loop runs
    #     `iter + 1` times (run-time inside the outer body) and reads the graph input x, two scopes
    #     out, which becomes an input of both Loop layers.
    name = "test_loop_runtime_nested"
    rng = rng_for(name)
    inner = graph("inner", [
        node("Add", ["a_in", "x"], ["a_out"]),
        node("Identity", ["icond_in"], ["icond_out"])],
        [("icond_out", np.bool_, SCALAR), ("a_out", F32, [2])],
        [("iiter", I64, SCALAR), ("icond_in", np.bool_, SCALAR), ("a_in", F32, [2])])
    body = graph("body", [
        const("b_one", scalar_i64(1)),
        node("Add", ["iter", "b_one"], ["b_trip"]),
        node("Loop", ["b_trip", "", "s_in"], ["s_out"], body=inner),
        node("Identity", ["cond_in"], ["cond_out"]),
        node("Identity", ["s_out"], ["scan_out"])],
        [("cond_out", np.bool_, SCALAR), ("s_out", F32, [2]), ("scan_out", F32, [2])],
        LOOP_HEAD + [("s_in", F32, [2])])

    def ref15(v):
        s, scans = v["s0"].copy(), []
        for i in range(int(v["M"])):
            for _ in range(i + 1):
                s = s + v["x"]
            scans.append(s)
        return [s, np.stack(scans)]
    add(name, [node("Loop", ["M", "", "s0"], ["s", "ss"], body=body)],
        [[("M", scalar_i64(3)), ("x", uniform(rng, (2,))), ("s0", uniform(rng, (2,)))]],
        [("s", F32), ("ss", F32)], (), ref15)

    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    return cases


# ---------------------------------------------------------------------------------------------

def main():
    args, cases, node_dir = o18.command_line(__doc__, build_cases)

    for c in cases:  # structure, types and scoping before anything runs (output shapes from numpy)
        values = dict(c.input_sets[0])
        values.update(dict(c.inits))
        onnx.checker.check_model(c.model(out_shapes=[np.shape(w) for w in c.ref(values)]), full_check=True)

    with tempfile.TemporaryDirectory(prefix="controlflow-") as tmp:
        jobs, job_of = [], {}
        for c in cases:
            cdir = os.path.join(tmp, c.name)
            os.makedirs(cdir)
            mpath = os.path.join(cdir, "model.onnx")
            onnx.save(c.model(), mpath)
            for s, inputs in enumerate(c.input_sets):
                ins = []
                for k, (n, a) in enumerate(inputs):
                    f = os.path.join(cdir, f"set{s}_input_{k}.bin")
                    np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tofile(f)
                    ins.append({"name": n, "file": f, "dtype": NP_TO_ORT[a.dtype], "dims": list(a.shape)})
                job_of[(c.name, s)] = len(jobs)
                jobs.append({"name": f"{c.name}/{s}", "model": mpath,
                             "out_dir": os.path.join(cdir, f"ort{s}"), "inputs": ins})
        jobs_path = os.path.join(tmp, "jobs.json")
        with open(jobs_path, "w") as f:
            json.dump(jobs, f, indent=1)
        subprocess.run([args.node, ORT_OUTPUTS_MJS, jobs_path, args.node_modules], check=True)

        produced, dropped = [], []
        for c in cases:
            got_sets, err = [], None
            for s, inputs in enumerate(c.input_sets):
                job = jobs[job_of[(c.name, s)]]
                with open(os.path.join(job["out_dir"], "ort_outputs.json")) as f:
                    res = json.load(f)
                if not res["ok"]:
                    err = f"set {s}: onnxruntime: " + res["error"].strip().replace("\n", " ")
                    break
                by_name = {o["name"]: o for o in res["outputs"]}
                got = []
                for oname, otype in c.outputs:
                    o = by_name.get(oname)
                    if o is None:
                        err = f"set {s}: onnxruntime gave no output '{oname}'"
                        break
                    dt = ORT_TO_NP.get(o["dtype"])
                    if dt != np.dtype(otype):
                        err = f"set {s}: output '{oname}': onnxruntime type {o['dtype']}, declared {np.dtype(otype)}"
                        break
                    got.append(np.fromfile(o["file"], dtype=dt.newbyteorder("<")).astype(dt).reshape(o["dims"]))
                if err is None:
                    values = dict(inputs)
                    values.update(dict(c.inits))
                    msg = check_ref(c, values, got)
                    err = None if msg is None else f"set {s}: {msg}"
                if err is not None:
                    break
                got_sets.append(got)
            if err is None and any([g.shape for g in gs] != [g.shape for g in got_sets[0]] for gs in got_sets):
                err = "output shapes differ between data sets"
            if err is not None:
                dropped.append((c.name, err))
                continue

            out_case = os.path.join(node_dir, c.name)
            m = c.model(out_shapes=[g.shape for g in got_sets[0]])
            onnx.checker.check_model(m, full_check=True)
            os.makedirs(out_case)
            onnx.save(m, os.path.join(out_case, "model.onnx"))
            for s, (inputs, got) in enumerate(zip(c.input_sets, got_sets)):
                data_dir = os.path.join(out_case, f"test_data_set_{s}")
                os.makedirs(data_dir)
                for k, (n, a) in enumerate(inputs):
                    onnx.save_tensor(numpy_helper.from_array(a, n), os.path.join(data_dir, f"input_{k}.pb"))
                for k, ((n, _), g) in enumerate(zip(c.outputs, got)):
                    onnx.save_tensor(numpy_helper.from_array(g, n), os.path.join(data_dir, f"output_{k}.pb"))
            produced.append(c.name)

    print(f"make_cases: wrote {len(produced)} cases to {node_dir} "
          f"(all checked by onnx.checker and against a numpy reference)")
    for n, why in dropped:
        print(f"DROPPED {n}: {why}")
    return 1 if dropped else 0


if __name__ == "__main__":
    sys.exit(main())
