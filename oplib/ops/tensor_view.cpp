#include "ops/tensor_view.h"

#include <cstring>

#include "ops/op.h"

namespace kiln {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: case DType::Int32: case DType::UInt32: return 4;
    case DType::UInt8: case DType::Int8: case DType::Bool: case DType::QUInt8: case DType::QInt8: return 1;
    case DType::UInt16: case DType::Int16: case DType::Float16: case DType::BFloat16: return 2;
    case DType::Int64: case DType::UInt64: case DType::Float64: return 8;
    default: return 0;
  }
}

bool dtype_valid(DType t) { return dtype_size(t) != 0; }

bool dtype_numeric(DType t) {
  switch (t) {
    case DType::Float32: case DType::Float64:
    case DType::Int8: case DType::Int16: case DType::Int32: case DType::Int64:
    case DType::UInt8: case DType::UInt16: case DType::UInt32: case DType::UInt64:
      return true;
    default:
      return false;
  }
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::UInt8: return "uint8";
    case DType::Int8: return "int8";
    case DType::UInt16: return "uint16";
    case DType::Int16: return "int16";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
    case DType::Float16: return "float16";
    case DType::Float64: return "float64";
    case DType::UInt32: return "uint32";
    case DType::UInt64: return "uint64";
    case DType::BFloat16: return "bfloat16";
    case DType::QUInt8: return "quint8";
    case DType::QInt8: return "qint8";
    default: return "undefined";
  }
}

size_t TensorDesc::elements() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d < 0 ? 0 : d);
  return n;
}

int64_t shape_elements(const Dims& s) {
  for (int64_t d : s)
    if (d < 0) return -1;
  for (int64_t d : s)
    if (d == 0) return 0;  // an empty tensor, however large its other dims
  int64_t n = 1;
  for (int64_t d : s)
    if (__builtin_mul_overflow(n, d, &n) || n > kMaxElements)
      throw Error("shape " + shape_str(s) + " has more than 2^40 elements: check the input shapes and values "
                  "that determine it");
  return n;
}

uint64_t shape_bytes(const Dims& s, DType t) {
  const int64_t n = shape_elements(s);
  return n < 0 ? 0 : static_cast<uint64_t>(n) * dtype_size(t);  // <= 2^40 * 8: no overflow
}

bool shape_static(const Dims& s) {
  for (int64_t d : s)
    if (d < 0) return false;
  return true;
}

std::string shape_str(const Dims& s) {
  if (s.empty()) return "scalar";
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += 'x';
    r += s[i] < 0 ? std::string("?") : std::to_string(s[i]);
  }
  return r;
}

std::vector<int64_t> shape_strides(const Dims& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int i = static_cast<int>(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

Dims broadcast_shapes(const Dims& a, const Dims& b, const std::string& what) {
  size_t r = std::max(a.size(), b.size());
  Dims out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else if (da < 0 || db < 0) out[i] = -1;
    else
      ops::fail(what + ": shapes " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
  }
  return out;
}

template <class F>
static auto dispatch_element(const TensorView& t, int64_t i, F&& f) {
  switch (t.dtype) {
    case DType::Float32: return f(static_cast<const float*>(t.data)[i]);
    case DType::Float64: return f(static_cast<const double*>(t.data)[i]);
    case DType::Int64: return f(static_cast<const int64_t*>(t.data)[i]);
    case DType::Int32: return f(static_cast<const int32_t*>(t.data)[i]);
    case DType::Int16: return f(static_cast<const int16_t*>(t.data)[i]);
    case DType::Int8: return f(static_cast<const int8_t*>(t.data)[i]);
    case DType::UInt8: case DType::Bool: return f(static_cast<const uint8_t*>(t.data)[i]);
    case DType::UInt16: return f(static_cast<const uint16_t*>(t.data)[i]);
    case DType::UInt32: return f(static_cast<const uint32_t*>(t.data)[i]);
    case DType::UInt64: return f(static_cast<const uint64_t*>(t.data)[i]);
    default: ops::fail(std::string("cannot read elements of dtype ") + dtype_name(t.dtype));
  }
}

double element_as_double(const TensorView& t, int64_t i) {
  return dispatch_element(t, i, [](auto v) { return static_cast<double>(v); });
}

int64_t element_as_int(const TensorView& t, int64_t i) {
  return dispatch_element(t, i, [](auto v) { return static_cast<int64_t>(v); });
}

std::vector<int64_t> to_int_vector(const TensorView& t) {
  std::vector<int64_t> v(static_cast<size_t>(t.elements()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = element_as_int(t, static_cast<int64_t>(i));
  return v;
}

}  // namespace kiln
