# CPack: `cpack -G DEB` in the build dir makes kiln_<version>_<arch>.deb holding everything
# `cmake --install` installs, under /usr. Depends is computed by dpkg-shlibdeps from the ELF files
# (libdnnl2, libprotobuf32, libonnx1, libfmt9, libgomp1, libc6, ...), so it follows the
# distribution's package names and versions instead of a hand-kept list.
set(CPACK_PACKAGE_NAME kiln)
set(CPACK_PACKAGE_VENDOR "kiln developers")
# Debian requires a Maintainer; whoever publishes a package sets a real address here.
set(KILN_PACKAGE_MAINTAINER "kiln developers <kiln@localhost>" CACHE STRING "Maintainer field of the .deb")
set(CPACK_PACKAGE_CONTACT "${KILN_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "ahead-of-time neural-network compiler for CPUs (ONNX to oneDNN plans)")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
  "kiln compiles an ONNX model into a versioned, checksummed plan file (fused, laid out and with a\n"
  "kernel chosen per layer) and runs it with a small oneDNN-based runtime library. The package holds\n"
  "the kiln command-line tool, libkiln_runtime (what a deployed application links), libkiln_compiler,\n"
  "their C and C++ headers and a CMake package (find_package(kiln), kiln_add_plan()).")
if(KILN_NATIVE)
  # -march=native code in the libraries: say so where a package user looks (docs/packaging.md).
  string(APPEND CPACK_PACKAGE_DESCRIPTION "\nBuilt with KILN_NATIVE=ON (-march=native): it runs only on CPUs "
         "with the instruction set of the machine that built it.")
endif()
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
# Release packages carry no debug info (it would be most of the size, in the sanitizer build too).
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# kiln's own libraries are inside the package; dpkg-shlibdeps must not look for a package holding them.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/runtime ${PROJECT_BINARY_DIR}/compiler)
# Runs ldconfig on install and removal so the new libraries are found without an RPATH.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
include(CPack)
