/* Tests of the kiln C API (kiln/runtime.h), compiled as strict C99. Outputs are checked against
 * torch's output for the bundled tiny_resnet (written as raw float32 by capi_test.sh from
 * examples/models/tiny_resnet/test_data_set_0), through both context-owned and caller-bound
 * buffers; every error path must return the documented status and a useful message.
 *
 *   capi_test TINY.plan INPUT.raw TORCH_OUTPUT.raw DYNAMIC.plan WORKDIR PROFILE.plan
 *
 * DYNAMIC.plan: Reshape(x[4,6], shape) -> Sigmoid -> y with value-dependent dims.
 * PROFILE.plan: Sigmoid(x[n,6]) built with the profile n in [1, 8], opt 2. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/runtime.h"

static int g_passed, g_failed;

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (cond) {                                                                  \
      ++g_passed;                                                                \
    } else {                                                                     \
      ++g_failed;                                                                \
      fprintf(stderr, "%s:%d: FAILED: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
              kiln_last_error());                                                \
    }                                                                            \
  } while (0)

/* The call returns `status` and the thread's error message contains `needle`. */
#define CHECK_ERR(call, status, needle)                                                          \
  do {                                                                                           \
    kiln_status s_ = (call);                                                                     \
    if (s_ == (status) && strstr(kiln_last_error(), (needle))) {                                 \
      ++g_passed;                                                                                \
    } else {                                                                                     \
      ++g_failed;                                                                                \
      fprintf(stderr, "%s:%d: FAILED: %s returned %s, want %s with '%s' in: %s\n", __FILE__, __LINE__, #call, \
              kiln_status_name(s_), kiln_status_name(status), (needle), kiln_last_error());     \
    }                                                                                            \
  } while (0)

static void* read_file(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  void* data;
  long n;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  data = malloc(n > 0 ? (size_t)n : 1);
  if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
    free(data);
    data = NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return data;
}

/* Logits agree with torch's within float32 accumulation-order noise. */
static int close_to(const float* got, const float* want, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i)
    if (!(fabsf(got[i] - want[i]) <= 1e-3f + 1e-3f * fabsf(want[i]))) {
      fprintf(stderr, "  element %zu: got %g, torch %g\n", i, got[i], want[i]);
      return 0;
    }
  return 1;
}

static void test_utilities(void) {
  CHECK(strcmp(kiln_last_error(), "") == 0); /* nothing has failed on this thread yet */
  CHECK(kiln_c_api_version() == KILN_C_API_VERSION);
  CHECK(strchr(kiln_version(), '.') != NULL);
  CHECK(strcmp(kiln_status_name(KILN_ERROR_IO), "KILN_ERROR_IO") == 0);
  CHECK(strcmp(kiln_status_name((kiln_status)99), "unknown status") == 0);
  CHECK(kiln_dtype_size(KILN_DTYPE_FLOAT32) == 4 && kiln_dtype_size(KILN_DTYPE_INT64) == 8);
  CHECK(kiln_dtype_size((kiln_dtype)99) == 0);
  CHECK(strcmp(kiln_dtype_name(KILN_DTYPE_FLOAT32), "float32") == 0);
  CHECK(strcmp(kiln_dtype_name((kiln_dtype)99), "undefined") == 0);
  kiln_engine_destroy(NULL);
  kiln_context_destroy(NULL);
}

static void test_queries(const kiln_engine* e) {
  size_t n = 99, idx = 99;
  kiln_tensor_info info;
  CHECK(kiln_engine_num_inputs(e, &n) == KILN_OK && n == 1);
  CHECK(kiln_engine_num_outputs(e, &n) == KILN_OK && n == 1);
  CHECK(kiln_engine_input_info(e, 0, &info) == KILN_OK);
  CHECK(strcmp(info.name, "input") == 0 && info.dtype == KILN_DTYPE_FLOAT32 && info.rank == 4);
  CHECK(info.dims[0] == 1 && info.dims[1] == 3 && info.dims[2] == 64 && info.dims[3] == 64);
  CHECK(info.bytes == 3 * 64 * 64 * 4);
  CHECK(kiln_engine_output_info(e, 0, &info) == KILN_OK);
  CHECK(strcmp(info.name, "output") == 0 && info.rank == 2 && info.dims[1] == 10 && info.bytes == 40);
  CHECK(kiln_engine_input_index(e, "input", &idx) == KILN_OK && idx == 0);
  CHECK(kiln_engine_output_index(e, "output", &idx) == KILN_OK && idx == 0);
  CHECK_ERR(kiln_engine_input_index(e, "nope", &idx), KILN_ERROR_INVALID_ARGUMENT, "no input named 'nope'");
  CHECK_ERR(kiln_engine_output_index(e, "input", &idx), KILN_ERROR_INVALID_ARGUMENT, "its outputs are 'output'");
  CHECK_ERR(kiln_engine_input_info(e, 1, &info), KILN_ERROR_INVALID_ARGUMENT, "input index 1 is out of range");
  CHECK_ERR(kiln_engine_output_info(e, 5, &info), KILN_ERROR_INVALID_ARGUMENT, "output index 5 is out of range");
}

