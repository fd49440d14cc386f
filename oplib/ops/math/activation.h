// Elementwise activations shared by the standalone activation ops and by the post-ops that
// fusion attaches to Conv/Gemm/MatMul, so a fused layer and its unfused form compute the same
// function by construction.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

enum class Act : int64_t {
  Relu = 1,
  LeakyRelu = 2,   // alpha = slope
  Clip = 3,        // alpha = min, beta = max
  Sigmoid = 4,
  Tanh = 5,
  Elu = 6,         // alpha
  HardSigmoid = 7, // max(0, min(1, alpha*x + beta))
  HardSwish = 8,   // x * HardSigmoid(x; 1/6, 0.5)
  Swish = 9,       // x * sigmoid(alpha * x); SiLU is alpha = 1
  Softplus = 10,
  Gelu = 11,       // erf form
  Selu = 12,       // alpha, beta=gamma
  Abs = 13,
  Exp = 14,
  Log = 15,
  Sqrt = 16,
  Neg = 17,
  Reciprocal = 18,
  Floor = 19,
  Ceil = 20,
  Round = 21,      // half to even
  Erf = 22,
  Sin = 23,
  Cos = 24,
  Softsign = 25,
  Identity = 26,
  // Appended later; values are serialized into plans, so new ones only ever go at the end.
  Tan = 27,
  Sinh = 28,
  Cosh = 29,
  Asin = 30,
  Acos = 31,
  Atan = 32,
  Asinh = 33,
  Acosh = 34,
  Atanh = 35,
  ThresholdedRelu = 36,  // x > alpha ? x : 0
  Shrink = 37,           // alpha = lambd, beta = bias: x < -lambd ? x + bias : x > lambd ? x - bias : 0
  Celu = 38,             // max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
  Mish = 39,             // x * tanh(softplus(x))
  GeluTanh = 40,         // 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))): torch's approximate='tanh'
};

// The highest Act value; validators of serialized acts check against it.
constexpr Act kLastAct = Act::GeluTanh;

const char* act_name(Act a);

// One definition for float and double, so float64 models compute the same functions.
template <class T>
inline T apply_act(Act a, T alpha, T beta, T x) {
  const T zero = 0, one = 1, half = T(0.5), six = 6;
  switch (a) {
    case Act::Relu: return x > zero ? x : zero;
    case Act::LeakyRelu: return x >= zero ? x : alpha * x;
    case Act::Clip: {  // min(max(x, lo), hi) as numpy: hi wins when lo > hi, NaN passes through
      T y = x < alpha ? alpha : x;
      return y > beta ? beta : y;
    }
    case Act::Sigmoid: return one / (one + std::exp(-x));
    case Act::Tanh: return std::tanh(x);
    case Act::Elu: return x >= zero ? x : alpha * (std::exp(x) - one);
    case Act::HardSigmoid: return std::fmax(zero, std::fmin(one, alpha * x + beta));
    case Act::HardSwish: return x * std::fmax(zero, std::fmin(one, x / six + half));
    case Act::Swish: return x / (one + std::exp(-alpha * x));
    case Act::Softplus: return std::log1p(std::exp(-std::fabs(x))) + std::fmax(x, zero);
    case Act::Gelu: return half * x * (one + std::erf(x * T(0.70710678118654752440)));
    case Act::Selu: return x > zero ? beta * x : beta * (alpha * std::exp(x) - alpha);
    case Act::Abs: return std::fabs(x);
    case Act::Exp: return std::exp(x);
    case Act::Log: return std::log(x);
    case Act::Sqrt: return std::sqrt(x);
    case Act::Neg: return -x;
    case Act::Reciprocal: return one / x;
    case Act::Floor: return std::floor(x);
    case Act::Ceil: return std::ceil(x);
    case Act::Round: return std::nearbyint(x);
    case Act::Erf: return std::erf(x);
    case Act::Sin: return std::sin(x);
    case Act::Cos: return std::cos(x);
    case Act::Softsign: return x / (one + std::fabs(x));
    case Act::Identity: return x;
    case Act::Tan: return std::tan(x);
    case Act::Sinh: return std::sinh(x);
    case Act::Cosh: return std::cosh(x);
    case Act::Asin: return std::asin(x);
    case Act::Acos: return std::acos(x);
    case Act::Atan: return std::atan(x);
    case Act::Asinh: return std::asinh(x);
    case Act::Acosh: return std::acosh(x);
    case Act::Atanh: return std::atanh(x);
    case Act::ThresholdedRelu: return x > alpha ? x : zero;
    case Act::Shrink: return x < -alpha ? x + beta : (x > alpha ? x - beta : zero);
    case Act::Celu: return std::fmax(zero, x) + std::fmin(zero, alpha * std::expm1(x / alpha));
    case Act::Mish: return x * std::tanh(std::log1p(std::exp(-std::fabs(x))) + std::fmax(x, zero));
    case Act::GeluTanh:
      return half * x * (one + std::tanh(T(0.79788456080286535588) * (x + T(0.044715) * x * x * x)));
  }
  return x;
}

// A chain applied to a layer's output in order: an activation, or a Sum that adds the next
// extra input of the layer (the residual of Conv + Add).
struct PostOp {
  enum class Kind : int64_t { Act = 0, Sum = 1 };
  Kind kind = Kind::Act;
  Act act = Act::Relu;
  float alpha = 0.f;
  float beta = 0.f;
};

struct PostOps {
  std::vector<PostOp> ops;
  bool empty() const { return ops.empty(); }
  size_t sum_count() const;
  // Serialised as parallel lists "post_kind", "post_act", "post_alpha", "post_beta".
  void attrs(AttrVisitor& v);
  // Applies the chain in place to n contiguous floats; sums[i] is the i-th Sum operand, already
  // broadcast to the same n elements.
  void apply(float* data, int64_t n, const std::vector<const float*>& sums) const;
  std::vector<std::string> names() const;  // for inspect: "Relu", "Add", ...
};

}  // namespace kiln::ops
