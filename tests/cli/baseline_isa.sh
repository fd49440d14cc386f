#!/usr/bin/env bash
# The default build is portable: outside the per-ISA kernel files (functions named *_avx512, see
# oplib/kernels/simd/simd.h) the given binaries hold no AVX-512 instruction, so they run on
# any CPU with the baseline (x86-64-v3, AVX2). Checks every function's disassembly for AVX-512
# registers (zmm, the k masks), embedded broadcasts and AVX-512-only mnemonics, and fails naming
# the function and the instruction. Also requires the AVX-512 kernels to exist, so the check
# cannot pass on a binary it failed to read.
# usage: baseline_isa.sh BINARY...
set -u
avx512='%zmm|%k[0-7]|\{1to[0-9]+\}|vmovdq[au](8|16|32|64)|vpternlog|vperm[it]2|vpmov[su]?[qdw][bwd][[:space:]]|vextract[if](32|64)x|vinsert[if](32|64)x|vbroadcast[if](32x[248]|64x[24])|vrndscale|vrcp14|vrsqrt14|vscalef|vgetexp|vgetmant|vfixupimm|vpro[lr][vdq]|vpsraq|vpabsq|vp(max|min)[su]q|vpmullq|valign[dq]|vpcompress|vpexpand|vplzcnt|vpconflict|vcvtt?p[sd]2u|vcvtu|vpdpbus|vpdpwss|vdpbf16ps|vcvtne2?ps2bf16|vpermw|vps[lr]lvw|vpsravw|vpmultishift'
fails=0 kernels=0
for bin in "$@"; do
  out=$(objdump -d --no-show-raw-insn -C "$bin" | awk -v re="$avx512" -v bin="$bin" '
    /^[0-9a-f]+ <.*>:$/ { fn = $0; sub(/^[0-9a-f]+ </, "", fn); sub(/>:$/, "", fn); next }
    $0 ~ re {
      if (fn ~ /_avx512/) { seen[fn] = 1; next }
      if (!(fn in bad)) { bad[fn] = 1; print "FAIL: " bin ": " fn ": " $0 }
    }
    END { for (f in seen) print "KERNEL " f }')
  while IFS= read -r line; do
    case "$line" in
      FAIL:*) echo "$line"; fails=$((fails + 1)) ;;
      KERNEL*) kernels=$((kernels + 1)) ;;
    esac
  done <<<"$out"
done
if [ "$kernels" -eq 0 ]; then
  echo "FAIL: no *_avx512 kernel with AVX-512 instructions found in $*: the check read nothing"
  exit 1
fi
echo "$fails functions outside the per-ISA kernels use AVX-512 ($kernels AVX-512 kernels found)"
[ "$fails" -eq 0 ]
