// Reading one input tensor from a file, as kiln's tools take them (`kiln run --loadInputs`,
// `kiln compile --calib` with .npy files): an ONNX TensorProto (.pb), a NumPy array (.npy, C
// order, little-endian) or raw bytes, always checked against the tensor it feeds.
#pragma once

#include <string>

#include "kiln/runtime.hpp"

namespace kiln {

// Fills dst (desc.bytes() bytes) from the file; throws kiln::Error naming the file and the
// binding on any mismatch (type, shape, size, a damaged header).
void load_tensor_file(const std::string& path, const TensorDesc& desc, void* dst);

// NumPy's type string for a dtype ("<f4"; bfloat16 travels as its "<u2" bits), nullptr if none.
const char* npy_descr(DType t);

}  // namespace kiln
