// RNN, GRU and LSTM: attribute reflection, shape inference and one reference kernel for all
// three cells (see rnn.h). The kernel walks each direction and batch row through time in
// double precision, which keeps it obviously correct and makes it the oracle for faster ones.
#include "ops/rnn/rnn.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "ops/math/activation.h"
#include "ops/tensor/shape.h"

namespace kiln::ops {

namespace {

constexpr int64_t kMaxHidden = int64_t(1) << 24;

const struct { const char* name; RnnAct act; RnnActParams params; } kActs[] = {
    {"relu", RnnAct::Relu, {0, 0, 0.f, 0.f}},
    {"tanh", RnnAct::Tanh, {0, 0, 0.f, 0.f}},
    {"sigmoid", RnnAct::Sigmoid, {0, 0, 0.f, 0.f}},
    {"affine", RnnAct::Affine, {1, 1, 1.f, 0.f}},
    {"leakyrelu", RnnAct::LeakyRelu, {1, 0, 0.01f, 0.f}},
    {"thresholdedrelu", RnnAct::ThresholdedRelu, {1, 0, 1.f, 0.f}},
    {"scaledtanh", RnnAct::ScaledTanh, {1, 1, 1.f, 1.f}},
    {"hardsigmoid", RnnAct::HardSigmoid, {1, 1, 0.2f, 0.5f}},
    {"elu", RnnAct::Elu, {1, 0, 1.f, 0.f}},
    {"softsign", RnnAct::Softsign, {0, 0, 0.f, 0.f}},
    {"softplus", RnnAct::Softplus, {0, 0, 0.f, 0.f}},
};

bool act_valid(int64_t code) { return code >= 1 && code <= static_cast<int64_t>(RnnAct::Softplus); }

}  // namespace

bool rnn_act_from_name(const std::string& name, RnnAct& out) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
  for (const auto& a : kActs)
    if (lower == a.name) {
      out = a.act;
      return true;
    }
  return false;
}

RnnActParams rnn_act_params(RnnAct a) {
  for (const auto& e : kActs)
    if (e.act == a) return e.params;
  return {0, 0, 0.f, 0.f};
}

double apply_rnn_act(RnnAct a, double alpha, double beta, double x) {
  switch (a) {
    case RnnAct::Relu: return apply_act<double>(Act::Relu, alpha, beta, x);
    case RnnAct::Tanh: return apply_act<double>(Act::Tanh, alpha, beta, x);
    case RnnAct::Sigmoid: return apply_act<double>(Act::Sigmoid, alpha, beta, x);
    case RnnAct::Affine: return alpha * x + beta;
    case RnnAct::LeakyRelu: return apply_act<double>(Act::LeakyRelu, alpha, beta, x);
    case RnnAct::ThresholdedRelu: return x > alpha ? x : 0.0;
    case RnnAct::ScaledTanh: return alpha * std::tanh(beta * x);
    case RnnAct::HardSigmoid: return apply_act<double>(Act::HardSigmoid, alpha, beta, x);
    case RnnAct::Elu: return apply_act<double>(Act::Elu, alpha, beta, x);
    case RnnAct::Softsign: return apply_act<double>(Act::Softsign, alpha, beta, x);
    case RnnAct::Softplus: return apply_act<double>(Act::Softplus, alpha, beta, x);
  }
  return x;
}

void RnnAttrs::visit(AttrVisitor& v) {
  v.visit("hidden_size", hidden_size);
  visit_enum(v, "direction", direction);
  v.visit("activations", activations);
  v.visit("activation_alpha", activation_alpha);
  v.visit("activation_beta", activation_beta);
  visit_bool(v, "has_clip", has_clip);
  v.visit("clip", clip);
  v.visit("layout", layout);
}

namespace {

// Checks input i's shape against `want` (unknown dims on either side match).
void expect_shape(InferContext& ctx, size_t i, const std::string& what, const char* name, const Dims& want) {
  const Dims& s = ctx.input(i).shape;
  bool ok = s.size() == want.size();
  for (size_t d = 0; ok && d < s.size(); ++d) ok = s[d] < 0 || want[d] < 0 || s[d] == want[d];
  check(ok, what + ": " + name + " (input " + std::to_string(i) + ") has shape " + shape_str(s) + ", expected " +
                shape_str(want));
}

}  // namespace

