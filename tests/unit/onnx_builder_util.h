// Builds small ONNX models in memory for importer, pass and plan tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

namespace kiln::test {

class OnnxBuilder {
 public:
  explicit OnnxBuilder(int opset = 13);
  // dims: -1 = symbolic dim named "N".
  void input(const std::string& name, std::vector<int64_t> dims, int elem_type = onnx::TensorProto::FLOAT);
  // The checker requires a shape on graph outputs; -1 = symbolic dim.
  void output(const std::string& name, std::vector<int64_t> dims, int elem_type = onnx::TensorProto::FLOAT);
  void init(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& data);
  void init_i64(const std::string& name, std::vector<int64_t> dims, const std::vector<int64_t>& data);
  // Random uniform [-1, 1] initializer with a fixed seed.
  void init_random(const std::string& name, std::vector<int64_t> dims, uint32_t seed);
  onnx::NodeProto& node(const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs,
                        const std::string& name = "");
  static void attr(onnx::NodeProto& n, const std::string& name, int64_t v);
  static void attr(onnx::NodeProto& n, const std::string& name, float v);
  static void attr(onnx::NodeProto& n, const std::string& name, std::vector<int64_t> v);

  onnx::ModelProto& model() { return m_; }
  std::string bytes() const;
  // Writes to a fresh file under the test temp dir and returns its path.
  std::string save(const std::string& file_name) const;

 private:
  onnx::ModelProto m_;
};

std::string temp_dir();

}  // namespace kiln::test
