// Input pre-processing baked into the plan (CompileOptions::preprocess, `kiln compile --mean ...`):
// replaces a graph input by the raw form the application feeds (uint8, NHWC, reversed channels)
// and inserts the ops that turn it into what the model expects. The ops are ordinary IR nodes, so
// the reference kernels define their meaning and the fold-preprocess pass absorbs them into the
// first convolution where that is exact.
#include "import/preprocess.h"

#include <algorithm>
#include <cmath>

#include "ops/math/eltwise.h"
#include "ops/tensor/shape.h"

namespace kiln::onnx_import {

namespace {

std::string input_list(const ir::Graph& g) {
  std::string s;
  for (auto& io : g.inputs) s += (s.empty() ? "'" : ", '") + io.name + "'";
  return s.empty() ? "none" : s;
}

ir::GraphIO& find_input(ir::Graph& g, const std::string& name, const std::string& origin) {
  if (name.empty()) {
    if (g.inputs.size() != 1)
      throw Error(origin + ": the model has " + std::to_string(g.inputs.size()) + " inputs (" + input_list(g) +
                  "); name the input the pre-processing is for, e.g. --mean=NAME:123,117,104");
    return g.inputs[0];
  }
  for (auto& io : g.inputs)
    if (io.name == name) return io;
  throw Error(origin + ": pre-processing names input '" + name + "', but the model's inputs are " + input_list(g));
}

// The channel count of the model's input (axis 1), which must be known to size mean and scale.
int64_t channels(const ir::Value& v, const std::string& what) {
  if (v.type.shape.size() < 2)
    throw Error(what + " has rank " + std::to_string(v.type.shape.size()) +
                "; per-channel pre-processing needs the channel on axis 1 (rank >= 2)");
  int64_t c = v.type.shape[1];
  if (c <= 0) throw Error(what + " has an unknown channel count (axis 1); fix it with --shapes");
  return c;
}

// A [1, C, 1, ...] constant of the input's rank, so it broadcasts along axis 1 only.
ir::Value* per_channel(ir::Graph& g, const std::string& name, const std::vector<float>& v, size_t rank) {
  Dims s(rank, 1);
  s[1] = static_cast<int64_t>(v.size());
  TensorView t{DType::Float32, s, const_cast<float*>(v.data())};
  return g.add_constant(g.unique_name(name), t);
}

}  // namespace

void apply_preprocess(ir::Graph& g, const std::map<std::string, InputPreprocess>& spec, const std::string& origin,
                      std::vector<std::string>* warnings) {
  // Resolve every entry first; an unnamed entry and one naming the same input merge, as long as
  // they do not both set the same thing.
  std::vector<std::pair<ir::GraphIO*, InputPreprocess>> todo;
  for (auto& [name, p] : spec) {
    if (p.empty()) continue;
    ir::GraphIO& io = find_input(g, name, origin);
    auto it = std::find_if(todo.begin(), todo.end(), [&](auto& t) { return t.first == &io; });
    if (it == todo.end()) {
      todo.emplace_back(&io, p);
      continue;
    }
    InputPreprocess& q = it->second;
    auto twice = [&](const char* flag) {
      throw Error(origin + ": input '" + io.name + "' is given " + flag + " twice (once by name, once unnamed)");
    };
    if (!p.mean.empty()) { if (!q.mean.empty()) twice("--mean"); q.mean = p.mean; }
    if (!p.scale.empty()) { if (!q.scale.empty()) twice("--scale"); q.scale = p.scale; }
    if (p.reverse_channels) { if (q.reverse_channels) twice("--reverseInputChannels"); q.reverse_channels = true; }
    if (!p.layout.empty()) { if (!q.layout.empty()) twice("--inputLayout"); q.layout = p.layout; }
    if (!p.dtype.empty()) { if (!q.dtype.empty()) twice("--inputType"); q.dtype = p.dtype; }
  }
  for (auto& [io, p] : todo) {
    ir::Value* model_in = io->value;
    const std::string what = origin + ": input '" + io->name + "'";
    const size_t rank = model_in->type.shape.size();
    if (!p.layout.empty() && p.layout != "NCHW" && p.layout != "NHWC")
      throw Error(what + ": unknown input layout '" + p.layout + "'; use NCHW or NHWC");
    if (!p.dtype.empty() && p.dtype != "float32" && p.dtype != "uint8")
      throw Error(what + ": unknown input type '" + p.dtype + "'; use uint8 or float32");
    const bool nhwc = p.layout == "NHWC", u8 = p.dtype == "uint8";
    if (nhwc && rank != 4)
      throw Error(what + " has rank " + std::to_string(rank) + " (shape " + shape_str(model_in->type.shape) +
                  "); --inputLayout=NHWC applies to 4-D NCHW image inputs only");
    // Plans need static input shapes anyway; failing here keeps --shapes in the model's own layout
    // instead of suggesting an NHWC shape that --shapes would then reject.
    if (nhwc && !shape_static(model_in->type.shape))
      throw Error(what + " has dynamic dimensions (" + shape_str(model_in->type.shape) +
                  "); fix them with --shapes in the model's NCHW order, e.g. --shapes=" + io->name + ":1x3x224x224");
    if ((u8 || !p.mean.empty() || !p.scale.empty()) && model_in->type.dtype != DType::Float32)
      throw Error(what + " is " + dtype_name(model_in->type.dtype) +
                  "; --inputType=u8, --mean and --scale apply to float32 inputs only");
    int64_t c = 0;
    if (!p.mean.empty() || !p.scale.empty() || p.reverse_channels) c = channels(*model_in, what);
    auto check_count = [&](const std::vector<float>& v, const char* flag) {
      if (!v.empty() && static_cast<int64_t>(v.size()) != c)
        throw Error(what + " has " + std::to_string(c) + " channels (shape " + shape_str(model_in->type.shape) +
                    "), but " + flag + " gives " + std::to_string(v.size()) + " value(s)");
    };
    check_count(p.mean, "--mean");
    check_count(p.scale, "--scale");
    for (float s : p.scale)
      if (s == 0.f || !std::isfinite(s)) throw Error(what + ": --scale values must be finite and non-zero");
    for (float m : p.mean)
      if (!std::isfinite(m)) throw Error(what + ": --mean values must be finite");
    if (p.reverse_channels && c == 1 && warnings)
      warnings->push_back("input '" + io->name + "' has one channel; --reverseInputChannels changes nothing");

    if (!u8 && !nhwc && p.mean.empty() && p.scale.empty() && !p.reverse_channels) continue;  // NCHW float32: as is

    // The raw input takes over the binding name; the model's input value becomes an inner tensor.
    ops::TensorType raw_type = model_in->type;
    std::vector<std::string> raw_params = model_in->dim_params;
    if (u8) raw_type.dtype = DType::UInt8;
    if (nhwc) {
      const Dims& s = model_in->type.shape;
      raw_type.shape = {s[0], s[2], s[3], s[1]};
      raw_params.assign(4, "");  // static (checked above): no symbolic names to carry
    }
    ir::Value* raw = g.add_value(io->name, raw_type);
    raw->dim_params = raw_params;
    model_in->name = g.unique_name(io->name + "/preprocessed");
    io->value = raw;

    // Reversal goes last even though it is applied first: reversing and then subtracting the
    // model-order mean equals subtracting the reversed mean and then reversing. With the Gather
    // next to the convolution, fold-preprocess can absorb it (permuting weight channels) and then
    // reach the Div and Sub behind it.
    std::vector<float> mean = p.mean, scale = p.scale;
    if (p.reverse_channels) {
      std::reverse(mean.begin(), mean.end());
      std::reverse(scale.begin(), scale.end());
    }
    struct Step { const char* suffix; std::unique_ptr<ops::Op> op; ir::Value* operand; };
    std::vector<Step> steps;
    // Transpose before Cast: it then moves bytes, not floats.
    if (nhwc) {
      auto tr = std::make_unique<ops::Transpose>();
      tr->perm = {0, 3, 1, 2};
      steps.push_back({"to_nchw", std::move(tr), nullptr});
    }
    if (u8) {
      auto cast = std::make_unique<ops::Cast>();
      cast->to = static_cast<int64_t>(DType::Float32);
      steps.push_back({"cast", std::move(cast), nullptr});
    }
    auto binary = [&](const char* suffix, ops::BinaryKind k, const std::vector<float>& v) {
      auto op = std::make_unique<ops::Binary>();
      op->kind = k;
      steps.push_back({suffix, std::move(op), per_channel(g, io->name + "/" + suffix, v, rank)});
    };
    if (!mean.empty()) binary("mean", ops::BinaryKind::Sub, mean);
    if (!scale.empty()) binary("scale", ops::BinaryKind::Div, scale);
    if (p.reverse_channels) {
      auto ga = std::make_unique<ops::Gather>();
      ga->axis = 1;
      std::vector<int64_t> idx(static_cast<size_t>(c));
      for (int64_t i = 0; i < c; ++i) idx[static_cast<size_t>(i)] = c - 1 - i;
      TensorView t{DType::Int64, {c}, idx.data()};
      steps.push_back({"reverse_channels", std::move(ga), g.add_constant(g.unique_name(io->name + "/channel_order"), t)});
    }
    ir::Value* cur = raw;
    for (size_t i = 0; i < steps.size(); ++i) {
      std::vector<ir::Value*> ins{cur};
      if (steps[i].operand) ins.push_back(steps[i].operand);
      const std::string node_name = g.unique_name(io->name + "/preprocess/" + steps[i].suffix);
      ir::Node* n = i + 1 == steps.size()
                        ? g.add_node(node_name, std::move(steps[i].op), ins, std::vector<ir::Value*>{model_in})
                        : g.add_node(node_name, std::move(steps[i].op), ins, 1);
      n->fused.push_back("preprocess:" + std::string(steps[i].suffix));
      const ops::TensorType expect = n->outputs[0]->type;
      g.infer(n);
      if (i + 1 == steps.size() && (n->outputs[0]->type.dtype != expect.dtype || n->outputs[0]->type.shape != expect.shape))
        throw Error("internal error: pre-processing of input '" + io->name + "' produces " +
                    shape_str(n->outputs[0]->type.shape) + " instead of " + shape_str(expect.shape));
      cur = n->outputs[0];
    }
  }
}

}  // namespace kiln::onnx_import
