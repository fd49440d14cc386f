// Input pre-processing baked into the plan: see CompileOptions::preprocess in kiln/compiler.hpp.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/compiler.hpp"

namespace kiln::onnx_import {

// Rebinds each named graph input ("" = the only one) to the raw type and layout the application
// feeds and inserts Transpose / Cast / Sub(mean) / Div(scale) / Gather(reversed channels) in
// front of the model. Throws kiln::Error naming `origin` and the input when the request does not
// fit the model (unknown input, wrong channel count, layout on a non-4-D input, non-float input).
void apply_preprocess(ir::Graph& g, const std::map<std::string, InputPreprocess>& spec, const std::string& origin,
                      std::vector<std::string>* warnings);

}  // namespace kiln::onnx_import
