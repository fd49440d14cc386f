#!/usr/bin/python3
"""Exports torchvision models to ONNX with torch's own outputs beside them (the model-test oracle).

Usage:
  /usr/bin/python3 scripts/export_models.py OUTDIR [--models resnet50,...] [--opset 13] [--batch 1]

For each model this writes, in the ONNX backend test-data layout:
  OUTDIR/<name>/model.onnx
  OUTDIR/<name>/test_data_set_0/input_<K>.pb  (TensorProtos named like the graph inputs: "input";
                                               bert_hf: "input_ids", "attention_mask")
  OUTDIR/<name>/test_data_set_0/output_<K>.pb (torch's outputs, named like the graph outputs)
  OUTDIR/<name>/export.json                    (the settings; a mismatch forces a re-export)
where <name> is the model name, with "_b<N>" appended when --batch is not 1.

Nothing is downloaded: models are built with weights=None after torch.manual_seed(0).

Besides the torchvision CNNs and ViT-B/16 there is `bert_base`, the project's own BERT-base-shaped
encoder (12 layers, hidden 768, 12 heads, FFN 3072, GELU, sequence 128), written like Hugging
Face's BertLayer so it exports the usual pattern: Q/K/V projections, scores = Q K^T / 8 + mask,
Softmax, context = P V, output projection, residual + LayerNorm, GELU FFN, residual + LayerNorm.
Its single float32 input is the embedded sequence [batch, 128, 768] (token embedding lookup is
not part of the timed work in BERT benchmarks either); the attention mask is a constant padding
mask (the last 16 positions are padding), exported as an initializer added to the scores.

Random-init BatchNorm is useless as an oracle: running_mean=0 and running_var=1 never match the
statistics of the activations they see, so in deep nets (resnet50, densenet121) the logits blow up
or collapse towards a constant, and a relative-error comparison then checks little. So after
construction every BatchNorm gets a random affine (gamma in [0.5, 1.5], beta ~ N(0, 0.1)) and its
running statistics are *calibrated*: a few forward passes in train mode over random inputs with a
cumulative average (momentum=None). Each BN then really normalises its input, activations stay O(1)
throughout, and the logits are spread out. All of it is seeded, so exports are reproducible.

`bert_hf` is a whole BERT-base written like Hugging Face's BertModel (scripts/bert_hf.py): int64
inputs `input_ids` and `attention_mask` [batch, 128], embeddings, the extended attention mask, 12
layers, the pooler; outputs `last_hidden_state` and `pooler_output`. It is exported at opset 17
(LayerNormalization is one op there), whatever --opset says.

Re-running is cheap: a model whose files exist and whose export.json matches is skipped.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np

# onnx 1.12 still refers to aliases that numpy 1.24 removed.
for _alias, _type in (("float", float), ("int", int), ("bool", bool), ("object", object)):
  if _alias not in np.__dict__:  # hasattr() would emit numpy's FutureWarning
    setattr(np, _alias, _type)

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_hf  # noqa: E402

# Bump when the export recipe changes so existing exports are redone.
RECIPE_VERSION = 1
DEFAULT_MODELS = "resnet50,mobilenet_v2,squeezenet1_1,efficientnet_b0,googlenet,densenet121"
# Heavier transformer models: not in the default set (the model tests), exported on request.
TRANSFORMERS = ["vit_b_16", "bert_base", "bert_hf"]
SUPPORTED = DEFAULT_MODELS.split(",") + TRANSFORMERS
BERT_SEQ, BERT_HIDDEN, BERT_HEADS, BERT_FFN, BERT_LAYERS, BERT_PAD = 128, 768, 12, 3072, 12, 16
CALIBRATION_BATCHES = 2
CALIBRATION_BATCH_SIZE = 4
MODEL_SEED = 0
INPUT_SEED = 1234


def fail(msg):
  print(f"export_models: error: {msg}", file=sys.stderr)
  sys.exit(1)


class BertLayer(torch.nn.Module):
  def __init__(self):
    super().__init__()
    h = BERT_HIDDEN
    self.q, self.k, self.v, self.o = (torch.nn.Linear(h, h) for _ in range(4))
    self.ln1, self.ln2 = torch.nn.LayerNorm(h, eps=1e-12), torch.nn.LayerNorm(h, eps=1e-12)
    self.ffn_in, self.ffn_out = torch.nn.Linear(h, BERT_FFN), torch.nn.Linear(BERT_FFN, h)

  def heads(self, x):  # [b, s, h] -> [b, heads, s, h/heads]
    b, s, _ = x.shape
    return x.view(b, s, BERT_HEADS, BERT_HIDDEN // BERT_HEADS).permute(0, 2, 1, 3)

  def forward(self, x, mask):
    q, k, v = self.heads(self.q(x)), self.heads(self.k(x)), self.heads(self.v(x))
    scores = torch.matmul(q, k.transpose(-1, -2)) / (BERT_HIDDEN // BERT_HEADS) ** 0.5 + mask
    ctx = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3)
    ctx = ctx.reshape(x.shape[0], x.shape[1], BERT_HIDDEN)
    x = self.ln1(x + self.o(ctx))
    return self.ln2(x + self.ffn_out(torch.nn.functional.gelu(self.ffn_in(x))))


class BertEncoder(torch.nn.Module):
  def __init__(self):
    super().__init__()
    self.layers = torch.nn.ModuleList(BertLayer() for _ in range(BERT_LAYERS))
    mask = torch.zeros(1, 1, 1, BERT_SEQ)
    mask[..., BERT_SEQ - BERT_PAD:] = -10000.0  # BERT's additive padding mask
    self.register_buffer("mask", mask)
    with torch.no_grad():  # BERT's initialisation: N(0, 0.02) weights, zero biases
      for m in self.modules():
        if isinstance(m, torch.nn.Linear):
          m.weight.normal_(0.0, 0.02)
          m.bias.zero_()

  def forward(self, x):
    for layer in self.layers:
      x = layer(x, self.mask)
    return x


def example_inputs(name, batch, size):
  """(tuple of input tensors, their graph names, the graph's output names)."""
  if name == "bert_hf":
    return bert_hf.example_inputs(batch), bert_hf.INPUT_NAMES, bert_hf.OUTPUT_NAMES
  if name == "bert_base":
    return (torch.randn(batch, BERT_SEQ, BERT_HIDDEN),), ["input"], ["output"]
  return (torch.randn(batch, 3, size, size),), ["input"], ["output"]


def build_model(name):
  if name == "bert_hf":
    return bert_hf.BertModel()
  if name == "bert_base":
    return BertEncoder()
  kwargs = {"weights": None}
  if name == "googlenet":
    # The aux heads only exist in training; init_weights=True avoids torchvision's warning and
    # picks its documented truncated-normal init.
    kwargs.update(aux_logits=False, init_weights=True)
  ctor = getattr(torchvision.models, name, None)
  if ctor is None:
    fail(f"torchvision {torchvision.__version__} has no model '{name}'")
  model = ctor(**kwargs)
  if name.startswith("vit_"):
    # torchvision zero-initialises the classifier head (it is meant to be fine-tuned): the
    # logits would all be 0 and check nothing.
    with torch.no_grad():
      model.heads.head.weight.normal_(0.0, 0.02)
  return model


def calibrate_batchnorm(model, size):
  """Gives every BN a random affine and running stats measured on random inputs (see module doc)."""
  bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
  if not bns:
    return 0
  with torch.no_grad():
    for bn in bns:
      if bn.affine:
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_(0.0, 0.1)
      bn.reset_running_stats()
      bn.momentum = None  # cumulative average over the calibration batches
    model.train()
    for _ in range(CALIBRATION_BATCHES):
      model(torch.randn(CALIBRATION_BATCH_SIZE, 3, size, size))
  model.eval()
  return len(bns)


def tensor_pb(array, name):
  t = numpy_helper.from_array(np.ascontiguousarray(array), name=name)
  return t.SerializeToString()


def write_atomic(path, data):
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
  with os.fdopen(fd, "wb") as f:
    f.write(data)
  os.chmod(tmp, 0o644)  # mkstemp creates 0600
  os.replace(tmp, path)


def export_one(name, outdir, opset, batch, size=224):
  dirname = name if batch == 1 else f"{name}_b{batch}"
  mdir = os.path.join(outdir, dirname)
  ddir = os.path.join(mdir, "test_data_set_0")
  model_path = os.path.join(mdir, "model.onnx")
  in_path = os.path.join(ddir, "input_0.pb")
  out_path = os.path.join(ddir, "output_0.pb")  # the others are checked through the stamp
  meta_path = os.path.join(mdir, "export.json")
  if name == "bert_base" and opset < 13:
    opset = 13
  if name == "bert_hf":
    opset = 17
  meta = {"model": name, "opset": opset, "batch": batch, "size": size,
          "recipe": RECIPE_VERSION, "torch": torch.__version__,
          "torchvision": torchvision.__version__}
  if all(os.path.isfile(p) for p in (model_path, in_path, out_path, meta_path)):
    try:
      with open(meta_path) as f:
        if json.load(f) == meta:
          print(f"export_models: {dirname}: up to date, skipped")
          return
    except (OSError, ValueError):
      pass  # unreadable stamp: redo the export
  os.makedirs(ddir, exist_ok=True)
  # The stamp goes last, so an interrupted export is redone next time.
  if os.path.exists(meta_path):
    os.remove(meta_path)

  torch.manual_seed(MODEL_SEED)
  model = build_model(name)
  nbn = calibrate_batchnorm(model, size)
  model.eval()

  torch.manual_seed(INPUT_SEED)
  xs, in_names, out_names = example_inputs(name, batch, size)
  with torch.no_grad():
    ys = model(*xs)
  ys = (ys,) if isinstance(ys, torch.Tensor) else tuple(ys)
  if len(ys) != len(out_names) or not all(isinstance(y, torch.Tensor) for y in ys):
    fail(f"{name}: expected {len(out_names)} output tensors, got {type(ys).__name__}")
  yns = [y.numpy() for y in ys]
  if not all(np.all(np.isfinite(yn)) for yn in yns):
    fail(f"{name}: torch output has non-finite values; the oracle would be meaningless")

  tmp_model = model_path + ".tmp"
  torch.onnx.export(model, xs, tmp_model, opset_version=opset, do_constant_folding=True,
                    input_names=in_names, output_names=out_names, dynamic_axes=None)
  onnx_model = onnx.load(tmp_model)
  onnx.checker.check_model(onnx_model)
  gin = [i.name for i in onnx_model.graph.input]
  gout = [o.name for o in onnx_model.graph.output]
  if gin[:len(in_names)] != in_names or gout != out_names:
    fail(f"{name}: unexpected graph I/O names inputs={gin} outputs={gout}")
  os.replace(tmp_model, model_path)

  for k, (x, n) in enumerate(zip(xs, in_names)):
    write_atomic(os.path.join(ddir, f"input_{k}.pb"), tensor_pb(x.numpy(), n))
  for k, (yn, n) in enumerate(zip(yns, out_names)):
    write_atomic(os.path.join(ddir, f"output_{k}.pb"), tensor_pb(yn, n))
  with open(meta_path, "w") as f:
    json.dump(meta, f, indent=1)
  shapes = ", ".join(f"{n} {list(yn.shape)} std {yn.std():.3g}" for n, yn in zip(out_names, yns))
  print(f"export_models: {dirname}: exported (opset {opset}, batch {batch}, {nbn} BN calibrated, "
        f"outputs {shapes}, {os.path.getsize(model_path) / 1e6:.1f} MB)")


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("outdir")
  ap.add_argument("--models", default=DEFAULT_MODELS,
                  help=f"comma-separated; supported: {', '.join(SUPPORTED)}")
  ap.add_argument("--opset", type=int, default=13)
  ap.add_argument("--batch", type=int, default=1)
  args = ap.parse_args()
  names = [m.strip() for m in args.models.split(",") if m.strip()]
  if not names:
    fail("--models is empty")
  unknown = [m for m in names if m not in SUPPORTED]
  if unknown:
    fail(f"unsupported model(s) {unknown}; supported: {', '.join(SUPPORTED)}")
  if args.batch < 1:
    fail("--batch must be >= 1")
  torch.set_num_threads(min(2, os.cpu_count() or 1))
  os.makedirs(args.outdir, exist_ok=True)
  for name in names:
    export_one(name, args.outdir, args.opset, args.batch)


if __name__ == "__main__":
  main()
