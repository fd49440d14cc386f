#!/usr/bin/python3
"""Export a BERT-style transformer encoder (hand-written in torch) to ONNX with torch's outputs.

The attention is spelled the way BERT/ViT exports spell it: nn.Linear q/k/v, a head split by
view + transpose, scores = q @ k^T / sqrt(d) + mask, softmax, @ v, output projection, residual +
LayerNorm, FFN with erf GELU. The mask is BERT's: a [batch, seq] 0/1 input turned into
(1 - mask) * -10000 broadcast over heads and query rows.

  /usr/bin/python3 scripts/export_encoder.py OUTDIR [--layers 12 --hidden 768 --heads 12 --ffn 3072
                                                     --seq 128 --batch 1 --opset 14]

writes OUTDIR/model.onnx and OUTDIR/test_data_set_0/{input_0,input_1,output_0}.pb (the ONNX
test-data layout tests/models/run_model_test.py and benchmarks/run_bench.py read). Defaults are
BERT-base's shape; the model test uses a small one. --const-mask bakes the mask into the model
(one input, for harnesses that feed exactly one).
"""
import argparse
import json
import math
import os
import sys

import numpy as np

for _alias, _type in (("float", float), ("int", int), ("bool", bool), ("object", object)):
  if _alias not in np.__dict__:  # onnx 1.12 still refers to aliases numpy 1.24 removed
    setattr(np, _alias, _type)

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

RECIPE_VERSION = 1


class Layer(nn.Module):
  def __init__(self, hidden, heads, ffn):
    super().__init__()
    self.heads, self.d = heads, hidden // heads
    self.q, self.k, self.v = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
    self.o = nn.Linear(hidden, hidden)
    self.ln1, self.ln2 = nn.LayerNorm(hidden, eps=1e-12), nn.LayerNorm(hidden, eps=1e-12)
    self.fc1, self.fc2 = nn.Linear(hidden, ffn), nn.Linear(ffn, hidden)

  def split(self, t):
    b, s, _ = t.shape
    return t.view(b, s, self.heads, self.d).transpose(1, 2)

  def forward(self, x, mask):
    q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
    scores = q @ k.transpose(-1, -2) / math.sqrt(self.d) + mask
    ctx = torch.softmax(scores, dim=-1) @ v
    b, _, s, _ = ctx.shape
    ctx = ctx.transpose(1, 2).reshape(b, s, self.heads * self.d)
    x = self.ln1(x + self.o(ctx))
    return self.ln2(x + self.fc2(nn.functional.gelu(self.fc1(x))))


class Encoder(nn.Module):
  def __init__(self, layers, hidden, heads, ffn):
    super().__init__()
    self.layers = nn.ModuleList(Layer(hidden, heads, ffn) for _ in range(layers))
    self.const_mask = None

  def forward(self, x, attention_mask=None):
    if attention_mask is None:
      attention_mask = self.const_mask
    mask = (1.0 - attention_mask[:, None, None, :]) * -10000.0
    for layer in self.layers:
      x = layer(x, mask)
    return x


def tensor_pb(array, name):
  return numpy_helper.from_array(np.ascontiguousarray(array), name=name).SerializeToString()


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("outdir")
  ap.add_argument("--layers", type=int, default=12)
  ap.add_argument("--hidden", type=int, default=768)
  ap.add_argument("--heads", type=int, default=12)
  ap.add_argument("--ffn", type=int, default=3072)
  ap.add_argument("--seq", type=int, default=128)
  ap.add_argument("--batch", type=int, default=1)
  ap.add_argument("--opset", type=int, default=14)
  ap.add_argument("--const-mask", action="store_true", help="bake the attention mask into the model")
  args = ap.parse_args()
  if args.hidden % args.heads:
    print(f"export_encoder: error: --hidden {args.hidden} is not a multiple of --heads {args.heads}",
          file=sys.stderr)
    sys.exit(2)

  meta = dict(vars(args), recipe=RECIPE_VERSION, torch=torch.__version__)
  del meta["outdir"]
  ddir = os.path.join(args.outdir, "test_data_set_0")
  meta_path = os.path.join(args.outdir, "export.json")
  try:
    with open(meta_path) as f:
      if json.load(f) == meta:
        print(f"export_encoder: {args.outdir}: up to date, skipped")
        return
  except (OSError, ValueError):
    pass
  os.makedirs(ddir, exist_ok=True)

  torch.manual_seed(0)
  model = Encoder(args.layers, args.hidden, args.heads, args.ffn).eval()
  x = torch.randn(args.batch, args.seq, args.hidden)
  mask = torch.ones(args.batch, args.seq)
  mask[:, args.seq - max(1, args.seq // 8):] = 0  # padded tail, so the mask matters
  with torch.no_grad():
    y = model(x, mask)
  model_path = os.path.join(args.outdir, "model.onnx")
  files = [(os.path.join(ddir, "input_0.pb"), tensor_pb(x.numpy(), "input")),
           (os.path.join(ddir, "output_0.pb"), tensor_pb(y.numpy(), "output"))]
  if args.const_mask:
    model.const_mask = mask
    torch.onnx.export(model, (x,), model_path, opset_version=args.opset, do_constant_folding=True,
                      input_names=["input"], output_names=["output"])
  else:
    torch.onnx.export(model, (x, mask), model_path, opset_version=args.opset, do_constant_folding=True,
                      input_names=["input", "attention_mask"], output_names=["output"])
    files.append((os.path.join(ddir, "input_1.pb"), tensor_pb(mask.numpy(), "attention_mask")))
  onnx.checker.check_model(onnx.load(model_path))
  for path, data in files:
    with open(path, "wb") as f:
      f.write(data)
  with open(meta_path, "w") as f:
    json.dump(meta, f, indent=1)
  print(f"export_encoder: {args.outdir}: exported ({args.layers} layers, hidden {args.hidden}, "
        f"output {list(y.shape)}, {os.path.getsize(model_path) / 1e6:.1f} MB)")


if __name__ == "__main__":
  main()
