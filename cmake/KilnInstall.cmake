# Install rules and the kiln CMake package, in three components (the three .deb packages of
# KilnPackaging.cmake):
#   runtime  libkiln_runtime.so, its public headers (kiln/runtime.h, kiln/runtime.hpp) and the CMake
#            package with the kiln::runtime target: all a deployed application needs to build and
#            run plans. Needs only oneDNN and the C/C++ runtime.
#   tools    the kiln CLI and libkiln_compiler.so (protobuf, onnx, fmt), and the docs.
#   dev      the compiler's headers and CMake targets (kiln::compiler, kiln::kiln, kiln_add_plan()).
# `cmake --install` installs all three; `cmake --install --component runtime` only the first.
# Included from the top-level CMakeLists.txt after all targets exist.
include(CMakePackageConfigHelpers)

set(KILN_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/kiln)

install(TARGETS kiln_runtime EXPORT kilnRuntimeTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT runtime)
install(TARGETS kiln_compiler kiln EXPORT kilnToolsTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT tools NAMELINK_COMPONENT dev)
# Whole folders, so new public headers install without editing this file.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/kiln DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT runtime FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/compiler/include/kiln DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT dev FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")

install(EXPORT kilnRuntimeTargets NAMESPACE kiln:: DESTINATION ${KILN_INSTALL_CMAKEDIR} COMPONENT runtime)
install(EXPORT kilnToolsTargets NAMESPACE kiln:: DESTINATION ${KILN_INSTALL_CMAKEDIR} COMPONENT dev)
get_filename_component(KILN_DNNL_LIBRARY_DIR ${DNNL_LIBRARY} DIRECTORY)
set(KILN_DNNL_INCLUDE_DIR ${DNNL_INCLUDE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/kilnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/kilnConfig.cmake INSTALL_DESTINATION ${KILN_INSTALL_CMAKEDIR})
# 0.x: plans and the API may change between minor versions, so only the same minor version matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/kilnConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/kilnConfig.cmake ${PROJECT_BINARY_DIR}/kilnConfigVersion.cmake
  DESTINATION ${KILN_INSTALL_CMAKEDIR} COMPONENT runtime)
install(FILES ${PROJECT_SOURCE_DIR}/cmake/KilnAddPlan.cmake DESTINATION ${KILN_INSTALL_CMAKEDIR} COMPONENT dev)

install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/cli.md ${PROJECT_SOURCE_DIR}/docs/cli-guide.md
  ${PROJECT_SOURCE_DIR}/docs/deploying.md ${PROJECT_SOURCE_DIR}/docs/packaging.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT tools)
