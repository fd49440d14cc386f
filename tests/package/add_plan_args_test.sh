#!/usr/bin/env bash
# kiln_add_plan() rejects unknown arguments and one-value keywords without their value at configure
# time, naming the bad argument and the valid ones; correct calls (empty lists included) configure. kiln::kiln is a stand-in here:
# nothing is built, so the test needs no installed kiln.
# usage: add_plan_args_test.sh SOURCE_DIR WORKDIR
set -u
SRC=$1 WORK=$2
rm -rf "$WORK" && mkdir -p "$WORK"
fails=0
# configure NAME CALL: configures a project whose only content is the kiln_add_plan() call.
configure() {
  local dir="$WORK/$1"
  mkdir -p "$dir"
  cat >"$dir/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(add_plan_args LANGUAGES NONE)
add_executable(kiln::kiln IMPORTED)
set_target_properties(kiln::kiln PROPERTIES IMPORTED_LOCATION /bin/true)
include("$SRC/cmake/KilnAddPlan.cmake")
$2
CMAKE
  cmake -S "$dir" -B "$dir/build" >"$dir/log" 2>&1
}
# expect_error NAME PATTERN CALL
expect_error() {
  if configure "$1" "$3"; then
    echo "FAIL: $1: the configure step accepted: $3"; fails=$((fails + 1))
  elif ! tr -s ' \n' ' ' <"$WORK/$1/log" | grep -q -- "$2"; then
    echo "FAIL: $1: no '$2' in:"; cat "$WORK/$1/log"; fails=$((fails + 1))
  fi
}
good='TARGET p ONNX m.onnx OUTPUT m.plan'
configure good "kiln_add_plan($good PRECISION bf16 SHAPES x:1x3 EXTRA_ARGS --threads=1)" \
  || { echo "FAIL: a correct call did not configure:"; cat "$WORK/good/log"; fails=$((fails + 1)); }
# A list keyword may be empty: EXTRA_ARGS \${FLAGS} with FLAGS unset (examples/pipeline does this).
configure empty_list "kiln_add_plan($good PRECISION EXTRA_ARGS)" \
  || { echo "FAIL: empty PRECISION/EXTRA_ARGS did not configure:"; cat "$WORK/empty_list/log"; fails=$((fails + 1)); }
expect_error unknown "unknown argument(s): CALIBB dir. The arguments are TARGET ONNX OUTPUT CALIB" \
  "kiln_add_plan($good CALIBB dir)"
expect_error unknown_flag "unknown argument(s): VERBOSE" "kiln_add_plan($good VERBOSE)"
expect_error lists_all "CHECK (no value)" "kiln_add_plan($good CALIBB dir)"
expect_error no_value "CALIB_CACHE given without a value" "kiln_add_plan($good CALIB_CACHE)"
expect_error no_values "REPORT TIMING_CACHE given without a value" "kiln_add_plan($good REPORT TIMING_CACHE)"
expect_error no_tolerance "CHECK_TOLERANCE needs a spec" "kiln_add_plan($good CHECK_TOLERANCE)"
[ $fails -eq 0 ] && echo "kiln_add_plan argument checks passed"
exit $((fails > 0))
