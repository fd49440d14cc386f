// One layer's (or node's) inference from what its caller holds: each input's type and, where the
// caller knows it, its value. The compiler's Graph::infer, the plan loader's check, shape
// specialisation and the runtime's value-dependent layers all infer this way; this is their one home.
#pragma once

#include <string>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

// types[i] and values[i] describe input i (an absent optional input: a default TensorType and a
// TensorView without data); a value with data is passed to infer() as known. Through infer_types,
// so reduced-precision inputs infer as float32. An error is rethrown as kiln::Error prefixed with
// "label: ".
std::vector<TensorType> infer_layer(const Op& op, std::vector<TensorType> types, const std::vector<TensorView>& values,
                                    size_t num_outputs, const std::string& label);

}  // namespace kiln::ops
