// Recurrent family: RNN, GRU and LSTM as ONNX defines them (opset 7+, layout from 14):
// forward / reverse / bidirectional, per-direction activation functions, clip, optional
// sequence_lens, initial states and peepholes, and the optional outputs Y, Y_h (and Y_c).
#pragma once

#include "ops/op.h"

namespace kiln::ops {

enum class RnnDirection : int64_t { Forward = 0, Reverse = 1, Bidirectional = 2 };

// The activation functions ONNX allows in recurrent cells; a superset of what the standalone
// activation ops need (Affine, ThresholdedRelu and ScaledTanh exist only here).
enum class RnnAct : int64_t {
  Relu = 1,
  Tanh = 2,
  Sigmoid = 3,
  Affine = 4,           // alpha * x + beta
  LeakyRelu = 5,        // alpha = slope
  ThresholdedRelu = 6,  // x if x > alpha else 0
  ScaledTanh = 7,       // alpha * tanh(beta * x)
  HardSigmoid = 8,      // max(0, min(1, alpha * x + beta))
  Elu = 9,              // alpha
  Softsign = 10,
  Softplus = 11,
};

// Parses an ONNX activation name (case-insensitive); false if unknown.
bool rnn_act_from_name(const std::string& name, RnnAct& out);
// The alpha / beta ONNX Runtime uses for an activation when activation_alpha / _beta run out,
// and how many of each the activation consumes from those lists.
struct RnnActParams { int n_alpha, n_beta; float alpha, beta; };
RnnActParams rnn_act_params(RnnAct a);
double apply_rnn_act(RnnAct a, double alpha, double beta, double x);

// Attributes the three cells share. activations holds num_directions * functions-per-cell
// entries (forward first), with alphas / betas resolved to one value each, so kernels never
// apply defaults themselves.
struct RnnAttrs {
  int64_t hidden_size = 0;
  RnnDirection direction = RnnDirection::Forward;
  std::vector<int64_t> activations;  // RnnAct codes
  std::vector<float> activation_alpha;
  std::vector<float> activation_beta;
  // Bounds every gate pre-activation to [-clip, clip]; LSTM's h(Ct) sees Ct unclipped.
  bool has_clip = false;
  float clip = 0.f;
  int64_t layout = 0;  // 0: X [seq, batch, in]; 1: X [batch, seq, in] (opset 14)

  int64_t num_directions() const { return direction == RnnDirection::Bidirectional ? 2 : 1; }
  void visit(AttrVisitor& v);
  // Checks the inputs and sets the outputs of a cell with `gates` gates (W is [D, gates * H,
  // in]) and `funcs` activation functions per direction; `max_inputs` is the ONNX arity.
  void infer_rnn(InferContext& ctx, const std::string& what, int64_t gates, size_t funcs, size_t max_inputs,
                 size_t max_outputs) const;
};

// Inputs: X, W [D, H, in], R [D, H, H], B [D, 2H], sequence_lens [batch], initial_h.
// Outputs: Y, Y_h. Ht = f(Xt W^T + Ht-1 R^T + Wb + Rb).
struct RNN : OpBase<RNN>, RnnAttrs {
  static constexpr const char* kType = "RNN";
  void attrs(AttrVisitor& v) override { RnnAttrs::visit(v); }
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Gates [z, r, h] (W is [D, 3H, in]); functions f (gates z, r) and g (candidate h).
struct GRU : OpBase<GRU>, RnnAttrs {
  static constexpr const char* kType = "GRU";
  bool linear_before_reset = false;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Gates [i, o, f, c] (W is [D, 4H, in]); inputs add initial_c and peepholes P [D, 3H] = [Pi,
// Po, Pf]; outputs add Y_c. Functions f (gates), g (cell candidate), h (output).
// input_forget couples the forget gate to the input gate: f = 1 - i.
struct LSTM : OpBase<LSTM>, RnnAttrs {
  static constexpr const char* kType = "LSTM";
  bool input_forget = false;
  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
