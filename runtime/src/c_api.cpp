// The C API (kiln/runtime.h) over the C++ runtime: opaque handles wrapping Engine and
// ExecutionContext, every entry point a try/catch that turns exceptions into a kiln_status and a
// thread-local message, so no exception ever unwinds into C code.
#include "kiln/runtime.h"

#include <cerrno>
#include <cstdio>
#include <cstddef>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <new>
#include <string>

#include "kiln/runtime.hpp"

struct kiln_engine {
  std::shared_ptr<const kiln::Engine> engine;
};

struct kiln_context {
  std::shared_ptr<const kiln::Engine> engine;  // keeps the engine alive for the context
  std::unique_ptr<kiln::ExecutionContext> ctx;
};

namespace {

thread_local std::string t_last_error;

// A failure detected by the wrapper itself, with the status it maps to.
struct CError {
  kiln_status status;
  std::string message;
};

kiln_status fail(kiln_status s, const std::string& message) {
  try {
    t_last_error = message;
  } catch (...) {
    // Out of memory while recording the error: the status still tells the caller what happened.
  }
  return s;
}

// Runs f, mapping each exception to a status; kiln::Error maps to `kiln_error_status`, which
// depends on the call (a bad plan while loading, a failed inference while running...).
template <class F>
kiln_status guarded(kiln_status kiln_error_status, F&& f) noexcept {
  try {
    f();
    return KILN_OK;
  } catch (const CError& e) {
    return fail(e.status, e.message);
  } catch (const kiln::Error& e) {
    return fail(kiln_error_status, e.what());
  } catch (const std::bad_alloc&) {
    return fail(KILN_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(KILN_ERROR_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(KILN_ERROR_INTERNAL, "internal error: unknown exception");
  }
}

void require(const void* p, const char* what, const char* fn) {
  if (!p) throw CError{KILN_ERROR_INVALID_ARGUMENT, std::string(fn) + ": " + what + " is NULL"};
}

void check_index(size_t index, size_t count, const char* what, const char* fn) {
  if (index >= count)
    throw CError{KILN_ERROR_INVALID_ARGUMENT, std::string(fn) + ": " + what + " index " + std::to_string(index) +
                                                  " is out of range: the plan has " + std::to_string(count) + " " +
                                                  what + (count == 1 ? "" : "s")};
}

void fill_info(const kiln::TensorDesc& d, kiln_tensor_info* info) {
  bool dynamic = false;
  for (int64_t x : d.shape) dynamic |= x < 0;
  info->name = d.name.c_str();
  info->dtype = static_cast<kiln_dtype>(d.dtype);
  info->rank = d.shape.size();
  info->dims = d.shape.data();
  info->bytes = dynamic ? 0 : d.bytes();
}

size_t find_name(const std::vector<kiln::TensorDesc>& v, const char* name, const char* what, const char* fn) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i].name == name) return i;
  std::string names;
  for (auto& d : v) names += (names.empty() ? "'" : ", '") + d.name + "'";
  throw CError{KILN_ERROR_INVALID_ARGUMENT, std::string(fn) + ": the plan has no " + what + " named '" + name +
                                                "'; its " + what + "s are " + names};
}

}  // namespace