/* Context-owned buffers, then caller-bound ones (zero-copy), then a context that outlives its
 * engine handle. */
static void test_run(kiln_engine* e, const float* input, const float* torch_out) {
  kiln_context* ctx = NULL;
  void* in_buf = NULL;
  const void* out_buf = NULL;
  size_t bytes = 0, rank = 0;
  int64_t dims[KILN_MAX_RANK];
  int zero_copy = 0;
  float* user_in = malloc(49152);
  float* user_out = malloc(40);
  float* input_copy = malloc(49152);

  CHECK(kiln_context_create(e, &ctx) == KILN_OK);
  CHECK(kiln_context_input_buffer(ctx, 0, &in_buf, &bytes) == KILN_OK && bytes == 49152);
  memcpy(in_buf, input, 49152);
  CHECK(kiln_context_run(ctx) == KILN_OK);
  CHECK(kiln_context_output_buffer(ctx, 0, &out_buf, &bytes) == KILN_OK && bytes == 40);
  CHECK(close_to(out_buf, torch_out, 10));
  CHECK(kiln_context_output_shape(ctx, 0, dims, KILN_MAX_RANK, &rank) == KILN_OK && rank == 2 && dims[1] == 10);

  /* Zero-copy: poison the owned input so a run that read it would be wrong. */
  memset(in_buf, 0xff, 49152);
  memcpy(user_in, input, 49152);
  memcpy(input_copy, input, 49152);
  memset(user_out, 0, 40);
  CHECK(kiln_context_set_input(ctx, 0, user_in, 49152) == KILN_OK);
  CHECK(kiln_context_set_output(ctx, 0, user_out, 40) == KILN_OK);
  CHECK(kiln_context_output_is_zero_copy(ctx, 0, &zero_copy) == KILN_OK && zero_copy == 1);
  CHECK(kiln_context_run(ctx) == KILN_OK);
  CHECK(close_to(user_out, torch_out, 10));
  CHECK(memcmp(user_in, input_copy, 49152) == 0); /* kiln never writes an input */
  CHECK(kiln_context_input_buffer(ctx, 0, &in_buf, NULL) == KILN_OK && in_buf == (void*)user_in);
  CHECK(kiln_context_output_buffer(ctx, 0, &out_buf, NULL) == KILN_OK && out_buf == (const void*)user_out);

  /* Unbinding the output: the caller's buffer is not written by later runs. */
  CHECK(kiln_context_set_output(ctx, 0, NULL, 0) == KILN_OK);
  memset(user_out, 0, 40);
  CHECK(kiln_context_run(ctx) == KILN_OK);
  CHECK(user_out[0] == 0.f && user_out[9] == 0.f);
  CHECK(kiln_context_output_buffer(ctx, 0, &out_buf, NULL) == KILN_OK && close_to(out_buf, torch_out, 10));

  /* The context keeps the engine alive after the caller's handle is gone. */
  kiln_engine_destroy(e);
  CHECK(kiln_context_run(ctx) == KILN_OK);
  CHECK(kiln_context_output_buffer(ctx, 0, &out_buf, NULL) == KILN_OK && close_to(out_buf, torch_out, 10));
  kiln_context_destroy(ctx);
  free(user_in);
  free(user_out);
  free(input_copy);
}

