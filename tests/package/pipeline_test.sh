#!/usr/bin/env bash
# The packaged build pipeline end to end: install kiln into a temporary prefix, build the
# standalone examples/pipeline project against it (find_package(kiln) + kiln_add_plan()), run its
# runtime-only application and compare its output with torch's. Then the build-time compile must
# rebuild exactly when it should: not on a no-change rebuild or re-configure, yes after touching the
# model or changing a kiln flag. Uses Unix Makefiles, a second generator beside the main build's Ninja.
# usage: pipeline_test.sh BUILD_DIR SOURCE_DIR PYTHON WORKDIR
# env: PIPELINE_CXX_FLAGS, PIPELINE_LINKER_FLAGS: flags for the application build (kiln's own).
set -eu
BUILD=$1 SRC=$2 PY=$3 WORK=$4
rm -rf "$WORK" && mkdir -p "$WORK"
PREFIX="$WORK/prefix" APP="$WORK/app"
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log" || { cat "$WORK/install.log"; fail "cmake --install"; }
for f in bin/kiln include/kiln/runtime.hpp include/kiln/compiler.hpp lib/cmake/kiln/kilnConfig.cmake \
         lib/cmake/kiln/kilnConfigVersion.cmake lib/cmake/kiln/KilnAddPlan.cmake; do
  [ -e "$PREFIX/$f" ] || fail "cmake --install did not install $f"
