#include "ops/math/activation.h"

namespace kiln::ops {

const char* act_name(Act a) {
  switch (a) {
    case Act::Relu: return "Relu";
    case Act::LeakyRelu: return "LeakyRelu";
    case Act::Clip: return "Clip";
    case Act::Sigmoid: return "Sigmoid";
    case Act::Tanh: return "Tanh";
    case Act::Elu: return "Elu";
    case Act::HardSigmoid: return "HardSigmoid";
    case Act::HardSwish: return "HardSwish";
    case Act::Swish: return "Swish";
    case Act::Softplus: return "Softplus";
    case Act::Gelu: return "Gelu";
    case Act::Selu: return "Selu";
    case Act::Abs: return "Abs";
    case Act::Exp: return "Exp";
    case Act::Log: return "Log";
    case Act::Sqrt: return "Sqrt";
    case Act::Neg: return "Neg";
    case Act::Reciprocal: return "Reciprocal";
    case Act::Floor: return "Floor";
    case Act::Ceil: return "Ceil";
    case Act::Round: return "Round";
    case Act::Erf: return "Erf";
    case Act::Sin: return "Sin";
    case Act::Cos: return "Cos";
    case Act::Softsign: return "Softsign";
    case Act::Identity: return "Identity";
    case Act::Tan: return "Tan";
    case Act::Sinh: return "Sinh";
    case Act::Cosh: return "Cosh";
    case Act::Asin: return "Asin";
    case Act::Acos: return "Acos";
    case Act::Atan: return "Atan";
    case Act::Asinh: return "Asinh";
    case Act::Acosh: return "Acosh";
    case Act::Atanh: return "Atanh";
    case Act::ThresholdedRelu: return "ThresholdedRelu";
    case Act::Shrink: return "Shrink";
    case Act::Celu: return "Celu";
    case Act::Mish: return "Mish";
    case Act::GeluTanh: return "GeluTanh";
  }
  return "?";
}

size_t PostOps::sum_count() const {
  size_t n = 0;
  for (auto& p : ops) n += p.kind == PostOp::Kind::Sum;
  return n;
}

void PostOps::attrs(AttrVisitor& v) {
  std::vector<int64_t> kinds, acts;
  std::vector<float> alphas, betas;
  for (auto& p : ops) {
    kinds.push_back(static_cast<int64_t>(p.kind));
    acts.push_back(static_cast<int64_t>(p.act));
    alphas.push_back(p.alpha);
    betas.push_back(p.beta);
  }
  v.visit("post_kind", kinds);
  v.visit("post_act", acts);
  v.visit("post_alpha", alphas);
  v.visit("post_beta", betas);
  if (acts.size() != kinds.size() || alphas.size() != kinds.size() || betas.size() != kinds.size())
    fail("post-op attribute lists have different lengths");
  ops.resize(kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i) {
    if (kinds[i] != 0 && kinds[i] != 1) fail("unknown post-op kind " + std::to_string(kinds[i]));
    if (acts[i] < 1 || acts[i] > static_cast<int64_t>(kLastAct))
      fail("unknown post-op activation " + std::to_string(acts[i]));
    ops[i] = PostOp{static_cast<PostOp::Kind>(kinds[i]), static_cast<Act>(acts[i]), alphas[i], betas[i]};
  }
}

void PostOps::apply(float* data, int64_t n, const std::vector<const float*>& sums) const {
  size_t s = 0;
  for (auto& p : ops) {
    if (p.kind == PostOp::Kind::Sum) {
      const float* src = sums.at(s++);
      for (int64_t i = 0; i < n; ++i) data[i] += src[i];
    } else {
      for (int64_t i = 0; i < n; ++i) data[i] = apply_act(p.act, p.alpha, p.beta, data[i]);
    }
  }
}

std::vector<std::string> PostOps::names() const {
  std::vector<std::string> r;
  for (auto& p : ops) r.push_back(p.kind == PostOp::Kind::Sum ? "Add" : act_name(p.act));
  return r;
}

}  // namespace kiln::ops
