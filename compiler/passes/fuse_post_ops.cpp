#include "ops/conv.h"
#include "ops/eltwise.h"
#include "passes/pass.h"

namespace kiln::passes {

// The post-op chain of a node that can carry one, or nullptr.
static ops::PostOps* post_ops_of(ir::Node& n) {
  if (auto* c = n.as<ops::Conv>()) return &c->post;
  if (auto* c = n.as<ops::ConvTranspose>()) return &c->post;
  return nullptr;
}

// Only Conv has the extra-input convention for Sum operands (see ops/conv.h).
static bool takes_sum(ir::Node& n) { return n.as<ops::Conv>() != nullptr; }

static bool fusable_act(ops::Act a) {
  using A = ops::Act;
  switch (a) {
    case A::Relu: case A::LeakyRelu: case A::Clip: case A::Sigmoid: case A::Tanh: case A::Elu:
    case A::HardSigmoid: case A::HardSwish: case A::Swish: case A::Gelu:
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

static bool fuse_act(ir::Graph& g, ir::Node& n, const std::unordered_map<const ir::Value*, std::vector<ir::Node*>>& uses) {
  ops::PostOps* post = post_ops_of(n);
  if (!post || n.outputs[0]->type.dtype != DType::Float32) return false;
  ir::Node* u = sole_user(g, n.outputs[0], uses);
  auto* act = u ? u->as<ops::Unary>() : nullptr;
  if (!act || !fusable_act(act->act)) return false;
  post->ops.push_back({ops::PostOp::Kind::Act, act->act, act->alpha, act->beta});
  absorb(g, n, u);
  return true;
}

static bool fuse_sum(ir::Graph& g, ir::Node& n, const std::unordered_map<const ir::Value*, std::vector<ir::Node*>>& uses) {
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

bool fuse_post_ops(ir::Graph& g) {
  static const std::vector<std::string> carriers = {"Conv", "ConvTranspose"};
  return apply_rules(g, {PatternRule{carriers, fuse_sum}, PatternRule{carriers, fuse_act}});
}

}  // namespace kiln::passes
