#!/usr/bin/env bash
# The C API example (examples/c_api) ranks the same class first as torch does, reading its input
# both as .npy and as raw float32.
# usage: c_example.sh KILN C_CLASSIFY PYTHON EXAMPLES_DIR WORKDIR
set -eu
KILN=$1 C_CLASSIFY=$2 PY=$3 EX=$4 WORK=$5
mkdir -p "$WORK"
"$KILN" compile "$EX/tiny_resnet.onnx" -o "$WORK/tiny.plan" --builderOptimizationLevel=0 2>/dev/null
want=$("$PY" -c "
import sys, onnx, numpy as np
from onnx import numpy_helper
np.load('$EX/tiny_resnet/input_0.npy').astype('<f4').tofile('$WORK/input.raw')
print(int(np.argmax(numpy_helper.to_array(onnx.load_tensor('$EX/tiny_resnet/test_data_set_0/output_0.pb')))))")
for input in "$EX/tiny_resnet/input_0.npy" "$WORK/input.raw"; do
  out=$("$C_CLASSIFY" "$WORK/tiny.plan" "$input")
  echo "$out"
  got=$(echo "$out" | awk '$1 == "class" {print $2; exit}')
  if [ "$got" != "$want" ]; then
    echo "FAIL: c_classify ranks class '$got' first for $input, torch ranks $want"
    exit 1
  fi
done
# A bad input gets a clean error and exit code 1, not a crash.
head -c 100 "$WORK/input.raw" > "$WORK/short.raw"
set +e
"$C_CLASSIFY" "$WORK/tiny.plan" "$WORK/short.raw" 2> "$WORK/err.txt"
rc=$?
set -e
if [ $rc != 1 ] || ! grep -q "error: .*short.raw: holds 100 data bytes" "$WORK/err.txt"; then
  echo "FAIL: a short input gave exit code $rc and: $(cat "$WORK/err.txt")"; exit 1
fi
echo "c_classify top-1 class $got matches torch"