done
# The public headers stand alone: they include only each other and the standard library (no
# internal, flatbuffers, oneDNN or protobuf headers), and each compiles by itself (C headers as C too).
for h in "$PREFIX"/include/kiln/*; do
  bad=$(grep -E '^[[:space:]]*#[[:space:]]*include' "$h" | grep -E '"|flatbuffers|dnnl|oneapi|onnx|protobuf' \
        | grep -v '"kiln/' || true)
  [ -z "$bad" ] || fail "$(basename "$h") includes non-public headers: $bad"
  inc="#include \"kiln/$(basename "$h")\""
  c++ -std=c++20 -fsyntax-only -I"$PREFIX/include" -x c++ - <<<"$inc" || fail "$(basename "$h") does not compile alone"
  case $h in *.h) cc -fsyntax-only -I"$PREFIX/include" -x c - <<<"$inc" || fail "$(basename "$h") is not valid C";; esac
done

# A copy of the model, so touching it leaves the source tree alone.
cp "$SRC/examples/models/tiny_resnet.onnx" "$WORK/model.onnx"
configure() {
  cmake -S "$SRC/examples/pipeline" -B "$APP" -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS="${PIPELINE_CXX_FLAGS:-}" -DCMAKE_EXE_LINKER_FLAGS="${PIPELINE_LINKER_FLAGS:-}" \
    -DCMAKE_PREFIX_PATH="$PREFIX" -DPIPELINE_MODEL="$WORK/model.onnx" "$@" >"$WORK/configure.log" 2>&1 \
    || { cat "$WORK/configure.log"; fail "configuring examples/pipeline"; }
}
build() {  # prints the build log; fails on a build error
  cmake --build "$APP" -j 2 >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; fail "building examples/pipeline"; }
}
compiled() { grep -q "kiln: compiled" "$WORK/build.log"; }

configure
grep -q "kiln_DIR:PATH=$PREFIX/lib/cmake/kiln" "$APP/CMakeCache.txt" || fail "find_package(kiln) did not use $PREFIX"
build
compiled || fail "the first build did not run kiln compile"
[ -s "$APP/tiny_resnet.plan" ] && [ -s "$APP/tiny_resnet.build.json" ] || fail "no plan or build report"

# The application links the runtime from the prefix and nothing of the compiler side.
libs=$(ldd "$APP/pipeline_app")
grep -q "libkiln_runtime.so.0 => $PREFIX/lib/" <<<"$libs" || fail "pipeline_app does not use the installed runtime: $libs"
if grep -Ei "kiln_compiler|protobuf|onnx" <<<"$libs"; then fail "pipeline_app links compiler-side libraries"; fi

"$APP/pipeline_app" "$SRC/examples/models/tiny_resnet/input_0.npy" "$WORK/out.npy"
"$PY" - "$WORK/out.npy" "$SRC/examples/models/tiny_resnet" <<'PYEOF'
import sys
import numpy as np
for a, t in (("float", float), ("int", int), ("bool", bool), ("object", object)):
  if a not in np.__dict__:
    setattr(np, a, t)
import onnx
from onnx import numpy_helper
got = np.load(sys.argv[1])
data = sys.argv[2]
# The input the app read is the one torch's reference output was made from.
x_npy = np.load(f"{data}/input_0.npy")
x_pb = numpy_helper.to_array(onnx.load_tensor(f"{data}/test_data_set_0/input_0.pb"))
assert np.array_equal(x_npy, x_pb), "input_0.npy differs from the torch reference input"
want = numpy_helper.to_array(onnx.load_tensor(f"{data}/test_data_set_0/output_0.pb"))
assert got.shape == want.shape, f"shape {got.shape} != torch {want.shape}"
err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-6)
print(f"pipeline_app vs torch: max relative error {err:.2e}, argmax {got.argmax()} vs {want.argmax()}")
assert err < 1e-4 and got.argmax() == want.argmax(), "pipeline_app output differs from torch"
PYEOF

plan_time() { stat -c %Y.%y "$APP/tiny_resnet.plan"; }
t0=$(plan_time)
build
if compiled; then fail "a rebuild without changes re-ran kiln compile"; fi
[ "$(plan_time)" = "$t0" ] || fail "a rebuild without changes rewrote the plan"
configure  # same flags: the args file must keep its mtime
build
if compiled; then fail "re-configuring with the same flags re-ran kiln compile"; fi

sleep 1  # a newer mtime even on filesystems with 1 s resolution
touch "$WORK/model.onnx"
build
compiled || fail "touching the model did not re-run kiln compile"
build
if compiled; then fail "the rebuild after the model rebuild re-ran kiln compile"; fi

configure -DPIPELINE_KILN_ARGS=--threads=1
build
compiled || fail "changing the kiln flags did not re-run kiln compile"
grep -q -- "--threads=1" "$APP/tiny_resnet_plan.kiln-args" || fail "the args file lacks the new flag"
"$APP/pipeline_app" "$SRC/examples/models/tiny_resnet/input_0.npy" >/dev/null || fail "the rebuilt plan does not run"

# PRECISION and CHECK_TOLERANCE: an unknown precision stops the configure step; a met tolerance
# builds (the check's table in the log, the flags in the args file); a missed one fails the build
# and writes no plan.
if cmake -S "$SRC/examples/pipeline" -B "$APP" -DPIPELINE_PRECISION=fp8 >"$WORK/configure.log" 2>&1; then
  fail "PRECISION fp8 did not fail the configure step"
fi
grep -q "PRECISION 'fp8' is not one of" "$WORK/configure.log" || { cat "$WORK/configure.log"; fail "no PRECISION message"; }
# bf16 really changes the numbers where the CPU has it, so the met tolerance is bf16-sized.
configure "-DPIPELINE_PRECISION=fp32;bf16" -DPIPELINE_CHECK_TOLERANCE=rel_l2:0.05 -DPIPELINE_KILN_ARGS=
build
compiled && grep -q "kiln: check: every output is within --checkTolerance rel_l2:0.05" "$WORK/build.log" \
  || { cat "$WORK/build.log"; fail "CHECK_TOLERANCE rel_l2:0.05 did not check and build"; }
grep -qx -- "--bf16" "$APP/tiny_resnet_plan.kiln-args" && grep -qx -- "--checkTolerance=rel_l2:0.05" \
  "$APP/tiny_resnet_plan.kiln-args" || fail "the args file lacks --bf16 or --checkTolerance"
configure -DPIPELINE_PRECISION=fp32 -DPIPELINE_CHECK_TOLERANCE=cosine:1.5
rm -f "$APP/tiny_resnet.plan"
if cmake --build "$APP" >"$WORK/build.log" 2>&1; then fail "a missed CHECK_TOLERANCE did not fail the build"; fi
grep -q "cosine 1 is below --checkTolerance cosine:1.5; no plan was written" "$WORK/build.log" \
  || { cat "$WORK/build.log"; fail "no tolerance message in the failed build"; }
[ ! -e "$APP/tiny_resnet.plan" ] || fail "a missed CHECK_TOLERANCE wrote the plan"
configure -DPIPELINE_CHECK_TOLERANCE=

echo "pipeline: installed kiln, built the example, matched torch, rebuilt only on change"
