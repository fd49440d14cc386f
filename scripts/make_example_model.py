#!/usr/bin/python3
"""Regenerates the bundled example model examples/models/tiny_resnet.onnx and its torch oracle.

Usage: /usr/bin/python3 scripts/make_example_model.py [OUTDIR]   (default: examples/models)

Writes OUTDIR/tiny_resnet.onnx and OUTDIR/tiny_resnet/test_data_set_0/{input_0.pb,output_0.pb}.
These files are committed so the quickstart and the `model.tiny_resnet` test need no torch at run
time; rerun this script only when the model itself should change, and commit the result.

The network is a small ResNet-like classifier (about 100 KB of fp32 weights) that still covers the
common CNN op mix: Conv (3x3 and 1x1, stride 1 and 2) with folded BatchNorm, Relu, MaxPool, a
residual Add, GlobalAveragePool, Flatten and Gemm. Input "input" 1x3x64x64, output "output" 1x10.
Weights are seeded; BatchNorm statistics are calibrated as in export_models.py so activations stay
O(1) and the comparison against torch means something.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_models as em  # noqa: E402  (also restores the numpy aliases onnx 1.12 needs)

import onnx  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

SIZE = 64
MAX_BYTES = 300 * 1024


def conv_bn(cin, cout, k, stride):
  return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout))


class Block(nn.Module):
  """Basic residual block; a strided 1x1 projection on the shortcut when the shape changes."""

  def __init__(self, cin, cout, stride):
    super().__init__()
    self.a = conv_bn(cin, cout, 3, stride)
    self.b = conv_bn(cout, cout, 3, 1)
    self.proj = conv_bn(cin, cout, 1, stride) if (stride != 1 or cin != cout) else None

  def forward(self, x):
    y = self.b(torch.relu(self.a(x)))
    return torch.relu(y + (self.proj(x) if self.proj is not None else x))


class TinyResNet(nn.Module):
  def __init__(self, classes=10):
    super().__init__()
    self.stem = conv_bn(3, 16, 3, 1)
    self.pool = nn.MaxPool2d(3, 2, 1)
    self.block1 = Block(16, 16, 1)
    self.block2 = Block(16, 32, 2)
    self.fc = nn.Linear(32, classes)

  def forward(self, x):
    x = self.pool(torch.relu(self.stem(x)))
    x = self.block2(self.block1(x))
    x = nn.functional.adaptive_avg_pool2d(x, 1)
    return self.fc(torch.flatten(x, 1))


def main():
  here = os.path.dirname(os.path.abspath(__file__))
  outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "examples", "models")
  outdir = os.path.abspath(outdir)
  ddir = os.path.join(outdir, "tiny_resnet", "test_data_set_0")
  os.makedirs(ddir, exist_ok=True)
  torch.set_num_threads(1)

  torch.manual_seed(em.MODEL_SEED)
  model = TinyResNet()
  em.calibrate_batchnorm(model, SIZE)
  model.eval()
  torch.manual_seed(em.INPUT_SEED)
  x = torch.randn(1, 3, SIZE, SIZE)
  with torch.no_grad():
    y = model(x)

  path = os.path.join(outdir, "tiny_resnet.onnx")
  torch.onnx.export(model, x, path, opset_version=13, do_constant_folding=True,
                    input_names=["input"], output_names=["output"])
  m = onnx.load(path)
  onnx.checker.check_model(m)
  size = os.path.getsize(path)
  if size > MAX_BYTES:
    em.fail(f"{path} is {size} bytes, over the {MAX_BYTES}-byte budget for a committed model")
  em.write_atomic(os.path.join(ddir, "input_0.pb"), em.tensor_pb(x.numpy(), "input"))
  em.write_atomic(os.path.join(ddir, "output_0.pb"), em.tensor_pb(y.numpy(), "output"))
  ops = sorted({n.op_type for n in m.graph.node})
  print(f"make_example_model: wrote {path} ({size / 1024:.0f} KB, ops {', '.join(ops)}), "
        f"output {list(y.shape)} std {y.std().item():.3g}")


if __name__ == "__main__":
  main()
