// Example application: load a plan with the kiln runtime, feed one image tensor and print the
// top-5 classes. It links only libkiln_runtime (no protobuf, no ONNX).
//
//   classify MODEL.plan [INPUT.npy | INPUT.raw]
//
// INPUT is float32 with the plan's input shape: a NumPy .npy file or raw bytes. Without it, a
// fixed pseudo-random image is used.
#include <algorithm>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kiln/runtime.hpp"

static std::vector<char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw kiln::Error(path + ": cannot open the input file");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Accepts a .npy (header skipped; dtype must be little-endian float32) or raw float32 bytes.
static void load_input(const std::string& path, const kiln::TensorDesc& d, void* dst) {
  std::vector<char> bytes = read_file(path);
  size_t start = 0;
  if (bytes.size() >= 10 && std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0) {
    size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    std::string header(bytes.data() + 10, std::min(bytes.size() - 10, header_len));
    if (header.find("'<f4'") == std::string::npos) throw kiln::Error(path + ": the .npy array must be float32");
    start = 10 + header_len;
  }
  if (bytes.size() < start || bytes.size() - start != d.bytes())
    throw kiln::Error(path + ": holds " + std::to_string(bytes.size() - std::min(start, bytes.size())) +
                      " data bytes but input '" + d.name + "' needs " + std::to_string(d.bytes()));
  std::memcpy(dst, bytes.data() + start, d.bytes());
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s MODEL.plan [INPUT.npy|INPUT.raw]\n", argv[0]);
    return 2;
  }
  try {
    auto engine = kiln::Engine::load_file(argv[1]);
    if (engine->inputs().size() != 1 || engine->inputs()[0].dtype != kiln::DType::Float32)
      throw kiln::Error(std::string(argv[1]) + ": classify expects one float32 input");
    auto ctx = engine->create_context();
    const kiln::TensorDesc& in = engine->inputs()[0];
    if (argc == 3) {
      load_input(argv[2], in, ctx->input(0));
    } else {
      std::mt19937 rng(0);
      std::normal_distribution<float> n(0.f, 1.f);
      float* p = static_cast<float*>(ctx->input(0));
      for (size_t i = 0; i < in.elements(); ++i) p[i] = n(rng);
    }
    ctx->run();
    const kiln::TensorDesc& out = engine->outputs()[0];
    const float* logits = static_cast<const float*>(ctx->output(0));
    size_t classes = out.elements();
    // Softmax over the logits for readable probabilities.
    float mx = *std::max_element(logits, logits + classes);
    std::vector<double> prob(classes);
    double sum = 0;
    for (size_t i = 0; i < classes; ++i) sum += prob[i] = std::exp(static_cast<double>(logits[i] - mx));
    std::vector<size_t> idx(classes);
    std::iota(idx.begin(), idx.end(), 0);
    size_t k = std::min<size_t>(5, classes);
    std::partial_sort(idx.begin(), idx.begin() + static_cast<long>(k), idx.end(),
                      [&](size_t a, size_t b) { return logits[a] > logits[b]; });
    std::printf("top-%zu of %zu classes (%s):\n", k, classes, out.name.c_str());
    for (size_t i = 0; i < k; ++i)
      std::printf("  class %4zu  logit %9.4f  p = %.4f\n", idx[i], logits[idx[i]], prob[idx[i]] / sum);
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: internal: %s\n", e.what());
    return 1;
  }
  return 0;
}
