#!/usr/bin/env bash
# The kiln-runtime package alone is enough to build and run a deployed application: extract it into
# an empty prefix, build the C API example (examples/c_api) against it with find_package(kiln), and
# run it on a plan compiled by this build's kiln; its top-1 class must match torch's. The prefix
# holds no compiler, protobuf or onnx, the package does not depend on them, and the application
# links none of them.
# usage: runtime_only_test.sh BUILD_DIR SOURCE_DIR KILN PYTHON WORKDIR
set -eu
BUILD=$1 SRC=$2 KILN=$3 PY=$4 WORK=$5
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }

(cd "$BUILD" && cpack -G DEB -B "$WORK/out" >"$WORK/cpack.log" 2>&1) || { cat "$WORK/cpack.log"; fail "cpack -G DEB"; }
debs=("$WORK"/out/kiln-runtime_*.deb)
[ -f "${debs[0]}" ] || fail "cpack made no kiln-runtime_*.deb in $WORK/out: $(ls "$WORK/out")"
DEB=${debs[0]}
depends=$(dpkg-deb -f "$DEB" Depends)
echo "kiln-runtime Depends: $depends"
if grep -qiE 'protobuf|onnx|fmt|kiln' <<<"$depends"; then fail "kiln-runtime depends on more than oneDNN and the C/C++ runtime"; fi
grep -q libdnnl2 <<<"$depends" || fail "kiln-runtime does not depend on libdnnl2"

PREFIX="$WORK/prefix"
dpkg-deb -x "$DEB" "$PREFIX"
found=$(cd "$PREFIX" && find . -type f -o -type l | sort)
if grep -qiE 'compiler|protobuf|onnx|bin/kiln' <<<"$found"; then fail "the runtime package holds compiler files: $found"; fi

cmake -S "$SRC/tests/package/runtime_app" -B "$WORK/app" -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS="${PIPELINE_CXX_FLAGS:-}" -DCMAKE_EXE_LINKER_FLAGS="${PIPELINE_LINKER_FLAGS:-}" \
  -DCMAKE_PREFIX_PATH="$PREFIX/usr" -DKILN_C_EXAMPLE="$SRC/examples/c_api/main.c" >"$WORK/configure.log" 2>&1 \
  || { cat "$WORK/configure.log"; fail "configuring the runtime-only application"; }
cmake --build "$WORK/app" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; fail "building the runtime-only application"; }
APP="$WORK/app/c_classify"
# The packaged library lives under /usr/lib in the prefix, where the loader does not look.
export LD_LIBRARY_PATH="$PREFIX/usr/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
libs=$(ldd "$APP")
rt=$(awk '$1 == "libkiln_runtime.so.0" {print $3}' <<<"$libs")
[ "$(readlink -f "$rt")" = "$(readlink -f "$PREFIX/usr/lib/libkiln_runtime.so.0")" ] \
  || fail "the application uses $rt, not the packaged runtime"
if grep -qiE 'protobuf|onnx|kiln_compiler' <<<"$libs"; then fail "the application links: $libs"; fi

"$KILN" compile "$SRC/examples/models/tiny_resnet.onnx" -o "$WORK/tiny.plan" --builderOptimizationLevel=0 2>/dev/null || fail "kiln compile"
want=$("$PY" -c "
import onnx, numpy as np
from onnx import numpy_helper
print(int(np.argmax(numpy_helper.to_array(onnx.load_tensor('$SRC/examples/models/tiny_resnet/test_data_set_0/output_0.pb')))))")
out=$("$APP" "$WORK/tiny.plan" "$SRC/examples/models/tiny_resnet/input_0.npy") || fail "the application failed: $out"
got=$(awk '$1 == "class" {print $2; exit}' <<<"$out")
[ "$got" = "$want" ] || fail "the runtime-only application ranks class '$got' first, torch ranks $want"
echo "runtime-only install: $(basename "$DEB"), $(wc -l <<<"$found") files; the C example built against it ranks class $got first, as torch"
