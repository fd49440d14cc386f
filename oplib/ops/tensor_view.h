// Non-owning views of dense tensors and the small shape helpers every op and kernel shares.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/runtime.hpp"

namespace kiln {

using Dims = std::vector<int64_t>;

// float32/float64 and the 8-64-bit integers: the types with arithmetic in every reference kernel
// (not bool, float16 or bfloat16).
// A type an ONNX model may name (a Cast target, an initializer, an input): valid and not kiln's own.
inline bool dtype_onnx(DType t) { return dtype_valid(t) && !dtype_quantized(t); }
bool dtype_numeric(DType t);  // -1 marks a dimension not known at compile time

// Overflow-checked sizes. Every element count and byte size of a tensor goes through these (and
// tensor/shape.h's checked_elements), so a hostile shape -- a crafted profile, an input value feeding
// Reshape, Range or Tile -- ends in a kiln::Error instead of wrapping around to a small buffer
// that a kernel then overruns. No tensor may hold more than kMaxElements.
constexpr int64_t kMaxElements = int64_t(1) << 40;
int64_t shape_elements(const Dims& s);  // -1 if any dim is unknown; throws above kMaxElements
// Bytes of a dense row-major tensor (unknown dims count as 0); throws above kMaxElements elements.
uint64_t shape_bytes(const Dims& s, DType t);
bool shape_static(const Dims& s);
std::string shape_str(const Dims& s);   // "1x3x224x224", "?" for unknown dims
// Row-major strides in elements.
std::vector<int64_t> shape_strides(const Dims& s);
// numpy broadcasting of two shapes; throws kiln::Error with `what` in the message on mismatch.
Dims broadcast_shapes(const Dims& a, const Dims& b, const std::string& what);

struct TensorView {
  DType dtype = DType::Undefined;
  Dims shape;
  void* data = nullptr;

  int64_t elements() const { return shape_elements(shape); }
  size_t bytes() const { return shape_bytes(shape, dtype); }
  template <class T> T* as() const { return static_cast<T*>(data); }
};

// Reads element i of a tensor of any numeric dtype as double / int64 (for shape inputs etc.).
double element_as_double(const TensorView& t, int64_t i);
int64_t element_as_int(const TensorView& t, int64_t i);
std::vector<int64_t> to_int_vector(const TensorView& t);

}  // namespace kiln
