# kiln_add_plan(): compile an ONNX model into a kiln plan at build time, as part of an application's
# CMake build. Shipped in the kiln CMake package: kilnConfig.cmake includes it and defines the
# kiln::kiln executable target it runs.
#
#   kiln_add_plan(TARGET <name> ONNX <model.onnx> OUTPUT <model.plan>
#                 [PRECISION fp32|bf16|fp16|best|int8|int8Dynamic|int8DynamicTensor ...] [SHAPES <name:dims>...] [CALIB <dir>]
#                 [CALIB_CACHE <file>] [CALIB_METHOD <method>]
#                 [CHECK] [CHECK_TOLERANCE <spec>]
#                 [TIMING_CACHE <file>] [REPORT <build.json>] [EXTRA_ARGS <flag>...])
#
# Adds a custom target <name> (part of ALL) whose command runs `kiln compile`. Relative ONNX, CALIB
# and TIMING_CACHE paths are taken from the current source dir, relative OUTPUT and REPORT paths from
# the current binary dir. The absolute plan path is the target property KILN_PLAN_FILE:
#
#   kiln_add_plan(TARGET resnet_plan ONNX model.onnx OUTPUT resnet.plan SHAPES input:1x3x224x224)
#   add_dependencies(app resnet_plan)
#   target_compile_definitions(app PRIVATE PLAN="$<TARGET_PROPERTY:resnet_plan,KILN_PLAN_FILE>")
#
# The plan is rebuilt exactly when one of these changes: the model file, the kiln executable, the
# files under CALIB, or the compile flags. Flags are written to <name>.kiln-args in the binary dir
# with file(CONFIGURE), which rewrites it only when its content changes, and the command depends on
# it; so a flag change rebuilds with every generator, not only with Ninja (which also tracks
# command lines).
#
# Flag mapping: PRECISION takes one or more of fp32 (the default; adds nothing), bf16, fp16, best,
# int8 and int8Dynamic, each adding --bf16, --fp16, --best, --int8 or --int8Dynamic (PRECISION bf16
# fp16 allows both; int8Dynamic needs no calibration), and int8DynamicTensor, adding
# --int8DynamicScales=tensor (int8Dynamic with one scale per tensor); any other
# value stops the configure step with an error. CHECK adds --check (an fp32 reference plan is built
# and both run; the figures go to the log and to REPORT); CHECK_TOLERANCE <spec> adds
# --checkTolerance=<spec> (e.g. rel_l2:0.02,top1:0.99): when an output misses it the build fails
# and no plan is written. The check runs on the test-data sets under CALIB when given, else on
# seeded random inputs. CALIB adds --calib=<dir>; TIMING_CACHE adds --timingCacheFile=<file>;
# REPORT adds --report=<file>; SHAPES adds --shapes=<a,b,...>. kiln compile times tactics by
# default (--builderOptimizationLevel=3), which the timing cache makes cheap to repeat; EXTRA_ARGS
# --builderOptimizationLevel=0 builds faster, untimed. PRECISION int8 needs calibration: CALIB <dir> (its test-data sets are the calibration
# samples) and/or CALIB_CACHE <file> (--calibCache: read when present, else written; not a
# dependency, like the timing cache); CALIB_METHOD entropy|minmax|percentile[:P] adds --calibMethod.
# Without either, kiln stops the build with its usage error (exit code 2). An unknown argument, or a
# one-value keyword given without its value, stops the configure step with an error naming it and
# the valid ones; PRECISION, SHAPES and EXTRA_ARGS may be empty.
include_guard(GLOBAL)

