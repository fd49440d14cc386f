#!/usr/bin/env bash
# README command (a): install dependencies, build, then compile and run the bundled example
# model and print the latency report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
BUILD_DIR=${KILN_BUILD_DIR:-build}
KILN="$BUILD_DIR/bin/kiln"
MODEL=examples/models/tiny_resnet.onnx
PLAN="$BUILD_DIR/tiny_resnet.plan"
"$KILN" compile "$MODEL" -o "$PLAN"
"$KILN" inspect "$PLAN"
"$KILN" run --loadEngine="$PLAN" --loadInputs=input:examples/models/tiny_resnet/test_data_set_0/input_0.pb \
  --exportOutput="$BUILD_DIR/tiny_resnet_out" --duration=2
"$BUILD_DIR/bin/classify" "$PLAN" examples/models/tiny_resnet/input_0.npy
