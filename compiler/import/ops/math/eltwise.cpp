// ONNX importers for the elementwise family (ops/math/eltwise.h): every activation and unary math op
// becomes a Unary, arithmetic/comparison/logic a Binary (variadic Max/Min/Sum/Mean a chain of
// them), plus PRelu, Where and Not. (Identity and Dropout: tensor/identity.cpp.)
#include <limits>

#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "import/ops/math/unary_import.h"
#include "ops/math/eltwise.h"
#include "ops/tensor/identity.h"

namespace kiln::onnx_import {

void emit_unary(NodeContext& ctx, ops::Act act, float alpha, float beta) {
  auto op = std::make_unique<ops::Unary>();
  op->act = act;
  op->alpha = alpha;
  op->beta = beta;
  ctx.emit(std::move(op), {ctx.required_input(0)});
}

SimpleUnary::SimpleUnary(const char* onnx_op, int since, ops::Act act) {
  ImporterRegistry::instance().add(onnx_op, since, kMaxOpset, [act](NodeContext& c) { emit_unary(c, act); });
}

namespace {

using namespace kiln::ops;

const SimpleUnary kSimple[] = {
    {"Relu", kMinOpset, Act::Relu},         {"Sigmoid", kMinOpset, Act::Sigmoid},
    {"Tanh", kMinOpset, Act::Tanh},         {"HardSwish", 14, Act::HardSwish},
    {"Softplus", kMinOpset, Act::Softplus}, {"Softsign", kMinOpset, Act::Softsign},
    {"Abs", kMinOpset, Act::Abs},           {"Exp", kMinOpset, Act::Exp},
    {"Log", kMinOpset, Act::Log},           {"Sqrt", kMinOpset, Act::Sqrt},
    {"Neg", kMinOpset, Act::Neg},           {"Reciprocal", kMinOpset, Act::Reciprocal},
    {"Floor", kMinOpset, Act::Floor},       {"Ceil", kMinOpset, Act::Ceil},
    {"Round", 11, Act::Round},              {"Erf", 9, Act::Erf},
    {"Sin", kMinOpset, Act::Sin},           {"Cos", kMinOpset, Act::Cos},
};

// Trigonometric and hyperbolic functions.
const SimpleUnary kPlain[] = {
    {"Tan", kMinOpset, Act::Tan},   {"Asin", kMinOpset, Act::Asin}, {"Acos", kMinOpset, Act::Acos},
    {"Atan", kMinOpset, Act::Atan}, {"Sinh", 9, Act::Sinh},         {"Cosh", 9, Act::Cosh},
    {"Asinh", 9, Act::Asinh},       {"Acosh", 9, Act::Acosh},       {"Atanh", 9, Act::Atanh},
};

void import_thresholded_relu(NodeContext& c) {
  emit_unary(c, Act::ThresholdedRelu, c.attr_float("alpha", 1.f));
}
void import_shrink(NodeContext& c) {
  const float lambd = c.attr_float("lambd", 0.5f);
  if (!(lambd >= 0.f)) c.fail("lambd must be >= 0");
  emit_unary(c, Act::Shrink, lambd, c.attr_float("bias", 0.f));
}
void import_celu(NodeContext& c) {
  const float alpha = c.attr_float("alpha", 1.f);
  if (alpha == 0.f) c.fail("alpha must not be 0");
  emit_unary(c, Act::Celu, alpha);
}

void import_leaky_relu(NodeContext& c) { emit_unary(c, Act::LeakyRelu, c.attr_float("alpha", 0.01f)); }
void import_elu(NodeContext& c) { emit_unary(c, Act::Elu, c.attr_float("alpha", 1.f)); }
void import_selu(NodeContext& c) {
  emit_unary(c, Act::Selu, c.attr_float("alpha", 1.67326319217681884765625f),
             c.attr_float("gamma", 1.05070102214813232421875f));
}
void import_hard_sigmoid(NodeContext& c) {
  emit_unary(c, Act::HardSigmoid, c.attr_float("alpha", 0.2f), c.attr_float("beta", 0.5f));
}

constexpr float kLowest = std::numeric_limits<float>::lowest();
constexpr float kHighest = std::numeric_limits<float>::max();

void import_clip_attrs(NodeContext& c) {
  emit_unary(c, Act::Clip, c.attr_float("min", kLowest), c.attr_float("max", kHighest));
}

// From opset 11 the bounds are optional inputs. Constant bounds are baked into a Unary Clip (which
// fuses into a preceding conv); bounds computed at run time become Max then Min.
float clip_bound(NodeContext& c, size_t i, float def) {
  ir::Value* v = c.input(i);
  if (!v) return def;
  TensorView t = v->view();
  if (t.elements() != 1)
    c.fail(std::string("the ") + (i == 1 ? "min" : "max") + " bound must be a scalar, got shape " + shape_str(t.shape));
  return static_cast<float>(element_as_double(t, 0));
}

void import_clip_inputs(NodeContext& c) {
  ir::Value *lo = c.input(1), *hi = c.input(2);
  if ((!lo || lo->is_constant()) && (!hi || hi->is_constant())) {
    emit_unary(c, Act::Clip, clip_bound(c, 1, kLowest), clip_bound(c, 2, kHighest));
    return;
  }
  ir::Value* x = c.required_input(0);
  auto binary = [](BinaryKind k) {
    auto op = std::make_unique<Binary>();
    op->kind = k;
    return op;
  };
  if (lo && hi) {
    ir::Value* low = c.emit_internal("max", binary(BinaryKind::Max), {x, lo})->outputs[0];
    c.emit(binary(BinaryKind::Min), {low, hi});
  } else if (lo) {
    c.emit(binary(BinaryKind::Max), {x, lo});
  } else {
    c.emit(binary(BinaryKind::Min), {x, hi});
  }
}

void emit_binary(NodeContext& c, BinaryKind k) {
  auto op = std::make_unique<Binary>();
  op->kind = k;
  c.emit(std::move(op), {c.required_input(0), c.required_input(1)});
}

struct SimpleBinary {
  SimpleBinary(const char* onnx_op, int since, BinaryKind k) {
    ImporterRegistry::instance().add(onnx_op, since, kMaxOpset, [k](NodeContext& c) { emit_binary(c, k); });
  }
};

const SimpleBinary kBinary[] = {
    {"Add", kMinOpset, BinaryKind::Add},       {"Sub", kMinOpset, BinaryKind::Sub},
    {"Mul", kMinOpset, BinaryKind::Mul},       {"Div", kMinOpset, BinaryKind::Div},
    {"Pow", kMinOpset, BinaryKind::Pow},       {"Equal", kMinOpset, BinaryKind::Equal},
    {"Less", kMinOpset, BinaryKind::Less},     {"Greater", kMinOpset, BinaryKind::Greater},
    {"LessOrEqual", 12, BinaryKind::LessOrEqual}, {"GreaterOrEqual", 12, BinaryKind::GreaterOrEqual},
    {"And", kMinOpset, BinaryKind::And},       {"Or", kMinOpset, BinaryKind::Or},
    {"Xor", kMinOpset, BinaryKind::Xor},
};

// ---- opsets 18-20 (libonnx 1.12 does not know them, so the signature is checked here) ----

void import_bitwise(NodeContext& c, BinaryKind k) {
  c.expect_signature(2, 2, 1, 1, {});
  emit_binary(c, k);
}

void import_bitwise_not(NodeContext& c) {
  c.expect_signature(1, 1, 1, 1, {});
  ir::Value* x = c.required_input(0);
  uint64_t ones = ~uint64_t{0};  // ~x is x ^ (every bit set), in any integer width
  TensorView t{x->type.dtype, {}, &ones};
  if (dtype_size(x->type.dtype) > sizeof ones) c.fail(std::string("BitwiseNot does not take ") + dtype_name(x->type.dtype));
  ir::Value* mask = c.graph().add_constant(c.graph().unique_name(c.name() + "/all_ones"), t);
  auto op = std::make_unique<Binary>();
  op->kind = BinaryKind::BitwiseXor;
  c.emit(std::move(op), {x, mask});
}

void import_mish(NodeContext& c) {
  c.expect_signature(1, 1, 1, 1, {});
  emit_unary(c, Act::Mish);
}

void import_gelu(NodeContext& c) {
  c.expect_signature(1, 1, 1, 1, {"approximate"});
  const std::string a = c.attr_string("approximate", "none");
  if (a != "none" && a != "tanh") c.fail("approximate must be \"none\" or \"tanh\", got \"" + a + "\"");
  emit_unary(c, a == "tanh" ? Act::GeluTanh : Act::Gelu);
}

void import_mod(NodeContext& c) {
  emit_binary(c, c.attr_int("fmod", 0) ? BinaryKind::FMod : BinaryKind::Mod);
}

void import_bit_shift(NodeContext& c) {
  std::string dir = c.attr_string("direction", "");
  if (dir == "LEFT") emit_binary(c, BinaryKind::BitShiftLeft);
  else if (dir == "RIGHT") emit_binary(c, BinaryKind::BitShiftRight);
  else c.fail("direction must be \"LEFT\" or \"RIGHT\", got \"" + dir + "\"");
}

// Max/Min/Sum/Mean over N inputs: a left-to-right chain of Binary ops (Mean divides the sum by N).
void import_variadic(NodeContext& c, BinaryKind k, bool mean) {
  size_t n = c.num_inputs();
  if (n == 0) c.fail("needs at least one input");
  std::vector<ir::Value*> in;
  for (size_t i = 0; i < n; ++i) in.push_back(c.required_input(i));
  if (n == 1) {
    c.emit(std::make_unique<Identity>(), {in[0]});
    return;
  }
  ir::Value* acc = in[0];
  for (size_t i = 1; i < n; ++i) {
    auto op = std::make_unique<Binary>();
    op->kind = k;
    if (i + 1 == n && !mean) {
      c.emit(std::move(op), {acc, in[i]});
      return;
    }
    acc = c.emit_internal("acc" + std::to_string(i), std::move(op), {acc, in[i]})->outputs[0];
  }
  DType t = acc->type.dtype;
  ir::Value* count = c.graph().add_constant(c.graph().unique_name(c.name() + "/count"), t, Dims{});
  if (t == DType::Float32) *static_cast<float*>(count->constant->data()) = static_cast<float>(n);
  else if (t == DType::Float64) *static_cast<double*>(count->constant->data()) = static_cast<double>(n);
  else c.fail(std::string("Mean supports float32 and float64 inputs, not ") + dtype_name(t));
  auto div = std::make_unique<Binary>();
  div->kind = BinaryKind::Div;
  c.emit(std::move(div), {acc, count});
}

void import_prelu(NodeContext& c) { c.emit(std::make_unique<PRelu>(), {c.required_input(0), c.required_input(1)}); }
void import_where(NodeContext& c) {
  c.emit(std::make_unique<Where>(), {c.required_input(0), c.required_input(1), c.required_input(2)});
}
void import_not(NodeContext& c) { c.emit(std::make_unique<Not>(), {c.required_input(0)}); }
KILN_REGISTER_IMPORTER("LeakyRelu", kMinOpset, kMaxOpset, import_leaky_relu);
KILN_REGISTER_IMPORTER("Elu", kMinOpset, kMaxOpset, import_elu);
KILN_REGISTER_IMPORTER("Selu", kMinOpset, kMaxOpset, import_selu);
KILN_REGISTER_IMPORTER("HardSigmoid", kMinOpset, kMaxOpset, import_hard_sigmoid);
KILN_REGISTER_IMPORTER("Clip", kMinOpset, 10, import_clip_attrs);
KILN_REGISTER_IMPORTER("Clip", 11, kMaxOpset, import_clip_inputs);
KILN_REGISTER_IMPORTER("Mod", 10, kMaxOpset, import_mod);
KILN_REGISTER_IMPORTER("BitShift", 11, kMaxOpset, import_bit_shift);
KILN_REGISTER_IMPORTER("BitwiseAnd", 18, kMaxOpset, [](NodeContext& c) { import_bitwise(c, BinaryKind::BitwiseAnd); });
KILN_REGISTER_IMPORTER("BitwiseOr", 18, kMaxOpset, [](NodeContext& c) { import_bitwise(c, BinaryKind::BitwiseOr); });
KILN_REGISTER_IMPORTER("BitwiseXor", 18, kMaxOpset, [](NodeContext& c) { import_bitwise(c, BinaryKind::BitwiseXor); });
KILN_REGISTER_IMPORTER("BitwiseNot", 18, kMaxOpset, import_bitwise_not);
KILN_REGISTER_IMPORTER("Mish", 18, kMaxOpset, import_mish);
KILN_REGISTER_IMPORTER("Gelu", 20, kMaxOpset, import_gelu);
KILN_REGISTER_IMPORTER("ThresholdedRelu", 10, kMaxOpset, import_thresholded_relu);
KILN_REGISTER_IMPORTER("Shrink", 9, kMaxOpset, import_shrink);
KILN_REGISTER_IMPORTER("Celu", 12, kMaxOpset, import_celu);
KILN_REGISTER_IMPORTER("Max", kMinOpset, kMaxOpset, [](NodeContext& c) { import_variadic(c, BinaryKind::Max, false); });
KILN_REGISTER_IMPORTER("Min", kMinOpset, kMaxOpset, [](NodeContext& c) { import_variadic(c, BinaryKind::Min, false); });
KILN_REGISTER_IMPORTER("Sum", kMinOpset, kMaxOpset, [](NodeContext& c) { import_variadic(c, BinaryKind::Add, false); });
KILN_REGISTER_IMPORTER("Mean", kMinOpset, kMaxOpset, [](NodeContext& c) { import_variadic(c, BinaryKind::Add, true); });
KILN_REGISTER_IMPORTER("PRelu", kMinOpset, kMaxOpset, import_prelu);
KILN_REGISTER_IMPORTER("Where", 9, kMaxOpset, import_where);
KILN_REGISTER_IMPORTER("Not", kMinOpset, kMaxOpset, import_not);

}  // namespace
}  // namespace kiln::onnx_import