void RnnAttrs::infer_rnn(InferContext& ctx, const std::string& what, int64_t gates, size_t funcs,
                         size_t max_inputs, size_t max_outputs) const {
  check(ctx.num_inputs() >= 3 && ctx.num_inputs() <= max_inputs,
        what + " takes 3 to " + std::to_string(max_inputs) + " inputs, got " + std::to_string(ctx.num_inputs()));
  check(ctx.num_outputs() >= 1 && ctx.num_outputs() <= max_outputs,
        what + " has 1 to " + std::to_string(max_outputs) + " outputs, got " + std::to_string(ctx.num_outputs()));
  for (size_t i = 0; i < 3; ++i) check(ctx.has_input(i), what + ": inputs X, W and R are required");
  const auto d = static_cast<int64_t>(direction);
  check(d >= 0 && d <= 2, what + ": unknown direction code " + std::to_string(d));
  check(layout == 0 || layout == 1, what + ": layout must be 0 or 1, got " + std::to_string(layout));
  check(hidden_size >= 1 && hidden_size <= kMaxHidden,
        what + ": hidden_size must be in [1, 2^24], got " + std::to_string(hidden_size));
  const int64_t nd = num_directions();
  check(activations.size() == static_cast<size_t>(nd) * funcs,
        what + " needs " + std::to_string(nd * static_cast<int64_t>(funcs)) + " activation functions (" +
            std::to_string(funcs) + " per direction), got " + std::to_string(activations.size()));
  check(activation_alpha.size() == activations.size() && activation_beta.size() == activations.size(),
        what + ": activation_alpha / activation_beta must hold one value per activation");
  for (int64_t a : activations) check(act_valid(a), what + ": unknown activation code " + std::to_string(a));
  check(!has_clip || clip >= 0.f, what + ": clip must be >= 0");

  const TensorType& x = ctx.input(0);
  check(x.dtype == DType::Float32 || x.dtype == DType::Float64,
        what + " takes float32 or float64, not " + std::string(dtype_name(x.dtype)));
  check(x.shape.size() == 3, what + ": X must be 3-D, got shape " + shape_str(x.shape));
  const int64_t seq = layout ? x.shape[1] : x.shape[0];
  const int64_t batch = layout ? x.shape[0] : x.shape[1];
  const int64_t in = x.shape[2], h = hidden_size;
  const Dims state = layout ? Dims{batch, nd, h} : Dims{nd, batch, h};
  const char* names[] = {"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"};
  const Dims wants[] = {{}, {nd, gates * h, in}, {nd, gates * h, h}, {nd, 2 * gates * h}, {batch}, state, state,
                         {nd, 3 * h}};
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    const TensorType& t = ctx.input(i);
    if (i == 4)
      check(t.dtype == DType::Int32 || t.dtype == DType::Int64,
            what + ": sequence_lens must be int32, not " + std::string(dtype_name(t.dtype)));
    else
      check(t.dtype == x.dtype, what + ": " + names[i] + " has dtype " + dtype_name(t.dtype) + " but X has " +
                                    dtype_name(x.dtype));
    expect_shape(ctx, i, what, names[i], wants[i]);
  }
  const Dims y = layout ? Dims{batch, seq, nd, h} : Dims{seq, nd, batch, h};
  check_output_shape(y, "Y");
  ctx.set_output(0, x.dtype, y);
  for (size_t i = 1; i < ctx.num_outputs(); ++i) ctx.set_output(i, x.dtype, state);
}

// ---------------------------------------------------------------------------------------------
// The reference kernel

