// Input tensor files (kiln/tensor_file.hpp): .pb, .npy and raw bytes.
#include "kiln/tensor_file.hpp"

#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

namespace kiln {

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

}  // namespace

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

namespace {

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

}  // namespace kiln
