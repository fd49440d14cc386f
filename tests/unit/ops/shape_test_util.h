// Small helpers shared by the shape-family tests: typed tensors from literal values, reading
// results back, and one-output reference runs.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernel_test_util.h"
#include "ops/tensor/shape.h"

namespace kiln::test {

template <class T>
HostTensor make_tensor(DType t, Dims s, const std::vector<T>& v, bool is_const = false) {
  HostTensor h(t, std::move(s), is_const);
  EXPECT_EQ(static_cast<size_t>(h.elements()), v.size()) << "test tensor literal has the wrong size";
  EXPECT_EQ(sizeof(T), dtype_size(t)) << "test tensor literal has the wrong element type";
  if (!v.empty()) std::memcpy(h.bytes.data(), v.data(), std::min(h.bytes.size(), v.size() * sizeof(T)));
  return h;
}

inline HostTensor f32(Dims s, const std::vector<float>& v, bool c = false) {
  return make_tensor(DType::Float32, std::move(s), v, c);
}
inline HostTensor i64(Dims s, const std::vector<int64_t>& v, bool c = false) {
  return make_tensor(DType::Int64, std::move(s), v, c);
}
// A 1-D int64 constant, the usual form of shape-like inputs.
inline HostTensor ints(const std::vector<int64_t>& v) {
  return i64({static_cast<int64_t>(v.size())}, v, true);
}
// 0, 1, 2, ... as float32.
inline HostTensor iota(Dims s, DType t = DType::Float32) {
  HostTensor h(t, std::move(s));
  TensorView v = h.view();
  for (int64_t i = 0; i < h.elements(); ++i) {
    switch (t) {
      case DType::Float32: v.as<float>()[i] = static_cast<float>(i); break;
      case DType::Int64: v.as<int64_t>()[i] = i; break;
      case DType::Int32: v.as<int32_t>()[i] = static_cast<int32_t>(i); break;
      case DType::Int8: v.as<int8_t>()[i] = static_cast<int8_t>(i); break;
      case DType::UInt8: v.as<uint8_t>()[i] = static_cast<uint8_t>(i); break;
      default: ADD_FAILURE() << "iota: unsupported dtype";
    }
  }
  return h;
}

template <class T>
std::vector<T> values(const HostTensor& h) {
  std::vector<T> v(h.bytes.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), h.bytes.data(), v.size() * sizeof(T));
  return v;
}

// Runs the op's reference kernel and returns output i.
inline HostTensor run1(const ops::Op& op, std::vector<HostTensor> in, size_t i = 0) {
  auto out = run_reference(op, in);
  if (i >= out.size()) {
    ADD_FAILURE() << "op produced " << out.size() << " outputs";
    return {};
  }
  return out[i];
}

// Infers the op on inputs given as types only (no data), with the given number of outputs.
inline std::vector<ops::TensorType> infer_types(const ops::Op& op, std::vector<ops::TensorType> in,
                                                size_t outs = 1) {
  ops::InferContext ctx(std::move(in), {}, outs);
  op.infer(ctx);
  return ctx.outputs();
}

// Expects infer() to fail with a message containing `needle`.
#define EXPECT_INFER_FAILS(op, inputs, needle)                                        \
  do {                                                                                 \
    auto kiln_in_ = (inputs);                                                          \
    try {                                                                              \
      ::kiln::test::infer_outputs((op), kiln_in_);                                     \
      ADD_FAILURE() << "infer() accepted the inputs; expected an error with '" << (needle) << "'"; \
    } catch (const ::kiln::Error& e) {                                                 \
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();    \
    }                                                                                  \
  } while (0)

}  // namespace kiln::test
