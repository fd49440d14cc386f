// In-house float32 LSTM and GRU for the common form: constant weights, the default activations
// (sigmoid, tanh[, tanh]), no clip, peepholes, input_forget or sequence_lens. The weights are stored
// transposed ([in][4H], [H][4H]) at creation, so each step's gate pre-activations are axpy loops
// over the contiguous 4H gates, which the compiler vectorises without reassociating sums; the
// reference kernel (ops/rnn/rnn.cpp) computes in double with scalar dot products. Anything else falls
// back to the reference.
#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <vector>

#include "kernels/kernel.h"
#include "kernels/simd/simd.h"
#include "ops/rnn/rnn.h"

namespace kiln {
namespace {

using ops::RnnAct;

// dst[k] += a * row[k]: the step's gate pre-activations, one input element at a time (the
// AVX-512 build where the CPU has it).
void axpy(float* dst, const float* row, float a, int64_t n) { simd::kernels().axpy(dst, row, a, n); }

float sigmoid(float v) { return 1.f / (1.f + std::exp(-v)); }

// What both cells share: the geometry (offsets as the reference's Geometry: layout 0 is
// [seq, (dir,) batch, ...]) and the weights repacked once, W and R transposed to [in][gates * H]
// and [H][gates * H], the bias split into its W and R halves.
class Cell32 {
 protected:
  Cell32(const KernelSpec& s, const ops::RnnAttrs& at, int64_t gates) {
    const Dims& x = s.in[0].shape;
    layout_ = at.layout;
    seq_ = layout_ ? x[1] : x[0];
    batch_ = layout_ ? x[0] : x[1];
    in_ = x[2];
    h_ = at.hidden_size;
    g_ = gates * h_;
    nd_ = at.num_directions();
    reverse_only_ = at.direction == ops::RnnDirection::Reverse;
    const auto* w = static_cast<const float*>(s.in[1].const_data);
    const auto* r = static_cast<const float*>(s.in[2].const_data);
    const auto* b = s.in.size() > 3 && s.in[3].present() ? static_cast<const float*>(s.in[3].const_data) : nullptr;
    wt_.assign(static_cast<size_t>(nd_ * in_ * g_), 0.f);
    rt_.assign(static_cast<size_t>(nd_ * h_ * g_), 0.f);
    wb_.assign(static_cast<size_t>(nd_ * g_), 0.f);
    rb_.assign(static_cast<size_t>(nd_ * g_), 0.f);
    for (int64_t d = 0; d < nd_; ++d)
      for (int64_t k = 0; k < g_; ++k) {
        for (int64_t i = 0; i < in_; ++i) wt_[static_cast<size_t>((d * in_ + i) * g_ + k)] = w[(d * g_ + k) * in_ + i];
        for (int64_t i = 0; i < h_; ++i) rt_[static_cast<size_t>((d * h_ + i) * g_ + k)] = r[(d * g_ + k) * h_ + i];
        if (b) {
          wb_[static_cast<size_t>(d * g_ + k)] = b[d * 2 * g_ + k];
          rb_[static_cast<size_t>(d * g_ + k)] = b[d * 2 * g_ + g_ + k];
        }
      }
  }

  int64_t xo(int64_t t, int64_t b) const { return (layout_ ? b * seq_ + t : t * batch_ + b) * in_; }
  int64_t yo(int64_t t, int64_t d, int64_t b) const {
    return (layout_ ? (b * seq_ + t) * nd_ + d : (t * nd_ + d) * batch_ + b) * h_;
  }
  int64_t so(int64_t d, int64_t b) const { return (layout_ ? b * nd_ + d : d * batch_ + b) * h_; }
  bool reverse(int64_t d) const { return reverse_only_ || d == 1; }

  int64_t layout_ = 0, seq_ = 0, batch_ = 0, in_ = 0, h_ = 0, g_ = 0, nd_ = 1;
  bool reverse_only_ = false;
  std::vector<float> wt_, rt_, wb_, rb_;
};

// LSTM, gates i, o, f, c (ONNX order).
class Lstm32 : Cell32 {
 public:
  Lstm32(const KernelSpec& s, const ops::LSTM& op) : Cell32(s, op, 4), bias_(wb_) {
    for (size_t k = 0; k < bias_.size(); ++k) bias_[k] += rb_[k];  // both halves add up front
  }

