// Fast kernels: the runtime's registry of implementations per op type (oneDNN-backed or
// in-house), chosen by name at build time and recorded in the plan. Any op without a fast kernel
// runs its reference kernel from the op library.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "ops/math/activation.h"
#include "ops/op.h"

namespace kiln {

// A constant stored pre-packed (plan schema v7): its bytes in the layout its kernel read on the
// build machine (a oneDNN blocked format), so loading can use them in place, and how they map back
// to the row-major constant. Both descriptors were validated against `bytes` and the tensor's size.
struct PackedConst {
  const void* data = nullptr;
  size_t bytes = 0;
  dnnl::memory::desc layout;  // the packed bytes
  dnnl::memory::desc plain;   // the row-major constant in the same logical dims
  // The row-major bytes, which the plan stores beside a packing oneDNN cannot read back
  // (Winograd); nullptr for blocked layouts, which are reordered back when needed.
  const void* plain_data = nullptr;
};

// A tensor as a kernel sees it at creation: type, shape and physical layout, plus the data for
// constants (weights), which the kernel may repack and keep.
struct KernelTensor {
  DType dtype = DType::Undefined;
  Dims shape;
  std::string layout;               // "" = dense row-major, else a oneDNN format tag name
  const void* const_data = nullptr; // set for constant inputs only (row-major)
  ops::QuantParams quant;           // QUInt8 / QInt8 tensors: their scales and zero point
  // A pre-packed constant: set instead of const_data, and only for the kernel that packed it, which
  // reads it through dnn::weights_memory. Any other kernel sees a row-major copy in const_data.
  const PackedConst* packed = nullptr;
  bool present() const { return dtype != DType::Undefined; }
};

// Constant weights a kernel holds in its own layout: what the compiler stores pre-packed. `user`
// describes the row-major constant in the same logical dims (the packing's inverse).
struct PackedWeights {
  size_t input = 0;
  dnnl::memory packed;
  dnnl::memory::desc user;
};

// Which variant of an implementation a kernel runs: for oneDNN-backed kernels the primitive's
// implementation (impl_info_str(), e.g. "brg:avx512_core") and algorithm. The compiler's tuner
// times tactics and records the winner in the plan; the runtime asks for it back at load.
struct Tactic {
  std::string impl;            // oneDNN impl_info_str(); "" = the first oneDNN offers
  std::string algorithm;       // "winograd" where the kernel has one; "" = the default (direct)
  std::string weights_format;  // the packed weights' oneDNN format, for inspect; not an input
  // A stable name for logs, tables and the timing cache.
  std::string id() const { return (algorithm.empty() ? "" : algorithm + "/") + (impl.empty() ? "default" : impl); }
  bool same_choice(const Tactic& o) const { return impl == o.impl && algorithm == o.algorithm; }
};

struct KernelSpec {
  const ops::Op& op;
  std::vector<KernelTensor> in;
  std::vector<KernelTensor> out;
  const dnnl::engine& engine;
  // The tactic to run; null or empty = the kernel's own first choice. A tactic this machine cannot
  // run (another ISA) falls back to that first choice: the created kernel's tactic() tells.
  const Tactic* tactic = nullptr;
  // When set, the factory appends every tactic it could run for this spec (the tuner's candidates).
  std::vector<Tactic>* candidates = nullptr;
};

// Buffers of one execution context for one layer. Pointers stay fixed for the life of the context.
struct KernelBinding {
  std::vector<void*> in;   // nullptr for absent optional inputs
  std::vector<void*> out;
  void* scratchpad = nullptr;
};

using BoundKernel = std::function<void(dnnl::stream&)>;

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual size_t scratchpad_bytes() const { return 0; }
  // The tactic actually running; empty for kernels without variants.
  virtual Tactic tactic() const { return {}; }
  // Binds this immutable kernel to one context's buffers; the result runs one inference.
  virtual BoundKernel bind(const KernelBinding& b) const = 0;
  // The constant inputs this kernel keeps in a layout of its own, for the plan to store packed.
  virtual std::vector<PackedWeights> packed_weights() const { return {}; }
};

class KernelRegistry {
 public:
  // Returns nullptr when this implementation does not handle the spec (dtype, rank, attrs...).
  using Factory = std::function<std::unique_ptr<Kernel>(const KernelSpec&)>;
  static KernelRegistry& instance();
  void add(std::string op, std::string impl, Factory f);
  // Implementations registered for op, in preference order.
  std::vector<std::string> impls(const std::string& op) const;
  std::unique_ptr<Kernel> create(const std::string& op, const std::string& impl,
                                 const KernelSpec& spec) const;

 private:
  std::map<std::string, std::vector<std::pair<std::string, Factory>>> by_op_;
};

// The fallback every op has: runs Op::reference on dense row-major buffers.
std::unique_ptr<Kernel> make_reference_kernel(const KernelSpec& spec);

struct KernelRegistrar {
  KernelRegistrar(const char* op, const char* impl, KernelRegistry::Factory f) {
    KernelRegistry::instance().add(op, impl, std::move(f));
  }
};