static void test_binding_errors(const kiln_engine* e) {
  kiln_context* ctx = NULL;
  float* buf = malloc(49152 + 64);
  int64_t dims[1];
  size_t rank = 0;
  int zc;
  CHECK(kiln_context_create(e, &ctx) == KILN_OK);
  CHECK_ERR(kiln_context_set_input(ctx, 0, buf, 49148), KILN_ERROR_INVALID_ARGUMENT, "exactly 49152 bytes");
  CHECK_ERR(kiln_context_set_output(ctx, 0, buf, 44), KILN_ERROR_INVALID_ARGUMENT, "exactly 40 bytes");
  CHECK_ERR(kiln_context_set_input(ctx, 0, (char*)buf + 1, 49152), KILN_ERROR_INVALID_ARGUMENT, "not aligned");
  CHECK_ERR(kiln_context_set_input(ctx, 1, buf, 49152), KILN_ERROR_INVALID_ARGUMENT,
            "input index 1 is out of range");
  CHECK_ERR(kiln_context_set_output(ctx, 3, buf, 40), KILN_ERROR_INVALID_ARGUMENT, "output index 3 is out of range");
  CHECK_ERR(kiln_context_output_shape(ctx, 2, dims, 1, &rank), KILN_ERROR_INVALID_ARGUMENT, "out of range");
  CHECK_ERR(kiln_context_output_shape(ctx, 0, dims, 1, &rank), KILN_ERROR_INVALID_ARGUMENT, "has rank 2");
  CHECK_ERR(kiln_context_output_is_zero_copy(ctx, 1, &zc), KILN_ERROR_INVALID_ARGUMENT, "out of range");
  CHECK(kiln_context_set_input(ctx, 0, buf, 49152) == KILN_OK);
  CHECK_ERR(kiln_context_set_output(ctx, 0, buf + 100, 40), KILN_ERROR_INVALID_ARGUMENT, "overlaps");
  kiln_context_destroy(ctx);
  free(buf);
}

static void test_null_arguments(const kiln_engine* e, const char* plan) {
  kiln_engine* out = NULL;
  kiln_context* ctx = NULL;
  size_t n;
  void* p;
  kiln_tensor_info info;
  CHECK_ERR(kiln_engine_load_file(NULL, &out), KILN_ERROR_INVALID_ARGUMENT, "path is NULL");
  CHECK_ERR(kiln_engine_load_file(plan, NULL), KILN_ERROR_INVALID_ARGUMENT, "engine is NULL");
  CHECK_ERR(kiln_engine_load_memory(NULL, 10, &out), KILN_ERROR_INVALID_ARGUMENT, "data is NULL");
  CHECK_ERR(kiln_engine_num_inputs(NULL, &n), KILN_ERROR_INVALID_ARGUMENT, "engine is NULL");
  CHECK_ERR(kiln_engine_num_outputs(e, NULL), KILN_ERROR_INVALID_ARGUMENT, "count is NULL");
  CHECK_ERR(kiln_engine_input_info(e, 0, NULL), KILN_ERROR_INVALID_ARGUMENT, "info is NULL");
  CHECK_ERR(kiln_engine_input_index(e, NULL, &n), KILN_ERROR_INVALID_ARGUMENT, "name is NULL");
  CHECK_ERR(kiln_context_create(NULL, &ctx), KILN_ERROR_INVALID_ARGUMENT, "engine is NULL");
  CHECK_ERR(kiln_context_create(e, NULL), KILN_ERROR_INVALID_ARGUMENT, "context is NULL");
  CHECK_ERR(kiln_context_run(NULL), KILN_ERROR_INVALID_ARGUMENT, "context is NULL");
  CHECK_ERR(kiln_context_set_input(NULL, 0, &n, 8), KILN_ERROR_INVALID_ARGUMENT, "context is NULL");
  CHECK_ERR(kiln_context_input_buffer(NULL, 0, &p, NULL), KILN_ERROR_INVALID_ARGUMENT, "context is NULL");
  CHECK(out == NULL && ctx == NULL); /* outputs are written only on success */
  (void)info;
}

static void test_bad_plans(const char* plan, const char* work) {
  kiln_engine* e = NULL;
  size_t size = 0;
  unsigned char* bytes = read_file(plan, &size);
  char path[4096];
  FILE* f;
  size_t i;
  CHECK(bytes != NULL && size > 1000);
  if (!bytes) return;
  snprintf(path, sizeof path, "%s/does-not-exist.plan", work);
  CHECK_ERR(kiln_engine_load_file(path, &e), KILN_ERROR_IO, "does-not-exist.plan: cannot open");
  CHECK_ERR(kiln_engine_load_file(work, &e), KILN_ERROR_IO, "is a directory");
  CHECK_ERR(kiln_engine_load_memory(bytes, size / 2, &e), KILN_ERROR_INVALID_PLAN, "<memory>");
  CHECK_ERR(kiln_engine_load_memory(bytes, 0, &e), KILN_ERROR_INVALID_PLAN, "<memory>");
  /* Flip bytes in the middle: the checksum (or the verifier) must catch it. */
  for (i = size / 2; i < size / 2 + 16; ++i) bytes[i] ^= 0x5a;
  CHECK_ERR(kiln_engine_load_memory(bytes, size, &e), KILN_ERROR_INVALID_PLAN, "<memory>");
  snprintf(path, sizeof path, "%s/corrupt.plan", work);
  f = fopen(path, "wb");
  CHECK(f != NULL);
  if (f) {
    fwrite(bytes, 1, size, f);
    fclose(f);
    CHECK_ERR(kiln_engine_load_file(path, &e), KILN_ERROR_INVALID_PLAN, "corrupt.plan");
  }
  CHECK(e == NULL);
  free(bytes);
}