  void run(const float* x, const float* h0, const float* c0, float* y, float* yh, float* yc) const {
    const int64_t G = g_, H = h_;
    std::vector<float> g(static_cast<size_t>(G)), h(static_cast<size_t>(H)), c(static_cast<size_t>(H));
    for (int64_t d = 0; d < nd_; ++d) {
      const float* wt = wt_.data() + d * in_ * G;
      const float* rt = rt_.data() + d * H * G;
      const float* bias = bias_.data() + d * G;
      for (int64_t b = 0; b < batch_; ++b) {
        for (int64_t j = 0; j < H; ++j) {
          h[static_cast<size_t>(j)] = h0 ? h0[so(d, b) + j] : 0.f;
          c[static_cast<size_t>(j)] = c0 ? c0[so(d, b) + j] : 0.f;
        }
        for (int64_t s = 0; s < seq_; ++s) {
          const int64_t t = reverse(d) ? seq_ - 1 - s : s;
          const float* xt = x + xo(t, b);
          float* gp = g.data();
          std::copy(bias, bias + G, gp);
          for (int64_t i = 0; i < in_; ++i) axpy(gp, wt + i * G, xt[i], G);
          for (int64_t i = 0; i < H; ++i) axpy(gp, rt + i * G, h[static_cast<size_t>(i)], G);
          for (int64_t j = 0; j < H; ++j) {
            const float ig = sigmoid(gp[j]), og = sigmoid(gp[H + j]), fg = sigmoid(gp[2 * H + j]);
            const float cc = std::tanh(gp[3 * H + j]);
            const float cn = fg * c[static_cast<size_t>(j)] + ig * cc;
            c[static_cast<size_t>(j)] = cn;
            h[static_cast<size_t>(j)] = og * std::tanh(cn);
          }
          if (y)
            for (int64_t j = 0; j < H; ++j) y[yo(t, d, b) + j] = h[static_cast<size_t>(j)];
        }
        // A zero-length sequence never ran: its final states are zeros (as the reference's).
        for (int64_t j = 0; j < H; ++j) {
          if (yh) yh[so(d, b) + j] = seq_ ? h[static_cast<size_t>(j)] : 0.f;
          if (yc) yc[so(d, b) + j] = seq_ ? c[static_cast<size_t>(j)] : 0.f;
        }
      }
    }
  }

 private:
  std::vector<float> bias_;  // W's and R's bias summed
};

// GRU, gates z, r, h (ONNX order): z and r as the LSTM's gates; the candidate reads
// (r . Ht-1) R_h^T + Rb_h, or with linear_before_reset r . (Ht-1 R_h^T + Rb_h). No cell state:
// c0 and yc are never given.
class Gru32 : Cell32 {
 public:
  Gru32(const KernelSpec& s, const ops::GRU& op) : Cell32(s, op, 3), lbr_(op.linear_before_reset) {}

  void run(const float* x, const float* h0, const float*, float* y, float* yh, float*) const {
    const int64_t G = g_, H = h_;
    std::vector<float> xw(static_cast<size_t>(G)), hr(static_cast<size_t>(G)), h(static_cast<size_t>(H)),
        rh(static_cast<size_t>(H)), hn(static_cast<size_t>(H));
    for (int64_t d = 0; d < nd_; ++d) {
      const float* wt = wt_.data() + d * in_ * G;
      const float* rt = rt_.data() + d * H * G;
      const float* wb = wb_.data() + d * G;
      const float* rb = rb_.data() + d * G;
      for (int64_t b = 0; b < batch_; ++b) {
        for (int64_t j = 0; j < H; ++j) h[static_cast<size_t>(j)] = h0 ? h0[so(d, b) + j] : 0.f;
        for (int64_t s = 0; s < seq_; ++s) {
          const int64_t t = reverse(d) ? seq_ - 1 - s : s;
          const float* xt = x + xo(t, b);
          std::copy(wb, wb + G, xw.data());
          std::copy(rb, rb + G, hr.data());
          for (int64_t i = 0; i < in_; ++i) axpy(xw.data(), wt + i * G, xt[i], G);
          // z and r (and, with linear_before_reset, the candidate's H R_h^T) from Ht-1.
          const int64_t hk = lbr_ ? G : 2 * H;
          for (int64_t i = 0; i < H; ++i) axpy(hr.data(), rt + i * G, h[static_cast<size_t>(i)], hk);
          if (!lbr_) {
            for (int64_t j = 0; j < H; ++j)
              rh[static_cast<size_t>(j)] = sigmoid(xw[static_cast<size_t>(H + j)] + hr[static_cast<size_t>(H + j)]) *
                                           h[static_cast<size_t>(j)];
            for (int64_t i = 0; i < H; ++i) axpy(hr.data() + 2 * H, rt + i * G + 2 * H, rh[static_cast<size_t>(i)], H);
          }
          for (int64_t j = 0; j < H; ++j) {
            const size_t u = static_cast<size_t>(j);
            const float z = sigmoid(xw[u] + hr[u]);
            const float r = sigmoid(xw[H + u] + hr[H + u]);
            const float cand = std::tanh(xw[2 * H + u] + (lbr_ ? r * hr[2 * H + u] : hr[2 * H + u]));
            hn[u] = (1 - z) * cand + z * h[u];
          }
          h = hn;
          if (y)
            for (int64_t j = 0; j < H; ++j) y[yo(t, d, b) + j] = h[static_cast<size_t>(j)];
        }
        for (int64_t j = 0; j < H; ++j)
          if (yh) yh[so(d, b) + j] = seq_ ? h[static_cast<size_t>(j)] : 0.f;
      }
    }
  }

