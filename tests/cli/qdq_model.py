"""QDQ CNNs shaped like ONNX Runtime's quantize_static output, and a numpy evaluator of them.

A float ResNet-style network (convs, ReLUs, max pooling, residual Adds, global average pooling and a
linear layer, random He-initialised weights) is calibrated on random inputs with the evaluator
below (min-max), then written in QDQ form the way quantize_static does it: asymmetric uint8
activations (zero point from the range), ReLUs dropped and folded into their producer's
QuantizeLinear (range [0, max], zero point 0), a max pooling's output at its input's scale, s8
weights with one symmetric scale per output channel behind DequantizeLinear, int32 biases at
input scale * weight scale behind DequantizeLinear, and a Q/DQ pair on every activation including
the graph's input and output.

The evaluator implements the ops used, with ONNX's definitions (QuantizeLinear rounds half to even
and saturates), so it is an oracle for the QDQ graph that shares nothing with kiln.

Used by tests/cli/qdq.py (the small model) and benchmarks/qdq_bench.py (ResNet-18 at 224x224).
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


# ---- evaluator ----------------------------------------------------------------------------------

def _per_axis(p, x, axis):
    p = np.asarray(p)
    if p.ndim == 0 or p.size == 1:
        return p.reshape(())
    shape = [1] * x.ndim
    shape[axis] = p.size
    return p.reshape(shape)


def quantize(x, scale, zp, axis=1):
    info = np.iinfo(zp.dtype)
    q = np.rint(x.astype(np.float32) / _per_axis(scale, x, axis).astype(np.float32))
    q = q + _per_axis(zp, x, axis).astype(np.float32)
    return np.clip(q, info.min, info.max).astype(zp.dtype)


def dequantize(x, scale, zp, axis=1):
    d = x.astype(np.int64) - _per_axis(zp, x, axis).astype(np.int64)
    return (d.astype(np.float32) * _per_axis(scale, x, axis).astype(np.float32)).astype(np.float32)


def _windows(x, kh, kw, sh, sw, pads, fill):
    t, l, b, r = pads
    xp = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=fill)
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    return win[:, :, ::sh, ::sw]  # N, C, OH, OW, kh, kw


def conv(x, w, b, strides, pads):
    m, _, kh, kw = w.shape
    win = _windows(x.astype(np.float32), kh, kw, strides[0], strides[1], [pads[0], pads[1], pads[2], pads[3]], 0)
    y = np.tensordot(win, w.astype(np.float32), axes=([1, 4, 5], [1, 2, 3]))  # N, OH, OW, M
    y = y.transpose(0, 3, 1, 2)
    if b is not None:
        y = y + b.reshape(1, m, 1, 1)
    return np.ascontiguousarray(y, dtype=np.float32)


def run(model, feeds, keep=False):
    """Evaluates the graph; returns its outputs by name (every tensor with keep=True)."""
    env = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    env.update(feeds)
    for n in model.graph.node:
        a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        i = [env[k] if k else None for k in n.input]
        op = n.op_type
        if op == "QuantizeLinear":
            zp = i[2] if len(i) > 2 and i[2] is not None else np.uint8(0)
            y = quantize(i[0], i[1], np.asarray(zp), a.get("axis", 1))
        elif op == "DequantizeLinear":
            zp = i[2] if len(i) > 2 and i[2] is not None else np.zeros((), i[0].dtype)
            y = dequantize(i[0], i[1], np.asarray(zp), a.get("axis", 1))
        elif op == "Conv":
            y = conv(i[0], i[1], i[2] if len(i) > 2 else None, a.get("strides", [1, 1]), a.get("pads", [0] * 4))
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "Add":
            y = (i[0] + i[1]).astype(np.float32)
        elif op == "MaxPool":
            k, s = a["kernel_shape"], a.get("strides", [1, 1])
            p = a.get("pads", [0] * 4)
            y = _windows(i[0], k[0], k[1], s[0], s[1], [p[0], p[1], p[2], p[3]], -np.inf).max(axis=(4, 5))
        elif op == "GlobalAveragePool":
            y = i[0].mean(axis=(2, 3), keepdims=True, dtype=np.float64).astype(np.float32)
        elif op == "Flatten":
            y = i[0].reshape(i[0].shape[0], -1)
        elif op == "Gemm":
            w = i[1].T if a.get("transB", 0) else i[1]
            y = (i[0].astype(np.float32) @ w.astype(np.float32) + i[2]).astype(np.float32)
        else:
            raise ValueError(f"qdq_model.run: no evaluator for {op}")
        env[n.output[0]] = y
    if keep:
        return env
    return {o.name: env[o.name] for o in model.graph.output}


# ---- the float network --------------------------------------------------------------------------

class Net:
    """A float CNN as a list of ONNX nodes; `relu` marks tensors that are ReLU outputs."""

    def __init__(self, seed, in_shape):
        self.rng = np.random.RandomState(seed)
        self.nodes, self.weights, self.relu_of = [], {}, {}
        self.in_shape = in_shape
        self.count = 0

    def _name(self, base):
        self.count += 1
        return f"{base}{self.count}"

    def conv(self, x, cin, cout, k, stride=1, relu=True):
        name = self._name("conv")
        std = np.sqrt(2.0 / (cin * k * k))
        self.weights[name + ".w"] = (self.rng.standard_normal((cout, cin, k, k)) * std).astype(np.float32)
        self.weights[name + ".b"] = (self.rng.standard_normal(cout) * 0.05).astype(np.float32)
        self.nodes.append(helper.make_node("Conv", [x, name + ".w", name + ".b"], [name], name=name,
                                           kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4))
        return self._relu(name) if relu else name

    def _relu(self, x):
        y = x + ".relu"
        self.nodes.append(helper.make_node("Relu", [x], [y], name=y))
        self.relu_of[y] = x
        return y

    def add(self, a, b, relu=True):
        name = self._name("add")
        self.nodes.append(helper.make_node("Add", [a, b], [name], name=name))
        return self._relu(name) if relu else name

    def maxpool(self, x, k, s, p):
        name = self._name("pool")
        self.nodes.append(helper.make_node("MaxPool", [x], [name], name=name, kernel_shape=[k, k], strides=[s, s],
                                           pads=[p] * 4))
        return name

    def block(self, x, cin, cout, stride):
        h = self.conv(x, cin, cout, 3, stride)
        h = self.conv(h, cout, cout, 3, 1, relu=False)
        skip = x if stride == 1 and cin == cout else self.conv(x, cin, cout, 1, stride, relu=False)
        return self.add(h, skip)

    def head(self, x, cin, classes):
        g = self._name("gap")
        self.nodes.append(helper.make_node("GlobalAveragePool", [x], [g], name=g))
        f = self._name("flatten")
        self.nodes.append(helper.make_node("Flatten", [g], [f], name=f, axis=1))
        self.weights["fc.w"] = (self.rng.standard_normal((classes, cin)) * np.sqrt(1.0 / cin)).astype(np.float32)
        self.weights["fc.b"] = (self.rng.standard_normal(classes) * 0.05).astype(np.float32)
        self.nodes.append(helper.make_node("Gemm", [f, "fc.w", "fc.b"], ["y"], name="fc", transB=1))
        return "y"

    def float_model(self, out_shape):
        g = helper.make_graph(self.nodes, "net",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, self.in_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                              [numpy_helper.from_array(v, k) for k, v in self.weights.items()])
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def small_net(seed=0):
    """3x32x32 -> two convs -> max pool -> a residual block -> a downsampling residual block -> 10 classes."""
    n = Net(seed, [1, 3, 32, 32])
    h = n.conv("x", 3, 16, 3)
    h = n.conv(h, 16, 16, 3)
    h = n.maxpool(h, 2, 2, 0)
    h = n.block(h, 16, 16, 1)
    h = n.block(h, 16, 32, 2)
    n.head(h, 32, 10)
    return n, [1, 10]


def resnet18(seed=0, size=224):
    """ResNet-18's layers (no batch norm: it folds into the convs in a real export) at size x size."""
    n = Net(seed, [1, 3, size, size])
    h = n.conv("x", 3, 64, 7, 2)
    h = n.maxpool(h, 3, 2, 1)
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        h = n.block(h, cin, cout, stride)
        h = n.block(h, cout, cout, 1)
        cin = cout
    n.head(h, cin, 1000)
    return n, [1, 1000]


