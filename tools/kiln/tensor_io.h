// Reading input tensors for `kiln run` (ONNX TensorProto .pb, NumPy .npy, raw bytes) and writing
// outputs as .npy or as trtexec-style JSON, always checked against the binding's dtype and shape.
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
// trtexec's --exportOutput JSON: [{"name", "dimensions": "1x1000", "shape": [1, 1000], "dtype",
// "values": [...]}], values flat in row-major order (float16/bfloat16 widened to float32).
void write_outputs_json(const std::string& path, const std::vector<TensorDesc>& descs,
                        const std::vector<const void*>& data);
// Output name -> file name: every character outside [A-Za-z0-9_.-] becomes '_'.
std::string sanitize_name(const std::string& name);

}  // namespace kiln::cli
