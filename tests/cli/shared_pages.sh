#!/usr/bin/env bash
# Plans are mapped, not copied: two processes running the same plan share the pages of the weights
# they read in place. The model is a Gather over an 8 MiB embedding table (used in place by its
# kernel, as BERT's word embeddings are); two `kiln run` processes run it at once, and each one's
# mapping of the plan file must hold the table's pages resident and shared (smaps Shared_Clean +
# Shared_Dirty: a freshly written file's page-cache pages count as dirty until written back), with
# no private copy of them (Anonymous: copy-on-write pages).
# usage: shared_pages.sh KILN PYTHON WORKDIR
set -eu
KILN=$1 PY=$2 WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "FAIL: $*"; kill $p1 $p2 2>/dev/null || true; exit 1; }
"$PY" - "$WORK/embed.onnx" <<'PYEOF'
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
table = np.random.default_rng(0).standard_normal((8192, 256)).astype(np.float32)  # 8 MiB
g = helper.make_graph([helper.make_node("Gather", ["table", "ids"], ["y"])], "embed",
    [helper.make_tensor_value_info("ids", TensorProto.INT64, [4096])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4096, 256])], [numpy_helper.from_array(table, "table")])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
PYEOF
"$KILN" compile "$WORK/embed.onnx" -o "$WORK/embed.plan" --builderOptimizationLevel=0 2>/dev/null || fail "kiln compile"
# ids covering the whole table, so every page of it is read.
"$PY" -c "import numpy as np; np.save('$WORK/ids.npy', (np.arange(4096) * 2).astype(np.int64))"
p1="" p2=""
run() { exec "$KILN" run --loadEngine "$WORK/embed.plan" --loadInputs ids:"$WORK/ids.npy" --duration 120 --warmUp 0; }
run >/dev/null 2>&1 & p1=$!
run >/dev/null 2>&1 & p2=$!
plan=$(readlink -f "$WORK/embed.plan")
# The plan file's mappings in process $1: "shared-kB copied-kB mappings" (smaps).
usage() {
  awk -v f="$plan" '
    /^[0-9a-f]+-[0-9a-f]+ / { inplan = ($NF == f); if (inplan) n++ }
    inplan && ($1 == "Shared_Clean:" || $1 == "Shared_Dirty:") { s += $2 }
    inplan && $1 == "Anonymous:" { a += $2 }
    END { print s + 0, a + 0, n + 0 }' /proc/$1/smaps 2>/dev/null || echo "0 0 0"
}
# Both must be loaded and running before their pages can be shared: poll (a loaded CI machine can
# take seconds to get there).
for _ in $(seq 60); do
  ok=1
  for p in $p1 $p2; do
    [ -r /proc/$p/smaps ] || fail "process $p ended early"
    read -r shared anon maps <<<"$(usage $p)"
    [ "$shared" -ge 8000 ] || ok=0
  done
  [ $ok = 1 ] && break
  sleep 0.5
done
for p in $p1 $p2; do
  read -r shared anon maps <<<"$(usage $p)"
  echo "process $p: $maps mapping(s) of the plan, ${shared} kB shared, ${anon} kB copied"
  [ "$maps" -ge 1 ] || fail "process $p has not mapped $plan"
  [ "$shared" -ge 8000 ] || fail "process $p shares only ${shared} kB of the plan's pages (the table is 8192 kB)"
  [ "$anon" -eq 0 ] || fail "process $p holds ${anon} kB of private copies of the plan"
done
kill $p1 $p2
wait $p1 $p2 2>/dev/null || true
echo "two processes share the plan's weight pages"
