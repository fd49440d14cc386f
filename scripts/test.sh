#!/usr/bin/env bash
# README command (b): install dependencies, build, and run the whole test suite (unit, pass,
# plan, importer and model tests) through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd "${KILN_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
