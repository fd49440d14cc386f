#include "tune/select.h"

#include "kernels/kernel.h"

namespace kiln::tune {

std::vector<std::string> select_kernels(const ir::Graph& g, std::vector<std::string>* log) {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  std::vector<std::string> chosen;
  auto& reg = KernelRegistry::instance();
  for (auto& n : g.nodes()) {
    KernelSpec spec{*n->op, {}, {}, eng};
    for (ir::Value* v : n->inputs) {
      KernelTensor t;
      if (v) {
        t.dtype = v->type.dtype;
        t.shape = v->type.shape;
        if (v->is_constant()) t.const_data = v->constant->data();
      }
      spec.in.push_back(std::move(t));
    }
    for (ir::Value* v : n->outputs) spec.out.push_back({v->type.dtype, v->type.shape, "", nullptr});
    std::string pick;
    for (const std::string& impl : reg.impls(std::string(n->type()))) {
      try {
        if (reg.create(std::string(n->type()), impl, spec)) {
          pick = impl;
          break;
        }
      } catch (const std::exception& e) {
        if (log) log->push_back(ir::node_label(*n) + ": kernel '" + impl + "' declined: " + e.what());
      }
    }
    if (pick.empty()) {
      if (!make_reference_kernel(spec))
        throw Error(ir::node_label(*n) + ": no kernel implements this layer");
      pick = "reference";
    }
    if (log) log->push_back(ir::node_label(*n) + ": kernel " + pick);
    chosen.push_back(pick);
  }
  return chosen;
}

}  // namespace kiln::tune
