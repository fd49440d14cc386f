#!/usr/bin/python3
"""A float16 ONNX model end to end through the CLI, against torch in float32.

torch 1.13 cannot run every op of a `model.half()` export on CPU, so the float16 model is made the
way onnxconverter-common's float16 converter makes one (keep_io_types=False): a small CNN (Conv,
BatchNorm, ReLU, nearest and bilinear Upsample, Add, Concat) is exported in float32, then every
float initializer, Constant and value type becomes float16, and the ops the converter keeps in
float32 (Resize) get a Cast to float32 on their data input and a Cast back to float16 on their
output; their scales stay float32. The model's weights are rounded to float16 before the export,
so torch's float32 model and the float16 ONNX model hold the same weights.

Checks: the plan compiles without --fp16 (with the warning that says what kiln does), its input
and output are float16 under the model's names, `kiln run` on a float16 input gives torch's
float32 output within relative L2 5e-3, and the same model with its nodes in reverse order
(not topologically sorted) compiles and gives the same output.

usage: fp16_model.py KILN WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper, TensorProto

KILN, WORK = sys.argv[1:3]
# Nothing here depends on tuning, and level 0 (nothing timed) builds fastest.
L0 = "--builderOptimizationLevel=0"
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
torch.manual_seed(0)
fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)
    return cond


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16),
                                        torch.nn.ReLU())
        self.down = torch.nn.Sequential(torch.nn.Conv2d(16, 16, 3, stride=2, padding=1), torch.nn.ReLU())
        self.skip = torch.nn.Conv2d(16, 16, 1)
        self.bn = torch.nn.BatchNorm2d(16)  # after the Add: not folded into a conv by the exporter
        self.head = torch.nn.Conv2d(32, 8, 3, padding=1)

    def forward(self, x):
        s = self.stem(x)
        d = self.down(s)
        near = torch.nn.functional.interpolate(d, scale_factor=2.0, mode="nearest")
        lin = torch.nn.functional.interpolate(d, scale_factor=2.0, mode="bilinear", align_corners=False)
        m = torch.relu(self.bn(near + self.skip(s)))
        return self.head(torch.cat([m, lin], 1))


def half_exact(t):
    return t.half().float()


model = Net().eval()
with torch.no_grad():
    for bn in (model.stem[1], model.bn):
        bn.running_mean.uniform_(-0.3, 0.3)
        bn.running_var.uniform_(0.5, 1.5)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.2, 0.2)
    for t in list(model.parameters()) + list(model.buffers()):
        if t.dtype == torch.float32:
            t.copy_(half_exact(t))

fp32_path = os.path.join(WORK, "net_fp32.onnx")
torch.onnx.export(model, torch.randn(1, 3, 32, 32), fp32_path, input_names=["x"], output_names=["y"],
                  opset_version=13)

# ---- float32 -> float16, as onnxconverter-common's convert_float_to_float16 does ----
BLOCKED = {"Resize", "Upsample", "Range", "TopK", "NonMaxSuppression", "RoiAlign", "CumSum", "Min", "Max"}
m = onnx.shape_inference.infer_shapes(onnx.load(fp32_path))
g = m.graph
consumers = {}
for n in g.node:
    for i in n.input:
        consumers.setdefault(i, []).append(n)


def only_blocked_reads(name):
    return all(c.op_type in BLOCKED for c in consumers.get(name, []))


for t in g.initializer:
    if t.data_type == TensorProto.FLOAT and not only_blocked_reads(t.name):
        t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))
for vi in list(g.input) + list(g.output) + list(g.value_info):
    if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
        vi.type.tensor_type.elem_type = TensorProto.FLOAT16
new_nodes = []
for n in g.node:
    if n.op_type == "Constant" and not only_blocked_reads(n.output[0]):
        for a in n.attribute:
            if a.name == "value" and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16)))
    if n.op_type == "Cast":
        for a in n.attribute:
            if a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
    if n.op_type in BLOCKED:
        # The data input goes through a Cast to float32, the output comes back through a Cast to float16.
        src = n.input[0]
        n.input[0] = n.name + "_input_cast_0"
        new_nodes.append(helper.make_node("Cast", [src], [n.input[0]], name=n.name + "_input_cast0",
                                          to=TensorProto.FLOAT))
        out = n.output[0]
        n.output[0] = n.name + "_output_cast_0"
        new_nodes.append(n)
        new_nodes.append(helper.make_node("Cast", [n.output[0]], [out], name=n.name + "_output_cast0",
                                          to=TensorProto.FLOAT16))
        continue
    new_nodes.append(n)
del g.node[:]
g.node.extend(new_nodes)
onnx.checker.check_model(m)
n_casts = sum(n.op_type == "Cast" for n in g.node)
n_resize = sum(n.op_type == "Resize" for n in g.node)
check(n_resize == 2 and n_casts >= 4, f"the float16 model should have 2 Resize and 4 Casts: {n_resize}, {n_casts}")
check(any(n.op_type == "BatchNormalization" for n in g.node), "the float16 model should keep a BatchNormalization")
check(any(t.data_type == TensorProto.FLOAT16 for t in g.initializer), "no float16 initializers")
fp16_path = os.path.join(WORK, "net_fp16.onnx")
onnx.save(m, fp16_path)

# The same model with its nodes in reverse order: not topologically sorted.
unsorted = onnx.ModelProto()
unsorted.CopyFrom(m)
rev = list(unsorted.graph.node)[::-1]
del unsorted.graph.node[:]
unsorted.graph.node.extend(rev)
unsorted_path = os.path.join(WORK, "net_fp16_unsorted.onnx")
onnx.save(unsorted, unsorted_path)


def kiln(*args):
    return subprocess.run([KILN, *args], capture_output=True, text=True)


x = half_exact(torch.empty(1, 3, 32, 32).uniform_(-1, 1))
with torch.no_grad():
    want = model(x).numpy()
xin = os.path.join(WORK, "x16.npy")
np.save(xin, x.numpy().astype(np.float16))


def compile_and_run(path, tag):
    plan = os.path.join(WORK, tag + ".plan")
    r = kiln("compile", L0, path, "-o", plan, "--report=-")  # no --fp16: float16 models need no flag
    if not check(r.returncode == 0, f"{tag}: compile failed: {r.stderr}"):
        return None, r, None
    report = json.loads(r.stdout)
    out = os.path.join(WORK, tag + "_out")
    r2 = kiln("run", "--loadEngine=" + plan, "--loadInputs=x:" + xin, "--exportOutput=" + out,
              "--iterations=2", "--duration=0", "--warmUp=0")
    if not check(r2.returncode == 0, f"{tag}: run failed: {r2.stderr}"):
        return None, r, report
    return np.load(os.path.join(out, "y.npy")), r, report


got, r, report = compile_and_run(fp16_path, "fp16")
if got is not None:
    check("model declares float16 tensors: kiln computes them in float32" in r.stderr,
          f"compile should say how it handles float16: {r.stderr}")
    check([(i["name"], i["dtype"]) for i in report["inputs"]] == [("x", "float16")], f"inputs {report['inputs']}")
    check([(o["name"], o["dtype"]) for o in report["outputs"]] == [("y", "float16")], f"outputs {report['outputs']}")
    check(got.dtype == np.float16 and got.shape == want.shape, f"output {got.dtype} {got.shape}, torch {want.shape}")
    if got.shape == want.shape:
        rel = float(np.linalg.norm(got.astype(np.float32) - want) / np.linalg.norm(want))
        print(f"float16 model vs torch float32: relative L2 {rel:.2e}")
        check(rel <= 5e-3, f"float16 model differs from torch float32: relative L2 {rel}")
        check(np.linalg.norm(want) > 1, "torch's output should not be near zero")

got_u, ru, _ = compile_and_run(unsorted_path, "fp16_unsorted")
if got_u is not None:
    check("not in topological order" in ru.stderr, f"compile of the unsorted model should warn: {ru.stderr}")
    if got is not None:
        check(got_u.shape == got.shape and np.array_equal(got_u, got),
              "the unsorted model's output differs from the sorted one's")

if fails:
    print("\n".join("FAIL: " + f for f in fails))
    sys.exit(1)
print("fp16_model: all checks passed")
