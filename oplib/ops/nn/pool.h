// Pooling ops: MaxPool, AveragePool (windowed, ONNX semantics incl. ceil_mode and
// count_include_pad) and their global forms. Window geometry is shared with Conv (ops/nn/conv.h).
#pragma once

#include "ops/nn/conv.h"
#include "ops/op.h"

namespace kiln::ops {

// The attributes both windowed pools share. pads are explicit [begin..., end...]: the importer
// resolves auto_pad. Windows that would start inside the end padding in ceil_mode are dropped,
// as ONNX Runtime and PyTorch do.
struct PoolAttrs {
  std::vector<int64_t> kernel_shape;
  std::vector<int64_t> strides;    // empty = all 1
  std::vector<int64_t> pads;       // empty = all 0
  std::vector<int64_t> dilations;  // empty = all 1
  bool ceil_mode = false;

  void visit(AttrVisitor& v);
  Window window(const std::string& what) const;
  // Validates X [N, C, spatial...] against the window and sets output 0's shape; max_outputs
  // is how many outputs the op may have (the caller sets the others).
  void infer(InferContext& ctx, const std::string& what, bool allow_int8, size_t max_outputs = 1) const;
};

// Y = max over each window; float32 and, as in opset 12, int8/uint8. The optional second
// output Indices (int64, Y's shape) holds each maximum's position in the flattened X
// [N, C, spatial...] (the first one of ties); storage_order = 1 numbers the spatial positions
// column-major (the plane offset stays n * C + c). The oneDNN kernel handles Y alone.
struct MaxPool : OpBase<MaxPool> {
  static constexpr const char* kType = "MaxPool";
  PoolAttrs p;
  int64_t storage_order = 0;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

// Y = mean over each window. count_include_pad = false divides by the number of input elements
// in the window; true also counts the explicit padding (never the extra ceil_mode tail).
struct AveragePool : OpBase<AveragePool> {
  static constexpr const char* kType = "AveragePool";
  PoolAttrs p;
  bool count_include_pad = false;

  void attrs(AttrVisitor& v) override;
  void infer(InferContext& ctx) const override { p.infer(ctx, "AveragePool", false); }
  void reference(const KernelArgs& args) const override;
};

// Y [N, C, 1, ...] = mean / max over all spatial positions of X [N, C, spatial...].
struct GlobalAveragePool : OpBase<GlobalAveragePool> {
  static constexpr const char* kType = "GlobalAveragePool";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

struct GlobalMaxPool : OpBase<GlobalMaxPool> {
  static constexpr const char* kType = "GlobalMaxPool";
  void attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override;
  void reference(const KernelArgs& args) const override;
};

}  // namespace kiln::ops
