// Rewrites of the ONNX ModelProto that the importer applies before it imports any node:
// topological order of the main graph (topo_sort.cpp). It works on the protobuf so that the onnx
// checker, kiln's per-node import (inference and constant folding as each node arrives) and onnx's
// shape inference all see one consistent model.
#pragma once

namespace onnx {
class GraphProto;
}  // namespace onnx

namespace kiln::onnx_import {

// Orders the graph's nodes so that each comes after the producers of its inputs, counting the
// names its subgraph bodies (If/Loop/Scan) read from this graph. Stable: among nodes that are
// ready, the earliest in the file goes first, so a sorted graph is left exactly as it was.
// Subgraph bodies themselves are not reordered. Returns whether anything moved; throws
// kiln::Error naming the nodes of a cycle.
bool sort_topologically(onnx::GraphProto& g);

}  // namespace kiln::onnx_import
