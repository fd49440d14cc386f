// Heuristic kernel selection: the first registered implementation that accepts a layer, else the
// reference kernel. The passes use it to ask "does a fast kernel take this?"; the builder's timed
// choice (tune/tactics.h) starts from it, and level 0 is exactly it.
#pragma once

#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/graph.h"
#include "kernels/kernel.h"

namespace kiln::tune {

// The layer as a kernel factory sees it: types, shapes, layouts and constant data.
KernelSpec spec_of(const ir::Node& n, const dnnl::engine& eng);

// The first fast implementation that accepts the node as it stands (dtypes, shapes, layouts,
// constant inputs), or "" when only the reference kernel could run it.
std::string first_fast_impl(const ir::Node& n, const dnnl::engine& eng, std::vector<std::string>* log = nullptr);

// Whether any implementation, the reference kernel included, accepts the node as it stands.
bool runnable(const ir::Node& n, const dnnl::engine& eng);

// One implementation name per node, in node order. Throws kiln::Error naming the node if no
// implementation, not even the reference kernel, accepts it.
std::vector<std::string> select_kernels(const ir::Graph& g, std::vector<std::string>* log);

}  // namespace kiln::tune
