// Writing outputs as .npy or as trtexec-style JSON, and random inputs, for `kiln run` (reading
// input files is kiln/tensor_file.hpp's, shared with `kiln compile --calib`).
#pragma once

#include <string>
#include <vector>

#include "kiln/runtime.hpp"
#include "kiln/tensor_file.hpp"

namespace kiln::cli {

using kiln::load_tensor_file;  // .pb / .npy / raw input files: the compiler library's reader
void fill_random(const TensorDesc& desc, void* dst, uint32_t seed);
void write_npy(const std::string& path, const TensorDesc& desc, const void* data);
// trtexec's --exportOutput JSON: [{"name", "dimensions": "1x1000", "shape": [1, 1000], "dtype",
// "values": [...]}], values flat in row-major order (float16/bfloat16 widened to float32).
// The outputs as trtexec's --exportOutput JSON: [{name, dimensions, shape, dtype, values}].
std::string outputs_json(const std::vector<TensorDesc>& descs, const std::vector<const void*>& data);
void write_outputs_json(const std::string& path, const std::vector<TensorDesc>& descs,
                        const std::vector<const void*>& data);
// Output name -> file name: every character outside [A-Za-z0-9_.-] becomes '_'.
std::string sanitize_name(const std::string& name);

}  // namespace kiln::cli
