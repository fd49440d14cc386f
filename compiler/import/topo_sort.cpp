// Topological order of a GraphProto's nodes. ONNX requires it, but ONNX Runtime runs graphs
// without it and some tools write them so; kiln imports node by node, producers first.
#include <algorithm>
#include <functional>
#include <queue>
#include <set>
#include <unordered_map>
#include <vector>

#include <onnx/onnx_pb.h>

#include "import/model_rewrites.h"
#include "kiln/runtime.hpp"

namespace kiln::onnx_import {

namespace {

std::string label(const onnx::NodeProto& n, int index) {
  return "node '" + (n.name().empty() ? n.op_type() + "_" + std::to_string(index) : n.name()) + "' (" +
         n.op_type() + ")";
}

// Every name a subgraph body (and its nested bodies) reads: the names it captures from the outer
// graphs are among them. Names defined inside the body are unique in the model (ONNX forbids
// shadowing), so they never match an outer producer.
void subgraph_reads(const onnx::GraphProto& g, std::set<std::string>& out) {
  for (const auto& n : g.node()) {
    for (const auto& i : n.input())
      if (!i.empty()) out.insert(i);
    for (const auto& a : n.attribute()) {
      if (a.has_g()) subgraph_reads(a.g(), out);
      for (const auto& sg : a.graphs()) subgraph_reads(sg, out);
    }
  }
  for (const auto& o : g.output()) out.insert(o.name());
}

}  // namespace

bool sort_topologically(onnx::GraphProto& g) {
  const int n = g.node_size();
  std::unordered_map<std::string, int> producer;
  for (int i = 0; i < n; ++i)
    for (const auto& o : g.node(i).output())
      if (!o.empty()) producer.emplace(o, i);  // a second producer is the checker's to report

  // deps[i]: the nodes node i waits for (distinct), users[j]: the nodes waiting for j.
  std::vector<std::vector<int>> deps(static_cast<size_t>(n)), users(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto& node = g.node(i);
    std::set<std::string> reads(node.input().begin(), node.input().end());
    for (const auto& a : node.attribute()) {
      if (a.has_g()) subgraph_reads(a.g(), reads);
      for (const auto& sg : a.graphs()) subgraph_reads(sg, reads);
    }
    std::set<int> from;
    for (const auto& name : reads) {
      if (name.empty()) continue;
      auto it = producer.find(name);
      if (it == producer.end()) continue;  // a graph input, an initializer or dangling (reported later)
      if (it->second == i)
        throw Error("the graph has a cycle: " + label(node, i) + " reads its own output '" + name + "'");
      from.insert(it->second);
    }
    for (int j : from) {
      deps[static_cast<size_t>(i)].push_back(j);
      users[static_cast<size_t>(j)].push_back(i);
    }
  }

  // Kahn's algorithm, always taking the earliest ready node in file order.
  std::vector<size_t> waiting(static_cast<size_t>(n));
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < n; ++i) {
    waiting[static_cast<size_t>(i)] = deps[static_cast<size_t>(i)].size();
    if (waiting[static_cast<size_t>(i)] == 0) ready.push(i);
  }
  std::vector<int> order;
  order.reserve(static_cast<size_t>(n));
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int u : users[static_cast<size_t>(i)])
      if (--waiting[static_cast<size_t>(u)] == 0) ready.push(u);
  }

  if (order.size() != static_cast<size_t>(n)) {
    // Walk back from the first unplaced node through unplaced producers until a node repeats.
    std::vector<bool> placed(static_cast<size_t>(n), false);
    for (int i : order) placed[static_cast<size_t>(i)] = true;
    int start = 0;
    while (placed[static_cast<size_t>(start)]) ++start;
    std::vector<int> path;
    std::vector<int> seen_at(static_cast<size_t>(n), -1);
    int cur = start;
    while (seen_at[static_cast<size_t>(cur)] < 0) {
      seen_at[static_cast<size_t>(cur)] = static_cast<int>(path.size());
      path.push_back(cur);
      for (int d : deps[static_cast<size_t>(cur)])
        if (!placed[static_cast<size_t>(d)]) {
          cur = d;
          break;
        }
    }
    // path[seen_at[cur]..] is the cycle, each node reading the next one's output.
    std::string msg = "the graph has a cycle: ";
    for (size_t k = static_cast<size_t>(seen_at[static_cast<size_t>(cur)]); k < path.size(); ++k)
      msg += label(g.node(path[k]), path[k]) + " reads from ";
    msg += label(g.node(cur), cur) + "; ONNX graphs must be acyclic";
    throw Error(msg);
  }

  bool moved = false;
  for (int i = 0; i < n; ++i) moved |= order[static_cast<size_t>(i)] != i;
  if (!moved) return false;
  std::vector<onnx::NodeProto> sorted(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) sorted[static_cast<size_t>(i)].Swap(g.mutable_node(order[static_cast<size_t>(i)]));
  g.clear_node();
  for (auto& node : sorted) g.add_node()->Swap(&node);
  return true;
}

}  // namespace kiln::onnx_import
