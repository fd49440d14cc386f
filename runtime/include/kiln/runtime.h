/* kiln runtime C API: a stable C ABI over kiln/runtime.hpp for applications written in C or
 * other languages (FFI). It exposes loading a plan, querying its inputs and outputs, and running
 * it through execution contexts with caller-owned (zero-copy) or context-owned buffers.
 * Usable from C99 and C++; link libkiln_runtime. docs/api-c.md has a walkthrough.
 *
 * Errors: every function that can fail returns a kiln_status; KILN_OK is 0. On failure,
 * kiln_last_error() returns a sentence naming the file, tensor or argument at fault. The message
 * is thread-local: it belongs to the calling thread and stays valid until that thread's next
 * failing call. No C++ exception ever crosses this boundary (out-of-memory included).
 * Output parameters are written only on success.
 *
 * Ownership and lifetime:
 *  - kiln_engine_load_* create an engine; kiln_engine_destroy releases the caller's handle.
 *  - A context keeps its engine alive: engines and contexts may be destroyed in any order.
 *  - Strings and dims in a kiln_tensor_info belong to the engine and stay valid while the engine
 *    handle (or any context created from it) lives.
 *  - Buffers passed to kiln_context_set_input/_set_output stay the caller's: kiln reads and writes
 *    them during kiln_context_run and never frees them; they must stay valid until unbound
 *    (pass NULL), rebound, or the context is destroyed.
 *  - kiln_engine_load_memory copies the plan bytes; the caller may free them right after.
 *
 * Thread safety: an engine is immutable; all engine functions may be called from any number of
 * threads at once, including kiln_context_create. A context must be used by one thread at a time
 * (create one context per thread for concurrent inference).
 */
#ifndef KILN_RUNTIME_H
#define KILN_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this C interface; bumped on any incompatible change. Compare it with
 * kiln_c_api_version() to detect a header/library mismatch. */
#define KILN_C_API_VERSION 2  /* 2: kiln_load_options, kiln_engine_load_file_opts */

/* Plans never have tensors of rank above 8. */
#define KILN_MAX_RANK 8

typedef enum kiln_status {
  KILN_OK = 0,
  KILN_ERROR_INVALID_ARGUMENT = 1, /* NULL pointer, index out of range, unknown name, wrong size or
                                      alignment, overlapping buffers */
  KILN_ERROR_IO = 2,               /* the plan file cannot be opened or read */
  KILN_ERROR_INVALID_PLAN = 3,     /* corrupt, truncated or unsupported plan */
  KILN_ERROR_RUNTIME = 4,          /* inference failed (e.g. value-dependent shape out of bounds,
                                      an output that does not fit its bound buffer) */
  KILN_ERROR_OUT_OF_MEMORY = 5,
  KILN_ERROR_INTERNAL = 6          /* an unexpected failure inside kiln: please report it */
} kiln_status;

/* Element types: ONNX TensorProto.DataType codes, the same values as kiln::DType. */
typedef enum kiln_dtype {
  KILN_DTYPE_UNDEFINED = 0,
  KILN_DTYPE_FLOAT32 = 1,
  KILN_DTYPE_UINT8 = 2,
  KILN_DTYPE_INT8 = 3,
  KILN_DTYPE_UINT16 = 4,
  KILN_DTYPE_INT16 = 5,
  KILN_DTYPE_INT32 = 6,
  KILN_DTYPE_INT64 = 7,
  KILN_DTYPE_BOOL = 9,
  KILN_DTYPE_FLOAT16 = 10,
  KILN_DTYPE_FLOAT64 = 11,
  KILN_DTYPE_UINT32 = 12,
  KILN_DTYPE_UINT64 = 13,
  KILN_DTYPE_BFLOAT16 = 16
} kiln_dtype;

typedef struct kiln_engine kiln_engine;   /* an immutable loaded plan */
typedef struct kiln_context kiln_context; /* per-thread inference state */

/* A graph input or output as the plan declares it. This struct's layout is frozen: a later
 * version that needs more fields adds a new query function instead. */
typedef struct kiln_tensor_info {
  const char* name;    /* owned by the engine */
  kiln_dtype dtype;
  size_t rank;         /* at most KILN_MAX_RANK */
  const int64_t* dims; /* rank entries, owned by the engine; -1 = known only after a run */
  size_t bytes;        /* dense row-major size; 0 when some dim is -1 */
} kiln_tensor_info;

/* Library version ("0.1.0") and the C interface version the library implements. */
KILN_API const char* kiln_version(void);
KILN_API int kiln_c_api_version(void);

/* The calling thread's last error message; "" if no call on this thread has failed. */
KILN_API const char* kiln_last_error(void);
/* A constant name for a status ("KILN_ERROR_IO"), "unknown status" for other values. */
KILN_API const char* kiln_status_name(kiln_status status);
/* "float32", "int64", ...; "undefined" for unknown codes. Element size in bytes, 0 if unknown. */
KILN_API const char* kiln_dtype_name(kiln_dtype dtype);
KILN_API size_t kiln_dtype_size(kiln_dtype dtype);

/* Load and verify a plan (written by `kiln compile`). Corrupt or unsupported plans are rejected
 * with KILN_ERROR_INVALID_PLAN before anything in them is used. */
