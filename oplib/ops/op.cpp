#include "ops/op.h"

#include <algorithm>
#include <stdexcept>

#include "ops/infer_layer.h"

namespace kiln::ops {

void fail(const std::string& msg) { throw Error(msg); }

const TensorType& InferContext::input(size_t i) const {
  if (i >= inputs_.size() || inputs_[i].dtype == DType::Undefined)
    fail("input " + std::to_string(i) + " is required but missing");
  return inputs_[i];
}

void InferContext::set_output(size_t i, DType dtype, Dims shape) {
  if (i >= outputs_.size()) fail("op produces more outputs than the node declares");
  outputs_[i] = TensorType{dtype, std::move(shape)};
}

std::vector<TensorType> infer_types(const Op& op, std::vector<TensorType> in,
                                    std::vector<const TensorView*> consts, size_t num_outputs) {
  // Cast states its target type itself and reads its input's real type.
  if (op.type() != "Cast")
    for (size_t i = 0; i < in.size(); ++i)
      if (in[i].dtype == DType::BFloat16 || dtype_quantized(in[i].dtype)) {
        in[i].dtype = DType::Float32;
        if (i < consts.size()) consts[i] = nullptr;
      }
  InferContext ctx(std::move(in), std::move(consts), num_outputs);
  op.infer(ctx);
  return ctx.outputs();
}

std::vector<TensorType> infer_layer(const Op& op, std::vector<TensorType> types, const std::vector<TensorView>& values,
                                    size_t num_outputs, const std::string& label) {
  std::vector<const TensorView*> consts;
  for (const TensorView& v : values) consts.push_back(v.data ? &v : nullptr);
  try {
    return infer_types(op, std::move(types), std::move(consts), num_outputs);
  } catch (const Error& e) {
    throw Error(label + ": " + e.what());
  }
}

std::vector<std::vector<uint8_t>> evaluate_shape_layer(const Op& op, const std::vector<TensorType>& in_types,
                                                       const std::vector<TensorView>& values,
                                                       const std::vector<TensorType>& out_types,
                                                       const std::string& label) {
  if (!op.foldable() || out_types.empty()) return {};
  const bool reads_only_shape = op.type() == "Shape" || op.type() == "Size";
  KernelArgs args;
  for (size_t i = 0; i < in_types.size(); ++i) {
    const bool given = i < values.size() && values[i].data;
    if (in_types[i].dtype == DType::Undefined) {
      args.in.push_back({});
    } else if (reads_only_shape) {
      if (!shape_static(in_types[i].shape)) return {};
      args.in.push_back(TensorView{in_types[i].dtype, in_types[i].shape, nullptr});
    } else {
      // Reduced-precision and quantized tensors are activations, never shape arithmetic.
      if (!given || in_types[i].dtype == DType::BFloat16 || dtype_quantized(in_types[i].dtype)) return {};
      args.in.push_back(values[i]);
    }
  }
  std::vector<std::vector<uint8_t>> out;
  for (const TensorType& t : out_types) {
    const int64_t n = shape_elements(t.shape);
    if (n < 0 || n > kMaxShapeValueElements || t.dtype == DType::BFloat16 || dtype_quantized(t.dtype)) return {};
    // Never empty: a value with data is a known value, even of zero elements.
    out.emplace_back(std::max<size_t>(1, static_cast<size_t>(n) * dtype_size(t.dtype)));
  }
  for (size_t i = 0; i < out_types.size(); ++i)
    args.out.push_back(TensorView{out_types[i].dtype, out_types[i].shape, out[i].data()});
  try {
    op.reference(args);
  } catch (const Error& e) {
    throw Error(label + ": " + e.what());
  }
  return out;
}

OpRegistry& OpRegistry::instance() {
  static OpRegistry r;
  return r;
}

void OpRegistry::add(std::string name, Factory f) {
  if (!factories_.emplace(name, std::move(f)).second)
    throw std::logic_error("kiln: op '" + name + "' registered twice");
}

std::unique_ptr<Op> OpRegistry::create(std::string_view name) const {
  auto it = factories_.find(name);
  return it == factories_.end() ? nullptr : it->second();
}

std::vector<std::string> OpRegistry::names() const {
  std::vector<std::string> r;
  for (auto& [k, v] : factories_) r.push_back(k);
  return r;
}

}  // namespace kiln::ops
