#include "tensor_io.h"

#include <cstring>
#include <fstream>
#include <random>

#include <fmt/format.h>

#include "cli_util.h"
#include "json_writer.h"

namespace kiln::cli {

void fill_random(const TensorDesc& d, void* dst, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uf(-1.f, 1.f);
  std::uniform_int_distribution<int> ui(0, 3);
  size_t n = d.elements();
  switch (d.dtype) {
    case DType::Float32: for (size_t i = 0; i < n; ++i) static_cast<float*>(dst)[i] = uf(rng); break;
    case DType::Float64: for (size_t i = 0; i < n; ++i) static_cast<double*>(dst)[i] = uf(rng); break;
    case DType::Int64: for (size_t i = 0; i < n; ++i) static_cast<int64_t*>(dst)[i] = ui(rng); break;
    case DType::Int32: for (size_t i = 0; i < n; ++i) static_cast<int32_t*>(dst)[i] = ui(rng); break;
    case DType::Bool: for (size_t i = 0; i < n; ++i) static_cast<uint8_t*>(dst)[i] = ui(rng) & 1; break;
    default:
      for (size_t i = 0; i < d.bytes(); ++i) static_cast<uint8_t*>(dst)[i] = static_cast<uint8_t>(ui(rng));
  }
}

void write_npy(const std::string& path, const TensorDesc& d, const void* data) {
  const char* descr = npy_descr(d.dtype);
  if (!descr) throw Error(fmt::format("{}: cannot write {} as .npy", path, dtype_name(d.dtype)));
  std::string shape;  // numpy's spelling: "", "3,", "1, 3, 224"
  for (size_t i = 0; i < d.shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(d.shape[i]);
  if (d.shape.size() == 1) shape += ",";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, shape);
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(1);
  out.push_back(0);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  out.append(static_cast<const char*>(data), d.bytes());
  write_file_atomic(path, out.data(), out.size());
}

namespace {

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (man << 13);  // inf / NaN
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else {  // subnormal: normalise into float32's wider exponent range
    exp = 113;
    while (!(man & 0x400)) man <<= 1, --exp;
    bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <class T>
T element(const void* data, size_t i) {
  T v;
  std::memcpy(&v, static_cast<const char*>(data) + i * sizeof(T), sizeof(T));
  return v;
}

void write_values(JsonWriter& w, const TensorDesc& d, const void* p) {
  const size_t n = d.elements();
  for (size_t i = 0; i < n; ++i) {
    switch (d.dtype) {
      case DType::Float32: w.value(element<float>(p, i)); break;
      case DType::Float64: w.value(element<double>(p, i)); break;
      case DType::Float16: w.value(half_to_float(element<uint16_t>(p, i))); break;
      case DType::BFloat16: w.value(bf16_to_float(element<uint16_t>(p, i))); break;
      case DType::Int8: w.value(int(element<int8_t>(p, i))); break;
      case DType::UInt8: w.value(int(element<uint8_t>(p, i))); break;
      case DType::Int16: w.value(int(element<int16_t>(p, i))); break;
      case DType::UInt16: w.value(int(element<uint16_t>(p, i))); break;
      case DType::Int32: w.value(element<int32_t>(p, i)); break;
      case DType::UInt32: w.value(element<uint32_t>(p, i)); break;
      case DType::Int64: w.value(element<int64_t>(p, i)); break;
      case DType::UInt64: w.value(element<uint64_t>(p, i)); break;
      case DType::Bool: w.value(element<uint8_t>(p, i) != 0); break;
      default:
        throw Error(fmt::format("--exportOutput: cannot write {} output '{}' as JSON", dtype_name(d.dtype), d.name));
    }
  }
}

}  // namespace

std::string outputs_json(const std::vector<TensorDesc>& descs, const std::vector<const void*>& data) {
  JsonWriter w;
  w.begin_array(true);
  for (size_t t = 0; t < descs.size(); ++t) {
    const TensorDesc& d = descs[t];
    std::string dims;
    for (size_t i = 0; i < d.shape.size(); ++i) dims += (i ? "x" : "") + std::to_string(d.shape[i]);
    w.begin_object().field("name", d.name).field("dimensions", dims).key("shape").begin_array();
    for (int64_t s : d.shape) w.value(s);
    w.end_array().field("dtype", dtype_name(d.dtype)).key("values").begin_array();
    write_values(w, d, data[t]);
    w.end_array().end_object();
  }
  return w.end_array().str() + "\n";
}

void write_outputs_json(const std::string& path, const std::vector<TensorDesc>& descs,
                        const std::vector<const void*>& data) {
  const std::string out = outputs_json(descs, data);
  write_file_atomic(path, out.data(), out.size());
}

std::string sanitize_name(const std::string& name) {
  std::string r = name;
  for (char& c : r)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) c = '_';
  return r;
}

}  // namespace kiln::cli