function(kiln_add_plan)
  set(_flags CHECK)
  set(_single TARGET ONNX OUTPUT CALIB CALIB_CACHE CALIB_METHOD TIMING_CACHE REPORT CHECK_TOLERANCE)
  set(_multi PRECISION SHAPES EXTRA_ARGS)
  cmake_parse_arguments(PARSE_ARGV 0 KAP "${_flags}" "${_single}" "${_multi}")
  # A misspelt keyword (CALIBB) or a keyword left without its value must stop the configure step,
  # naming it, rather than be dropped silently or surface as a kiln usage error at build time.
  list(JOIN _flags " " _valid_flags)
  list(JOIN _single " " _valid_single)
  list(JOIN _multi " " _valid_multi)
  set(_valid "${_valid_single} (one value each), ${_valid_multi} (lists), ${_valid_flags} (no value)")
  if(KAP_UNPARSED_ARGUMENTS)
    list(JOIN KAP_UNPARSED_ARGUMENTS " " _bad)
    message(FATAL_ERROR "kiln_add_plan: unknown argument(s): ${_bad}. The arguments are ${_valid}; "
                        "kiln flags without a keyword of their own go after EXTRA_ARGS")
  endif()
  # A one-value keyword left empty is a mistake (often an unset variable); a list keyword may be
  # empty (EXTRA_ARGS ${SOME_FLAGS}). CHECK_TOLERANCE has its own message below, with an example.
  set(_missing ${KAP_KEYWORDS_MISSING_VALUES})
  list(REMOVE_ITEM _missing CHECK_TOLERANCE ${_multi})
  if(_missing)
    list(JOIN _missing " " _bad)
    message(FATAL_ERROR "kiln_add_plan: ${_bad} given without a value. The arguments are ${_valid}")
  endif()
  foreach(_req TARGET ONNX OUTPUT)
    if(NOT KAP_${_req})
      message(FATAL_ERROR "kiln_add_plan: ${_req} is required, e.g. "
                          "kiln_add_plan(TARGET my_plan ONNX model.onnx OUTPUT model.plan)")
    endif()
  endforeach()
  if(NOT TARGET kiln::kiln)
    message(FATAL_ERROR "kiln_add_plan: the kiln::kiln executable target is missing; "
                        "call find_package(kiln REQUIRED) first")
  endif()

  set(_args "")
  if(NOT KAP_PRECISION)
    set(KAP_PRECISION fp32)
  endif()
  foreach(_prec IN LISTS KAP_PRECISION)
    if(_prec STREQUAL "fp32")
      # always allowed; adds nothing
    elseif(_prec MATCHES "^(bf16|fp16|int8|int8Dynamic|best)$")
      list(APPEND _args "--${_prec}")
    elseif(_prec STREQUAL "int8DynamicTensor")
      list(APPEND _args "--int8DynamicScales=tensor")
    else()
      message(FATAL_ERROR "kiln_add_plan(${KAP_TARGET}): PRECISION '${_prec}' is not one of "
                          "fp32, bf16, fp16, best, int8, int8Dynamic, int8DynamicTensor (give one or more, e.g. "
                          "PRECISION bf16 fp16)")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES _args)
  if(KAP_CHECK AND NOT DEFINED KAP_CHECK_TOLERANCE)
    list(APPEND _args "--check")
  endif()
  if("CHECK_TOLERANCE" IN_LIST KAP_KEYWORDS_MISSING_VALUES OR DEFINED KAP_CHECK_TOLERANCE)
    if(NOT DEFINED KAP_CHECK_TOLERANCE OR KAP_CHECK_TOLERANCE STREQUAL "")
      message(FATAL_ERROR "kiln_add_plan(${KAP_TARGET}): CHECK_TOLERANCE needs a spec, e.g. "
                          "CHECK_TOLERANCE rel_l2:0.02,top1:0.99")
    endif()
    list(APPEND _args "--checkTolerance=${KAP_CHECK_TOLERANCE}")
  endif()
  if(KAP_SHAPES)
    list(JOIN KAP_SHAPES "," _shapes)
    list(APPEND _args "--shapes=${_shapes}")
  endif()

  get_filename_component(_model "${KAP_ONNX}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  get_filename_component(_plan "${KAP_OUTPUT}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  set(_outputs "${_plan}")
  set(_deps "${_model}")
  if(KAP_CALIB)
    get_filename_component(_calib "${KAP_CALIB}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND _args "--calib=${_calib}")
    # Calibration data is an input like the model: adding, removing or editing a file rebuilds.
    file(GLOB_RECURSE _calib_files CONFIGURE_DEPENDS "${_calib}/*")
    list(APPEND _deps ${_calib_files})
  endif()
  if(KAP_CALIB_CACHE)
    # Written by kiln after calibrating, then read: not a dependency (CALIB's files are).
    get_filename_component(_ccache "${KAP_CALIB_CACHE}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
    list(APPEND _args "--calibCache=${_ccache}")
  endif()
  if(KAP_CALIB_METHOD)
    list(APPEND _args "--calibMethod=${KAP_CALIB_METHOD}")
  endif()
  if(KAP_TIMING_CACHE)
    # Read and updated by kiln, so not a dependency: a warmer cache must not force a rebuild.
    get_filename_component(_cache "${KAP_TIMING_CACHE}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND _args "--timingCacheFile=${_cache}")
  endif()
  if(KAP_REPORT)
    get_filename_component(_report "${KAP_REPORT}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
    list(APPEND _args "--report=${_report}")
    list(APPEND _outputs "${_report}")
  endif()
  list(APPEND _args ${KAP_EXTRA_ARGS})

  set(_stamp "${CMAKE_CURRENT_BINARY_DIR}/${KAP_TARGET}.kiln-args")
  list(JOIN _args "\n" _stamp_text)
  file(CONFIGURE OUTPUT "${_stamp}" CONTENT "${_model}\n${_plan}\n${_stamp_text}\n" @ONLY)
  set(_dirs "")
  foreach(_out IN LISTS _outputs)
    get_filename_component(_dir "${_out}" DIRECTORY)
    list(APPEND _dirs "${_dir}")
  endforeach()
  list(REMOVE_DUPLICATES _dirs)

  add_custom_command(
    OUTPUT ${_outputs}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_dirs}
    COMMAND kiln::kiln compile "${_model}" -o "${_plan}" ${_args}
    DEPENDS ${_deps} "${_stamp}" "$<TARGET_FILE:kiln::kiln>"
    COMMENT "kiln: compiling ${KAP_ONNX} into ${KAP_OUTPUT}"
    VERBATIM)
  add_custom_target(${KAP_TARGET} ALL DEPENDS ${_outputs})
  set_target_properties(${KAP_TARGET} PROPERTIES KILN_PLAN_FILE "${_plan}")
  if(KAP_REPORT)
    set_target_properties(${KAP_TARGET} PROPERTIES KILN_REPORT_FILE "${_report}")
  endif()
endfunction()
