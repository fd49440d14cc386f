#!/usr/bin/env bash
# Prepares the inputs of capi_test (the C API test program) and runs it: the bundled tiny_resnet
# plan, its input and torch's output as raw float32, a plan with a value-dependent output shape, and
# a plan with an optimisation profile.
# usage: capi_test.sh KILN PYTHON CAPI_TEST EXAMPLES_DIR WORKDIR
set -eu
KILN=$1 PY=$2 CAPI_TEST=$3 EX=$4 WORK=$5
mkdir -p "$WORK"
"$KILN" compile "$EX/tiny_resnet.onnx" -o "$WORK/tiny.plan" --builderOptimizationLevel=0 2>/dev/null
"$PY" - "$EX" "$WORK" <<'PYEOF'
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
ex, work = sys.argv[1], sys.argv[2]
data = f"{ex}/tiny_resnet/test_data_set_0"
for name in ("input_0", "output_0"):
    arr = numpy_helper.to_array(onnx.load_tensor(f"{data}/{name}.pb")).astype("<f4")
    arr.tofile(f"{work}/{name}.raw")
# y = Sigmoid(Reshape(x, shape)): y's dims depend on the values in `shape`.
g = helper.make_graph(
    [helper.make_node("Reshape", ["x", "shape"], ["r"]), helper.make_node("Sigmoid", ["r"], ["y"])], "dynamic",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 6]),
     helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["a", "b"])])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), f"{work}/dynamic.onnx")
# y = Sigmoid(x) with a symbolic first dim, compiled with an optimisation profile.
g = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["y"])], "profile",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 6])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 6])])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), f"{work}/profile.onnx")
PYEOF
"$KILN" compile "$WORK/dynamic.onnx" -o "$WORK/dynamic.plan" --builderOptimizationLevel=0 2>/dev/null
"$KILN" compile "$WORK/profile.onnx" -o "$WORK/profile.plan" --builderOptimizationLevel=0 --minShapes=x:1x6 --optShapes=x:2x6 --maxShapes=x:8x6 \
  2>/dev/null
exec "$CAPI_TEST" "$WORK/tiny.plan" "$WORK/input_0.raw" "$WORK/output_0.raw" "$WORK/dynamic.plan" "$WORK" \
  "$WORK/profile.plan"
