# Environment for tests that import the Python binding (`import kiln`) in Debian's uninstrumented
# interpreter. On an ASan build (scripts/sanitize.sh) the instrumented module needs the ASan runtime
# loaded first, and libstdc++ with it so that ASan's __cxa_throw interceptor finds the real one;
# leak checking is off there (the interpreter and torch never free everything at exit; tests/capi
# covers kiln's own leaks through the C API). Elsewhere this adds nothing.
include_guard(GLOBAL)

function(kiln_python_sanitizer_env out_var)
  set(env ${${out_var}})
  if(CMAKE_CXX_FLAGS MATCHES "-fsanitize=[^ ]*address")
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libasan.so
      OUTPUT_VARIABLE libasan OUTPUT_STRIP_TRAILING_WHITESPACE)
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libstdc++.so
      OUTPUT_VARIABLE libstdcxx OUTPUT_STRIP_TRAILING_WHITESPACE)
    list(APPEND env "LD_PRELOAD=${libasan} ${libstdcxx}" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1)
  endif()
  set(${out_var} ${env} PARENT_SCOPE)
endfunction()
