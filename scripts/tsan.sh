#!/usr/bin/env bash
# ThreadSanitizer build of the concurrency tests (kiln_concurrency_tests): many ExecutionContexts
# of one Engine on many threads (tests/unit/runtime/concurrency_test.cpp), and contexts switching
# input shapes of one profile (tests/unit/plan/profile_test.cpp, dynamic_shape_test.cpp).
#
# What TSan can and cannot see here: kiln's own code (engine, contexts, the kernel closures, the
# reference kernels, the plan loader) is instrumented. oneDNN and libgomp come from Debian,
# uninstrumented: TSan does not see their memory accesses, and it does not understand libgomp's
# futex-based barriers, so OpenMP teams of more than one thread can give false reports. Hence
# OMP_THREAD_LIMIT=1: each context runs its kernels on its calling thread, and the races TSan
# looks for are the ones between contexts and threads, which is what the contract in
# runtime.hpp promises are absent. OMP_NUM_THREADS=1 too: with the limit alone,
# omp_get_max_threads() still says 2, and oneDNN's matmul, split for 2 threads when it was
# created, runs on one and leaves part of its output unwritten.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD_DIR=${KILN_TSAN_BUILD_DIR:-build-tsan}
SAN="-fsanitize=thread -fno-omit-frame-pointer"
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
cmake -S . -B "$BUILD_DIR" "${GEN[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="$SAN" \
  -DCMAKE_EXE_LINKER_FLAGS="$SAN" -DCMAKE_SHARED_LINKER_FLAGS="$SAN"
# kiln_concurrency_tests holds just the files below; the filter names what runs.
cmake --build "$BUILD_DIR" -j "$(nproc)" --target kiln_concurrency_tests
OMP_NUM_THREADS=1 OMP_THREAD_LIMIT=1 TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
  "$BUILD_DIR/tests/kiln_concurrency_tests" --gtest_filter='Concurrency.*:DynamicShape.*:ProfileConcurrency.*' "$@"