# ---- QDQ form -----------------------------------------------------------------------------------

def _asym_u8(lo, hi):
    """quantize_static's min-max uint8 parameters: the range widened to hold 0, zero point from it."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = np.float32((hi - lo) / 255.0 if hi > lo else 1.0)
    zp = np.uint8(np.clip(np.rint(-lo / scale), 0, 255))
    return scale, zp


def qdq_model(net, out_shape, calib_inputs, output_qdq=True):
    """The net in QDQ form, calibrated (min-max) on calib_inputs (a list of x arrays). Without
    output_qdq the graph output is the last layer's float result (no Q/DQ pair rounds it)."""
    fm = net.float_model(out_shape)
    lo, hi = {}, {}
    for x in calib_inputs:
        for k, v in run(fm, {"x": x}, keep=True).items():
            if k in net.weights or not isinstance(v, np.ndarray) or v.dtype != np.float32:
                continue
            lo[k] = min(lo.get(k, np.inf), float(v.min()))
            hi[k] = max(hi.get(k, -np.inf), float(v.max()))
    inits, nodes, params = [], [], {}
    relu_src = {src: y for y, src in net.relu_of.items()}  # producer output -> its ReLU's output

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def qdq(t, p, out=None):
        """Q/DQ on tensor t with parameters p; returns the dequantized name."""
        s, z = p
        const(t + "_scale", np.float32(s))
        const(t + "_zero_point", np.uint8(z))
        out = out or t + "_dq"
        nodes.append(helper.make_node("QuantizeLinear", [t, t + "_scale", t + "_zero_point"], [t + "_q"],
                                      name=t + "_QuantizeLinear"))
        nodes.append(helper.make_node("DequantizeLinear", [t + "_q", t + "_scale", t + "_zero_point"], [out],
                                      name=t + "_DequantizeLinear"))
        params[t] = p
        return out

    dq = {"x": qdq("x", _asym_u8(lo["x"], hi["x"]))}
    for n in net.nodes:
        if n.op_type == "Relu":
            continue  # folded into its producer's QuantizeLinear
        ins = [dq[n.input[0]]] + list(n.input[1:])
        out = n.output[0]
        if n.op_type in ("Conv", "Gemm"):
            w = net.weights[n.input[1]]
            b = net.weights[n.input[2]]
            ws = (np.abs(w.reshape(w.shape[0], -1)).max(axis=1) / 127.0).astype(np.float32)
            ws[ws == 0] = 1
            wq = np.clip(np.rint(w / ws.reshape(-1, *([1] * (w.ndim - 1)))), -127, 127).astype(np.int8)
            xs = params[n.input[0]][0]
            bs = (np.float32(xs) * ws).astype(np.float32)
            bq = np.rint(b / bs).astype(np.int32)
            wn, bn = n.input[1], n.input[2]
            const(wn + "_quantized", wq), const(wn + "_scale", ws), const(wn + "_zero_point", np.zeros_like(ws, np.int8))
            const(bn + "_quantized", bq), const(bn + "_scale", bs), const(bn + "_zero_point", np.zeros_like(bq))
            nodes.append(helper.make_node("DequantizeLinear", [wn + "_quantized", wn + "_scale", wn + "_zero_point"],
                                          [wn + "_dq"], name=wn + "_DequantizeLinear", axis=0))
            nodes.append(helper.make_node("DequantizeLinear", [bn + "_quantized", bn + "_scale", bn + "_zero_point"],
                                          [bn + "_dq"], name=bn + "_DequantizeLinear", axis=0))
            ins[1:3] = [wn + "_dq", bn + "_dq"]
        if n.op_type == "Add":
            ins[1] = dq[n.input[1]]
        if out == "y" and not output_qdq:
            nodes.append(helper.make_node(n.op_type, ins, [out], name=n.name, **{
                a.name: helper.get_attribute_value(a) for a in n.attribute}))
            continue
        t = out if out != "y" else "fc_out"  # the graph output is the last DequantizeLinear's
        nodes.append(helper.make_node(n.op_type, ins, [t], name=n.name, **{
            a.name: helper.get_attribute_value(a) for a in n.attribute}))
        # The tensor readers see: the ReLU's output where one follows (range [0, max]).
        seen = relu_src.get(out, out)
        if n.op_type == "MaxPool":
            p = params[n.input[0]]
        else:
            p = _asym_u8(lo[seen], hi[seen])
        d = qdq(t, p, out="y" if out == "y" else None)
        dq[seen] = dq[out] = d
        params[seen] = params[out] = p
    g = helper.make_graph(nodes, "qdq_net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, net.in_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(m)
    return m
