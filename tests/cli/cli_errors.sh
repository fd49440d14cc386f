#!/usr/bin/env bash
# Bad input never crashes the CLI: each case must exit with the documented code (1 failure,
# 2 usage) and print a one-line "error: ..." on stderr that names what is wrong.
# usage: cli_errors.sh KILN MODEL.onnx WORKDIR
set -u
KILN=$1 MODEL=$2 WORK=$3
mkdir -p "$WORK"
fails=0 passes=0

expect() {  # expect CODE PATTERN -- command...
  local code=$1 pattern=$2
  shift 3
  local err
  err=$("$@" 2>&1 >/dev/null)
  local rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -q "^error: " <<<"$err" || ! grep -qE -e "$pattern" <<<"$err"; then
    echo "FAIL: $* -> exit $rc, stderr: $err (want exit $code matching /$pattern/)"
    fails=$((fails + 1))
  else
    passes=$((passes + 1))
  fi
}

PLAN="$WORK/good.plan"
"$KILN" compile "$MODEL" -o "$PLAN" --builderOptimizationLevel=0 2>/dev/null || { echo "FAIL: cannot compile $MODEL"; exit 1; }
head -c 1000 "$PLAN" > "$WORK/truncated.plan"
head -c 4096 /dev/urandom > "$WORK/random.plan"
: > "$WORK/empty.plan"
cp "$PLAN" "$WORK/flipped.plan"
printf '\x55' | dd of="$WORK/flipped.plan" bs=1 seek=5000 conv=notrunc status=none
head -c 1000 "$MODEL" > "$WORK/truncated.onnx"
head -c 100 /dev/urandom > "$WORK/short.raw"
printf 'not a numpy file' > "$WORK/bad.npy"
npy() {  # npy FILE DESCR SHAPE BYTES: a well-formed .npy header followed by BYTES of zeros
  local h="{'descr': '$2', 'fortran_order': False, 'shape': $3, }"
  while [ $(( (10 + ${#h} + 1) % 64 )) -ne 0 ]; do h="$h "; done
  { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( (${#h} + 1) % 256 )))\\x$(printf %02x $(( (${#h} + 1) / 256 )))"
    printf '%s\n' "$h"; head -c "$4" /dev/zero; } > "$1"
}
npy "$WORK/f64.npy" "<f8" "(1, 3, 64, 64)" $((3 * 64 * 64 * 8))
npy "$WORK/wrongshape.npy" "<f4" "(1, 3, 32, 32)" $((3 * 32 * 32 * 4))
npy "$WORK/good.npy" "<f4" "(1, 3, 64, 64)" $((3 * 64 * 64 * 4))

expect 1 "missing.onnx.*cannot open" -- "$KILN" compile "$WORK/missing.onnx" -o "$WORK/x.plan"
expect 1 "truncated.onnx" -- "$KILN" compile "$WORK/truncated.onnx" -o "$WORK/x.plan"
expect 1 "cannot write" -- "$KILN" compile "$MODEL" -o "$WORK/no/such/dir/x.plan"
expect 2 "--shapes" -- "$KILN" compile "$MODEL" -o "$WORK/x.plan" --shapes=input:1xZ
expect 1 "not an input" -- "$KILN" compile "$MODEL" -o "$WORK/x.plan" --shapes=nope:1x3
expect 2 "--frobnicate|frobnicate" -- "$KILN" run --loadEngine="$PLAN" --frobnicate
expect 2 "exactly one" -- "$KILN" run
expect 2 "exactly one" -- "$KILN" run --loadEngine="$PLAN" --onnx="$MODEL"
expect 1 "empty" -- "$KILN" run --loadEngine="$WORK/empty.plan"
expect 1 "truncated.plan" -- "$KILN" run --loadEngine="$WORK/truncated.plan"
expect 1 "KILN" -- "$KILN" run --loadEngine="$WORK/random.plan"
expect 1 "checksum|corrupt" -- "$KILN" run --loadEngine="$WORK/flipped.plan"
expect 1 "cannot open" -- "$KILN" run --loadEngine="$WORK/missing.plan"
expect 1 "short.raw.*needs" -- "$KILN" run --loadEngine="$PLAN" --loadInputs=input:"$WORK/short.raw" --iterations=1 --duration=0
expect 1 "bad.npy" -- "$KILN" run --loadEngine="$PLAN" --loadInputs=input:"$WORK/bad.npy" --iterations=1 --duration=0
expect 1 "no input 'nope'" -- "$KILN" run --loadEngine="$PLAN" --loadInputs=nope:"$WORK/short.raw" --iterations=1 --duration=0
expect 1 "was built for" -- "$KILN" run --loadEngine="$PLAN" --shapes=input:2x3x64x64 --iterations=1 --duration=0
expect 1 "truncated.plan" -- "$KILN" inspect "$WORK/truncated.plan"
expect 1 "nowhere.npy" -- "$KILN" run --loadEngine="$PLAN" --loadInputs=input:"$WORK/nowhere.npy" --iterations=1 --duration=0
expect 1 "f64.npy.*(float64|<f8|dtype)" -- "$KILN" run --loadEngine="$PLAN" --loadInputs=input:"$WORK/f64.npy" --iterations=1 --duration=0
expect 1 "wrongshape.npy" -- "$KILN" run --loadEngine="$PLAN" --loadInputs=input:"$WORK/wrongshape.npy" --iterations=1 --duration=0
expect 1 "cannot write|cannot create" -- "$KILN" run --loadEngine="$PLAN" --exportOutput="$PLAN/sub" --iterations=1 --duration=0
expect 2 "memPoolSize.*not a size" -- "$KILN" run --loadEngine="$PLAN" --memPoolSize=lots
expect 2 "unknown pool 'dlaSRAM'" -- "$KILN" run --loadEngine="$PLAN" --memPoolSize=dlaSRAM:1
expect 1 "good.plan.*memory limit of 1024 bytes.*--memPoolSize" -- "$KILN" run --loadEngine="$PLAN" --memPoolSize=workspace:1K --iterations=1 --duration=0

# A failed compile leaves no file behind under the target name.
rm -f "$WORK/never.plan"
"$KILN" compile "$WORK/truncated.onnx" -o "$WORK/never.plan" --builderOptimizationLevel=0 2>/dev/null
if [ -e "$WORK/never.plan" ] || ls "$WORK"/never.plan.tmp.* >/dev/null 2>&1; then
  echo "FAIL: a failed compile left a plan file behind"; fails=$((fails + 1))
else
  passes=$((passes + 1))
fi

# The npy writer above is right: the same header with the right dtype and shape is accepted.
if "$KILN" run --loadEngine="$PLAN" --loadInputs=input:"$WORK/good.npy" --iterations=1 --duration=0 >/dev/null 2>&1; then
  passes=$((passes + 1))
else
  echo "FAIL: a well-formed .npy input was refused"; fails=$((fails + 1))
fi

# A compile killed at any moment leaves the previous plan intact or a complete new one, never a
# half-written file: the plan is written to a temporary name and renamed.
cp "$PLAN" "$WORK/killed.plan"
for delay in 0.05 0.1 0.2 0.3 0.5; do
  "$KILN" compile "$MODEL" -o "$WORK/killed.plan" --builderOptimizationLevel=0 >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if ! "$KILN" inspect "$WORK/killed.plan" >/dev/null 2>&1; then
    echo "FAIL: compile killed after ${delay}s left a broken plan"; fails=$((fails + 1))
  else
    passes=$((passes + 1))
  fi
done

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
