// ONNX importers for the recurrent family (ops/rnn/rnn.h): RNN, GRU and LSTM, opsets 7-17 (14 added
// the layout attribute). Activation names and their alpha / beta lists are resolved here into
// one (function, alpha, beta) per direction and slot, so the op never applies defaults.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/rnn/rnn.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

std::vector<std::string> attr_strings(const NodeContext& c, const std::string& name) {
  for (const auto& a : c.proto().attribute())
    if (a.name() == name) {
      if (a.type() != onnx::AttributeProto::STRINGS) c.fail("attribute '" + name + "' must be a list of strings");
      return {a.strings().begin(), a.strings().end()};
    }
  return {};
}

// Fills the attributes every cell shares; `defaults` are the cell's per-direction functions.
void import_common(NodeContext& c, RnnAttrs& op, const std::vector<std::string>& defaults) {
  const std::string dir = c.attr_string("direction", "forward");
  if (dir == "forward") op.direction = RnnDirection::Forward;
  else if (dir == "reverse") op.direction = RnnDirection::Reverse;
  else if (dir == "bidirectional") op.direction = RnnDirection::Bidirectional;
  else c.fail("unknown direction '" + dir + "' (expected forward, reverse or bidirectional)");
  const size_t nd = static_cast<size_t>(op.num_directions()), nf = defaults.size();

  if (c.has_attr("hidden_size")) {
    op.hidden_size = c.attr_int("hidden_size", 0);
  } else {
    const Dims& r = c.required_input(2)->type.shape;
    if (r.size() != 3 || r[2] < 0)
      c.fail("hidden_size is not given and R's shape " + shape_str(r) + " does not fix it");
    op.hidden_size = r[2];
  }
  op.layout = c.opset() >= 14 ? c.attr_int("layout", 0) : 0;
  op.has_clip = c.has_attr("clip");
  op.clip = c.attr_float("clip", 0.f);

  std::vector<std::string> names = attr_strings(c, "activations");
  if (names.empty())
    for (size_t d = 0; d < nd; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
  if (names.size() != nd * nf)
    c.fail("activations lists " + std::to_string(names.size()) + " functions, expected " + std::to_string(nd * nf) +
           " (" + std::to_string(nf) + " per direction)");
  const std::vector<float> alphas = c.attr_floats("activation_alpha"), betas = c.attr_floats("activation_beta");
  size_t ia = 0, ib = 0;
  for (const std::string& n : names) {
    RnnAct a;
    if (!rnn_act_from_name(n, a)) c.fail("unsupported activation '" + n + "'");
    const RnnActParams p = rnn_act_params(a);
    float alpha = p.alpha, beta = p.beta;
    if (p.n_alpha && ia < alphas.size()) alpha = alphas[ia++];
    if (p.n_beta && ib < betas.size()) beta = betas[ib++];
    op.activations.push_back(static_cast<int64_t>(a));
    op.activation_alpha.push_back(alpha);
    op.activation_beta.push_back(beta);
  }
}

void emit_cell(NodeContext& c, std::unique_ptr<Op> op) {
  std::vector<ir::Value*> in;
  for (size_t i = 0; i < c.num_inputs(); ++i) in.push_back(c.input(i));
  while (!in.empty() && !in.back()) in.pop_back();
  c.emit(std::move(op), std::move(in));
}

void import_rnn(NodeContext& c) {
  auto op = std::make_unique<RNN>();
  import_common(c, *op, {"Tanh"});
  emit_cell(c, std::move(op));
}

void import_gru(NodeContext& c) {
  auto op = std::make_unique<GRU>();
  import_common(c, *op, {"Sigmoid", "Tanh"});
  op->linear_before_reset = c.attr_int("linear_before_reset", 0) != 0;
  emit_cell(c, std::move(op));
}

void import_lstm(NodeContext& c) {
  auto op = std::make_unique<LSTM>();
  import_common(c, *op, {"Sigmoid", "Tanh", "Tanh"});
  op->input_forget = c.attr_int("input_forget", 0) != 0;
  emit_cell(c, std::move(op));
}

// Opset 7 dropped output_sequence (Y is simply optional since); 14 added layout, read above.
KILN_REGISTER_IMPORTER("RNN", kMinOpset, kMaxOpset, import_rnn);
KILN_REGISTER_IMPORTER("GRU", kMinOpset, kMaxOpset, import_gru);
KILN_REGISTER_IMPORTER("LSTM", kMinOpset, kMaxOpset, import_lstm);

}  // namespace
}  // namespace kiln::onnx_import