/* Value-dependent output shape: copied into the bound buffer, which must be large enough. */
static void test_dynamic(const char* plan) {
  kiln_engine* e = NULL;
  kiln_context* ctx = NULL;
  kiln_tensor_info info;
  float x[24], y[25], small[20];
  int64_t shape[2] = {3, 8}, dims[KILN_MAX_RANK];
  size_t rank = 0, i;
  int zc = 1, ok = 1;
  CHECK(kiln_engine_load_file(plan, &e) == KILN_OK);
  if (!e) return;
  CHECK(kiln_engine_output_info(e, 0, &info) == KILN_OK && info.rank == 2);
  CHECK(info.dims[0] == -1 && info.bytes == 0);
  CHECK(kiln_context_create(e, &ctx) == KILN_OK);
  for (i = 0; i < 24; ++i) x[i] = (float)i / 6.f - 2.f;
  y[24] = -7.f;
  CHECK(kiln_context_set_input(ctx, 0, x, sizeof x) == KILN_OK);
  CHECK(kiln_context_set_input(ctx, 1, shape, sizeof shape) == KILN_OK);
  CHECK(kiln_context_set_output(ctx, 0, y, sizeof y) == KILN_OK);
  CHECK(kiln_context_output_is_zero_copy(ctx, 0, &zc) == KILN_OK && zc == 0);
  /* Before any run the shape is the plan's. */
  CHECK(kiln_context_output_shape(ctx, 0, dims, KILN_MAX_RANK, &rank) == KILN_OK);
  CHECK(rank == 2 && dims[0] == -1 && dims[1] == -1);
  CHECK(kiln_context_run(ctx) == KILN_OK);
  CHECK(kiln_context_output_shape(ctx, 0, dims, KILN_MAX_RANK, &rank) == KILN_OK);
  CHECK(rank == 2 && dims[0] == 3 && dims[1] == 8);
  for (i = 0; i < 24; ++i) ok &= fabsf(y[i] - 1.f / (1.f + expf(-x[i]))) < 1e-6f;
  CHECK(ok && y[24] == -7.f);
  CHECK(kiln_context_set_output(ctx, 0, small, sizeof small) == KILN_OK);
  CHECK_ERR(kiln_context_run(ctx), KILN_ERROR_RUNTIME, "holds 80 bytes");
  kiln_context_destroy(ctx);
  kiln_engine_destroy(e);
}

static void test_profile(const char* plan) {
  kiln_engine* e = NULL;
  kiln_context* ctx = NULL;
  const int64_t *lo = NULL, *hi = NULL;
  int64_t five[2] = {5, 6}, nine[2] = {9, 6}, dims[KILN_MAX_RANK];
  size_t rank = 0, bytes = 0, i;
  void* in = NULL;
  const void* out = NULL;
  int ok = 1;
  CHECK(kiln_engine_load_file(plan, &e) == KILN_OK);
  if (!e) return;
  CHECK(kiln_engine_input_range(e, 0, &lo, &hi, &rank) == KILN_OK);
  CHECK(rank == 2 && lo[0] == 1 && lo[1] == 6 && hi[0] == 8 && hi[1] == 6);
  CHECK(kiln_context_create(e, &ctx) == KILN_OK);
  CHECK_ERR(kiln_context_set_input_shape(ctx, 0, nine, 2), KILN_ERROR_INVALID_ARGUMENT,
            "input 'x': shape 9x6 is outside the allowed range: the plan's profile allows 1x6 to 8x6");
  CHECK(kiln_context_set_input_shape(ctx, 0, five, 2) == KILN_OK);
  CHECK(kiln_context_input_shape(ctx, 0, dims, KILN_MAX_RANK, &rank) == KILN_OK && rank == 2 && dims[0] == 5);
  CHECK(kiln_context_input_buffer(ctx, 0, &in, &bytes) == KILN_OK && bytes == 5 * 6 * sizeof(float));
  if (!in) return;
  for (i = 0; i < 30; ++i) ((float*)in)[i] = (float)i / 5.f - 3.f;
  CHECK(kiln_context_run(ctx) == KILN_OK);
  CHECK(kiln_context_output_shape(ctx, 0, dims, KILN_MAX_RANK, &rank) == KILN_OK);
  CHECK(rank == 2 && dims[0] == 5 && dims[1] == 6);
  CHECK(kiln_context_output_buffer(ctx, 0, &out, &bytes) == KILN_OK && bytes == 5 * 6 * sizeof(float));
  for (i = 0; out && i < 30; ++i) ok &= fabsf(((const float*)out)[i] - 1.f / (1.f + expf(3.f - (float)i / 5.f))) < 1e-6f;
  CHECK(out && ok);
  kiln_context_destroy(ctx);
  kiln_engine_destroy(e);
}