namespace {

enum class Cell { RNN, GRU, LSTM };

struct CellSpec {
  Cell cell;
  int64_t gates;
  size_t funcs;
  bool linear_before_reset = false;
  bool input_forget = false;
};

// Element offsets of the sequence / state tensors for both layouts.
struct Geometry {
  int64_t seq, batch, in, h, nd, layout;
  int64_t x(int64_t t, int64_t b) const { return (layout ? b * seq + t : t * batch + b) * in; }
  int64_t y(int64_t t, int64_t dir, int64_t b) const {
    return (layout ? (b * seq + t) * nd + dir : (t * nd + dir) * batch + b) * h;
  }
  int64_t state(int64_t dir, int64_t b) const { return (layout ? b * nd + dir : dir * batch + b) * h; }
};

template <class T>
const T* opt_in(const KernelArgs& a, size_t i) {
  return i < a.in.size() ? a.in[i].as<const T>() : nullptr;
}
template <class T>
T* opt_out(const KernelArgs& a, size_t i) {
  return i < a.out.size() ? a.out[i].as<T>() : nullptr;
}

template <class T>
void run_rnn(const RnnAttrs& at, const CellSpec& cs, const KernelArgs& a) {
  const TensorView& xv = a.in[0];
  Geometry g{at.layout ? xv.shape[1] : xv.shape[0], at.layout ? xv.shape[0] : xv.shape[1], xv.shape[2],
             at.hidden_size, at.num_directions(), at.layout};
  const int64_t H = g.h, GH = cs.gates * H;
  const T* x = xv.as<const T>();
  const T* w = a.in[1].as<const T>();
  const T* r = a.in[2].as<const T>();
  const T* bias = opt_in<T>(a, 3);
  const T* h0 = opt_in<T>(a, 5);
  const T* c0 = cs.cell == Cell::LSTM ? opt_in<T>(a, 6) : nullptr;
  const T* peep = cs.cell == Cell::LSTM ? opt_in<T>(a, 7) : nullptr;
  T* y = opt_out<T>(a, 0);
  T* yh = opt_out<T>(a, 1);
  T* yc = cs.cell == Cell::LSTM ? opt_out<T>(a, 2) : nullptr;
  // Steps past a row's sequence length leave zeros in Y (as ONNX Runtime does).
  if (y) std::fill(y, y + a.out[0].elements(), T(0));

  std::vector<double> hs(static_cast<size_t>(H)), cst(static_cast<size_t>(H)), xw(static_cast<size_t>(GH)),
      hr(static_cast<size_t>(GH)), hn(static_cast<size_t>(H)), rg(static_cast<size_t>(H));
  // clip bounds the gates' pre-activations; LSTM's h(Ct) sees the cell state unclipped (as in
  // ONNX Runtime).
  auto act = [&](int64_t dir, size_t k, double v, bool clipped = true) {
    const size_t i = static_cast<size_t>(dir) * cs.funcs + k;
    if (at.has_clip && clipped) v = std::clamp(v, -static_cast<double>(at.clip), static_cast<double>(at.clip));
    return apply_rnn_act(static_cast<RnnAct>(at.activations[i]), at.activation_alpha[i], at.activation_beta[i], v);
  };
  for (int64_t dir = 0; dir < g.nd; ++dir) {
    const bool reverse = at.direction == RnnDirection::Reverse || dir == 1;
    const T* wd = w + dir * GH * g.in;
    const T* rd = r + dir * GH * H;
    const T* wb = bias ? bias + dir * 2 * GH : nullptr;
    const T* rb = bias ? wb + GH : nullptr;
    const T* pd = peep ? peep + dir * 3 * H : nullptr;
    for (int64_t b = 0; b < g.batch; ++b) {
      int64_t len = g.seq;
      if (a.in.size() > 4 && a.in[4].data) {
        len = element_as_int(a.in[4], b);
        if (len < 0 || len > g.seq)
          fail("sequence_lens[" + std::to_string(b) + "] = " + std::to_string(len) + " is outside [0, " +
               std::to_string(g.seq) + "]");
      }
      for (int64_t j = 0; j < H; ++j) {
        hs[j] = h0 ? static_cast<double>(h0[g.state(dir, b) + j]) : 0.0;
        cst[j] = c0 ? static_cast<double>(c0[g.state(dir, b) + j]) : 0.0;
      }
      for (int64_t s = 0; s < len; ++s) {
        const int64_t t = reverse ? len - 1 - s : s;
        const T* xt = x + g.x(t, b);
        // xw = Xt W^T + Wb, hr = Ht-1 R^T + Rb, for all gates at once.
        for (int64_t k = 0; k < GH; ++k) {
          double sx = wb ? static_cast<double>(wb[k]) : 0.0, sh = rb ? static_cast<double>(rb[k]) : 0.0;
          for (int64_t i = 0; i < g.in; ++i) sx += static_cast<double>(xt[i]) * wd[k * g.in + i];
          for (int64_t i = 0; i < H; ++i) sh += hs[i] * rd[k * H + i];
          xw[k] = sx;
          hr[k] = sh;
        }
        // GRU's reset gate first: without linear_before_reset every unit reads all of r . Ht-1.
        if (cs.cell == Cell::GRU)
          for (int64_t j = 0; j < H; ++j) rg[j] = act(dir, 0, xw[H + j] + hr[H + j]);
        for (int64_t j = 0; j < H; ++j) {
          if (cs.cell == Cell::RNN) {
            hn[j] = act(dir, 0, xw[j] + hr[j]);
          } else if (cs.cell == Cell::GRU) {
            const double z = act(dir, 0, xw[j] + hr[j]);
            double cand;
            if (cs.linear_before_reset) {
              cand = act(dir, 1, xw[2 * H + j] + rg[j] * hr[2 * H + j]);
            } else {
              double sr = rb ? static_cast<double>(rb[2 * H + j]) : 0.0;
              for (int64_t i = 0; i < H; ++i) sr += rg[i] * hs[i] * rd[(2 * H + j) * H + i];
              cand = act(dir, 1, xw[2 * H + j] + sr);
            }
            hn[j] = (1 - z) * cand + z * hs[j];
          } else {
            const double pi = pd ? static_cast<double>(pd[j]) : 0.0;
            const double po = pd ? static_cast<double>(pd[H + j]) : 0.0;
            const double pf = pd ? static_cast<double>(pd[2 * H + j]) : 0.0;
            const double ig = act(dir, 0, xw[j] + hr[j] + pi * cst[j]);
            const double fg = cs.input_forget ? 1 - ig : act(dir, 0, xw[2 * H + j] + hr[2 * H + j] + pf * cst[j]);
            const double cc = act(dir, 1, xw[3 * H + j] + hr[3 * H + j]);
            const double c = fg * cst[j] + ig * cc;
            const double og = act(dir, 0, xw[H + j] + hr[H + j] + po * c);
            cst[j] = c;
            hn[j] = og * act(dir, 2, c, false);
          }
        }
        hs = hn;
        if (y)
          for (int64_t j = 0; j < H; ++j) y[g.y(t, dir, b) + j] = static_cast<T>(hs[j]);
      }
      // A row of length 0 never ran: its final states are zeros (as ONNX Runtime's).
      for (int64_t j = 0; j < H; ++j) {
        if (yh) yh[g.state(dir, b) + j] = len ? static_cast<T>(hs[j]) : T(0);
        if (yc) yc[g.state(dir, b) + j] = len ? static_cast<T>(cst[j]) : T(0);
      }
    }
  }
}

void run(const RnnAttrs& at, const CellSpec& cs, const KernelArgs& a) {
  if (a.in[0].dtype == DType::Float64) run_rnn<double>(at, cs, a);
  else run_rnn<float>(at, cs, a);
}

}  // namespace

void RNN::infer(InferContext& ctx) const { infer_rnn(ctx, kType, 1, 1, 6, 2); }
void RNN::reference(const KernelArgs& a) const { run(*this, {Cell::RNN, 1, 1}, a); }

void GRU::attrs(AttrVisitor& v) {
  RnnAttrs::visit(v);
  visit_bool(v, "linear_before_reset", linear_before_reset);
}
void GRU::infer(InferContext& ctx) const { infer_rnn(ctx, kType, 3, 2, 6, 2); }
void GRU::reference(const KernelArgs& a) const { run(*this, {Cell::GRU, 3, 2, linear_before_reset, false}, a); }

void LSTM::attrs(AttrVisitor& v) {
  RnnAttrs::visit(v);
  visit_bool(v, "input_forget", input_forget);
}
void LSTM::infer(InferContext& ctx) const { infer_rnn(ctx, kType, 4, 3, 8, 3); }
void LSTM::reference(const KernelArgs& a) const { run(*this, {Cell::LSTM, 4, 3, false, input_forget}, a); }

KILN_REGISTER_OP(RNN);
KILN_REGISTER_OP(GRU);
KILN_REGISTER_OP(LSTM);

}  // namespace kiln::ops
