// Helpers for op tests (LayerNorm, Resize, Trilu/EyeLike/OneHot, IsNaN/IsInf/Sign, signal...): typed
// literal tensors, reference and fast-kernel runs with an explicit output count (kernel_test_util
// infers one output), and infer() error capture with constants visible.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernel_test_util.h"

namespace kiln::test::literal {

template <class T>
HostTensor lit(DType t, Dims s, const std::vector<T>& v, bool is_const = false) {
  return host_tensor(t, std::move(s), v, is_const);
}
inline HostTensor F(Dims s, const std::vector<float>& v, bool c = false) {
  return lit(DType::Float32, std::move(s), v, c);
}
inline HostTensor D(Dims s, const std::vector<double>& v, bool c = false) {
  return lit(DType::Float64, std::move(s), v, c);
}
inline HostTensor I64(Dims s, const std::vector<int64_t>& v, bool c = false) {
  return lit(DType::Int64, std::move(s), v, c);
}
inline HostTensor I32(Dims s, const std::vector<int32_t>& v, bool c = false) {
  return lit(DType::Int32, std::move(s), v, c);
}
inline HostTensor absent() { return HostTensor(DType::Undefined, {}); }

template <class T>
std::vector<T> vals(const HostTensor& h) {
  std::vector<T> v(h.bytes.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), h.bytes.data(), v.size() * sizeof(T));
  return v;
}

// infer() with `n` outputs, constant inputs visible.
std::vector<ops::TensorType> infer_n(const ops::Op& op, std::vector<HostTensor>& in, size_t n);
// The reference kernel with `n` outputs.
std::vector<HostTensor> ref_n(const ops::Op& op, std::vector<HostTensor> in, size_t n = 1);
// Implementation `impl` with `n` outputs; false when it declines the spec.
bool kernel_n(const ops::Op& op, const std::string& impl, std::vector<HostTensor> in, size_t n,
              std::vector<HostTensor>& out);
// Expects `impl` to accept the spec and every output to match the reference.
void expect_kernel_n(const ops::Op& op, const std::string& impl, std::vector<HostTensor> in, size_t n,
                     double rtol = 1e-4, double atol = 1e-5);
// The message infer() throws ("" if none), constants visible.
std::string infer_err(const ops::Op& op, std::vector<HostTensor> in, size_t n = 1);

}  // namespace kiln::test::literal
