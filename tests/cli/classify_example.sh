#!/usr/bin/env bash
# The classify example (runtime-only application) ranks the same class first as torch does.
# usage: classify_example.sh KILN CLASSIFY PYTHON EXAMPLES_DIR WORKDIR
set -eu
KILN=$1 CLASSIFY=$2 PY=$3 EX=$4 WORK=$5
mkdir -p "$WORK"
"$KILN" compile "$EX/tiny_resnet.onnx" -o "$WORK/tiny.plan" --builderOptimizationLevel=0 2>/dev/null
out=$("$CLASSIFY" "$WORK/tiny.plan" "$EX/tiny_resnet/input_0.npy")
echo "$out"
want=$("$PY" -c "
import onnx, numpy as np
from onnx import numpy_helper
print(int(np.argmax(numpy_helper.to_array(onnx.load_tensor('$EX/tiny_resnet/test_data_set_0/output_0.pb')))))")
got=$(echo "$out" | awk '/class/ && !/top/ {print $2; exit}')
if [ "$got" != "$want" ]; then echo "FAIL: classify ranks class $got first, torch ranks $want"; exit 1; fi
echo "classify top-1 class $got matches torch"
