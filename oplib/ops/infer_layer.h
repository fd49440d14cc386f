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

// Shape programs: the small tensors a model computes from its input shapes (Shape -> Gather ->
// Concat -> a Reshape's target, a Range's limit). Under an optimisation profile they stay layers
// instead of folding into constants, and every caller that infers shapes evaluates them on the
// host to learn their values, so the layers they parameterise get concrete shapes at any input
// shape. A layer qualifies when every input has a value (or only its shape is read: Shape, Size)
// and every output is static with at most kMaxShapeValueElements elements.
constexpr int64_t kMaxShapeValueElements = 4096;
// The outputs' bytes (row-major, of `out_types`), or an empty vector when the layer does not
// qualify. Errors are rethrown as kiln::Error prefixed with "label: ".
std::vector<std::vector<uint8_t>> evaluate_shape_layer(const Op& op, const std::vector<TensorType>& in_types,
                                                       const std::vector<TensorView>& values,
                                                       const std::vector<TensorType>& out_types,
                                                       const std::string& label);

}  // namespace kiln::ops
