#include "tune/select.h"

#include "kernels/first_kernel.h"
#include "kernels/kernel.h"

namespace kiln::tune {

KernelSpec spec_of(const ir::Node& n, const dnnl::engine& eng) {
  KernelSpec spec{*n.op, {}, {}, eng};
  for (ir::Value* v : n.inputs) {
    KernelTensor t;
    if (v) {
      t.dtype = v->type.dtype;
      t.shape = v->type.shape;
      t.layout = v->layout;
      t.quant = v->quant;
      if (v->is_constant()) t.const_data = v->constant->data();
    }
    spec.in.push_back(std::move(t));
  }
  for (ir::Value* v : n.outputs) spec.out.push_back({v->type.dtype, v->type.shape, v->layout, nullptr, v->quant});
  return spec;
}

namespace {

KernelChoice choose(const ir::Node& n, const dnnl::engine& eng, bool with_reference, std::vector<std::string>* log,
                    std::string* reason = nullptr) {
  return first_kernel(std::string(n.type()), spec_of(n, eng), with_reference,
                      [&](const std::string& impl, const std::string& why) {
                        if (log) log->push_back(ir::node_label(n) + ": kernel '" + impl + "' declined: " + why);
                        if (reason) *reason = why;
                      });
}

}  // namespace

std::string first_fast_impl(const ir::Node& n, const dnnl::engine& eng, std::vector<std::string>* log) {
  return choose(n, eng, false, log).impl;
}

bool runnable(const ir::Node& n, const dnnl::engine& eng) { return choose(n, eng, true, nullptr).kernel != nullptr; }

std::vector<std::string> select_kernels(const ir::Graph& g, std::vector<std::string>* log) {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  std::vector<std::string> chosen;
  for (auto& n : g.nodes()) {
    std::string why;
    KernelChoice c = choose(*n, eng, true, log, &why);
    if (!c.kernel)
      throw Error(ir::node_label(*n) + ": no kernel implements this layer" + (why.empty() ? "" : " (" + why + ")"));
    if (log) log->push_back(ir::node_label(*n) + ": kernel " + c.impl);
    chosen.push_back(c.impl);
  }
  return chosen;
}

}  // namespace kiln::tune
