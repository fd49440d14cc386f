// The op library: one typed struct per op kind, shared by the compiler IR and the runtime.
// Each op owns its attributes (visited by name for serialization), its shape/dtype inference and
// a naive reference kernel. The reference kernel is the oracle that every fast kernel, fusion and
// layout rewrite is tested against, and the runtime's fallback when no fast kernel applies.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ops/tensor_view.h"

namespace kiln::ops {

// Reflection over an op's typed attributes. Serializers, dumpers and equality all go through it,
// so an op declares each attribute exactly once.
class AttrVisitor {
 public:
  virtual ~AttrVisitor() = default;
  virtual void visit(const char* name, int64_t& v) = 0;
  virtual void visit(const char* name, float& v) = 0;
  virtual void visit(const char* name, std::vector<int64_t>& v) = 0;
  virtual void visit(const char* name, std::vector<float>& v) = 0;
  virtual void visit(const char* name, std::string& v) = 0;
};

struct TensorType {
  DType dtype = DType::Undefined;
  Dims shape;
};

// What an op's infer() sees: input types, the values of inputs that are compile-time constants
// (nullptr otherwise), and where it writes output types.
class InferContext {
 public:
  InferContext(std::vector<TensorType> inputs, std::vector<const TensorView*> consts, size_t num_outputs)
      : inputs_(std::move(inputs)), consts_(std::move(consts)), outputs_(num_outputs) {}
  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return outputs_.size(); }
  // An optional input that the model leaves out has dtype Undefined.
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i].dtype != DType::Undefined; }
  const TensorType& input(size_t i) const;
  const TensorView* constant(size_t i) const { return i < consts_.size() ? consts_[i] : nullptr; }
  void set_output(size_t i, DType dtype, Dims shape);
  const std::vector<TensorType>& outputs() const { return outputs_; }

 private:
  std::vector<TensorType> inputs_;
  std::vector<const TensorView*> consts_;
  std::vector<TensorType> outputs_;
};

// What a reference kernel sees: dense row-major inputs and preallocated outputs of the inferred
// types. Absent optional inputs have data == nullptr.
struct KernelArgs {
  std::vector<TensorView> in;
  std::vector<TensorView> out;
};

class Op {
 public:
  virtual ~Op() = default;
  virtual std::string_view type() const = 0;
  virtual std::unique_ptr<Op> clone() const = 0;
  virtual void attrs(AttrVisitor& v) = 0;
  // Throws kiln::Error (message without node context; callers add it) on invalid inputs.
  virtual void infer(InferContext& ctx) const = 0;
  virtual void reference(const KernelArgs& args) const = 0;
  // True when the op is cheap enough to constant-fold and has no side effects.
  virtual bool foldable() const { return true; }
  // An input whose buffer output 0 may share when that input is read by nothing later, or -1.
  // The kernel must then produce a correct result in place (Conv's Sum operand: oneDNN adds
  // into dst, so sharing saves a copy; an elementwise activation overwrites its input; a
  // reshaping view becomes free). The memory planner shares only buffers of equal size and
  // layout.
  virtual int inplace_input() const { return -1; }
  // Whether that input may be another 8-bit type than output 0 and still share its buffer: the
  // kernel reads the operand with its own type (oneDNN's sum post-op takes a data type), so an s8
  // residual can become a u8 block output in place instead of being copied first.
  virtual bool inplace_any_8bit() const { return false; }
};

template <class Derived>
class OpBase : public Op {
 public:
  std::string_view type() const override { return Derived::kType; }
  std::unique_ptr<Op> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

// One registry of op kinds by type name. Registering a name twice is a programming error and
// throws at static-initialisation time, so it cannot go unnoticed.
class OpRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Op>()>;
  static OpRegistry& instance();
  void add(std::string name, Factory f);
  std::unique_ptr<Op> create(std::string_view name) const;  // nullptr if unknown
  std::vector<std::string> names() const;

 private:
  std::map<std::string, Factory, std::less<>> factories_;
};

struct OpRegistrar {
  OpRegistrar(const char* name, OpRegistry::Factory f) { OpRegistry::instance().add(name, std::move(f)); }
};

#define KILN_OP_CONCAT2(a, b) a##b
#define KILN_OP_CONCAT(a, b) KILN_OP_CONCAT2(a, b)
#define KILN_REGISTER_OP(T)                                                        \
  static ::kiln::ops::OpRegistrar KILN_OP_CONCAT(kiln_op_reg_, __COUNTER__)(       \
      T::kType, [] { return std::unique_ptr<::kiln::ops::Op>(std::make_unique<T>()); })

// Attribute helpers so ops can keep bools and enums as their natural C++ types.
template <class E>
void visit_enum(AttrVisitor& v, const char* name, E& e) {
  int64_t x = static_cast<int64_t>(e);
  v.visit(name, x);
  e = static_cast<E>(x);
}
inline void visit_bool(AttrVisitor& v, const char* name, bool& b) {
  int64_t x = b ? 1 : 0;
  v.visit(name, x);
  b = x != 0;
}

// Precision is a property of the layer, not of the op. An op infers as if every bfloat16 or
// quantized (QUInt8/QInt8) input were float32, and a layer may store a float32 result in one of
// those (it computes in, or converts to, reduced precision; accumulation stays fp32 or int32).
// These two are the one home of that rule: the compiler's verify, the plan loader and the
// runtime's re-inference all go through them. Constant reduced-precision inputs are passed to the
// op as unknown values (its infer() reads float32).
std::vector<TensorType> infer_types(const Op& op, std::vector<TensorType> in,
                                    std::vector<const TensorView*> consts, size_t num_outputs);
// The types a layer may compute and store activations in: float32, or bfloat16 (fp32 accumulation).
inline bool f32_or_bf16(DType t) { return t == DType::Float32 || t == DType::BFloat16; }
// Any storage of a real activation: float32, bfloat16 or a quantized 8-bit type.
inline bool real_storage(DType t) { return f32_or_bf16(t) || dtype_quantized(t); }
inline bool stored_type_ok(DType inferred, DType stored) {
  return inferred == stored || (inferred == DType::Float32 && real_storage(stored));
}

// How a QUInt8 / QInt8 tensor holds reals: value = scale[c] * (q - zero_point), with c the index
// along `axis` (a weight's output channel) or one scale for the whole tensor (axis -1).
struct QuantParams {
  std::vector<float> scale;
  int32_t zero_point = 0;
  int axis = -1;
  bool empty() const { return scale.empty(); }
  float at(size_t c) const { return scale.size() == 1 ? scale[0] : scale.at(c); }
  bool operator==(const QuantParams&) const = default;
};

// Throws kiln::Error with the message built from the arguments.
[[noreturn]] void fail(const std::string& msg);
inline void check(bool cond, const std::string& msg) {
  if (!cond) fail(msg);
}

}  // namespace kiln::ops
