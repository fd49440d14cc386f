// Rewrites of the ONNX ModelProto that the importer applies before it imports any node:
// topological order of the main graph (topo_sort.cpp) and the float16 -> float32 lowering
// (float16.cpp). Both work on the protobuf so that the onnx checker, kiln's per-node import
// (inference and constant folding as each node arrives) and onnx's shape inference all see one
// consistent model.
#pragma once

#include <string>
#include <vector>

namespace onnx {
class GraphProto;
class ModelProto;
}  // namespace onnx

namespace kiln::onnx_import {

// Orders the graph's nodes so that each comes after the producers of its inputs, counting the
// names its subgraph bodies (If/Loop/Scan) read from this graph. Stable: among nodes that are
// ready, the earliest in the file goes first, so a sorted graph is left exactly as it was.
// Subgraph bodies themselves are not reordered. Returns whether anything moved; throws
// kiln::Error naming the nodes of a cycle.
bool sort_topologically(onnx::GraphProto& g);

// What lower_float16 did.
struct Float16Lowering {
  bool declared = false;  // the model declares float16 somewhere; nothing was changed otherwise
  // Main-graph initializers and Constant outputs that were float16 and are float32 now: their
  // values are exactly representable in float16 (the plan may store them so).
  std::vector<std::string> widened_constants;
};

// oneDNN 2.6 has no float16 compute on CPU, so kiln computes float16 models in float32:
// - every float16 initializer and tensor attribute (Constant, ConstantOfShape...) becomes float32
//   (exact widening; external data is read from base_dir);
// - every float16 value_info and subgraph input/output is retyped float32;
// - Cast(to=FLOAT16) casts to FLOAT (an identity that import then drops, where the input is
//   float32), and the dtype attributes of EyeLike, Random*, Bernoulli and the signal windows
//   that name FLOAT16 name FLOAT;
// - each float16 graph input gets a Cast to float32 right after it, and each float16 graph output
//   a Cast from float32 right before it, so the model's inputs and outputs keep their names and
//   declared types.
// A model that declares no float16 is left untouched.
Float16Lowering lower_float16(onnx::ModelProto& m, const std::string& base_dir);

}  // namespace kiln::onnx_import
