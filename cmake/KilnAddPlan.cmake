# kiln_add_plan(): compile an ONNX model into a kiln plan at build time, as part of an application's
# CMake build. Shipped in the kiln CMake package: kilnConfig.cmake includes it and defines the
# kiln::kiln executable target it runs.
#
#   kiln_add_plan(TARGET <name> ONNX <model.onnx> OUTPUT <model.plan>
#                 [PRECISION fp32|bf16|fp16|int8|best] [SHAPES <name:dims>...] [CALIB <dir>]
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
# Flag mapping: PRECISION fp32 adds nothing (the default); bf16, fp16, int8 and best add --bf16,
# --fp16, --int8 and --best; CALIB adds --calib=<dir>; TIMING_CACHE adds --timingCacheFile=<file>;
# REPORT adds --report=<file>; SHAPES adds --shapes=<a,b,...>. The timing cache only matters with
# timed tactics: pass EXTRA_ARGS --builderOptimizationLevel=3 (kiln's default level 0 times
# nothing). kiln 0.1 compiles fp32 only and does not know the precision and --calib flags yet: with
# them the build stops at this command with kiln's usage error (exit code 2). They are mapped
# already so that build scripts written now keep working when kiln learns them.
include_guard(GLOBAL)

function(kiln_add_plan)
  cmake_parse_arguments(PARSE_ARGV 0 KAP "" "TARGET;ONNX;OUTPUT;PRECISION;CALIB;TIMING_CACHE;REPORT"
                        "SHAPES;EXTRA_ARGS")
  if(KAP_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "kiln_add_plan: unknown arguments: ${KAP_UNPARSED_ARGUMENTS}")
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
  if(KAP_PRECISION STREQUAL "fp32")
  elseif(KAP_PRECISION MATCHES "^(bf16|fp16|int8|best)$")
    list(APPEND _args "--${KAP_PRECISION}")
  else()
    message(FATAL_ERROR "kiln_add_plan(${KAP_TARGET}): PRECISION '${KAP_PRECISION}' is not one of "
                        "fp32, bf16, fp16, int8, best")
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
