// Fast kernels: the runtime's registry of implementations per op type (oneDNN-backed or
// in-house), chosen by name at build time and recorded in the plan. Any op without a fast kernel
// runs its reference kernel from the op library.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "ops/activation.h"
#include "ops/op.h"

namespace kiln {

// A tensor as a kernel sees it at creation: type, shape and physical layout, plus the data for
// constants (weights), which the kernel may repack and keep.
struct KernelTensor {
  DType dtype = DType::Undefined;
  Shape shape;
  std::string layout;               // "" = dense row-major, else a oneDNN format tag name
  const void* const_data = nullptr; // set for constant inputs only
  bool present() const { return dtype != DType::Undefined; }
};

struct KernelSpec {
  const ops::Op& op;
  std::vector<KernelTensor> in;
  std::vector<KernelTensor> out;
  const dnnl::engine& engine;
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
  // Binds this immutable kernel to one context's buffers; the result runs one inference.
  virtual BoundKernel bind(const KernelBinding& b) const = 0;
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
dnnl::memory::dims dims(const Shape& s);
// A memory descriptor for the tensor's layout ("" = row-major plain tag of its rank).
dnnl::memory::desc md(const KernelTensor& t);
dnnl::memory::desc plain_md(const Shape& s, DType t);
// Whether `layout` names a oneDNN format this runtime knows, for a tensor of that rank.
bool layout_known(const std::string& layout, size_t rank);
// Bytes a tensor occupies in its layout (blocked layouts pad channels to the block size).
size_t physical_bytes(DType t, const Shape& s, const std::string& layout);
// Maps PostOps to oneDNN post-ops; returns false if some post-op has no oneDNN equivalent.
bool post_ops(const ops::PostOps& p, dnnl::post_ops& out);
}  // namespace dnn

}  // namespace kiln