 private:
  bool lbr_ = false;
};

// Binds a cell to a context's buffers: X (input 0), initial_h (5), initial_c (6, LSTM), and Y,
// Y_h, Y_c (outputs 0-2), each absent where the layer lacks it. The closure shares the repacked
// weights, so it stays valid however long the context keeps it.
template <class Cell, class Op>
class RnnKernel final : public Kernel {
 public:
  RnnKernel(const KernelSpec& s, const Op& op) : cell_(std::make_shared<const Cell>(s, op)) {
    for (size_t i = 0; i < 7; ++i) {
      const bool here = i < s.in.size() && s.in[i].present();
      in_present_[i] = here;
      in_const_[i] = here ? s.in[i].const_data : nullptr;
    }
    for (size_t i = 0; i < 3; ++i) out_present_[i] = i < s.out.size() && s.out[i].present();
  }

  BoundKernel bind(const KernelBinding& kb) const override {
    auto in = [&](size_t i) -> const float* {
      if (!in_present_[i]) return nullptr;
      return static_cast<const float*>(in_const_[i] ? in_const_[i] : kb.in.at(i));
    };
    auto out = [&](size_t i) -> float* { return out_present_[i] ? static_cast<float*>(kb.out.at(i)) : nullptr; };
    return [cell = cell_, x = in(0), h0 = in(5), c0 = in(6), y = out(0), yh = out(1), yc = out(2)](dnnl::stream&) {
      cell->run(x, h0, c0, y, yh, yc);
    };
  }

 private:
  std::shared_ptr<const Cell> cell_;
  std::array<bool, 7> in_present_{};
  std::array<const void*, 7> in_const_{};
  std::array<bool, 3> out_present_{};
};

// The shared conditions: float32 dense X and states, constant W, R, B, no sequence_lens (input 4)
// or peepholes (input 7), no clip, and the default activations `acts` in every direction.
bool default_form(const KernelSpec& s, const ops::RnnAttrs& at, size_t max_outputs, const std::vector<RnnAct>& acts) {
  if (s.in.size() < 3 || s.out.empty() || s.out.size() > max_outputs) return false;
  auto dense_f32 = [](const KernelTensor& t) {
    return t.dtype == DType::Float32 && t.layout.empty() && shape_static(t.shape);
  };
  for (size_t i = 0; i < s.in.size(); ++i) {
    const KernelTensor& t = s.in[i];
    if (!t.present()) continue;
    if (i == 4 || i == 7 || !dense_f32(t)) return false;
    if ((i == 1 || i == 2 || i == 3) && !t.const_data) return false;  // weights are repacked once
  }
  if (!s.in[1].present() || !s.in[2].present() || s.in[0].shape.size() != 3) return false;
  for (const KernelTensor& t : s.out)
    if (t.present() && !dense_f32(t)) return false;
  if (at.has_clip || at.hidden_size <= 0) return false;
  const size_t nd = static_cast<size_t>(at.num_directions());
  if (at.activations.size() != acts.size() * nd) return false;
  for (size_t d = 0; d < nd; ++d)
    for (size_t k = 0; k < acts.size(); ++k)
      if (at.activations[acts.size() * d + k] != static_cast<int64_t>(acts[k])) return false;
  return true;
}

std::unique_ptr<Kernel> make_gru(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::GRU*>(&s.op);
  if (!op || !default_form(s, *op, 2, {RnnAct::Sigmoid, RnnAct::Tanh})) return nullptr;
  return std::make_unique<RnnKernel<Gru32, ops::GRU>>(s, *op);
}

std::unique_ptr<Kernel> make_lstm(const KernelSpec& s) {
  const auto* op = dynamic_cast<const ops::LSTM*>(&s.op);
  if (!op || op->input_forget || !default_form(s, *op, 3, {RnnAct::Sigmoid, RnnAct::Tanh, RnnAct::Tanh}))
    return nullptr;
  return std::make_unique<RnnKernel<Lstm32, ops::LSTM>>(s, *op);
}

KILN_REGISTER_KERNEL("LSTM", "inhouse", make_lstm);
KILN_REGISTER_KERNEL("GRU", "inhouse", make_gru);

}  // namespace
}  // namespace kiln
