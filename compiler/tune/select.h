// Kernel selection: binds every node to an implementation from the runtime's kernel registry.
// Today a heuristic (the first registered implementation that accepts the layer, else the
// reference kernel); timed tactic selection replaces it here.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::tune {

// One implementation name per node, in node order. Throws kiln::Error naming the node if no
// implementation, not even the reference kernel, accepts it.
std::vector<std::string> select_kernels(const ir::Graph& g, std::vector<std::string>* log);

}  // namespace kiln::tune
