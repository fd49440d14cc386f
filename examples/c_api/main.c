/* Example: classify one image with the kiln C API (kiln/runtime.h), written in plain C99.
 * The input is read straight into the caller's own buffer and the logits are written straight
 * into another one: both are bound to the context, so kiln copies nothing.
 *
 *   c_classify MODEL.plan INPUT.npy|INPUT.raw
 *
 * INPUT is float32 with the plan's input shape: a NumPy .npy file (version 1 or 2 header,
 * little-endian '<f4', C order) or raw bytes. Prints the top-1 class of output 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/runtime.h"

static int fail(const char* what) {
  fprintf(stderr, "error: %s\n", what);
  return 1;
}

static int kiln_fail(kiln_status s) {
  fprintf(stderr, "error: %s (%s)\n", kiln_last_error(), kiln_status_name(s));
  return 1;
}

/* Reads `bytes` bytes of float32 data from a .npy or raw file into dst. */
static int read_input(const char* path, void* dst, size_t bytes) {
  FILE* f = fopen(path, "rb");
  unsigned char magic[12];
  long data_start = 0, size;
  if (!f) {
    fprintf(stderr, "error: %s: cannot open the input file\n", path);
    return 1;
  }
  if (fread(magic, 1, sizeof magic, f) == sizeof magic && memcmp(magic, "\x93NUMPY", 6) == 0) {
    /* Version 1 has a 2-byte header length, versions 2 and 3 a 4-byte one. */
    size_t header_len = (size_t)(magic[8] | magic[9] << 8);
    if (magic[6] != 1) header_len |= (size_t)magic[10] << 16 | (size_t)magic[11] << 24;
    size_t prefix = magic[6] == 1 ? 10 : 12;
    char* header = malloc(header_len + 1);
    if (!header) return fclose(f), fail("out of memory");
    fseek(f, (long)prefix, SEEK_SET);
    if (fread(header, 1, header_len, f) != header_len) header_len = 0;
    header[header_len] = 0;
    if (!strstr(header, "'<f4'") || strstr(header, "'fortran_order': True")) {
      free(header);
      fclose(f);
      fprintf(stderr, "error: %s: the .npy array must be little-endian float32 in C order\n", path);
      return 1;
    }
    free(header);
    data_start = (long)(prefix + header_len);
  }
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  if (size < data_start || (size_t)(size - data_start) != bytes) {
    fclose(f);
    fprintf(stderr, "error: %s: holds %ld data bytes but the plan's input needs %zu\n", path,
            size < data_start ? 0L : size - data_start, bytes);
    return 1;
  }
  fseek(f, data_start, SEEK_SET);
  if (fread(dst, 1, bytes, f) != bytes) {
    fclose(f);
    fprintf(stderr, "error: %s: reading the input failed\n", path);
    return 1;
  }
  fclose(f);
  return 0;
}

static int classify(kiln_engine* engine, const char* input_path) {
  kiln_tensor_info in, out;
  kiln_context* ctx = NULL;
  kiln_status s;
  float *input = NULL, *logits = NULL;
  size_t n_in, classes, best = 0, i;
  int rc = 1;

  if ((s = kiln_engine_num_inputs(engine, &n_in)) != KILN_OK) return kiln_fail(s);
  if (n_in != 1) return fail("this example expects a plan with one input");
  if ((s = kiln_engine_input_info(engine, 0, &in)) != KILN_OK) return kiln_fail(s);
  if ((s = kiln_engine_output_info(engine, 0, &out)) != KILN_OK) return kiln_fail(s);
  if (in.dtype != KILN_DTYPE_FLOAT32 || out.dtype != KILN_DTYPE_FLOAT32 || out.bytes == 0)
    return fail("this example expects a float32 input and a float32 output of fixed shape");

  /* malloc returns memory aligned for any element type, as kiln requires of bound buffers. */
  input = malloc(in.bytes);
  logits = malloc(out.bytes);
  if (!input || !logits) {
    fail("out of memory");
    goto done;
  }
  if (read_input(input_path, input, in.bytes)) goto done;

  if ((s = kiln_context_create(engine, &ctx)) != KILN_OK ||
      (s = kiln_context_set_input(ctx, 0, input, in.bytes)) != KILN_OK ||
      (s = kiln_context_set_output(ctx, 0, logits, out.bytes)) != KILN_OK ||
      (s = kiln_context_run(ctx)) != KILN_OK) {
    kiln_fail(s);
    goto done;
  }
  classes = out.bytes / sizeof(float);
  for (i = 1; i < classes; ++i)
    if (logits[i] > logits[best]) best = i;
  printf("input '%s', output '%s' with %zu scores\n", in.name, out.name, classes);
  printf("class %zu logit %.4f\n", best, logits[best]);
  rc = 0;
done:
  kiln_context_destroy(ctx);
  free(input);
  free(logits);
  return rc;
}

int main(int argc, char** argv) {
  kiln_engine* engine = NULL;
  kiln_status s;
  int rc;
  if (argc != 3) {
    fprintf(stderr, "usage: %s MODEL.plan INPUT.npy|INPUT.raw\n", argv[0]);
    return 2;
  }
  if (kiln_c_api_version() != KILN_C_API_VERSION) return fail("libkiln_runtime does not match kiln/runtime.h");
  if ((s = kiln_engine_load_file(argv[1], &engine)) != KILN_OK) return kiln_fail(s);
  rc = classify(engine, argv[2]);
  kiln_engine_destroy(engine);
  return rc;
}
