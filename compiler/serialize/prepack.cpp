#include "serialize/prepack.h"

#include <cstring>

#include "tune/select.h"

namespace kiln::serialize {

namespace {

std::unique_ptr<Kernel> reader_kernel(const ir::Node& n, const std::string& kernel, const Tactic* tactic,
                                      const dnnl::engine& eng) {
  KernelSpec spec = tune::spec_of(n, eng);
  spec.tactic = tactic && (!tactic->impl.empty() || !tactic->algorithm.empty()) ? tactic : nullptr;
  try {
    return KernelRegistry::instance().create(std::string(n.type()), kernel, spec);
  } catch (const std::exception&) {
    return nullptr;
  }
}

bool node_static(const ir::Node& n) {
  for (const ir::Value* v : n.inputs)
    if (v && !shape_static(v->type.shape)) return false;
  for (const ir::Value* v : n.outputs)
    if (!shape_static(v->type.shape)) return false;
  return true;
}

}  // namespace

std::unordered_map<const ir::Value*, Packing> plan_packing(const ir::Graph& g, const std::vector<std::string>& kernels,
                                                           const std::vector<const Tactic*>& tactics) {
  // Readers of each constant; one entry per input slot.
  std::unordered_map<const ir::Value*, std::vector<std::pair<const ir::Node*, size_t>>> readers;
  std::unordered_map<const ir::Node*, size_t> index;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const ir::Node* n = g.nodes()[i].get();
    index[n] = i;
    for (size_t k = 0; k < n->inputs.size(); ++k)
      if (n->inputs[k] && n->inputs[k]->is_constant()) readers[n->inputs[k]].push_back({n, k});
  }
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  std::unordered_map<const ir::Value*, Packing> out;
  for (auto& [v, rs] : readers) {
    // Half-stored constants stay half (the plan's size is the point of --fp16); a graph output
    // is read as the row-major constant by the caller.
    if (rs.size() != 1 || g.is_graph_output(v) || v->stored_dtype == DType::Float16 || !v->layout.empty()) continue;
    const auto [n, input] = rs[0];
    const size_t i = index.at(n);
    if (kernels.at(i) == "reference" || !node_static(*n)) continue;
    // Only the layout is kept: the kernel and its packed copy go at the end of this iteration.
    auto k = reader_kernel(*n, kernels[i], i < tactics.size() ? tactics[i] : nullptr, eng);
    if (!k) continue;
    for (const PackedWeights& w : k->packed_weights()) {
      if (w.input != input) continue;
      auto layout = dnn::desc_key(w.packed.get_desc()), plain = dnn::desc_key(w.user);
      if (!layout || !plain || w.user.get_size() != v->constant->size()) continue;
      out[v] = {n, i, input, std::move(*layout), std::move(*plain), w.packed.get_desc().get_size(),
                !dnn::desc_blocked(w.packed.get_desc())};
    }
  }
  return out;
}

void write_packed(const ir::Value& v, const Packing& p, const std::string& kernel, const Tactic* tactic,
                  uint8_t* dst) {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  auto k = reader_kernel(*p.reader, kernel, tactic, eng);
  if (k)
    for (const PackedWeights& w : k->packed_weights())
      if (w.input == p.input && dnn::desc_key(w.packed.get_desc()) == p.layout &&
          w.packed.get_desc().get_size() == p.bytes) {
        std::memcpy(dst, w.packed.get_data_handle(), p.bytes);
        if (p.keep_plain) std::memcpy(dst + p.plain_offset(), v.constant->data(), v.constant->size());
        return;
      }
  throw Error("internal error: layer '" + p.reader->name + "' packed constant '" + v.name +
              "' differently the second time");
}

}  // namespace kiln::serialize
