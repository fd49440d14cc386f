// Reading input tensors for `kiln run` (ONNX TensorProto .pb, NumPy .npy, raw bytes) and writing
// outputs as .npy, always checked against the binding's dtype and shape.
#pragma once

#include <string>
#include <vector>

#include "kiln/runtime.hpp"

namespace kiln::cli {

// Fills dst (desc.bytes() bytes) from the file; throws kiln::Error naming the file and the
// binding on any mismatch.
void load_tensor_file(const std::string& path, const TensorDesc& desc, void* dst);
void fill_random(const TensorDesc& desc, void* dst, uint32_t seed);
void write_npy(const std::string& path, const TensorDesc& desc, const void* data);
// Output name -> file name: every character outside [A-Za-z0-9_.-] becomes '_'.
std::string sanitize_name(const std::string& name);

}  // namespace kiln::cli
