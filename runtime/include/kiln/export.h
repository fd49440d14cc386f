/* KILN_API marks what libkiln_runtime exports: the C API (kiln/runtime.h) and the C++ API
 * (kiln/runtime.hpp). The library is built with hidden visibility and an export map
 * (runtime/kiln_runtime.map), so nothing else it holds is visible to applications;
 * the test runtime.exports_only_public_api checks it with nm -D. */
#ifndef KILN_EXPORT_H
#define KILN_EXPORT_H

#if defined(_WIN32)
#define KILN_API
#else
#define KILN_API __attribute__((visibility("default")))
#endif

#endif /* KILN_EXPORT_H */
