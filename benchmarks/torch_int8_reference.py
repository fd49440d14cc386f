#!/usr/bin/python3
"""A standard tool's int8 on the zoo's CNNs, for scale: torch's own post-training static quantization
(FX graph mode, its oneDNN backend, per-channel s8 weights, u8 activations) calibrated on the same 16
samples as kiln's --int8, against kiln --int8 with each of its calibrators. Both report the relative L2
of the model output against torch fp32 on the zoo's test input (never a calibration sample).

Why: the issue's 0.15 target for ResNet-50 is missed on the zoo's seeded random weights (0.17,
docs/performance.md). This shows whether that is kiln's quantization or the model: a random net
with calibrated BatchNorm amplifies any rounding (bf16 alone moves it by 0.10).

  /usr/bin/python3 benchmarks/torch_int8_reference.py [--build build] [--models resnet50,mobilenet_v2]
      [--methods percentile,minmax,entropy] [--out FILE.json]

It rebuilds each model in torch exactly as scripts/export_models.py does (same seeds, checked
against the exported test output) and makes the calibration sets as benchmarks/run_bench.py does
(BUILD/bench/MODEL/calib).

It also splits int8's error into its parts by simulating kiln's quantization in torch (fake
quantization: values rounded to the int8 grid and computed in fp32): the weights alone (s8, one
symmetric scale per output channel, the only int8 weight format oneDNN 2.6's kernels take; every
activation left fp32), the activations alone (each Conv/Gemm input on one u8 or s8 grid per tensor,
clipped at the percentile:99.99 of |x| over the calibration samples, as kiln's default), and both.
Each of those is also run with bias correction (Nagel et al. 2019, OpenVINO's FastBiasCorrection):
the mean shift that rounding the weights gives each output channel, (W_q - W) E[x] with E[x] over
the calibration samples, is taken out of the bias. `--no-budget` skips this part.
"""
import argparse, copy, glob, json, os, subprocess, sys, tempfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import export_models as em  # noqa: E402
import run_bench as rb  # noqa: E402
from compare_outputs import load_pb  # noqa: E402  (name, array)
from trained_accuracy import rel_l2  # noqa: E402


def torch_int8(model, x, calib, qconfig_mapping):
  from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
  prepared = prepare_fx(copy.deepcopy(model), qconfig_mapping, (torch.from_numpy(x),))
  with torch.no_grad():
    for c in calib:
      prepared(torch.from_numpy(c))
    return convert_fx(prepared)(torch.from_numpy(x)).numpy()


def int8_layers(model):
  """The layers kiln computes in int8, in module order (the same order in any copy of model)."""
  return [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]