extern "C" {

const char* kiln_version(void) { return KILN_VERSION; }
int kiln_c_api_version(void) { return KILN_C_API_VERSION; }
const char* kiln_last_error(void) { return t_last_error.c_str(); }

const char* kiln_status_name(kiln_status status) {
  switch (status) {
    case KILN_OK: return "KILN_OK";
    case KILN_ERROR_INVALID_ARGUMENT: return "KILN_ERROR_INVALID_ARGUMENT";
    case KILN_ERROR_IO: return "KILN_ERROR_IO";
    case KILN_ERROR_INVALID_PLAN: return "KILN_ERROR_INVALID_PLAN";
    case KILN_ERROR_RUNTIME: return "KILN_ERROR_RUNTIME";
    case KILN_ERROR_OUT_OF_MEMORY: return "KILN_ERROR_OUT_OF_MEMORY";
    case KILN_ERROR_INTERNAL: return "KILN_ERROR_INTERNAL";
  }
  return "unknown status";
}

const char* kiln_dtype_name(kiln_dtype dtype) {
  const auto t = static_cast<kiln::DType>(dtype);
  return kiln::dtype_valid(t) ? kiln::dtype_name(t) : "undefined";
}

size_t kiln_dtype_size(kiln_dtype dtype) {
  const auto t = static_cast<kiln::DType>(dtype);
  return kiln::dtype_valid(t) ? kiln::dtype_size(t) : 0;
}

kiln_status kiln_engine_load_file(const char* path, kiln_engine** engine) {
  return kiln_engine_load_file_opts(path, nullptr, engine);
}

kiln_status kiln_engine_load_file_opts(const char* path, const kiln_load_options* options, kiln_engine** engine) {
  return guarded(KILN_ERROR_INVALID_PLAN, [&] {
    require(path, "path", "kiln_engine_load_file");
    require(engine, "engine", "kiln_engine_load_file");
    kiln::LoadOptions lo;
    if (options) {
      // Fields past what the caller's struct holds keep their defaults.
      if (options->struct_size < offsetof(kiln_load_options, retune) + sizeof(int))
        throw CError{KILN_ERROR_INVALID_ARGUMENT, "kiln_engine_load_file_opts: options->struct_size is " +
                                                      std::to_string(options->struct_size) +
                                                      "; set it to sizeof(kiln_load_options)"};
      lo.retune = options->retune != 0;
      if (options->struct_size >= offsetof(kiln_load_options, memory_limit) + sizeof(uint64_t))
        lo.memory_limit = options->memory_limit;
    }
    // Tell an unreadable file (KILN_ERROR_IO) from a bad plan; Engine::load_file reports both
    // as kiln::Error.
    if (std::FILE* f = std::fopen(path, "rb")) {
      std::fclose(f);
    } else {
      throw CError{KILN_ERROR_IO,
                   std::string(path) + ": cannot open the plan file (" + std::strerror(errno) + ")"};
    }
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      throw CError{KILN_ERROR_IO, std::string(path) + ": is a directory, not a plan file"};
    auto h = std::make_unique<kiln_engine>();
    h->engine = kiln::Engine::load_file(path, lo);
    *engine = h.release();
  });
}

kiln_status kiln_engine_load_memory(const void* data, size_t size, kiln_engine** engine) {
  return guarded(KILN_ERROR_INVALID_PLAN, [&] {
    require(data, "data", "kiln_engine_load_memory");
    require(engine, "engine", "kiln_engine_load_memory");
    auto h = std::make_unique<kiln_engine>();
    h->engine = kiln::Engine::load_memory({static_cast<const uint8_t*>(data), size});
    *engine = h.release();
  });
}

void kiln_engine_destroy(kiln_engine* engine) { delete engine; }

kiln_status kiln_engine_num_inputs(const kiln_engine* engine, size_t* count) {
  return guarded(KILN_ERROR_INTERNAL, [&] {
    require(engine, "engine", "kiln_engine_num_inputs");
    require(count, "count", "kiln_engine_num_inputs");
    *count = engine->engine->inputs().size();
  });
}

kiln_status kiln_engine_num_outputs(const kiln_engine* engine, size_t* count) {
  return guarded(KILN_ERROR_INTERNAL, [&] {
    require(engine, "engine", "kiln_engine_num_outputs");
    require(count, "count", "kiln_engine_num_outputs");
    *count = engine->engine->outputs().size();
  });
}

kiln_status kiln_engine_input_info(const kiln_engine* engine, size_t index, kiln_tensor_info* info) {
  return guarded(KILN_ERROR_INTERNAL, [&] {
    require(engine, "engine", "kiln_engine_input_info");
    require(info, "info", "kiln_engine_input_info");
    const auto& v = engine->engine->inputs();
    check_index(index, v.size(), "input", "kiln_engine_input_info");
    fill_info(v[index], info);
  });
}

kiln_status kiln_engine_output_info(const kiln_engine* engine, size_t index, kiln_tensor_info* info) {
  return guarded(KILN_ERROR_INTERNAL, [&] {
    require(engine, "engine", "kiln_engine_output_info");
    require(info, "info", "kiln_engine_output_info");
    const auto& v = engine->engine->outputs();
    check_index(index, v.size(), "output", "kiln_engine_output_info");
    fill_info(v[index], info);
  });
}

kiln_status kiln_engine_input_index(const kiln_engine* engine, const char* name, size_t* index) {
  return guarded(KILN_ERROR_INTERNAL, [&] {
    require(engine, "engine", "kiln_engine_input_index");
    require(name, "name", "kiln_engine_input_index");
    require(index, "index", "kiln_engine_input_index");
    *index = find_name(engine->engine->inputs(), name, "input", "kiln_engine_input_index");
  });
}

kiln_status kiln_engine_output_index(const kiln_engine* engine, const char* name, size_t* index) {
  return guarded(KILN_ERROR_INTERNAL, [&] {
    require(engine, "engine", "kiln_engine_output_index");
    require(name, "name", "kiln_engine_output_index");
    require(index, "index", "kiln_engine_output_index");
    *index = find_name(engine->engine->outputs(), name, "output", "kiln_engine_output_index");
  });
}

kiln_status kiln_context_create(const kiln_engine* engine, kiln_context** context) {
  return guarded(KILN_ERROR_RUNTIME, [&] {
    require(engine, "engine", "kiln_context_create");
    require(context, "context", "kiln_context_create");
    auto h = std::make_unique<kiln_context>();
    h->engine = engine->engine;
    h->ctx = engine->engine->create_context();
    *context = h.release();
  });
}

void kiln_context_destroy(kiln_context* context) { delete context; }

// Binding errors (size, alignment, overlap) are the caller's: kiln::Error -> INVALID_ARGUMENT.
kiln_status kiln_context_set_input(kiln_context* context, size_t index, const void* data, size_t bytes) {
  return guarded(KILN_ERROR_INVALID_ARGUMENT, [&] {
    require(context, "context", "kiln_context_set_input");
    check_index(index, context->engine->inputs().size(), "input", "kiln_context_set_input");
    context->ctx->set_input_buffer(index, data, bytes);
  });
}

kiln_status kiln_context_set_output(kiln_context* context, size_t index, void* data, size_t bytes) {
  return guarded(KILN_ERROR_INVALID_ARGUMENT, [&] {
    require(context, "context", "kiln_context_set_output");
    check_index(index, context->engine->outputs().size(), "output", "kiln_context_set_output");
    context->ctx->set_output_buffer(index, data, bytes);
  });
}

kiln_status kiln_context_output_is_zero_copy(const kiln_context* context, size_t index, int* zero_copy) {
  return guarded(KILN_ERROR_INTERNAL, [&] {
    require(context, "context", "kiln_context_output_is_zero_copy");
    require(zero_copy, "zero_copy", "kiln_context_output_is_zero_copy");
    check_index(index, context->engine->outputs().size(), "output", "kiln_context_output_is_zero_copy");
    *zero_copy = context->ctx->output_is_zero_copy(index) ? 1 : 0;
  });
}

kiln_status kiln_context_input_buffer(kiln_context* context, size_t index, void** data, size_t* bytes) {
  return guarded(KILN_ERROR_INTERNAL, [&] {
    require(context, "context", "kiln_context_input_buffer");
    require(data, "data", "kiln_context_input_buffer");
    const auto& v = context->engine->inputs();
    check_index(index, v.size(), "input", "kiln_context_input_buffer");
    *data = context->ctx->input(index);
    size_t n = kiln::dtype_size(v[index].dtype);
    for (int64_t d : context->ctx->input_shape(index)) n *= static_cast<size_t>(d);
    if (bytes) *bytes = n;
  });
}

kiln_status kiln_context_output_buffer(const kiln_context* context, size_t index, const void** data,
                                       size_t* bytes) {
  return guarded(KILN_ERROR_INTERNAL, [&] {
    require(context, "context", "kiln_context_output_buffer");
    require(data, "data", "kiln_context_output_buffer");
    const auto& v = context->engine->outputs();
    check_index(index, v.size(), "output", "kiln_context_output_buffer");
    size_t n = kiln::dtype_size(v[index].dtype);
    for (int64_t d : context->ctx->output_shape(index)) n *= d < 0 ? 0 : static_cast<size_t>(d);
    *data = context->ctx->output(index);
    if (bytes) *bytes = n;
  });
}

kiln_status kiln_context_output_shape(const kiln_context* context, size_t index, int64_t* dims, size_t capacity,
                                      size_t* rank) {
  return guarded(KILN_ERROR_INTERNAL, [&] {
    require(context, "context", "kiln_context_output_shape");
    require(rank, "rank", "kiln_context_output_shape");
    check_index(index, context->engine->outputs().size(), "output", "kiln_context_output_shape");
    const std::vector<int64_t> shape = context->ctx->output_shape(index);
    if (shape.size() > capacity || (!dims && !shape.empty()))
      throw CError{KILN_ERROR_INVALID_ARGUMENT, "kiln_context_output_shape: output '" +
                                                    context->engine->outputs()[index].name + "' has rank " +
                                                    std::to_string(shape.size()) + " but dims has room for " +
                                                    std::to_string(dims ? capacity : 0)};
    for (size_t i = 0; i < shape.size(); ++i) dims[i] = shape[i];
    *rank = shape.size();
  });
}

kiln_status kiln_engine_input_range(const kiln_engine* engine, size_t index, const int64_t** min_dims,
                                    const int64_t** max_dims, size_t* rank) {
  return guarded(KILN_ERROR_INTERNAL, [&] {
    require(engine, "engine", "kiln_engine_input_range");
    require(min_dims, "min_dims", "kiln_engine_input_range");
    require(max_dims, "max_dims", "kiln_engine_input_range");
    require(rank, "rank", "kiln_engine_input_range");
    const auto& v = engine->engine->inputs();
    check_index(index, v.size(), "input", "kiln_engine_input_range");
    *min_dims = v[index].min_shape.data();
    *max_dims = v[index].max_shape.data();
    *rank = v[index].shape.size();
  });
}

kiln_status kiln_context_set_input_shape(kiln_context* context, size_t index, const int64_t* dims, size_t rank) {
  // A shape outside the profile is the caller's argument at fault, not a failed inference.
  return guarded(KILN_ERROR_INVALID_ARGUMENT, [&] {
    require(context, "context", "kiln_context_set_input_shape");
    if (rank) require(dims, "dims", "kiln_context_set_input_shape");
    check_index(index, context->engine->inputs().size(), "input", "kiln_context_set_input_shape");
    if (rank > KILN_MAX_RANK)
      throw CError{KILN_ERROR_INVALID_ARGUMENT, "kiln_context_set_input_shape: rank " + std::to_string(rank) +
                                                    " is above KILN_MAX_RANK"};
    context->ctx->set_input_shape(index, std::span<const int64_t>(dims, rank));
  });
}

kiln_status kiln_context_input_shape(const kiln_context* context, size_t index, int64_t* dims, size_t capacity,
                                     size_t* rank) {
  return guarded(KILN_ERROR_INTERNAL, [&] {
    require(context, "context", "kiln_context_input_shape");
    require(rank, "rank", "kiln_context_input_shape");
    check_index(index, context->engine->inputs().size(), "input", "kiln_context_input_shape");
    const std::vector<int64_t> shape = context->ctx->input_shape(index);
    if (shape.size() > capacity || (!dims && !shape.empty()))
      throw CError{KILN_ERROR_INVALID_ARGUMENT, "kiln_context_input_shape: input '" +
                                                    context->engine->inputs()[index].name + "' has rank " +
                                                    std::to_string(shape.size()) + " but dims has room for " +
                                                    std::to_string(dims ? capacity : 0)};
    for (size_t i = 0; i < shape.size(); ++i) dims[i] = shape[i];
    *rank = shape.size();
  });
}

kiln_status kiln_context_run(kiln_context* context) {
  return guarded(KILN_ERROR_RUNTIME, [&] {
    require(context, "context", "kiln_context_run");
    context->ctx->run();
  });
}

}  // extern "C"
