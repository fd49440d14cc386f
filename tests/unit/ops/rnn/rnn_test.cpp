// RNN, GRU and LSTM: the reference kernel against hand-computed cells (directions, sequence
// lengths, initial states, layout, linear_before_reset, peepholes, input_forget, clip, custom
// activations, float64), infer() errors, and the importers' attribute resolution.
#include <cmath>

#include <gtest/gtest.h>

#include "ops/rnn/rnn.h"
#include "ops/multi_output_test_util.h"

namespace kiln::test {
namespace {

using namespace ops;
using namespace multi_output;

double sig(double x) { return 1 / (1 + std::exp(-x)); }

template <class T>
T cell(int64_t hidden, RnnDirection dir, std::vector<RnnAct> acts) {
  T op;
  op.hidden_size = hidden;
  op.direction = dir;
  for (RnnAct a : acts) {
    const RnnActParams p = rnn_act_params(a);
    op.activations.push_back(static_cast<int64_t>(a));
    op.activation_alpha.push_back(p.alpha);
    op.activation_beta.push_back(p.beta);
  }
  return op;
}
RNN rnn(RnnDirection dir = RnnDirection::Forward) {
  return cell<RNN>(1, dir, dir == RnnDirection::Bidirectional ? std::vector{RnnAct::Tanh, RnnAct::Tanh}
                                                               : std::vector{RnnAct::Tanh});
}

TEST(RnnReference, RnnDirections) {
  // H = I = 1, seq 2, batch 1: W = 0.5, R = 0.25, Wb + Rb = 0.3, x = [1, 2].
  const double h1 = std::tanh(0.8), h2 = std::tanh(1.0 + 0.25 * h1 + 0.3);
  const double g1 = std::tanh(1.3), g0 = std::tanh(0.5 + 0.25 * g1 + 0.3);  // reverse: t = 1 first
  HostTensor x = f32({2, 1, 1}, {1, 2});
  auto fw = run_ref(rnn(), {x, f32({1, 1, 1}, {0.5}), f32({1, 1, 1}, {0.25}), f32({1, 2}, {0.1f, 0.2f})}, 2);
  EXPECT_EQ(fw[0].shape, (Dims{2, 1, 1, 1}));
  expect_near(vals<float>(fw[0]), {h1, h2});
  expect_near(vals<float>(fw[1]), {h2});
  auto rv = run_ref(rnn(RnnDirection::Reverse),
                    {x, f32({1, 1, 1}, {0.5}), f32({1, 1, 1}, {0.25}), f32({1, 2}, {0.1f, 0.2f})}, 2);
  expect_near(vals<float>(rv[0]), {g0, g1});
  expect_near(vals<float>(rv[1]), {g0});
  auto bi =
      run_ref(rnn(RnnDirection::Bidirectional),
              {x, f32({2, 1, 1}, {0.5, 0.5}), f32({2, 1, 1}, {0.25, 0.25}), f32({2, 2}, {0.1f, 0.2f, 0.1f, 0.2f})}, 2);
  EXPECT_EQ(bi[0].shape, (Dims{2, 2, 1, 1}));
  expect_near(vals<float>(bi[0]), {h1, g0, h2, g1});  // [seq, dir, batch, hidden]
  expect_near(vals<float>(bi[1]), {h2, g0});
}

TEST(RnnReference, SequenceLensInitialHAndLayout) {
  // batch 3 with lengths 2, 1, 0; W = 1, R = 0.5, no bias, h0 = [0.5, -0.5, 0.25].
  HostTensor x = f32({2, 3, 1}, {1, 2, 3, 4, 5, 6});  // [seq, batch, in]
  HostTensor w = f32({1, 1, 1}, {1}), r = f32({1, 1, 1}, {0.5});
  HostTensor lens = i32({3}, {2, 1, 0}), h0 = f32({1, 3, 1}, {0.5, -0.5, 0.25});
  const double a0 = std::tanh(1 + 0.25), a1 = std::tanh(4 + 0.5 * a0), b0 = std::tanh(2 - 0.25);
  auto out = run_ref(rnn(), {x, w, r, absent(), lens, h0}, 2);
  // Steps past a row's length are zeros; a row of length 0 ends in a zero state.
  expect_near(vals<float>(out[0]), {a0, b0, 0, a1, 0, 0});
  expect_near(vals<float>(out[1]), {a1, b0, 0});
  // Reverse reads each row's own last valid step first.
  auto rv = run_ref(rnn(RnnDirection::Reverse), {x, w, r, absent(), lens, h0}, 2);
  const double c1 = std::tanh(4 + 0.25), c0 = std::tanh(1 + 0.5 * c1);
  expect_near(vals<float>(rv[0]), {c0, b0, 0, c1, 0, 0});
  expect_near(vals<float>(rv[1]), {c0, b0, 0});
  // layout 1: X [batch, seq, in], Y [batch, seq, dir, hidden], Y_h [batch, dir, hidden].
  RNN l1 = rnn();
  l1.layout = 1;
  auto bw =
      run_ref(l1, {f32({3, 2, 1}, {1, 4, 2, 5, 3, 6}), w, r, absent(), lens, f32({3, 1, 1}, {0.5, -0.5, 0.25})}, 2);
  EXPECT_EQ(bw[0].shape, (Dims{3, 2, 1, 1}));
  expect_near(vals<float>(bw[0]), {a0, a1, b0, 0, 0, 0});
  EXPECT_EQ(bw[1].shape, (Dims{3, 1, 1}));
  expect_near(vals<float>(bw[1]), {a1, b0, 0});
  EXPECT_NE(run_err(rnn(), {x, w, r, absent(), i32({3}, {2, 3, 0})}).find("outside [0, 2]"), std::string::npos);
}

TEST(RnnReference, GruResetPlacement) {
  // H = I = 1: W = [z, r, h] = [.1, .2, .3], R = [.4, .5, .6], B = [Wb | Rb], x = 2, h0 = 0.7.
  HostTensor x = f32({1, 1, 1}, {2}), w = f32({1, 3, 1}, {0.1f, 0.2f, 0.3f}), r = f32({1, 3, 1}, {0.4f, 0.5f, 0.6f});
  HostTensor b = f32({1, 6}, {0.01f, 0.02f, 0.03f, 0.04f, 0.05f, 0.06f}), h0 = f32({1, 1, 1}, {0.7f});
  const double z = sig(0.2 + 0.01 + 0.4 * 0.7 + 0.04), rg = sig(0.4 + 0.02 + 0.5 * 0.7 + 0.05);
  const double def = std::tanh(0.6 + 0.03 + rg * 0.7 * 0.6 + 0.06);     // (r . h) Rh + Rbh
  const double lbr = std::tanh(0.6 + 0.03 + rg * (0.7 * 0.6 + 0.06));   // r . (h Rh + Rbh)
  GRU g = cell<GRU>(1, RnnDirection::Forward, {RnnAct::Sigmoid, RnnAct::Tanh});
  expect_near(vals<float>(run_ref(g, {x, w, r, b, absent(), h0}, 2)[1]), {(1 - z) * def + z * 0.7});
  g.linear_before_reset = true;
  expect_near(vals<float>(run_ref(g, {x, w, r, b, absent(), h0}, 2)[1]), {(1 - z) * lbr + z * 0.7});
}

TEST(RnnReference, GruResetGateIsPerUnit) {
  // H = 2, I = 1, no bias: the candidate of unit j reads sum_i r_i h_i Rh[j, i].
  HostTensor x = f32({1, 1, 1}, {1});
  HostTensor w = f32({1, 6, 1}, {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f});
  std::vector<float> rv{0.1f, 0.2f, 0.3f, -0.4f, 0.5f, 0.6f, -0.7f, 0.8f, 0.9f, 1.0f, -1.1f, 1.2f};
  HostTensor r = f32({1, 6, 2}, rv), h0 = f32({1, 1, 2}, {0.5f, -1.0f});
  const double h[2] = {0.5, -1.0};
  auto R = [&](int row, int col) { return static_cast<double>(rv[row * 2 + col]); };
  std::vector<double> want;
  for (int j = 0; j < 2; ++j) {
    const double z = sig(w.as<float>()[j] + R(j, 0) * h[0] + R(j, 1) * h[1]);
    double rs[2];
    for (int i = 0; i < 2; ++i) rs[i] = sig(w.as<float>()[2 + i] + R(2 + i, 0) * h[0] + R(2 + i, 1) * h[1]);
    const double c = std::tanh(w.as<float>()[4 + j] + rs[0] * h[0] * R(4 + j, 0) + rs[1] * h[1] * R(4 + j, 1));
    want.push_back((1 - z) * c + z * h[j]);
  }
  GRU g = cell<GRU>(2, RnnDirection::Forward, {RnnAct::Sigmoid, RnnAct::Tanh});
  expect_near(vals<float>(run_ref(g, {x, w, r, absent(), absent(), h0}, 2)[1]), want);
}

TEST(RnnReference, LstmPeepholesAndInputForget) {
  // H = I = 1: W = [i, o, f, c] = [.1, .2, .3, .4], R = [.5, .6, .7, .8], P = [i, o, f].
  HostTensor x = f32({1, 1, 1}, {1}), w = f32({1, 4, 1}, {0.1f, 0.2f, 0.3f, 0.4f});
  HostTensor r = f32({1, 4, 1}, {0.5f, 0.6f, 0.7f, 0.8f}), h0 = f32({1, 1, 1}, {0.5f}), c0 = f32({1, 1, 1}, {-0.5f});
  HostTensor p = f32({1, 3}, {0.01f, 0.02f, 0.03f});
  const double i = sig(0.1 + 0.25 - 0.005), f = sig(0.3 + 0.35 - 0.015), cc = std::tanh(0.4 + 0.4);
  const double c = f * -0.5 + i * cc, o = sig(0.2 + 0.3 + 0.02 * c);  // o peeks at the new C
  LSTM l = cell<LSTM>(1, RnnDirection::Forward, {RnnAct::Sigmoid, RnnAct::Tanh, RnnAct::Tanh});
  auto out = run_ref(l, {x, w, r, absent(), absent(), h0, c0, p}, 3);
  expect_near(vals<float>(out[0]), {o * std::tanh(c)});
  expect_near(vals<float>(out[1]), {o * std::tanh(c)});
  expect_near(vals<float>(out[2]), {c});
  l.input_forget = true;
  const double c2 = (1 - i) * -0.5 + i * cc, o2 = sig(0.2 + 0.3 + 0.02 * c2);
  expect_near(vals<float>(run_ref(l, {x, w, r, absent(), absent(), h0, c0, p}, 3)[2]), {c2});
  expect_near(vals<float>(run_ref(l, {x, w, r, absent(), absent(), h0, c0, p}, 3)[1]), {o2 * std::tanh(c2)});
}

TEST(RnnReference, LstmClipBoundsGatesNotCell) {
  // Every gate's pre-activation is 10, clipped to 0.5; C = sig(.5) * 2 + sig(.5) * tanh(.5) > 0.5
  // goes into h() unclipped.
  HostTensor x = f32({1, 1, 1}, {10}), w = f32({1, 4, 1}, {1, 1, 1, 1}), r = f32({1, 4, 1}, {0, 0, 0, 0});
  LSTM l = cell<LSTM>(1, RnnDirection::Forward, {RnnAct::Sigmoid, RnnAct::Tanh, RnnAct::Tanh});
  l.has_clip = true;
  l.clip = 0.5f;
  const double c = sig(0.5) * 2 + sig(0.5) * std::tanh(0.5);
  auto out = run_ref(l, {x, w, r, absent(), absent(), f32({1, 1, 1}, {0}), f32({1, 1, 1}, {2})}, 3);
  expect_near(vals<float>(out[1]), {sig(0.5) * std::tanh(c)});
  expect_near(vals<float>(out[2]), {c});
}

TEST(RnnReference, CustomActivationsAndFloat64) {
  EXPECT_DOUBLE_EQ(apply_rnn_act(RnnAct::Affine, 2, 1, 3), 7);
  EXPECT_DOUBLE_EQ(apply_rnn_act(RnnAct::ThresholdedRelu, 1, 0, 0.5), 0);
  EXPECT_DOUBLE_EQ(apply_rnn_act(RnnAct::ThresholdedRelu, 1, 0, 1.5), 1.5);
  EXPECT_DOUBLE_EQ(apply_rnn_act(RnnAct::ScaledTanh, 2, 0.5, 1), 2 * std::tanh(0.5));
  EXPECT_DOUBLE_EQ(apply_rnn_act(RnnAct::HardSigmoid, 0.2, 0.5, 1), 0.7);
  EXPECT_DOUBLE_EQ(apply_rnn_act(RnnAct::LeakyRelu, 0.1, 0, -2), -0.2);
  EXPECT_NEAR(apply_rnn_act(RnnAct::Softplus, 0, 0, 1), std::log1p(std::exp(1.0)), 1e-12);
  // An RNN with Affine(2, 1) in float64: h = 2 * (x W + h R) + 1.
  RNN op = cell<RNN>(1, RnnDirection::Forward, {RnnAct::Affine});
  op.activation_alpha = {2};
  op.activation_beta = {1};
  auto mk = [](Dims s, std::vector<double> v) { return make<double>(DType::Float64, std::move(s), v); };
  auto out = run_ref(op, {mk({2, 1, 1}, {1, 2}), mk({1, 1, 1}, {0.5}), mk({1, 1, 1}, {0.25})}, 2);
  EXPECT_EQ(out[0].dtype, DType::Float64);
  const double h1 = 2 * 0.5 + 1, h2 = 2 * (1 + 0.25 * h1) + 1;
  EXPECT_DOUBLE_EQ(vals<double>(out[1])[0], h2);
}

// The in-house float32 LSTM (kernels/rnn/rnn.cpp) against the double reference: every direction and
// layout, with and without bias and initial states, and the forms it must leave to the reference.
TEST(RnnKernel, InhouseLstmMatchesTheReference) {
  const std::vector<RnnAct> acts{RnnAct::Sigmoid, RnnAct::Tanh, RnnAct::Tanh};
  uint32_t seed = 1;
  for (RnnDirection dir : {RnnDirection::Forward, RnnDirection::Reverse, RnnDirection::Bidirectional})
    for (int64_t layout : {0, 1})
      for (bool extras : {false, true}) {
        SCOPED_TRACE(testing::Message() << "direction " << static_cast<int>(dir) << " layout " << layout
                                        << (extras ? " with bias and initial states" : ""));
        const int64_t seq = 5, batch = 3, in = 7, H = 6, nd = dir == RnnDirection::Bidirectional ? 2 : 1;
        std::vector<RnnAct> a;
        for (int64_t d = 0; d < nd; ++d) a.insert(a.end(), acts.begin(), acts.end());
        LSTM op = cell<LSTM>(H, dir, a);
        op.layout = layout;
        const Dims xs = layout ? Dims{batch, seq, in} : Dims{seq, batch, in};
        const Dims ss = layout ? Dims{batch, nd, H} : Dims{nd, batch, H};
        std::vector<HostTensor> ins{random_tensor(DType::Float32, xs, seed++),
                                    random_tensor(DType::Float32, {nd, 4 * H, in}, seed++, -0.5, 0.5, true),
                                    random_tensor(DType::Float32, {nd, 4 * H, H}, seed++, -0.5, 0.5, true)};
        if (extras) {
          ins.push_back(random_tensor(DType::Float32, {nd, 8 * H}, seed++, -0.5, 0.5, true));
          ins.push_back(HostTensor(DType::Undefined, {}));  // no sequence_lens
          ins.push_back(random_tensor(DType::Float32, ss, seed++));
          ins.push_back(random_tensor(DType::Float32, ss, seed++));
        }
        expect_kernel_matches_reference(op, "inhouse", ins, 1e-4, 1e-5, 3);
      }
  // Peepholes, clip and other activations stay with the reference.
  LSTM clipped = cell<LSTM>(2, RnnDirection::Forward, acts);
  clipped.has_clip = true;
  clipped.clip = 1.f;
  std::vector<HostTensor> ins{random_tensor(DType::Float32, {2, 1, 3}, 9),
                              random_tensor(DType::Float32, {1, 8, 3}, 10, -1, 1, true),
                              random_tensor(DType::Float32, {1, 8, 2}, 11, -1, 1, true)};
  std::vector<HostTensor> out;
  EXPECT_FALSE(run_kernel(clipped, "inhouse", ins, out, 3));
  LSTM relu = cell<LSTM>(2, RnnDirection::Forward, {RnnAct::Sigmoid, RnnAct::Relu, RnnAct::Tanh});
  EXPECT_FALSE(run_kernel(relu, "inhouse", ins, out, 3));
}

TEST(RnnKernel, InhouseGruMatchesTheReference) {
  uint32_t seed = 100;
  for (RnnDirection dir : {RnnDirection::Forward, RnnDirection::Reverse, RnnDirection::Bidirectional})
    for (int64_t layout : {0, 1})
      for (bool lbr : {false, true})
        for (bool extras : {false, true}) {
          SCOPED_TRACE(testing::Message() << "direction " << static_cast<int>(dir) << " layout " << layout
                                          << " linear_before_reset " << lbr << (extras ? " with bias and h0" : ""));
          const int64_t seq = 4, batch = 2, in = 5, H = 6, nd = dir == RnnDirection::Bidirectional ? 2 : 1;
          std::vector<RnnAct> a;
          for (int64_t d = 0; d < nd; ++d) a.insert(a.end(), {RnnAct::Sigmoid, RnnAct::Tanh});
          GRU op = cell<GRU>(H, dir, a);
          op.layout = layout;
          op.linear_before_reset = lbr;
          const Dims xs = layout ? Dims{batch, seq, in} : Dims{seq, batch, in};
          std::vector<HostTensor> ins{random_tensor(DType::Float32, xs, seed++),
                                      random_tensor(DType::Float32, {nd, 3 * H, in}, seed++, -0.5, 0.5, true),
                                      random_tensor(DType::Float32, {nd, 3 * H, H}, seed++, -0.5, 0.5, true)};
          if (extras) {
            ins.push_back(random_tensor(DType::Float32, {nd, 6 * H}, seed++, -0.5, 0.5, true));
            ins.push_back(HostTensor(DType::Undefined, {}));  // no sequence_lens
            ins.push_back(random_tensor(DType::Float32, layout ? Dims{batch, nd, H} : Dims{nd, batch, H}, seed++));
          }
          expect_kernel_matches_reference(op, "inhouse", ins, 1e-4, 1e-5, 2);
        }
}

TEST(RnnInfer, Errors) {
  RNN op = rnn();
  auto x = f32({2, 3, 4});
  EXPECT_EQ(infer_err(op, {x, f32({1, 1, 4}), f32({1, 1, 1})}, 2), "");
  EXPECT_NE(infer_err(op, {x, f32({1, 2, 4}), f32({1, 1, 1})}).find("W (input 1) has shape 1x2x4, expected 1x1x4"),
            std::string::npos);
  EXPECT_NE(infer_err(op, {x, f32({1, 1, 4}), f32({1, 1, 2})}).find("R (input 2)"), std::string::npos);
  EXPECT_NE(infer_err(op, {f32({2, 3}), f32({1, 1, 4}), f32({1, 1, 1})}).find("X must be 3-D"), std::string::npos);
  EXPECT_NE(
      infer_err(op, {x, f32({1, 1, 4}), f32({1, 1, 1}), f32({1, 2}), f32({3})}).find("sequence_lens must be int32"),
      std::string::npos);
  EXPECT_NE(infer_err(op, {x, f32({1, 1, 4}), f32({1, 1, 1})}, 3).find("1 to 2 outputs"), std::string::npos);
  RNN bad = op;
  bad.hidden_size = 0;
  EXPECT_NE(infer_err(bad, {x, f32({1, 0, 4}), f32({1, 0, 0})}).find("hidden_size"), std::string::npos);
  bad = op;
  bad.direction = RnnDirection::Bidirectional;  // needs two activations and two directions of weights
  EXPECT_NE(infer_err(bad, {x, f32({2, 1, 4}), f32({2, 1, 1})}).find("needs 2 activation functions"),
            std::string::npos);
  bad = op;
  bad.activations = {99};
  EXPECT_NE(infer_err(bad, {x, f32({1, 1, 4}), f32({1, 1, 1})}).find("unknown activation"), std::string::npos);
  // LSTM takes initial_c and P too; P must be [D, 3H].
  LSTM l = cell<LSTM>(1, RnnDirection::Forward, {RnnAct::Sigmoid, RnnAct::Tanh, RnnAct::Tanh});
  EXPECT_NE(infer_err(l, {x, f32({1, 4, 4}), f32({1, 4, 1}), f32({1, 8}), {DType::Int32, {3}}, f32({1, 3, 1}),
                          f32({1, 3, 1}), f32({1, 2})}).find("P (input 7)"),
            std::string::npos);
}

TEST(RnnImport, ActivationsAndDefaults) {
  OnnxBuilder b(14);
  b.input("X", {3, 2, 4});
  b.init_random("W", {2, 12, 4}, 1);
  b.init_random("R", {2, 12, 3}, 2);
  auto& n = b.node("LSTM", {"X", "W", "R"}, {"", "Y_h"});
  attr_s(n, "direction", "bidirectional");
  // alpha / beta are consumed in order by the functions that take them; when they run out,
  // the defaults apply (HardSigmoid 0.2 / 0.5, LeakyRelu 0.01, Affine 1 / 0).
  attr_strings(n, "activations", {"HardSigmoid", "LeakyRelu", "Affine", "HardSigmoid", "LeakyRelu", "Affine"});
  attr_floats(n, "activation_alpha", {0.3f, 0.05f, 2.f, 0.4f});
  attr_floats(n, "activation_beta", {0.6f, 1.f});
  OnnxBuilder::attr(n, "clip", 3.f);
  b.output("Y_h", {2, 2, 3});
  auto g = import(b);
  const LSTM* op = only_op<LSTM>(*g);
  ASSERT_TRUE(op);
  EXPECT_EQ(op->hidden_size, 3);  // from R
  EXPECT_EQ(op->direction, RnnDirection::Bidirectional);
  EXPECT_EQ(op->activations, (std::vector<int64_t>{8, 5, 4, 8, 5, 4}));
  EXPECT_EQ(op->activation_alpha, (std::vector<float>{0.3f, 0.05f, 2.f, 0.4f, 0.01f, 1.f}));
  EXPECT_EQ(op->activation_beta, (std::vector<float>{0.6f, 0.f, 1.f, 0.5f, 0.f, 0.f}));
  EXPECT_TRUE(op->has_clip);
  EXPECT_FLOAT_EQ(op->clip, 3.f);
  auto out = evaluate(*g, random_inputs(*g));
  EXPECT_EQ(out.at("Y_h").shape, (Dims{2, 2, 3}));

  OnnxBuilder d(7);
  d.input("X", {3, 2, 4});
  d.init_random("W", {1, 9, 4}, 1);
  d.init_random("R", {1, 9, 3}, 2);
  OnnxBuilder::attr(d.node("GRU", {"X", "W", "R"}, {"Y"}), "hidden_size", int64_t{3});
  d.output("Y", {3, 1, 2, 3});
  auto g2 = import(d);
  const GRU* gru = only_op<GRU>(*g2);
  ASSERT_TRUE(gru);
  EXPECT_EQ(gru->activations,
            (std::vector<int64_t>{static_cast<int64_t>(RnnAct::Sigmoid), static_cast<int64_t>(RnnAct::Tanh)}));
  EXPECT_FALSE(gru->has_clip);
  EXPECT_EQ(gru->layout, 0);

  OnnxBuilder e(14);
  e.input("X", {3, 2, 4});
  e.init_random("W", {1, 3, 4}, 1);
  e.init_random("R", {1, 3, 3}, 2);
  attr_strings(e.node("RNN", {"X", "W", "R"}, {"Y"}), "activations", {"Swish"});
  e.output("Y", {3, 1, 2, 3});
  try {
    import(e);
    FAIL() << "an unknown activation must be rejected";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("unsupported activation 'Swish'"), std::string::npos) << err.what();
  }
  // A bidirectional cell needs the functions of both directions (as ONNX Runtime insists too).
  OnnxBuilder f(14);
  f.input("X", {3, 2, 4});
  f.init_random("W", {2, 3, 4}, 1);
  f.init_random("R", {2, 3, 3}, 2);
  auto& fn = f.node("RNN", {"X", "W", "R"}, {"Y"});
  attr_s(fn, "direction", "bidirectional");
  attr_strings(fn, "activations", {"Relu"});
  f.output("Y", {3, 2, 2, 3});
  try {
    import(f);
    FAIL() << "one direction's activations must be rejected for a bidirectional cell";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("expected 2 (1 per direction)"), std::string::npos) << err.what();
  }
}

}  // namespace
}  // namespace kiln::test
