// Helpers for the tests of ops with optional outputs (loss, recurrent, quantization, detection,
// MaxUnpool, Unique...): typed host tensors, reference runs with an explicit output count (infer()
// accepts several counts), infer() error messages, and one-node ONNX models with typed inputs
// and string attributes.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "graph_eval_util.h"
#include "import/importer.h"
#include "kernel_test_util.h"
#include "onnx_builder_util.h"

namespace kiln::test::multi_output {

template <class T>
HostTensor make(DType t, Dims s, const std::vector<T>& v, bool is_const = false) {
  return host_tensor(t, std::move(s), v, is_const);
}
inline HostTensor f32(Dims s, const std::vector<float>& v) { return make<float>(DType::Float32, std::move(s), v); }
inline HostTensor i64(Dims s, const std::vector<int64_t>& v) { return make<int64_t>(DType::Int64, std::move(s), v); }
inline HostTensor u8(Dims s, const std::vector<uint8_t>& v) { return make<uint8_t>(DType::UInt8, std::move(s), v); }
inline HostTensor s8(Dims s, const std::vector<int8_t>& v) { return make<int8_t>(DType::Int8, std::move(s), v); }
inline HostTensor i32(Dims s, const std::vector<int32_t>& v) { return make<int32_t>(DType::Int32, std::move(s), v); }
// An optional input the model leaves out.
inline HostTensor absent() { return HostTensor(DType::Undefined, {}); }

template <class T>
std::vector<T> vals(const HostTensor& h) {
  std::vector<T> v(h.bytes.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), h.bytes.data(), v.size() * sizeof(T));
  return v;
}

inline void expect_near(const std::vector<float>& got, const std::vector<double>& want, double tol = 1e-5) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

inline std::vector<ops::TensorType> types_of(const std::vector<HostTensor>& in) {
  std::vector<ops::TensorType> t;
  for (auto& h : in) t.push_back({h.dtype, h.shape});
  return t;
}

// Infers `n_out` outputs and runs the reference kernel.
inline std::vector<HostTensor> run_ref(const ops::Op& op, std::vector<HostTensor> in, size_t n_out) {
  std::vector<TensorView> views;
  std::vector<const TensorView*> consts;
  for (auto& t : in) views.push_back(t.view());
  for (size_t i = 0; i < in.size(); ++i) consts.push_back(in[i].constant ? &views[i] : nullptr);
  ops::InferContext ctx(types_of(in), consts, n_out);
  op.infer(ctx);
  std::vector<HostTensor> out;
  for (auto& t : ctx.outputs()) out.emplace_back(t.dtype, t.shape);
  ops::KernelArgs args;
  for (auto& t : in) args.in.push_back(t.dtype == DType::Undefined ? TensorView{} : t.view());
  for (auto& t : out) args.out.push_back(t.view());
  op.reference(args);
  return out;
}

// The kiln::Error message of op.infer() for these inputs and output count ("" if none).
inline std::string infer_err(const ops::Op& op, std::vector<ops::TensorType> in, size_t n_out = 1) {
  std::vector<const TensorView*> consts(in.size(), nullptr);
  ops::InferContext ctx(std::move(in), consts, n_out);
  try {
    op.infer(ctx);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The message of the kiln::Error that running the reference kernel throws ("" if none).
inline std::string run_err(const ops::Op& op, std::vector<HostTensor> in, size_t n_out = 1) {
  try {
    run_ref(op, std::move(in), n_out);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline void attr_s(onnx::NodeProto& n, const std::string& name, const std::string& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}
inline void attr_strings(onnx::NodeProto& n, const std::string& name, const std::vector<std::string>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRINGS);
  for (auto& s : v) a->add_strings(s);
}
inline void attr_floats(onnx::NodeProto& n, const std::string& name, const std::vector<float>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOATS);
  for (float x : v) a->add_floats(x);
}

inline std::unique_ptr<ir::Graph> import(const OnnxBuilder& b) {
  return onnx_import::import_onnx_bytes(b.bytes(), "test.onnx", {});
}

// The op of the only node of type T in g (nullptr and a test failure if there is not one).
template <class T>
const T* only_op(const ir::Graph& g) {
  const T* found = nullptr;
  int count = 0;
  for (auto& n : g.nodes())
    if (n->op && n->type() == T::kType) found = dynamic_cast<const T*>(n->op.get()), ++count;
  EXPECT_EQ(count, 1) << "nodes of type " << T::kType;
  return found;
}

}  // namespace kiln::test::multi_output
