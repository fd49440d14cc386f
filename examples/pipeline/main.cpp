// pipeline_app: the application half of examples/pipeline. It loads the plan that the build made
// with kiln_add_plan(), runs it on a float32 NumPy input and prints (and optionally saves) the
// output. It links only kiln::runtime: no compiler, no protobuf, no ONNX.
//
//   pipeline_app INPUT.npy [OUTPUT.npy] [PLAN]
//
// PLAN defaults to the plan this build compiled (PIPELINE_DEFAULT_PLAN).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "kiln/runtime.hpp"

namespace {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string r;
  for (size_t i = 0; i < shape.size(); ++i) r += (i ? ", " : "") + std::to_string(shape[i]);
  return "(" + r + (shape.size() == 1 ? ",)" : ")");
}

// Reads a little-endian float32, C-order .npy whose shape must equal the plan input's.
void read_npy(const std::string& path, const kiln::TensorDesc& d, void* dst) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw kiln::Error(path + ": cannot open the input file");
  std::vector<char> b{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0)
    throw kiln::Error(path + ": not a NumPy .npy file");
  size_t len = static_cast<unsigned char>(b[8]) | (static_cast<unsigned char>(b[9]) << 8);
  if (b.size() < 10 + len) throw kiln::Error(path + ": truncated .npy header");
  std::string header(b.data() + 10, len);
  if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    throw kiln::Error(path + ": the array must be float32 in C order");
  if (header.find("'shape': " + shape_str(d.shape)) == std::string::npos)
    throw kiln::Error(path + ": shape differs from input '" + d.name + "' " + shape_str(d.shape) + ": " +
                      header);
  if (b.size() - 10 - len != d.bytes())
    throw kiln::Error(path + ": holds " + std::to_string(b.size() - 10 - len) + " data bytes, expected " +
                      std::to_string(d.bytes()));
  std::memcpy(dst, b.data() + 10 + len, d.bytes());
}

void write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data, size_t n) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_str(shape) + ", }";
  // Version 1.0: magic, version, little-endian header length; data starts 64-byte aligned.
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const char len[2] = {static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
  out.write(len, 2);
  out << header;
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(float)));
  if (!out) throw kiln::Error(path + ": cannot write the output file");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: %s INPUT.npy [OUTPUT.npy] [PLAN]\n", argv[0]);
    return 2;
  }
  try {
    std::string plan = argc > 3 ? argv[3] : PIPELINE_DEFAULT_PLAN;
    auto engine = kiln::Engine::load_file(plan);
    for (const std::string& w : engine->warnings()) std::fprintf(stderr, "warning: %s\n", w.c_str());
    if (engine->inputs().size() != 1 || engine->outputs().empty() ||
        engine->inputs()[0].dtype != kiln::DType::Float32 ||
        engine->outputs()[0].dtype != kiln::DType::Float32)
      throw kiln::Error(plan + ": pipeline_app expects one float32 input and a float32 output");
    auto ctx = engine->create_context();
    read_npy(argv[1], engine->inputs()[0], ctx->input(0));
    ctx->run();

    std::vector<int64_t> shape = ctx->output_shape(0);
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    const float* out = static_cast<const float*>(ctx->output(0));
    std::printf("%s %s:", engine->outputs()[0].name.c_str(), shape_str(shape).c_str());
    for (size_t i = 0; i < std::min<size_t>(n, 16); ++i) std::printf(" %.5f", out[i]);
    std::printf("%s\nargmax: %zu\n", n > 16 ? " ..." : "",
                static_cast<size_t>(std::max_element(out, out + n) - out));
    if (argc > 2) write_npy(argv[2], shape, out, n);
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: internal: %s\n", e.what());
    return 1;
  }
  return 0;
}
