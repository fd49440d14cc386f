# Install rules and the kiln CMake package: `cmake --install` puts the kiln CLI in bin/, the two
# shared libraries in lib/, the public headers in include/kiln/ and kilnConfig.cmake (imported
# targets kiln::runtime, kiln::compiler, kiln::kiln and kiln_add_plan()) in lib/cmake/kiln/.
# Included from the top-level CMakeLists.txt after all targets exist.
include(CMakePackageConfigHelpers)

set(KILN_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/kiln)

install(TARGETS kiln_runtime kiln_compiler kiln EXPORT kilnTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# Whole folders, so new public headers (e.g. the C API, runtime.h) install without editing this file.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/kiln ${PROJECT_SOURCE_DIR}/compiler/include/kiln
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")

install(EXPORT kilnTargets NAMESPACE kiln:: DESTINATION ${KILN_INSTALL_CMAKEDIR})
get_filename_component(KILN_DNNL_LIBRARY_DIR ${DNNL_LIBRARY} DIRECTORY)
set(KILN_DNNL_INCLUDE_DIR ${DNNL_INCLUDE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/kilnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/kilnConfig.cmake INSTALL_DESTINATION ${KILN_INSTALL_CMAKEDIR})
# 0.x: plans and the API may change between minor versions, so only the same minor version matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/kilnConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/kilnConfig.cmake ${PROJECT_BINARY_DIR}/kilnConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/KilnAddPlan.cmake DESTINATION ${KILN_INSTALL_CMAKEDIR})

install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/cli.md ${PROJECT_SOURCE_DIR}/docs/cli-guide.md
  ${PROJECT_SOURCE_DIR}/docs/deploying.md ${PROJECT_SOURCE_DIR}/docs/packaging.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
