#include "graph_eval_util.h"

#include <cstring>
#include <unordered_map>

#include "kernels/kernel.h"

namespace kiln::test {

std::map<std::string, HostTensor> evaluate(const ir::Graph& g, std::map<std::string, HostTensor> inputs) {
  std::unordered_map<const ir::Value*, HostTensor> vals;
  for (auto& io : g.inputs) vals[io.value] = inputs.at(io.name);
  auto get = [&](const ir::Value* v) -> TensorView {
    if (!v) return {};
    if (v->is_constant()) return v->view();
    return vals.at(v).view();
  };
  for (auto& n : g.nodes()) {
    ops::KernelArgs args;
    for (auto* v : n->inputs) args.in.push_back(get(v));
    for (auto* v : n->outputs) {
      vals[v] = HostTensor(v->type.dtype, v->type.shape);
      args.out.push_back(vals[v].view());
    }
    bool reduced = false;
    for (auto* list : {&args.in, &args.out})
      for (auto& t : *list) reduced |= t.dtype == DType::BFloat16;
    if (!reduced || n->type() == "Cast") {
      n->op->reference(args);
      continue;
    }
    // A bf16 layer (assign-precision): the reference kernel as the runtime wraps it, through fp32.
    static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    KernelSpec spec{*n->op, {}, {}, eng};
    KernelBinding b;
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      const ir::Value* v = n->inputs[i];
      spec.in.push_back(v ? KernelTensor{v->type.dtype, v->type.shape, "", v->is_constant() ? v->constant->data() : nullptr, v->quant}
                          : KernelTensor{});
      b.in.push_back(args.in[i].data);
    }
    for (size_t o = 0; o < n->outputs.size(); ++o) {
      spec.out.push_back({n->outputs[o]->type.dtype, n->outputs[o]->type.shape, "", nullptr, n->outputs[o]->quant});
      b.out.push_back(args.out[o].data);
    }
    dnnl::stream st(eng);
    make_reference_kernel(spec)->bind(b)(st);
  }
  std::map<std::string, HostTensor> out;
  for (auto& io : g.outputs) {
    if (io.value->is_constant()) {
      HostTensor h(io.value->type.dtype, io.value->type.shape);
      std::memcpy(h.bytes.data(), io.value->constant->data(), h.bytes.size());
      out[io.name] = h;
    } else {
      out[io.name] = vals.at(io.value);
    }
  }
  return out;
}

std::map<std::string, HostTensor> random_inputs(const ir::Graph& g, uint32_t seed) {
  std::map<std::string, HostTensor> in;
  for (auto& io : g.inputs)
    in[io.name] = random_tensor(io.value->type.dtype, io.value->type.shape, seed++);
  return in;
}

}  // namespace kiln::test
