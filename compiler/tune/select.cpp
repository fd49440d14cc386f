#include "tune/select.h"

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

std::string first_fast_impl(const ir::Node& n, const dnnl::engine& eng, std::vector<std::string>* log) {
  auto& reg = KernelRegistry::instance();
  KernelSpec spec = spec_of(n, eng);
  const std::string op(n.type());
  for (const std::string& impl : reg.impls(op)) {
    try {
      if (reg.create(op, impl, spec)) return impl;
    } catch (const std::exception& e) {
      if (log) log->push_back(ir::node_label(n) + ": kernel '" + impl + "' declined: " + e.what());
    }
  }
  return "";
}

bool runnable(const ir::Node& n, const dnnl::engine& eng) {
  return !first_fast_impl(n, eng).empty() || make_reference_kernel(spec_of(n, eng)) != nullptr;
}

std::vector<std::string> select_kernels(const ir::Graph& g, std::vector<std::string>* log) {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  std::vector<std::string> chosen;
  for (auto& n : g.nodes()) {
    std::string pick = first_fast_impl(*n, eng, log);
    if (pick.empty()) {
      if (!make_reference_kernel(spec_of(*n, eng))) throw Error(ir::node_label(*n) + ": no kernel implements this layer");
      pick = "reference";
    }
    if (log) log->push_back(ir::node_label(*n) + ": kernel " + pick);
    chosen.push_back(pick);
  }
  return chosen;
}

}  // namespace kiln::tune