/* The last error is per thread: a failure on another thread leaves this thread's message. */
static void* fail_in_thread(void* arg) {
  size_t n;
  (void)arg;
  kiln_engine_num_inputs(NULL, &n);
  return NULL;
}

static void test_thread_local_error(void) {
  pthread_t t;
  size_t n;
  kiln_engine_num_outputs(NULL, &n);
  CHECK(strstr(kiln_last_error(), "kiln_engine_num_outputs") != NULL);
  CHECK(pthread_create(&t, NULL, fail_in_thread, NULL) == 0);
  pthread_join(t, NULL);
  CHECK(strstr(kiln_last_error(), "kiln_engine_num_outputs") != NULL);
}

/* kiln_load_options: a memory limit below the plan's arena refuses the context by name; no
 * options, or a zero limit, load as before; a struct_size that holds nothing is refused. */
static void test_memory_limit(const char* plan) {
  kiln_engine* e = NULL;
  kiln_context* c = NULL;
  kiln_load_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.memory_limit = 1024;
  CHECK(kiln_c_api_version() == KILN_C_API_VERSION);
  CHECK(kiln_engine_load_file_opts(plan, &o, &e) == KILN_OK);
  if (e) {
    CHECK_ERR(kiln_context_create(e, &c), KILN_ERROR_RUNTIME, "memory limit of 1024 bytes");
    CHECK(c == NULL);
    kiln_engine_destroy(e);
    e = NULL;
  }
  o.memory_limit = 0;
  CHECK(kiln_engine_load_file_opts(plan, &o, &e) == KILN_OK && e);
  if (e) {
    CHECK(kiln_context_create(e, &c) == KILN_OK);
    kiln_context_destroy(c);
    kiln_engine_destroy(e);
    e = NULL;
  }
  CHECK(kiln_engine_load_file_opts(plan, NULL, &e) == KILN_OK && e);
  kiln_engine_destroy(e);
  e = NULL;
  o.struct_size = 1;
  CHECK_ERR(kiln_engine_load_file_opts(plan, &o, &e), KILN_ERROR_INVALID_ARGUMENT, "struct_size");
}

int main(int argc, char** argv) {
  kiln_engine* e = NULL;
  kiln_engine* from_memory = NULL;
  size_t size = 0, in_size = 0, out_size = 0;
  void *plan_bytes, *input, *torch_out;
  if (argc != 7) {
    fprintf(stderr, "usage: %s TINY.plan INPUT.raw TORCH_OUTPUT.raw DYNAMIC.plan WORKDIR PROFILE.plan\n", argv[0]);
    return 2;
  }
  input = read_file(argv[2], &in_size);
  torch_out = read_file(argv[3], &out_size);
  if (!input || in_size != 49152 || !torch_out || out_size != 40) {
    fprintf(stderr, "error: %s or %s is missing or has the wrong size\n", argv[2], argv[3]);
    return 1;
  }
  test_utilities();
  CHECK(kiln_engine_load_file(argv[1], &e) == KILN_OK);
  if (!e) return 1;
  test_queries(e);
  test_binding_errors(e);
  test_null_arguments(e, argv[1]);
  test_bad_plans(argv[1], argv[5]);
  test_dynamic(argv[4]);
  test_profile(argv[6]);
  test_thread_local_error();
  test_memory_limit(argv[1]);
  plan_bytes = read_file(argv[1], &size);
  CHECK(plan_bytes && kiln_engine_load_memory(plan_bytes, size, &from_memory) == KILN_OK);
  free(plan_bytes); /* the engine keeps its own copy */
  if (from_memory) test_run(from_memory, input, torch_out);
  test_run(e, input, torch_out);
  free(input);
  free(torch_out);
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
