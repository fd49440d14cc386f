// Optimisation profiles (--minShapes/--optShapes/--maxShapes): checking the flags, and checking
// that the graphs built at the min, opt and max shapes differ in nothing but their shapes, so the
// plan built at opt can run at any shape in between.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/compiler.hpp"

namespace kiln::profile {

bool requested(const CompileOptions& o);

// Every input named by one profile flag is named by all three, with one rank and min <= opt <= max
// in every dim, and not by --shapes too. Throws kiln::Error naming the flag and input.
void check_flags(const CompileOptions& o);

// Every non-constant value the plan writer stores, in its tensor-table order (graph inputs, then
// node inputs and outputs in node order, then graph outputs), so two graphs of one structure
// list corresponding values at the same positions.
std::vector<const ir::Value*> value_order(const ir::Graph& g);

// The options the graphs at min and max are built with: nothing timed (builder level 0), and each
// Conv/ConvTranspose/MatMul/Gemm pinned to the precision it got at opt, where a level >= 1 build
// timed int8 or bf16 against float per layer. Timing at other shapes would decide differently
// (tiny matmuls at min stay float) and the structures would no longer match. The user's pins
// come first, so they still win.
CompileOptions ends_options(const CompileOptions& opts, const ir::Graph& opt);

// Throws kiln::Error if `other` (built at the shapes of `flag`) differs from `opt` in anything but
// the shapes of non-constant values: nodes, ops, attributes, wiring, constants, dtypes, ranks or
// layouts. The message names the first difference.
void check_same_structure(const ir::Graph& opt, const ir::Graph& other, const std::string& flag,
                          const std::string& origin);

}  // namespace kiln::profile
