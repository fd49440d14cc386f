#include "tensor_io.h"

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include "cli_util.h"
#include "json_writer.h"

namespace kiln::cli {

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open the input file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "x" : "") + std::to_string(s[i]);
  return r.empty() ? "scalar" : r;
}

const char* npy_descr(DType t) {
  switch (t) {
    case DType::Float32: return "<f4";
    case DType::Float64: return "<f8";
    case DType::Float16: return "<f2";
    case DType::Int8: return "|i1";
    case DType::UInt8: return "|u1";
    case DType::Int16: return "<i2";
    case DType::UInt16: return "<u2";
    case DType::Int32: return "<i4";
    case DType::UInt32: return "<u4";
    case DType::Int64: return "<i8";
    case DType::UInt64: return "<u8";
    case DType::Bool: return "|b1";
    case DType::BFloat16: return "<u2";  // numpy has no bfloat16: its bits, as tools exchange them
    default: return nullptr;
  }
}

void check_shape(const std::string& path, const TensorDesc& d, const std::vector<int64_t>& got, const std::string& got_type) {
  if (got != d.shape || got_type != dtype_name(d.dtype))
    throw Error(fmt::format("{}: holds {}[{}] but input '{}' needs {}[{}]", path, got_type, shape_text(got), d.name,
                            dtype_name(d.dtype), shape_text(d.shape)));
}

void load_pb(const std::string& path, const std::string& bytes, const TensorDesc& d, void* dst) {
  onnx::TensorProto t;
  if (!t.ParseFromString(bytes)) throw Error(fmt::format("{}: not a valid ONNX TensorProto", path));
  std::vector<int64_t> shape(t.dims().begin(), t.dims().end());
  DType stored = static_cast<DType>(t.data_type());
  // numpy has no bfloat16, so tools (onnx's test data among them) store its bits as uint16.
  if (stored == DType::UInt16 && d.dtype == DType::BFloat16) stored = DType::BFloat16;
  check_shape(path, d, shape, dtype_name(stored));
  size_t n = d.elements();
  if (t.has_raw_data()) {
    if (t.raw_data().size() != d.bytes())
      throw Error(fmt::format("{}: raw_data has {} bytes, expected {}", path, t.raw_data().size(), d.bytes()));
    std::memcpy(dst, t.raw_data().data(), d.bytes());
    return;
  }
  auto need = [&](int have) {
    if (static_cast<size_t>(have) != n)
      throw Error(fmt::format("{}: has {} values, expected {}", path, have, n));
  };
  switch (d.dtype) {
    case DType::Float32: need(t.float_data_size()); std::memcpy(dst, t.float_data().data(), d.bytes()); break;
    case DType::Float64: need(t.double_data_size()); std::memcpy(dst, t.double_data().data(), d.bytes()); break;
    case DType::Int64: need(t.int64_data_size()); std::memcpy(dst, t.int64_data().data(), d.bytes()); break;
    case DType::Int32: need(t.int32_data_size()); std::memcpy(dst, t.int32_data().data(), d.bytes()); break;
    default:
      throw Error(fmt::format("{}: {} tensors must use raw_data", path, dtype_name(d.dtype)));
  }
}

void load_npy(const std::string& path, const std::string& bytes, const TensorDesc& d, void* dst) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0)
    throw Error(fmt::format("{}: not a .npy file (bad magic)", path));
  unsigned major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw Error(fmt::format("{}: truncated .npy header", path));
    uint32_t l;
    std::memcpy(&l, bytes.data() + 8, 4);
    header_len = l;
    header_start = 12;
  } else {
    throw Error(fmt::format("{}: unsupported .npy version {}", path, major));
  }
  if (header_start + header_len > bytes.size()) throw Error(fmt::format("{}: truncated .npy header", path));
  std::string h = bytes.substr(header_start, header_len);
  auto field = [&](const std::string& key) {
    size_t p = h.find("'" + key + "'");
    if (p == std::string::npos) throw Error(fmt::format("{}: .npy header lacks '{}'", path, key));
    p = h.find(':', p);
    if (p == std::string::npos) throw Error(fmt::format("{}: malformed .npy header", path));
    return p + 1;
  };
  size_t p = field("descr");
  size_t q1 = h.find('\'', p), q2 = q1 == std::string::npos ? q1 : h.find('\'', q1 + 1);
  if (q2 == std::string::npos) throw Error(fmt::format("{}: malformed .npy descr", path));
  std::string descr = h.substr(q1 + 1, q2 - q1 - 1);
  p = field("fortran_order");
  if (h.compare(h.find_first_not_of(' ', p), 4, "True") == 0)
    throw Error(fmt::format("{}: Fortran-ordered arrays are not supported; save with np.ascontiguousarray", path));
  p = field("shape");
  size_t open = h.find('(', p), close = open == std::string::npos ? open : h.find(')', open);
  if (close == std::string::npos) throw Error(fmt::format("{}: malformed .npy shape", path));
  std::vector<int64_t> shape;
  std::stringstream ss(h.substr(open + 1, close - open - 1));
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    size_t a = tok.find_first_not_of(' ');
    if (a == std::string::npos) continue;
    char* end = nullptr;
    long long v = std::strtoll(tok.c_str() + a, &end, 10);
    if (end == tok.c_str() + a || v < 0) throw Error(fmt::format("{}: malformed .npy shape", path));
    shape.push_back(v);
  }
  const char* want = npy_descr(d.dtype);
  std::string got_type = descr;
  if (want && (descr == want || (descr.size() == 3 && descr[0] == '=' && descr.substr(1) == std::string(want).substr(1))))
    got_type = dtype_name(d.dtype);
  check_shape(path, d, shape, got_type);
  size_t data_start = header_start + header_len;
  if (bytes.size() - data_start != d.bytes())
    throw Error(fmt::format("{}: has {} data bytes, expected {}", path, bytes.size() - data_start, d.bytes()));
  std::memcpy(dst, bytes.data() + data_start, d.bytes());
}

}  // namespace

void load_tensor_file(const std::string& path, const TensorDesc& d, void* dst) {
  std::string bytes = read_all(path);
  auto ends = [&](const char* ext) {
    size_t n = std::strlen(ext);
    return path.size() >= n && path.compare(path.size() - n, n, ext) == 0;
  };
  if (ends(".pb")) return load_pb(path, bytes, d, dst);
  if (ends(".npy")) return load_npy(path, bytes, d, dst);
  if (bytes.size() != d.bytes())
    throw Error(fmt::format("{}: raw file has {} bytes but input '{}' ({}[{}]) needs {}", path, bytes.size(), d.name,
                            dtype_name(d.dtype), shape_text(d.shape), d.bytes()));
  std::memcpy(dst, bytes.data(), d.bytes());
}

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

void write_outputs_json(const std::string& path, const std::vector<TensorDesc>& descs,
                        const std::vector<const void*>& data) {
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
  std::string out = w.end_array().str() + "\n";
  write_file_atomic(path, out.data(), out.size());
}

std::string sanitize_name(const std::string& name) {
  std::string r = name;
  for (char& c : r)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) c = '_';
  return r;
}

}  // namespace kiln::cli
