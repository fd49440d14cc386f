// Evaluates an IR graph with the op library's reference kernels: the oracle that pass tests
// compare rewritten graphs against.
#pragma once

#include <map>
#include <string>

#include "ir/graph.h"
#include "kernel_test_util.h"

namespace kiln::test {

// Inputs by graph-input name; returns outputs by graph-output name.
std::map<std::string, HostTensor> evaluate(const ir::Graph& g, std::map<std::string, HostTensor> inputs);

// Random float inputs for every graph input, seeded by position.
std::map<std::string, HostTensor> random_inputs(const ir::Graph& g, uint32_t seed = 1);

}  // namespace kiln::test
