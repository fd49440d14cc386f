// ONNX TensorProto -> constant value: typed fields, raw_data and external data files.
#include <filesystem>
#include <fstream>
#include <optional>
#include <cstring>
#include <vector>

#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/tensor/shape.h"

namespace kiln::onnx_import {

namespace fs = std::filesystem;

static std::string tensor_label(const onnx::TensorProto& t) {
  return "tensor '" + t.name() + "'";
}

// A tensor's external data, located and checked (inside the model's folder, `want` bytes present)
// before the caller allocates anything, then read straight into the caller's buffer: a hostile
// shape allocates nothing, and a large model's weights are held once.
class ExternalData {
 public:
  ExternalData(const onnx::TensorProto& t, const std::string& base_dir, size_t want);
  void read(void* out);

 private:
  const onnx::TensorProto& t_;
  std::ifstream in_;
  std::string file_;
  int64_t len_ = 0;
};

ExternalData::ExternalData(const onnx::TensorProto& t, const std::string& base_dir, size_t want) : t_(t) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : t.external_data()) {
    try {
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") offset = std::stoll(kv.value());
      else if (kv.key() == "length") length = std::stoll(kv.value());
    } catch (const std::exception&) {
      throw Error(tensor_label(t) + ": external data field '" + kv.key() + "' is not a number");
    }
  }
  if (base_dir.empty())
    throw Error(tensor_label(t) + ": external data needs the model loaded from a file");
  if (location.empty()) throw Error(tensor_label(t) + ": external data has no 'location'");
  fs::path rel(location);
  if (rel.is_absolute())
    throw Error(tensor_label(t) + ": external data location '" + location +
                "' is absolute; it must be a path inside the model's folder");
  std::error_code ec;
  fs::path base = fs::weakly_canonical(fs::path(base_dir), ec);
  fs::path full = fs::weakly_canonical(base / rel, ec);
  auto [b, f] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (ec || b != base.end())
    throw Error(tensor_label(t) + ": external data location '" + location +
                "' points outside the model's folder; refusing to read it");
  file_ = full.string();
  in_.open(full, std::ios::binary);
  if (!in_) throw Error(tensor_label(t) + ": cannot open external data file '" + full.string() + "'");
  in_.seekg(0, std::ios::end);
  int64_t size = in_.tellg();
  if (offset < 0 || offset > size)
    throw Error(tensor_label(t) + ": external data offset " + std::to_string(offset) + " is outside '" +
                full.string() + "' (" + std::to_string(size) + " bytes)");
  int64_t len = length < 0 ? static_cast<int64_t>(want) : length;
  if (len != static_cast<int64_t>(want) || offset + len > size)
    throw Error(tensor_label(t) + ": external data in '" + full.string() + "' has " +
                std::to_string(std::min<int64_t>(len, size - offset)) + " bytes but the tensor needs " +
                std::to_string(want));
  in_.seekg(offset);
  len_ = len;
}

void ExternalData::read(void* out) {
  in_.read(static_cast<char*>(out), len_);
  if (!in_) throw Error(tensor_label(t_) + ": reading external data from '" + file_ + "' failed");
}

template <class Src, class Dst>
static void copy_field(const google::protobuf::RepeatedField<Src>& f, void* out, size_t n) {
  Dst* d = static_cast<Dst*>(out);
  for (size_t i = 0; i < n; ++i) d[i] = static_cast<Dst>(f.Get(static_cast<int>(i)));
}

// The tensor's element count, refusing negative or absurd dims.
static int64_t checked_count(const onnx::TensorProto& t, const Dims& shape) {
  for (int64_t d : shape)
    if (d < 0) throw Error(tensor_label(t) + ": has a negative dimension (" + shape_str(shape) + ")");
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > (int64_t(1) << 40) / d)
      throw Error(tensor_label(t) + ": shape " + shape_str(shape) + " is absurdly large");
    n *= d;
  }
  return n;
}

