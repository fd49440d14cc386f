# CPack: `cpack -G DEB` in the build dir makes three packages, one per install component
# (KilnInstall.cmake), under /usr:
#   kiln-runtime_<version>_<arch>.deb  libkiln_runtime, its headers and the CMake package: what a
#                                      deployment that only runs plans installs (libdnnl2 and the
#                                      C/C++ runtime, no protobuf or onnx)
#   kiln-tools_...                     the kiln CLI and libkiln_compiler (protobuf, onnx, fmt)
#   kiln-dev_...                       the compiler's headers and CMake targets, kiln_add_plan()
# Depends is computed by dpkg-shlibdeps from each package's ELF files, plus the packages it builds
# on (kiln-tools and kiln-dev on kiln-runtime, kiln-dev on kiln-tools), so it follows the
# distribution's package names and versions instead of a hand-kept list.
set(CPACK_PACKAGE_NAME kiln)
set(CPACK_PACKAGE_VENDOR "kiln developers")
# Debian requires a Maintainer; whoever publishes a package sets a real address here.
set(KILN_PACKAGE_MAINTAINER "kiln developers <kiln@localhost>" CACHE STRING "Maintainer field of the .deb")
set(CPACK_PACKAGE_CONTACT "${KILN_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "ahead-of-time neural-network compiler for CPUs (ONNX to oneDNN plans)")
set(_kiln_about
  "kiln compiles an ONNX model into a versioned, checksummed plan file (fused, laid out and with a\n"
  "kernel chosen per layer) and runs it with a small oneDNN-based runtime library.")
if(KILN_NATIVE)
  # -march=native code in the libraries: say so where a package user looks (docs/packaging.md).
  list(APPEND _kiln_about "\nBuilt with KILN_NATIVE=ON (-march=native): it runs only on CPUs "
       "with the instruction set of the machine that built it.")
endif()
string(CONCAT CPACK_PACKAGE_DESCRIPTION ${_kiln_about})
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
# Release packages carry no debug info (it would be most of the size, in the sanitizer build too).
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime tools dev)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME kiln-runtime)
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME kiln-tools)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME kiln-dev)
string(CONCAT CPACK_COMPONENT_RUNTIME_DESCRIPTION
  "kiln runtime: load and run compiled plans\n" ${_kiln_about}
  "\nThis package holds libkiln_runtime, its C and C++ headers and the CMake package\n"
  "(find_package(kiln), target kiln::runtime): all an application that runs plans needs.")
string(CONCAT CPACK_COMPONENT_TOOLS_DESCRIPTION
  "kiln compiler and command-line tool\n" ${_kiln_about}
  "\nThis package holds the kiln CLI (compile, run, inspect) and libkiln_compiler.")
string(CONCAT CPACK_COMPONENT_DEV_DESCRIPTION
  "kiln compiler development files\n" ${_kiln_about}
  "\nThis package holds the compiler's C++ headers and CMake targets (kiln::compiler, kiln::kiln,\n"
  "kiln_add_plan() to compile models at build time).")
set(CPACK_COMPONENT_TOOLS_DEPENDS runtime)
set(CPACK_COMPONENT_DEV_DEPENDS runtime tools)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# kiln's own libraries are inside the packages; dpkg-shlibdeps must not look for a package holding them.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/runtime ${PROJECT_BINARY_DIR}/compiler)
# Runs ldconfig on install and removal so the new libraries are found without an RPATH.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
include(CPack)
