// fuse-post-ops: Conv/ConvTranspose/Gemm/MatMul followed by a constant bias Add (Gemm/MatMul),
// a residual Add and activations become one node whose oneDNN primitive applies them as bias and
// post-ops, saving a pass over memory each.
#include <cstring>

#include "ops/nn/conv.h"
#include "ops/math/eltwise.h"
#include "ops/math/gemm.h"
#include "passes/pass.h"

namespace kiln::passes {

// The post-op chain of a node that can carry one, or nullptr.
static ops::PostOps* post_ops_of(ir::Node& n) {
  if (auto* c = n.as<ops::Conv>()) return &c->post;
  if (auto* c = n.as<ops::ConvTranspose>()) return &c->post;
  if (auto* c = n.as<ops::Gemm>()) return &c->post;
  if (auto* c = n.as<ops::MatMul>()) return &c->post;
  return nullptr;
}

// Conv, Gemm and MatMul take Sum operands as extra inputs after the third (see ops/nn/conv.h,
// ops/math/gemm.h); ConvTranspose does not.
static bool takes_sum(ir::Node& n) {
  return n.as<ops::Conv>() != nullptr || n.as<ops::Gemm>() != nullptr || n.as<ops::MatMul>() != nullptr;
}

static bool fusable_act(ops::Act a) {
  using A = ops::Act;
  switch (a) {
    case A::Relu: case A::LeakyRelu: case A::Clip: case A::Sigmoid: case A::Tanh: case A::Elu:
    case A::HardSigmoid: case A::HardSwish: case A::Swish: case A::Gelu:
    case A::GeluTanh:
      return true;
    default:
      return false;
  }
}

// Moves `consumer`'s output onto `producer`, so the fused node keeps the consumer's value (its
// name and any graph-output binding), and retires the consumer.
static void absorb(ir::Graph& g, ir::Node& producer, ir::Node* consumer) {
  ir::Value* out = consumer->outputs[0];
  producer.outputs[0] = out;
  producer.fused.insert(producer.fused.end(), consumer->fused.begin(), consumer->fused.end());
  g.remove_node(consumer);
  out->producer = &producer;
}

static bool fuse_act(ir::Graph& g, ir::Node& n, const Uses& uses) {
  ops::PostOps* post = post_ops_of(n);
  if (!post || n.outputs[0]->type.dtype != DType::Float32) return false;
  ir::Node* u = sole_user(g, n.outputs[0], uses);
  auto* act = u ? u->as<ops::Unary>() : nullptr;
  if (!act || !fusable_act(act->act)) return false;
  post->ops.push_back({ops::PostOp::Kind::Act, act->act, act->alpha, act->beta});
  absorb(g, n, u);
  return true;
}

static bool fuse_sum(ir::Graph& g, ir::Node& n, const Uses& uses) {
  if (!takes_sum(n) || n.outputs[0]->type.dtype != DType::Float32) return false;
  ir::Node* u = sole_user(g, n.outputs[0], uses);
  auto* add = u ? u->as<ops::Binary>() : nullptr;
  if (!add || add->kind != ops::BinaryKind::Add || !add->post.empty()) return false;
  ir::Value* other = u->inputs[0] == n.outputs[0] ? u->inputs[1] : u->inputs[0];
  if (!other || other == n.outputs[0] || other->is_constant()) return false;
  if (other->type.dtype != DType::Float32 || other->type.shape != n.outputs[0]->type.shape) return false;
  ops::PostOps* post = post_ops_of(n);
  post->ops.push_back({ops::PostOp::Kind::Sum, ops::Act::Identity, 0.f, 0.f});
  n.inputs.resize(std::max<size_t>(n.inputs.size(), 3));
  n.inputs.push_back(other);
  absorb(g, n, u);
  return true;
}

// A constant operand of an Add after Gemm/MatMul that only varies along the output's last dim:
// returned as a 1-D [N] (or [1]) bias, or nullptr.
static ir::Value* last_dim_bias(ir::Graph& g, const ir::Value* c, const Dims& out) {
  if (!c || !c->is_constant() || c->type.dtype != DType::Float32 || out.empty()) return nullptr;
  const Dims& s = c->type.shape;
  if (s.size() > out.size()) return nullptr;
  for (size_t i = 0; i + 1 < s.size(); ++i)
    if (s[i] != 1) return nullptr;
  const int64_t n = s.empty() ? 1 : s.back();
  if (n != 1 && n != out.back()) return nullptr;
  if (s.size() == 1) return const_cast<ir::Value*>(c);
  ir::Value* b = g.add_constant(g.unique_name(c->name + "_bias"), DType::Float32, {n});
  std::memcpy(b->constant->data(), c->constant->data(), static_cast<size_t>(n) * sizeof(float));
  return b;
}

// MatMul/Gemm + Add(constant bias): the bias input of MatMul, the C of a Gemm without one.
static bool fuse_bias(ir::Graph& g, ir::Node& n,
                      const Uses& uses) {
  auto* mm = n.as<ops::MatMul>();
  auto* gm = n.as<ops::Gemm>();
  if (!mm && !gm) return false;
  if (!post_ops_of(n)->empty() || n.input(2) || n.outputs[0]->type.dtype != DType::Float32) return false;
  if (mm && (!n.inputs[1] || n.inputs[1]->type.shape.size() < 2)) return false;  // MatMul's bias needs 2-D+ B
  ir::Node* u = sole_user(g, n.outputs[0], uses);
  auto* add = u ? u->as<ops::Binary>() : nullptr;
  if (!add || add->kind != ops::BinaryKind::Add || !add->post.empty() || u->inputs.size() != 2) return false;
  const Dims& out = n.outputs[0]->type.shape;
  if (u->outputs[0]->type.shape != out) return false;  // the Add must not broadcast the product up
  ir::Value* c = u->inputs[0] == n.outputs[0] ? u->inputs[1] : u->inputs[0];
  ir::Value* bias = last_dim_bias(g, c, out);
  if (!bias) return false;
  n.inputs.resize(3);
  n.inputs[2] = bias;
  if (gm) gm->beta = 1.f;
  absorb(g, n, u);
  return true;
}

bool fuse_post_ops(ir::Graph& g) {
  static const std::vector<std::string> carriers = {"Conv", "ConvTranspose", "Gemm", "MatMul"};
  static const std::vector<std::string> products = {"Gemm", "MatMul"};
  return apply_rules(g, {PatternRule{products, fuse_bias}, PatternRule{carriers, fuse_sum},
                         PatternRule{carriers, fuse_act}});
}

}  // namespace kiln::passes