void widen_float16_tensor(onnx::TensorProto& t, const std::string& base_dir) {
  if (t.data_type() != onnx::TensorProto::FLOAT16) return;
  Dims shape(t.dims().begin(), t.dims().end());
  const size_t n = static_cast<size_t>(checked_count(t, shape));
  // Sizes are checked before anything is allocated, so a hostile shape allocates nothing.
  const bool ext = t.data_location() == onnx::TensorProto::EXTERNAL;
  std::optional<ExternalData> external;
  if (ext) {
    external.emplace(t, base_dir, n * 2);
  } else if (t.has_raw_data()) {
    if (t.raw_data().size() != n * 2)
      throw Error(tensor_label(t) + ": raw_data has " + std::to_string(t.raw_data().size()) +
                  " bytes but shape " + shape_str(shape) + " of float16 needs " + std::to_string(n * 2));
  } else if (static_cast<size_t>(t.int32_data_size()) != n) {  // float16 travels in int32_data
    throw Error(tensor_label(t) + ": has " + std::to_string(t.int32_data_size()) + " values but shape " +
                shape_str(shape) + " needs " + std::to_string(n));
  }
  std::vector<uint16_t> bits(n);
  if (ext) external->read(bits.data());
  else if (t.has_raw_data()) std::memcpy(bits.data(), t.raw_data().data(), n * 2);
  else
    for (size_t i = 0; i < n; ++i) bits[i] = static_cast<uint16_t>(t.int32_data(static_cast<int>(i)));
  std::string raw(n * sizeof(float), '\0');
  for (size_t i = 0; i < n; ++i) {
    float f = ops::half_to_float(bits[i]);  // exact: every half is a float
    std::memcpy(raw.data() + i * sizeof(float), &f, sizeof f);
  }
  t.set_data_type(onnx::TensorProto::FLOAT);
  t.clear_int32_data();
  t.clear_external_data();
  t.set_data_location(onnx::TensorProto::DEFAULT);
  t.set_raw_data(std::move(raw));
}

ir::Value* import_tensor(ir::Graph& g, const onnx::TensorProto& t, const std::string& base_dir) {
  DType dt = static_cast<DType>(t.data_type());
  if (!dtype_onnx(dt))
    throw Error(tensor_label(t) + ": data type " + std::to_string(t.data_type()) +
                " is not supported (strings and complex numbers are out of scope)");
  Dims shape(t.dims().begin(), t.dims().end());
  int64_t n = checked_count(t, shape);
  size_t bytes = static_cast<size_t>(n) * dtype_size(dt);
  std::string name = t.name().empty() ? g.unique_name("const") : t.name();
  // Sizes the model states are checked before the constant is allocated.
  std::optional<ExternalData> external;
  if (t.data_location() == onnx::TensorProto::EXTERNAL) external.emplace(t, base_dir, bytes);
  else if (t.has_raw_data() && t.raw_data().size() != bytes)
    throw Error(tensor_label(t) + ": raw_data has " + std::to_string(t.raw_data().size()) + " bytes but shape " +
                shape_str(shape) + " of " + dtype_name(dt) + " needs " + std::to_string(bytes));
  ir::Value* v = g.add_constant(name, dt, shape, false);  // every path below writes every byte, or throws
  void* out = v->constant->data();
  auto short_data = [&](size_t have) {
    throw Error(tensor_label(t) + ": has " + std::to_string(have) + " values but shape " + shape_str(shape) +
                " needs " + std::to_string(n));
  };
  if (external) {
    external->read(out);
  } else if (t.has_raw_data()) {
    std::memcpy(out, t.raw_data().data(), bytes);
  } else {
    size_t un = static_cast<size_t>(n);
    switch (dt) {
      case DType::Float32:
        if (static_cast<size_t>(t.float_data_size()) != un) short_data(t.float_data_size());
        copy_field<float, float>(t.float_data(), out, un);
        break;
      case DType::Float64:
        if (static_cast<size_t>(t.double_data_size()) != un) short_data(t.double_data_size());
        copy_field<double, double>(t.double_data(), out, un);
        break;
      case DType::Int64:
        if (static_cast<size_t>(t.int64_data_size()) != un) short_data(t.int64_data_size());
        copy_field<int64_t, int64_t>(t.int64_data(), out, un);
        break;
      case DType::UInt32: case DType::UInt64:
        if (static_cast<size_t>(t.uint64_data_size()) != un) short_data(t.uint64_data_size());
        if (dt == DType::UInt32) copy_field<uint64_t, uint32_t>(t.uint64_data(), out, un);
        else copy_field<uint64_t, uint64_t>(t.uint64_data(), out, un);
        break;
      default:  // int32 and every narrower type travel in int32_data
        if (static_cast<size_t>(t.int32_data_size()) != un) short_data(t.int32_data_size());
        switch (dtype_size(dt)) {
          case 4: copy_field<int32_t, int32_t>(t.int32_data(), out, un); break;
          case 2: copy_field<int32_t, uint16_t>(t.int32_data(), out, un); break;
          default: copy_field<int32_t, uint8_t>(t.int32_data(), out, un); break;
        }
    }
  }
  return v;
}

}  // namespace kiln::onnx_import
