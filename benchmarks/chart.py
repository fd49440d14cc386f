#!/usr/bin/python3
"""Draws the benchmark results (run_bench.py's results.json) as a PNG bar chart.

Two panels: kiln's speedup over ONNX Runtime per model (bars, with the break-even line at 1.0 and
the geometric mean), and the achieved GFLOP/s of both runtimes per model against the machine's
measured fp32 peak (a 2048^3 oneDNN matmul, see peak.py) when the run measured it.

Drawn with Pillow (Debian's python3-pil, which python3-torchvision already depends on) and the
DejaVu fonts when present, so no plotting library is needed.

Usage: /usr/bin/python3 benchmarks/chart.py results.json out.png
"""
import json
import math
import sys

from PIL import Image, ImageDraw, ImageFont

KILN_COLOUR, ORT_COLOUR, AXIS, GRID = (214, 96, 39), (70, 110, 170), (40, 40, 40), (225, 225, 225)


def font(size, bold=False):
  name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
  for d in ("/usr/share/fonts/truetype/dejavu/", ""):
    try:
      return ImageFont.truetype(d + name, size)
    except OSError:
      continue
  return ImageFont.load_default()


def text_w(draw, s, f):
  box = draw.textbbox((0, 0), s, font=f)
  return box[2] - box[0]


def nice_max(v):
  """A round axis maximum at or above v."""
  if v <= 0:
    return 1.0
  e = 10 ** math.floor(math.log10(v))
  for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
    if m * e >= v:
      return m * e
  return 10 * e


def panel(draw, box, title, labels, series, ymax, ticks, fmt, hlines=()):
  """Grouped bars: series = [(name, colour, values)], hlines = [(y, label, colour)]."""
  x0, y0, x1, y1 = box
  small, norm = font(13), font(15, bold=True)
  draw.text((x0, y0 - 28), title, fill=AXIS, font=norm)
  for i in range(ticks + 1):
    v = ymax * i / ticks
    y = y1 - (y1 - y0) * v / ymax
    draw.line((x0, y, x1, y), fill=GRID)
    s = fmt(v)
    draw.text((x0 - 8 - text_w(draw, s, small), y - 8), s, fill=AXIS, font=small)
  n, k = len(labels), len(series)
  slot = (x1 - x0) / max(n, 1)
  bar = slot * 0.7 / k
  for i, lab in enumerate(labels):
    for j, (_, colour, values) in enumerate(series):
      v = values[i]
      if v is None:
        continue
      bx = x0 + i * slot + slot * 0.15 + j * bar
      by = y1 - (y1 - y0) * min(v, ymax) / ymax
      draw.rectangle((bx, by, bx + bar - 2, y1), fill=colour)
      s = fmt(v)
      draw.text((bx + (bar - 2 - text_w(draw, s, small)) / 2, by - 17), s, fill=AXIS, font=small)
    draw.text((x0 + i * slot + (slot - text_w(draw, lab, small)) / 2, y1 + 6), lab, fill=AXIS, font=small)
  for y_val, lab, colour in hlines:
    y = y1 - (y1 - y0) * y_val / ymax
    for sx in range(int(x0), int(x1), 12):
      draw.line((sx, y, min(sx + 7, x1), y), fill=colour, width=2)
    draw.text((x1 - text_w(draw, lab, small), y - 18), lab, fill=colour, font=small)
  draw.line((x0, y0, x0, y1), fill=AXIS)
  draw.line((x0, y1, x1, y1), fill=AXIS)
  lx = x0 + 10
  for name, colour, _ in series:
    draw.rectangle((lx, y0 + 4, lx + 12, y0 + 16), fill=colour)
    draw.text((lx + 18, y0 + 2), name, fill=AXIS, font=small)
    lx += 30 + text_w(draw, name, small)


def draw_chart(report, out):
  res = [r for r in report["results"] if r.get("kiln") and r.get("ort")]
  if not res:
    raise ValueError("no model has both kiln and ONNX Runtime timings")
  labels = [r["model"] if r.get("precision", "fp32") == "fp32" else f"{r['model']} {r['precision']}"
            for r in res]
  ratios = [r["ratio_ort_over_kiln"] for r in res]
  geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
  w = max(900, 120 * len(labels) + 160)
  img = Image.new("RGB", (w, 820), "white")
  d = ImageDraw.Draw(img)
  cfg, mach = report["config"], report["machine"]
  precs = "/".join(cfg.get("precisions", ["fp32"]))
  d.text((20, 12), f"kiln {precs} vs {cfg['ort']} fp32, batch 1, {cfg['threads']} threads, "
         f"medians of {cfg['rounds']} rounds", fill=AXIS, font=font(16, bold=True))
  d.text((20, 36), f"{mach['cpu']}, {mach['cores']} cores; {report['time']}", fill=AXIS, font=font(13))
  ymax = nice_max(max(ratios + [1.2]) * 1.1)
  panel(d, (90, 110, w - 40, 400), f"speedup of kiln over ONNX Runtime (ORT latency / kiln latency); "
        f"geomean {geo:.2f}x" + (" (all bars)" if "/" in precs else ""), labels, [("kiln speedup", KILN_COLOUR, ratios)], ymax, 5,
        lambda v: f"{v:.2f}", [(1.0, "break-even", AXIS)])
  peak = report.get("peak", {}).get("gflops")
  kg = [r["kiln"]["gflops"] for r in res]
  og = [r["ort"]["gflops"] for r in res]
  ymax = nice_max(max(kg + og + [peak or 0]) * 1.1)
  hl = [(peak, f"measured fp32 peak {peak:.0f} GFLOP/s", (150, 30, 30))] if peak else []
  panel(d, (90, 500, w - 40, 770), "achieved GFLOP/s (Conv/Gemm/MatMul work / latency)", labels,
        [("kiln", KILN_COLOUR, kg), ("ONNX Runtime", ORT_COLOUR, og)], ymax, 5, lambda v: f"{v:.0f}", hl)
  img.save(out)


if __name__ == "__main__":
  if len(sys.argv) != 3:
    sys.exit(__doc__)
  with open(sys.argv[1]) as f:
    draw_chart(json.load(f), sys.argv[2])
  print(f"chart: wrote {sys.argv[2]}")