KILN_API kiln_status kiln_engine_load_file(const char* path, kiln_engine** engine);
KILN_API kiln_status kiln_engine_load_memory(const void* data, size_t size, kiln_engine** engine);

/* Load options (C API version 2). Set struct_size to sizeof(kiln_load_options), so later versions
 * can add fields; zero-initialise the rest for the defaults. */
typedef struct kiln_load_options {
  size_t struct_size;
  /* Re-select every layer's kernel variant for this CPU instead of the plan's (kiln run --retune). */
  int retune;
  /* The most bytes one context may allocate (activations, scratchpad, tensors sized by input
   * values); a run that needs more fails with KILN_ERROR_RUNTIME naming the tensor. 0 = three
   * quarters of physical memory (kiln run --memPoolSize). */
  uint64_t memory_limit;
} kiln_load_options;
/* kiln_engine_load_file with options; options may be NULL (the defaults). */
KILN_API kiln_status kiln_engine_load_file_opts(const char* path, const kiln_load_options* options,
                                                kiln_engine** engine);
/* Releases the handle; NULL is ignored. Contexts created from it keep working. */
KILN_API void kiln_engine_destroy(kiln_engine* engine);

KILN_API kiln_status kiln_engine_num_inputs(const kiln_engine* engine, size_t* count);
KILN_API kiln_status kiln_engine_num_outputs(const kiln_engine* engine, size_t* count);
KILN_API kiln_status kiln_engine_input_info(const kiln_engine* engine, size_t index, kiln_tensor_info* info);
KILN_API kiln_status kiln_engine_output_info(const kiln_engine* engine, size_t index, kiln_tensor_info* info);
/* Index of the input / output with this name; KILN_ERROR_INVALID_ARGUMENT if there is none. */
KILN_API kiln_status kiln_engine_input_index(const kiln_engine* engine, const char* name, size_t* index);
KILN_API kiln_status kiln_engine_output_index(const kiln_engine* engine, const char* name, size_t* index);

/* A context owns an activation arena and a buffer for every input and output. */
KILN_API kiln_status kiln_context_create(const kiln_engine* engine, kiln_context** context);
KILN_API void kiln_context_destroy(kiln_context* context); /* NULL is ignored */

/* Zero-copy binding: kiln_context_run reads input `index` straight from `data` / writes output
 * `index` straight into `data`, with no copy. `bytes` must equal the tensor's info.bytes (for an
 * output with -1 dims: the buffer's capacity); `data` must be aligned to the element size; an
 * output buffer must not overlap any other bound buffer. kiln never writes to an input buffer.
 * data = NULL restores the context-owned buffer. Outputs with -1 dims, and an output the plan
 * lists twice, are computed in context memory and copied into the bound buffer at the end of the
 * run (kiln_context_output_is_zero_copy reports which); the run fails with KILN_ERROR_RUNTIME if
 * the result does not fit. */
KILN_API kiln_status kiln_context_set_input(kiln_context* context, size_t index, const void* data, size_t bytes);
KILN_API kiln_status kiln_context_set_output(kiln_context* context, size_t index, void* data, size_t bytes);
KILN_API kiln_status kiln_context_output_is_zero_copy(const kiln_context* context, size_t index, int* zero_copy);

/* The buffer kiln_context_run reads input `index` from: the context's own (write the input
 * there) or the one bound with kiln_context_set_input. `bytes` may be NULL. */
KILN_API kiln_status kiln_context_input_buffer(kiln_context* context, size_t index, void** data, size_t* bytes);
/* The buffer holding output `index` after a run and its size in bytes for this run's shape.
 * For a context-owned output with -1 dims it is valid until the next run. `bytes` may be NULL. */
KILN_API kiln_status kiln_context_output_buffer(const kiln_context* context, size_t index, const void** data,
                                                size_t* bytes);
/* Output `index`'s shape after the last run (before any run: the plan's, possibly with -1 dims).
 * `dims` has room for `capacity` entries (KILN_MAX_RANK always suffices). */
KILN_API kiln_status kiln_context_output_shape(const kiln_context* context, size_t index, int64_t* dims,
                                               size_t capacity, size_t* rank);

/* Optimisation profiles (plans built with kiln compile --minShapes/--optShapes/--maxShapes): input
 * `index` accepts any shape with min_dims[d] <= dims[d] <= max_dims[d]; both equal the
 * kiln_tensor_info dims (the opt shape) for a static input. The arrays belong to the engine. */
KILN_API kiln_status kiln_engine_input_range(const kiln_engine* engine, size_t index, const int64_t** min_dims,
                                             const int64_t** max_dims, size_t* rank);
/* Selects input `index`'s shape for the next kiln_context_run (KILN_ERROR_INVALID_ARGUMENT, naming
 * the input, the shape and the allowed range, when it lies outside the profile). The input buffer
 * then holds that shape's elements, dense row-major; kiln_context_input_buffer reports its bytes. */
KILN_API kiln_status kiln_context_set_input_shape(kiln_context* context, size_t index, const int64_t* dims,
                                                  size_t rank);
/* The shape input `index` runs with (the last one set, else the plan's). */
KILN_API kiln_status kiln_context_input_shape(const kiln_context* context, size_t index, int64_t* dims,
                                              size_t capacity, size_t* rank);

/* Runs one inference. */
KILN_API kiln_status kiln_context_run(kiln_context* context);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILN_RUNTIME_H */
