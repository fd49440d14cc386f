#!/usr/bin/env bash
# libkiln_runtime.so exports its public API and nothing else: every symbol `nm -D --defined-only`
# lists must be a C function declared KILN_API in kiln/runtime.h, one of the C++ API's symbols listed
# below (kiln/runtime.hpp), or a toolchain symbol. The op library, the kernel registries, the plan
# loader and the std:: template instantiations inside the library must all be hidden. The C++ list
# is explicit on purpose: a new exported symbol is an ABI change, so it fails here until it is added.
# With an application that links only the runtime (the classify example), also checks that the
# exported typeinfo works: a kiln::Error thrown inside the library is caught as kiln::Error there.
# usage: exports_only_public_api.sh LIBKILN_RUNTIME RUNTIME_H [CLASSIFY]
set -u
LIB=$1 HEADER=$2 APP=${3:-}

syms=$(nm -D --defined-only -C "$LIB" | sed -E 's/^[0-9a-fA-F]* +[A-Za-z] +//') || {
  echo "FAIL: nm -D cannot read $LIB"; exit 1; }
# The C functions the header declares.
c_api=$(grep -oE '^KILN_API [^(]*\bkiln_[a-z0-9_]+\(' "$HEADER" | grep -oE 'kiln_[a-z0-9_]+\($' | tr -d '(')

# The C++ API, as nm -C prints it.
cxx_api='^kiln::Engine::(load_file|load_memory|~Engine|inputs|outputs|layers|build_machine|schema_version|builder_level|arena_bytes|activation_bytes|weight_bytes|plan_bytes|warnings|create_context)(\[abi:cxx11\])?\('
cxx_api+='|^kiln::ExecutionContext::(~ExecutionContext|input|output|output_shape|run|set_input_shape|input_shape|set_input_buffer|set_output_buffer|output_is_zero_copy|set_profiling|layer_times_ms)\('
cxx_api+='|^kiln::TensorDesc::elements\(\) const$'
cxx_api+='|^kiln::(dtype_size|dtype_name|dtype_valid)\(kiln::DType\)$'
cxx_api+='|^kiln::(current_machine|default_memory_limit)\(\)$'
cxx_api+='|^(typeinfo|typeinfo name|vtable) for kiln::Error$'
# What the toolchain may add to any shared library's dynamic symbol table.
toolchain='^(_init|_fini|_edata|_end|__bss_start)$'

bad=0 count=0
while IFS= read -r s; do
  [ -z "$s" ] && continue
  count=$((count + 1))
  if [[ $s =~ ^kiln_[a-z0-9_]+$ ]] && grep -qxF "$s" <<<"$c_api"; then continue; fi
  if [[ $s =~ $cxx_api || $s =~ $toolchain ]]; then continue; fi
  [ $bad -lt 40 ] && echo "FAIL: exported but not public API: $s"
  bad=$((bad + 1))
done <<<"$syms"

# Not vacuous: the API itself must be there.
for want in 'kiln_engine_load_file' 'kiln_context_run' 'kiln::Engine::load_file(' \
            'kiln::ExecutionContext::run()' 'typeinfo for kiln::Error'; do
  if ! grep -qF -- "$want" <<<"$syms"; then echo "FAIL: the public API symbol '$want' is not exported"; bad=$((bad + 1)); fi
done
# Every C function the header declares is exported.
n_c=0
for f in $c_api; do
  n_c=$((n_c + 1))
  grep -qxF "$f" <<<"$syms" || { echo "FAIL: $f is declared in $HEADER but not exported"; bad=$((bad + 1)); }
done
[ "$n_c" -ge 20 ] || { echo "FAIL: found only $n_c C functions in $HEADER: the check read nothing"; bad=$((bad + 1)); }

if [ -n "$APP" ]; then
  out=$("$APP" /nonexistent/kiln_exports_test.plan 2>&1); rc=$?
  if [ $rc -ne 1 ] || ! grep -q '^error: ' <<<"$out" || grep -q '^error: internal' <<<"$out"; then
    echo "FAIL: $APP did not catch the runtime's kiln::Error as kiln::Error (exit $rc): $out"
    bad=$((bad + 1))
  fi
fi

echo "$count symbols exported by $LIB ($n_c C functions declared), $bad problems"
[ "$bad" -eq 0 ]