#define KILN_K_CONCAT2(a, b) a##b
#define KILN_K_CONCAT(a, b) KILN_K_CONCAT2(a, b)
#define KILN_REGISTER_KERNEL(op, impl, factory) \
  static ::kiln::KernelRegistrar KILN_K_CONCAT(kiln_kernel_reg_, __COUNTER__)(op, impl, factory)

// oneDNN helpers shared by the oneDNN-backed kernels.
namespace dnn {
dnnl::memory::data_type dtype(DType t);           // throws for types oneDNN lacks
dnnl::memory::dims dims(const Dims& s);
// A memory descriptor for the tensor's layout ("" = row-major plain tag of its rank).
dnnl::memory::desc md(const KernelTensor& t);
dnnl::memory::desc plain_md(const Dims& s, DType t);
// Whether `layout` names a oneDNN format this runtime knows, for a tensor of that rank.
bool layout_known(const std::string& layout, size_t rank);
// Bytes a tensor occupies in its layout (blocked layouts pad channels to the block size).
size_t physical_bytes(DType t, const Dims& s, const std::string& layout);
// Whether oneDNN's effective ISA has VNNI (avx512_core_vnni, avx2_vnni, and above). Without it,
// oneDNN's int8 kernels add u8 x s8 products in pairs in 16 bits, which can saturate.
bool has_vnni();
// Maps PostOps to oneDNN post-ops; returns false if some post-op has no oneDNN equivalent.
bool post_ops(const ops::PostOps& p, dnnl::post_ops& out);
// A layer computing in int8 (quantized source and weights, s32 accumulation): sets attr's output
// scales and post-ops so that oneDNN's result is the layer's output in y's type, float or
// quantized. `channel_mask` is the dst dim of the weights' output channel (oneDNN's mask bit).
// acc_scale receives, per output channel, the real value of one accumulator unit (x scale times
// w scale): a float bias must be divided by it, since oneDNN 2.x adds the bias to the
// accumulator before scaling. false: not expressible (zero points on the source or weights, a
// post-op oneDNN lacks, a Sum operand whose type oneDNN cannot add).
bool int8_attr(const ops::PostOps& p, const KernelTensor& x, const KernelTensor& w, const KernelTensor* sum,
               const KernelTensor& y, int channel_mask, dnnl::primitive_attr& attr, std::vector<float>& acc_scale);
// A layer's constant weights `w` in the layout `want`. A pre-packed constant already in that layout
// is used in place (no copy: its pages stay shared with the mapped plan); anything else is reordered
// once into a buffer the result owns, from the row-major bytes viewed through `user` or from
// another packing (a plan packed on another CPU).
dnnl::memory weights_memory(const dnnl::engine& eng, const KernelTensor& w, const dnnl::memory::desc& user,
                            const dnnl::memory::desc& want);
// A memory descriptor as plan integers, field by field (no struct padding, so plans stay
// deterministic); nullopt for what a plan cannot store: formats other than blocked and Winograd,
// offsets, and extra flags (int8 compensation).
std::optional<std::vector<int64_t>> desc_key(const dnnl::memory::desc& md);
// Whether oneDNN can reorder out of this layout (blocked); a Winograd packing is one-way.
bool desc_blocked(const dnnl::memory::desc& md);
// The descriptor of a key read from a plan (hostile bytes): nullopt unless it is a well-formed
// blocked layout of `elements` values of type `t` whose every element lies within `bytes`.
std::optional<dnnl::memory::desc> desc_from_key(std::span<const int64_t> key, DType t, int64_t elements,
                                                size_t bytes);
// oneDNN's name for a memory descriptor's layout ("aBcd16b", "ABcd16b16a", "abcd"), derived from
// its strides and inner blocks.
std::string format_name(const dnnl::memory::desc& md);

// Creates the primitive descriptor `make()` returns, advanced (next_impl) to the implementation
// named `want`; "" or an implementation this machine lacks gives oneDNN's first choice. With
// `found`, also lists every implementation offered (reference ones excluded: never the fastest),
// as tactics of `algorithm`. `make` must build from an op descriptor that outlives the result:
// oneDNN's iterator keeps a pointer to it.
template <class PD, class Make>
PD pick_impl(Make make, const std::string& want, const std::string& algorithm, std::vector<Tactic>* found) {
  if (found) {
    PD pd = make();
    do {
      std::string name = pd.impl_info_str();
      bool dup = false;
      for (auto& t : *found) dup |= t.impl == name && t.algorithm == algorithm;
      if (!dup && name.rfind("ref", 0) != 0) found->push_back({name, algorithm, ""});
    } while (pd.next_impl());
  }
  PD pd = make();
  if (want.empty() || pd.impl_info_str() == want) return pd;
  do {
    if (pd.impl_info_str() == want) return pd;
  } while (pd.next_impl());
  return make();
}
}  // namespace dnn

}  // namespace kiln
