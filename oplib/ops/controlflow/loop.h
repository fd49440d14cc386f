// A run-time ONNX Loop: one whose trip count or condition is known only at run time, so the
// importer cannot unroll it (compiler/import/ops/controlflow/if_loop_scan.cpp). Its body is a
// plan of its own, compiled through the whole pipeline and stored beside the layer (plan schema
// v8, Layer.body); the runtime runs that plan once per iteration (runtime/src/loop_layer.cpp).
// The op itself only states the layer's signature: the library cannot run a plan.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

// Inputs: M (optional, one int64 element), cond (optional, one bool element), the `carried`
// loop-carried values, then the outer-scope values the body reads (any number).
// Outputs: the carried values' final values (same types as their inputs), then one tensor per
// scan output: the body's per-iteration value stacked along a new axis 0 whose length, the
// number of iterations run, is known only at run time (-1).
struct Loop : OpBase<Loop> {
  static constexpr const char* kType = "Loop";
  int64_t carried = 0;
  // Per scan output: its element type, and the shape of one iteration's value, the ranks first
  // (scan_ranks[k]) and then every dim in order (scan_dims).
  std::vector<int64_t> scan_dtypes, scan_ranks, scan_dims;
  // kiln::plan::checksum of the body's plan bytes: ties the layer to its body (the loader checks
  // it) and makes two Loops with different bodies different ops (CSE compares attributes).
  int64_t body_checksum = 0;
  // The body's plan bytes, which the compiler's plan writer stores in Layer.body. Not an
  // attribute: the runtime keeps the loaded body in its layer record instead.
  std::shared_ptr<const std::vector<uint8_t>> body;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  // Fails: only the runtime, which holds the body's plan, can run a Loop.
  void reference(const KernelArgs& args) const override;
  bool foldable() const override { return false; }
  // The per-iteration shape of scan output k (validated by infer()).
  Dims scan_shape(size_t k) const;
};

}  // namespace kiln::ops
