// Shared by the fusion pass tests: import an OnnxBuilder model the way the compiler does, run one
// pass to a fixed point as the pipeline would, and check the rewrite left the numbers unchanged
// (reference-kernel evaluation of the graph before and after).
#pragma once

#include <cmath>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "graph_build_util.h"
#include "graph_eval_util.h"
#include "import/importer.h"
#include "onnx_builder_util.h"
#include "passes/pass.h"

namespace kiln::test {

inline std::unique_ptr<ir::Graph> import_model(OnnxBuilder& b) {
  return onnx_import::import_onnx_bytes(b.bytes(), "fuse.onnx", {});
}

// Relative L2 distance of a plan's float32 output from the reference evaluation's, for plans that
// compute in reduced precision (int8, bf16).
inline double rel_l2(const float* got, const HostTensor& want) {
  const auto* w = reinterpret_cast<const float*>(want.bytes.data());
  double err = 0, mag = 0;
  for (int64_t k = 0; k < want.elements(); ++k) {
    err += (got[k] - w[k]) * double(got[k] - w[k]);
    mag += w[k] * double(w[k]);
  }
  return std::sqrt(err / mag);
}

inline const ir::Node* only_node(const ir::Graph& g, std::string_view type) {
  const ir::Node* found = nullptr;
  for (auto& node : g.nodes())
    if (node->op && node->type() == type) {
      EXPECT_EQ(found, nullptr) << "more than one " << type;
      found = node.get();
    }
  return found;
}

// Runs `pass` like run_pipeline (fixed point, compact, topo-sort, verify after each round) and
// compares every output with the graph's values before it. Returns whether the pass changed it.
inline bool run_and_compare(ir::Graph& g, passes::PassFn pass, double rtol = 1e-4, double atol = 1e-5,
                            uint32_t seed = 7) {
  auto in = random_inputs(g, seed);
  auto before = evaluate(g, in);
  bool changed = false;
  for (int rounds = 0; rounds < 16 && pass(g); ++rounds) {
    changed = true;
    g.compact();
    g.topo_sort();
    ir::verify(g);
  }
  auto after = evaluate(g, in);
  for (auto& [name, t] : before) EXPECT_TRUE(all_close(after.at(name), t, rtol, atol)) << name;
  return changed;
}

}  // namespace kiln::test
