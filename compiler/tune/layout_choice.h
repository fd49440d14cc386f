// The graph-level tactic: whether the graph runs with oneDNN's blocked layouts (the
// assign-layouts pass) or plain NCHW throughout. Per-layer times cannot decide it, because the
// reorders at region boundaries are the point; so both plans are built and run end to end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "tune/tactics.h"

namespace kiln::tune {

// Median microseconds of one inference of each plan on this machine (inputs filled with small
// values), after a warm-up; the plans run alternately so background load falls on each alike.
std::vector<double> time_plans(const std::vector<std::vector<uint8_t>>& plans, int samples);

// A key for a whole graph with its tactics: equal graphs with equal picks give equal keys.
std::string graph_signature(const ir::Graph& g, const std::vector<LayerPick>& picks);

// Whether any tensor of the graph is in a blocked layout (else there is no choice to time).
bool has_blocked_layouts(const ir::Graph& g);

}  // namespace kiln::tune
