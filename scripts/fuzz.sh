#!/usr/bin/env bash
# Runs kiln's libFuzzer targets (fuzz/) on a clang ASan+UBSan build.
#   scripts/fuzz.sh [SECONDS_PER_TARGET=1800] [TARGETS="plan onnx"]
# Targets run side by side, one process each. Seeds: plans compiled from small models and the
# ONNX backend node-test models generated from Debian's python3-onnx; the corpus persists in
# $KILN_FUZZ_BUILD_DIR/corpus between runs. Crashing inputs land in $KILN_FUZZ_BUILD_DIR/findings/;
# copy each into tests/data/fuzz/<target>/ once fixed, so the regression test replays it.
# Exits 1 if any target found something. KILN_FUZZ_KEEP_GOING=1 runs libFuzzer in fork mode past
# crashes, timeouts and OOMs, to collect several findings in one session before fixing them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECS=${1:-1800}
TARGETS=${2:-"plan onnx"}
BUILD=${KILN_FUZZ_BUILD_DIR:-build-fuzz}
PY=/usr/bin/python3

scripts/install-deps.sh clang libclang-rt-14-dev libomp-dev
SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
cmake -S . -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_COMPILER=clang -DKILN_FUZZ=ON -DKILN_BUILD_TESTS=OFF -DCMAKE_CXX_FLAGS="$SAN" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined"
cmake --build "$BUILD" -j "$(nproc)" --target kiln_fuzz_plan kiln_fuzz_onnx kiln

# oneDNN's primitive cache grows across inputs, which libFuzzer's per-input leak check would
# report; without the cache every input starts clean. One OpenMP thread: the fuzzer wants
# throughput per core, and two OpenMP runtimes (libomp here, libgomp in oneDNN) share the process.
export ONEDNN_PRIMITIVE_CACHE_CAPACITY=0 OMP_NUM_THREADS=1
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1

SEEDS="$BUILD/seeds"
if [ ! -d "$SEEDS/onnx" ]; then
  echo "fuzz: generating seeds"
  rm -rf "$SEEDS.tmp" && mkdir -p "$SEEDS.tmp/onnx" "$SEEDS.tmp/plan"
  # The conformance runner knows how to generate onnx's node tests with Debian's numpy.
  $PY -c "import sys; sys.path.insert(0, 'tests/conformance'); import run_conformance as r
r.generate('$SEEDS.tmp/data')" >/dev/null
  i=0
  for m in "$SEEDS.tmp"/data/node/*/model.onnx examples/models/*.onnx; do
    [ "$(stat -c %s "$m")" -le 100000 ] || continue
    i=$((i + 1)); cp "$m" "$SEEDS.tmp/onnx/seed-$i.onnx"
    # Every fourth model that compiles also seeds the plan corpus.
    if [ $((i % 4)) = 0 ] || [[ "$m" == examples/* ]]; then
      "$BUILD/bin/kiln" compile "$m" -o "$SEEDS.tmp/plan/seed-$i.plan" >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$SEEDS.tmp/data" && mv "$SEEDS.tmp" "$SEEDS"
fi

extra=()
[ "${KILN_FUZZ_KEEP_GOING:-0}" = 1 ] && extra=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
pids=()
for t in $TARGETS; do
  mkdir -p "$BUILD/corpus/$t" "$BUILD/findings/$t"
  max_len=$([ "$t" = plan ] && echo 400000 || echo 120000)
  echo "fuzz: $t for ${SECS}s (log $BUILD/fuzz-$t.log)"
  (cd "$BUILD/findings/$t" && "$ROOT/$BUILD/bin/kiln_fuzz_$t" "$ROOT/$BUILD/corpus/$t" "$ROOT/$SEEDS/$t" \
    -max_total_time="$SECS" -timeout=30 -rss_limit_mb=8192 -malloc_limit_mb=4096 -max_len="$max_len" \
    -print_final_stats=1 "${extra[@]}" >"$ROOT/$BUILD/fuzz-$t.log" 2>&1) &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
for t in $TARGETS; do
  n=$(ls "$BUILD/corpus/$t" | wc -l)
  f=$(ls "$BUILD/findings/$t" | wc -l)
  # The last status line's "#N" counts executions in both the plain and the fork mode.
  runs=$(grep -aoE '^#[0-9]+' "$BUILD/fuzz-$t.log" | tail -1 | tr -d '#' || true)
  echo "fuzz: $t: ${runs:-?} executions, corpus $n files (+ $(ls "$SEEDS/$t" | wc -l) seeds), findings: $f"
  [ "$f" = 0 ] || { status=1; ls "$BUILD/findings/$t"; }
done
exit $status
