// Inputs for the accuracy check: ONNX test-data sets (TensorProto .pb files, read with the
// importer's tensor reader) and seeded random data.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "kiln/accuracy.hpp"
#include "kiln/tensor_file.hpp"
#include "ops/tensor/shape.h"

namespace kiln {

namespace fs = std::filesystem;

namespace {

HostTensor read_tensor_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file.string() + ": cannot open the input file");
  std::stringstream ss;
  ss << in.rdbuf();
  onnx::TensorProto t;
  if (!t.ParseFromString(ss.str())) throw Error(file.string() + ": not a valid ONNX TensorProto");
  ir::Graph scratch;
  ir::Value* v;
  try {
    v = onnx_import::import_tensor(scratch, t, file.parent_path().string());
  } catch (const Error& e) {
    throw Error(file.string() + ": " + e.what());
  }
  HostTensor h;
  h.dtype = v->type.dtype;
  h.shape = v->type.shape;
  const auto* p = static_cast<const uint8_t*>(v->constant->data());
  h.data.assign(p, p + v->constant->size());
  return h;
}

// numpy has no bfloat16, so tools (onnx's test data among them) store its bits as uint16.
void adapt_dtype(HostTensor& h, const TensorDesc& d) {
  if (h.dtype == DType::UInt16 && d.dtype == DType::BFloat16) h.dtype = DType::BFloat16;
}

std::vector<fs::path> set_dirs(const fs::path& dir) {
  std::vector<fs::path> sets;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory() && it->path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(it->path());
  if (ec) throw Error(dir.string() + ": cannot list the folder: " + ec.message());
  // test_data_set_2 before test_data_set_10.
  std::sort(sets.begin(), sets.end(), [](const fs::path& a, const fs::path& b) {
    const std::string x = a.filename().string(), y = b.filename().string();
    return x.size() != y.size() ? x.size() < y.size() : x < y;
  });
  return sets;
}

bool name_means_ids(std::string name) {
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name.find("ids") != std::string::npos && name.find("type") == std::string::npos;
}

}  // namespace

std::vector<InputSample> read_test_data_sets(const std::string& dir_name, const std::vector<TensorDesc>& inputs) {
  const fs::path dir(dir_name);
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(dir_name + ": not a folder (--calib wants a folder of ONNX test-data sets, "
                           "DIR/test_data_set_0/input_0.pb, ...)");
  std::vector<fs::path> sets = set_dirs(dir);
  if (sets.empty() && !fs::exists(dir / "input_0.pb", ec)) {
    // A one-input model may take a folder of .npy files instead, one sample each.
    std::vector<fs::path> npys;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file() && it->path().extension() == ".npy") npys.push_back(it->path());
    std::sort(npys.begin(), npys.end());
    if (!npys.empty() && inputs.size() == 1) {
      std::vector<InputSample> samples;
      for (const fs::path& f : npys) {
        HostTensor h;
        h.dtype = inputs[0].dtype;
        h.shape = inputs[0].shape;
        h.data.resize(inputs[0].bytes());
        load_tensor_file(f.string(), inputs[0], h.data.data());
        samples.push_back({{inputs[0].name, std::move(h)}});
      }
      return samples;
    }
    throw Error(dir_name + ": holds no test_data_set_* folders and no input_0.pb" +
                std::string(npys.empty() ? "" : " (its .npy files serve only a model with one input)") +
                "; lay the data out as DIR/test_data_set_0/input_0.pb (input_K.pb for the K-th graph input), or, "
                "for a one-input model, as DIR/*.npy (one sample per file)");
  }
  if (sets.empty()) sets.push_back(dir);
  std::vector<InputSample> samples;
  for (const fs::path& set : sets) {
    InputSample s;
    for (size_t k = 0; k < inputs.size(); ++k) {
      const fs::path file = set / ("input_" + std::to_string(k) + ".pb");
      if (!fs::exists(file, ec))
        throw Error(file.string() + ": missing; the plan has " + std::to_string(inputs.size()) +
                    " inputs, so each test-data set needs input_0.pb to input_" + std::to_string(inputs.size() - 1) +
                    ".pb (input_" + std::to_string(k) + " is '" + inputs[k].name + "')");
      HostTensor h = read_tensor_file(file);
      adapt_dtype(h, inputs[k]);
      const TensorDesc& d = inputs[k];
      bool fits = h.dtype == d.dtype && h.shape.size() == d.shape.size();
      for (size_t i = 0; fits && i < h.shape.size(); ++i)
        fits = h.shape[i] >= d.min_shape[i] && h.shape[i] <= d.max_shape[i];
      if (!fits)
        throw Error(file.string() + ": holds " + dtype_name(h.dtype) + "[" + shape_str(h.shape) + "] but input '" +
                    d.name + "' needs " + dtype_name(d.dtype) + "[" +
                    (d.dynamic() ? shape_str(d.min_shape) + " to " + shape_str(d.max_shape)
                                 : shape_str(d.shape)) +
                    "]");
      s[d.name] = std::move(h);
    }
    samples.push_back(std::move(s));
  }
  return samples;
}

InputSample make_random_sample(const std::vector<TensorDesc>& inputs, uint32_t seed, size_t sample_index) {
  InputSample s;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorDesc& d = inputs[i];
    std::seed_seq seq{seed, static_cast<uint32_t>(sample_index), static_cast<uint32_t>(i)};
    std::mt19937 rng(seq);
    std::uniform_real_distribution<float> uf(-1.f, 1.f);
    const int hi = d.dtype == DType::UInt8 ? 255 : d.dtype != DType::Bool && name_means_ids(d.name) ? 99 : 1;
    std::uniform_int_distribution<int> ui(0, hi);
    HostTensor h{d.dtype, d.shape, std::vector<uint8_t>(d.bytes())};
    const size_t n = d.elements();
    uint8_t* p = h.data.data();
    auto put = [&](size_t k, auto v) { std::memcpy(p + k * sizeof v, &v, sizeof v); };
    for (size_t k = 0; k < n; ++k) {
      switch (d.dtype) {
        case DType::Float32: put(k, uf(rng)); break;
        case DType::Float64: put(k, static_cast<double>(uf(rng))); break;
        case DType::Float16: put(k, ops::float_to_half(uf(rng))); break;
        case DType::BFloat16: put(k, ops::float_to_bf16(uf(rng))); break;
        case DType::Int8: put(k, static_cast<int8_t>(ui(rng))); break;
        case DType::UInt8: case DType::Bool: put(k, static_cast<uint8_t>(ui(rng))); break;
        case DType::Int16: put(k, static_cast<int16_t>(ui(rng))); break;
        case DType::UInt16: put(k, static_cast<uint16_t>(ui(rng))); break;
        case DType::Int32: put(k, static_cast<int32_t>(ui(rng))); break;
        case DType::UInt32: put(k, static_cast<uint32_t>(ui(rng))); break;
        case DType::Int64: put(k, static_cast<int64_t>(ui(rng))); break;
        case DType::UInt64: put(k, static_cast<uint64_t>(ui(rng))); break;
        default: throw Error(std::string("input '") + d.name + "': cannot make random " + dtype_name(d.dtype) + " data");
      }
    }
    s[d.name] = std::move(h);
  }
  return s;
}

}  // namespace kiln
