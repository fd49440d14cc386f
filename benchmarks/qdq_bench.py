#!/usr/bin/python3
"""kiln vs ONNX Runtime on a QDQ model: ResNet-18's layers in quantize_static's QDQ form.

Writes DIR/qdq_resnet18/model.onnx (tests/cli/qdq_model.py: random He-initialised weights,
calibrated min-max on random inputs, uint8 activations, s8 per-channel weights) and
test_data_set_0/ (an input and the numpy evaluation of the QDQ graph as the expected output), then
runs benchmarks/run_bench.py on it, which checks both runtimes' outputs against that evaluation
and times them side by side (medians of rounds). kiln compiles it without --int8: the model's own
Q/DQ pairs make its layers int8.

usage: /usr/bin/python3 benchmarks/qdq_bench.py [--build build] [--size 224] [run_bench.py options...]
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "cli"))
import qdq_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--size", type=int, default=224, help="input height and width (default 224)")
    args, rest = ap.parse_known_args()
    d = os.path.join(os.path.abspath(args.build), "bench", "qdq_resnet18")
    data = os.path.join(d, "test_data_set_0")
    os.makedirs(data, exist_ok=True)
    net, out_shape = qdq_model.resnet18(seed=0, size=args.size)
    calib = [np.random.RandomState(10 + k).standard_normal(net.in_shape).astype(np.float32) for k in range(2)]
    model = qdq_model.qdq_model(net, out_shape, calib)
    onnx.save(model, os.path.join(d, "model.onnx"))
    x = np.random.RandomState(99).standard_normal(net.in_shape).astype(np.float32)
    y = qdq_model.run(model, {"x": x})["y"]
    with open(os.path.join(data, "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x, "x").SerializeToString())
    with open(os.path.join(data, "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(y, "y").SerializeToString())
    print(f"qdq_bench: wrote {d} ({len(model.graph.node)} nodes)", flush=True)
    # int8 against a numpy evaluation of the QDQ graph: both runtimes requantize on their own.
    cmd = [sys.executable, os.path.join(HERE, "run_bench.py"), "--build", args.build, "--models", d,
           "--max-rel-l2", "0.05", *rest]
    sys.exit(subprocess.call(cmd))


if __name__ == "__main__":
    main()
