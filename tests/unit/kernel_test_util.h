// Differential testing of fast kernels against the op library's reference kernels: build a
// spec, fill random inputs, run both, compare.
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/kernel.h"
#include "ops/op.h"

namespace kiln::test {

// An owned dense tensor.
struct HostTensor {
  DType dtype = DType::Float32;
  Dims shape;
  std::vector<uint8_t> bytes;
  bool constant = false;  // handed to the kernel at creation as a weight

  HostTensor() = default;
  HostTensor(DType t, Dims s, bool is_const = false);
  TensorView view() { return {dtype, shape, bytes.data()}; }
  template <class T> T* as() { return reinterpret_cast<T*>(bytes.data()); }
  int64_t elements() const { return shape_elements(shape); }
};

// A tensor holding these values (checked against the shape's element count and T's size).
template <class T>
HostTensor host_tensor(DType t, Dims s, const std::vector<T>& v, bool is_const = false) {
  HostTensor h(t, std::move(s), is_const);
  EXPECT_EQ(static_cast<size_t>(h.elements()), v.size()) << "test data has the wrong size";
  EXPECT_EQ(dtype_size(t), sizeof(T)) << "test data has the wrong element type";
  if (!v.empty()) std::memcpy(h.bytes.data(), v.data(), std::min(h.bytes.size(), v.size() * sizeof(T)));
  return h;
}

// Uniform random values in [lo, hi] (integers: rounded) with a fixed seed.
HostTensor random_tensor(DType t, Dims s, uint32_t seed, double lo = -1.0, double hi = 1.0,
                         bool is_const = false);

// Infers the op's outputs for these inputs (absent optional inputs: dtype Undefined; constant
// inputs' values visible). num_outputs = 0 takes the smallest output count the op accepts.
std::vector<ops::TensorType> infer_outputs(const ops::Op& op, std::vector<HostTensor>& in, size_t num_outputs = 0);

// Runs the reference kernel.
std::vector<HostTensor> run_reference(const ops::Op& op, std::vector<HostTensor>& in, size_t num_outputs = 0);

// Runs the registered implementation `impl` of op.type() on poisoned outputs (so a kernel that
// skips elements cannot pass by luck); returns false (and runs nothing) when that
// implementation declines the spec.
bool run_kernel(const ops::Op& op, const std::string& impl, std::vector<HostTensor>& in,
                std::vector<HostTensor>& out, size_t num_outputs = 0);

// Max |a-b| / (atol + rtol*|b|) style comparison, with a useful failure message.
::testing::AssertionResult all_close(const HostTensor& got, const HostTensor& want,
                                     double rtol = 1e-4, double atol = 1e-5);

// Reference vs. `impl` on the given inputs: expects the kernel to accept the spec and to match.
void expect_kernel_matches_reference(const ops::Op& op, const std::string& impl,
                                     std::vector<HostTensor> in, double rtol = 1e-4, double atol = 1e-5,
                                     size_t num_outputs = 0);

// The message of the kiln::Error that op.infer() throws for these input types ("" if none).
std::string infer_error(const ops::Op& op, std::vector<ops::TensorType> in);
inline ops::TensorType f32(Dims s) { return {DType::Float32, std::move(s)}; }

}  // namespace kiln::test