def fake_quant_budget(model, x, ref, calib, percentile=99.99):
  """{part: rel. L2 against ref} for int8's error split into weights and activations (module doc)."""
  layers = int8_layers(model)
  seen = {id(m): [] for m in layers}
  hooks = [m.register_forward_pre_hook(lambda mod, inp: seen[id(mod)].append(inp[0].detach())) for m in layers]
  with torch.no_grad():
    for c in calib:
      model(torch.from_numpy(c))
  for h in hooks:
    h.remove()
  stats = {}
  for m in layers:
    xs = torch.cat([t.flatten() for t in seen[id(m)]])
    # The input's per-channel mean (dim 1) over samples and positions, for bias correction.
    means = torch.stack([t.transpose(0, 1).flatten(1).mean(1) for t in seen[id(m)]]).mean(0)
    stats[id(m)] = (float(np.percentile(xs.abs().numpy(), percentile)), bool(xs.min() >= 0), means)
  del seen

  def weights_s8(w):
    s = w.abs().amax(dim=tuple(range(1, w.dim())), keepdim=True).clamp(min=1e-30) / 127
    return torch.round(w / s).clamp(-127, 127) * s

  def shift(m, wq):
    """The mean output shift per channel that rounding m's weights to wq gives, (W_q - W) E[x]."""
    d = (wq - m.weight).flatten(2).sum(2) if m.weight.dim() > 2 else wq - m.weight
    groups = getattr(m, "groups", 1)
    out, per_group = d.shape
    return torch.einsum("goi,gi->go", d.view(groups, out // groups, per_group),
                        stats[id(m)][2].view(groups, per_group)).reshape(out)

  def run(weights, activations, bias_correction):
    q = copy.deepcopy(model)  # its hooks go with it
    with torch.no_grad():
      for m, orig in zip(int8_layers(q), layers):
        rng, unsigned, _ = stats[id(orig)]
        if weights:
          wq = weights_s8(m.weight)
          if bias_correction:
            corr = -shift(orig, wq).view(1, -1, *([1] * (m.weight.dim() - 2)))
            m.register_forward_hook(lambda mod, inp, out, corr=corr: out + corr)
          m.weight.copy_(wq)
        if activations:
          lo, hi = (0, 255) if unsigned else (-128, 127)
          step = rng / hi
          m.register_forward_pre_hook(
              lambda mod, inp, step=step, lo=lo, hi=hi: (torch.round(inp[0] / step).clamp(lo, hi) * step,))
      y = q(torch.from_numpy(x)).numpy()
    return rel_l2(y, ref)

  res = {}
  for label, w, a in (("weights", True, False), ("activations", False, True), ("both", True, True)):
    res[f"fake-quant {label}"] = run(w, a, False)
    if w:
      res[f"fake-quant {label}, bias corrected"] = run(w, a, True)
  return res


def kiln_int8(kiln, model_path, input_name, data_dir, calib_dir, method, work):
  plan = os.path.join(work, f"{method}.plan")
  subprocess.run([kiln, "compile", model_path, "--int8", "--calib=" + calib_dir, "--calibMethod=" + method,
                  "--threads=2", "-o", plan], check=True, capture_output=True)
  out = os.path.join(work, f"{method}_out")
  subprocess.run([kiln, "run", "--loadEngine=" + plan, "--threads=2", "--iterations=1", "--duration=0",
                  "--loadInputs=" + input_name + ":" + os.path.join(data_dir, "input_0.pb"), "--exportOutput=" + out], check=True,
                 capture_output=True)
  return np.load(glob.glob(os.path.join(out, "*.npy"))[0])


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  ap.add_argument("--build", default=os.path.join(ROOT, "build"))
  ap.add_argument("--models", default="resnet50,mobilenet_v2")
  ap.add_argument("--methods", default="percentile,minmax,entropy")
  ap.add_argument("--out")
  ap.add_argument("--no-budget", action="store_true", help="skip the fake-quantization split (module doc)")
  a = ap.parse_args()
  from torch.ao.quantization import QConfig, QConfigMapping, get_default_qconfig_mapping
  from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver
  torch.backends.quantized.engine = "onednn"
  torch_configs = {
      "torch onednn default (histogram observer)": get_default_qconfig_mapping("onednn"),
      "torch min-max": QConfigMapping().set_global(QConfig(
          activation=MinMaxObserver.with_args(dtype=torch.quint8, qscheme=torch.per_tensor_affine),
          weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric))),
  }
  kiln = os.path.join(a.build, "bin", "kiln")
  res = {"torch": torch.__version__}
  for name in a.models.split(","):
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "export_models.py"), os.path.join(a.build, "models"),
                    "--models", name], check=True, capture_output=True)
    mdir = os.path.join(a.build, "models", name)
    data = os.path.join(mdir, "test_data_set_0")
    (input_name, x), (_, ref) = load_pb(os.path.join(data, "input_0.pb")), load_pb(os.path.join(data, "output_0.pb"))
    wdir = os.path.join(a.build, "bench", name)
    os.makedirs(wdir, exist_ok=True)
    calib_dir = rb.calib_sets(data, wdir)
    calib = [load_pb(p)[1] for p in sorted(glob.glob(os.path.join(calib_dir, "test_data_set_*", "input_0.pb")))]
    torch.manual_seed(em.MODEL_SEED)
    model = em.build_model(name)
    em.calibrate_batchnorm(model, 224)
    model.eval()
    with torch.no_grad():
      rebuilt = rel_l2(model(torch.from_numpy(x)).numpy(), ref)
    if rebuilt > 1e-4:
      sys.exit(f"error: {name}: the rebuilt torch model differs from the exported one (rel. L2 {rebuilt:.2g})")
    r = res[name] = {"calibration_samples": len(calib)}
    if not a.no_budget:
      for label, v in fake_quant_budget(model, x, ref, calib).items():
        r[label] = v
        print(f"{name}: {label}: rel. L2 {v:.4f}", flush=True)
    for label, qmap in torch_configs.items():
      r[label] = rel_l2(torch_int8(model, x, calib, qmap), ref)
      print(f"{name}: {label}: rel. L2 {r[label]:.4f}", flush=True)
    with tempfile.TemporaryDirectory() as work:
      for method in a.methods.split(","):
        r[f"kiln {method}"] = rel_l2(kiln_int8(kiln, os.path.join(mdir, "model.onnx"), input_name, data, calib_dir, method,
                                               work), ref)
        print(f"{name}: kiln --int8 --calibMethod={method}: rel. L2 {r[f'kiln {method}']:.4f}", flush=True)
  if a.out:
    with open(a.out, "w") as f:
      json.dump(res, f, indent=1)


if __name__ == "__main__":
  main()
