#!/bin/bash
# Runs on the device: export ResNet-50 (torchvision, random weights: load time does not depend on
# them) and BERT-base, compile level 0 and level 3 plans there, and time loads with load_bench.py.
set -e
python3 - <<'PY'
import torch, torchvision
m = torchvision.models.resnet50().eval()
torch.onnx.export(m, torch.randn(1, 3, 224, 224), "/tmp/r50.onnx", input_names=["input"], output_names=["output"], opset_version=13, dynamo=False)
PY
export LD_LIBRARY_PATH=$PWD/.device/lib
K=.device/bin/kiln
lscpu | grep -E "Model name|Flags" | sed 's/Flags:.*amx_int8.*/Flags: ... amx_int8 .../' | head -2
$K compile /tmp/r50.onnx -o /tmp/r50_l0.plan --threads=2 2>&1 | tail -1
$K compile /tmp/r50.onnx -o /tmp/r50_l3.plan --builderOptimizationLevel=3 --threads=2 2>&1 | tail -1
taskset -c 2,3 python3 benchmarks/load_bench.py --kiln $K --c-loader .device/bin/kiln_plan_load --runs 10 /tmp/r50_l3.plan /tmp/r50_l0.plan
