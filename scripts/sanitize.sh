#!/usr/bin/env bash
# The whole test suite again on an AddressSanitizer + UndefinedBehaviorSanitizer build (leak
# checking on, any UB fatal), so memory errors in kernels, the plan loader or the importer fail CI.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD_DIR=${KILN_ASAN_BUILD_DIR:-build-asan}
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
# The zoo models are exported once, into the main build's folder (scripts/test.sh made them in CI);
# the export fixtures here find them up to date and skip.
MODELS_DIR=${KILN_MODELS_DIR:-$PWD/${KILN_BUILD_DIR:-build}/models}
cmake -S . -B "$BUILD_DIR" "${GEN[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="$SAN" \
  -DCMAKE_EXE_LINKER_FLAGS="$SAN" -DCMAKE_SHARED_LINKER_FLAGS="$SAN" -DKILN_MODELS_DIR="$MODELS_DIR"
cmake --build "$BUILD_DIR" -j "$(nproc)"
cd "$BUILD_DIR"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j "$(nproc)" "$@"
