// Internal state of a loaded Engine and of an ExecutionContext. The loader fills Engine::Impl
// only after the plan passed every check, so the rest of the runtime may trust it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/kernel.h"
#include "kiln/runtime.hpp"

namespace kiln {

struct AlignedFree {
  void operator()(void* p) const;
};
using AlignedBytes = std::unique_ptr<uint8_t, AlignedFree>;
AlignedBytes aligned_bytes(size_t n);  // 64-byte aligned, zeroed

struct TensorRec {
  std::string name;
  DType dtype = DType::Undefined;
  Shape shape;
  std::string layout;         // "" = row-major, else a oneDNN format tag
  int kind = 0;               // fb::TensorKind
  uint64_t offset = 0;        // arena offset, or weights offset for constants
  uint64_t bytes = 0;
  const void* data = nullptr; // constants: inside the plan buffer
  bool dynamic = false;       // some dim is -1: shape known only at run time, per-run buffer
};

struct LayerRec {
  std::string name;
  std::unique_ptr<ops::Op> op;
  std::string impl;
  std::vector<int> inputs, outputs;
  std::unique_ptr<Kernel> kernel;  // null for dynamic layers, which run their reference kernel
  bool dynamic = false;            // reads or writes a dynamic tensor: shapes inferred per run
};

struct Engine::Impl {
  std::string origin;
  AlignedBytes buffer;
  size_t size = 0;
  uint32_t schema_version = 0;
  std::vector<TensorRec> tensors;
  std::vector<LayerRec> layers;
  std::vector<int> input_ids, output_ids;
  std::vector<TensorDesc> inputs, outputs;
  std::vector<LayerInfo> layer_info;
  MachineInfo machine;
  std::vector<std::string> warnings;
  size_t arena_bytes = 0, activation_bytes = 0, weight_bytes = 0, scratchpad_bytes = 0;
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
};

// Verifies and decodes a plan; throws kiln::Error prefixed with origin.
std::unique_ptr<Engine::Impl> load_plan(AlignedBytes buffer, size_t size, const std::string& origin);

}  // namespace kiln
