// ONNX control flow (If, Loop, Scan), lowered as it is imported into the main graph, so the
// bodies get the same passes, fusions and fast kernels as everything else:
// - If: a condition known at build time (a constant, or a value that folds, as shape tests do
//   once the shapes are fixed) inlines the branch it picks. A run-time condition inlines both
//   branches and selects each output with Where; their outputs must agree in dtype and shape.
//   Each branch's nodes are predicated on the condition (ir::Node::when, completed by the
//   predicate-branches pass), so a run executes only the taken one. A branch that cannot be built for the shapes is left out, and the other's outputs
//   pass an IfGuard that fails the run if the condition ever selects the missing one.
// - Loop: unrolled, one inlined copy of the body per iteration, while the trip count and the
//   condition are known at build time; scan outputs are stacked with Unsqueeze + Concat. A loop
//   whose trip count or condition is known only at run time (or that would unroll past the limit)
//   stays a loop: one Loop layer whose body is a plan of its own (runtime_loop.cpp).
// - Scan: unrolled over its sequence length (and, at opset 8, its batch), which must be static;
//   Gather slices the scan inputs.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <optional>

#include "import/importer.h"
#include "import/ops/controlflow/runtime_loop.h"
#include "ops/controlflow/if_guard.h"
#include "ops/math/eltwise.h"
#include "ops/tensor/identity.h"
#include "ops/tensor/shape.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

// Body nodes times iterations that one Loop or Scan may unroll into: a bound on plan size.
constexpr int64_t kMaxUnrolledNodes = 100000;

ir::Value* scalar(NodeContext& c, const std::string& suffix, DType t, int64_t v) {
  uint8_t b = v != 0;
  TensorView view{t, {}, t == DType::Bool ? static_cast<void*>(&b) : static_cast<void*>(&v)};
  return c.graph().add_constant(c.graph().unique_name(c.name() + "/" + suffix), view);
}

// The value of a one-element bool or integer tensor known at build time; nullopt when it is not
// a constant.
std::optional<int64_t> known_scalar(NodeContext& c, const ir::Value* v, const std::string& what) {
  if (!v || !v->is_constant()) return std::nullopt;
  const TensorView t = v->view();
  if (t.elements() != 1) c.fail(what + " must hold one element, not shape " + shape_str(t.shape));
  switch (t.dtype) {
    case DType::Bool: return t.as<const uint8_t>()[0] != 0;
    case DType::Int64: return t.as<const int64_t>()[0];
    case DType::Int32: return t.as<const int32_t>()[0];
    default: c.fail(what + " must be bool or int64, not " + std::string(dtype_name(t.dtype)));
  }
}

template <class T>
ir::Value* emit1(NodeContext& c, const std::string& suffix, std::unique_ptr<T> op, std::vector<ir::Value*> in) {
  return c.emit_internal(suffix, std::move(op), std::move(in))->outputs[0];
}

// parts[k] with a new axis `axis`, concatenated along it: the stacked scan output of a loop.
ir::Value* stack(NodeContext& c, const std::string& suffix, const std::vector<ir::Value*>& parts, int64_t axis) {
  std::vector<ir::Value*> rows;
  for (size_t k = 0; k < parts.size(); ++k) {
    auto un = std::make_unique<Unsqueeze>();
    un->axes = {axis};
    rows.push_back(emit1(c, suffix + "/row" + std::to_string(k), std::move(un), {parts[k]}));
  }
  auto cat = std::make_unique<Concat>();
  cat->axis = axis;
  return emit1(c, suffix, std::move(cat), rows);
}

// Binds output i of the node to v through an Identity that carries the ONNX output's name (graph
// outputs must be named after their tensor; remove-identity drops it where nothing needs it).
void bind_output(NodeContext& c, size_t i, ir::Value* v) {
  const std::string& name = c.proto().output(static_cast<int>(i));
  if (name.empty()) return;
  ir::Value* out = c.graph().add_value(name, v->type);
  ir::Node* n = c.graph().add_node(c.graph().unique_name(c.name() + "/" + name), std::make_unique<Identity>(),
                                   {v}, std::vector<ir::Value*>{out});
  n->fused.push_back(c.proto().op_type());
  c.alias_output(i, out);
}

void check_unroll(NodeContext& c, const onnx::GraphProto& body, int64_t iterations) {
  if (iterations * std::max(body.node_size(), 1) > kMaxUnrolledNodes)
    c.fail("unrolling " + std::to_string(iterations) + " iterations of a " + std::to_string(body.node_size()) +
           "-node body exceeds kiln's limit of " + std::to_string(kMaxUnrolledNodes) + " nodes");
}

void import_if(NodeContext& c) {
  ir::Value* cond = c.required_input(0);
  if (cond->type.dtype != DType::Bool) c.fail(std::string("cond must be bool, not ") + dtype_name(cond->type.dtype));
  const onnx::GraphProto& then_g = c.attr_graph("then_branch");
  const onnx::GraphProto& else_g = c.attr_graph("else_branch");
  const auto n = static_cast<int>(c.num_outputs());
  if (then_g.output_size() != n || else_g.output_size() != n)
    c.fail("the branches give " + std::to_string(then_g.output_size()) + " and " + std::to_string(else_g.output_size()) +
           " outputs; the node has " + std::to_string(n));
  SubgraphHost& host = c.subgraphs();
  host.settle();
  if (const auto k = known_scalar(c, cond, "cond")) {
    const auto outs = host.inline_graph(*k ? then_g : else_g, {}, c.name() + (*k ? "/then/" : "/else/"));
    for (int i = 0; i < n; ++i) bind_output(c, static_cast<size_t>(i), outs[static_cast<size_t>(i)]);
    return;
  }
  // Each branch is built for the shapes at hand. One that cannot be (ONNX Runtime fails on it at
  // run time as well) is left out, and the other's outputs are guarded by the condition.
  auto attempt = [&](const onnx::GraphProto& g, const char* which, std::string& err) {
    try {
      auto outs = host.inline_graph(g, {}, c.name() + "/" + which + "/");
      host.settle();
      return std::optional<std::vector<ir::Value*>>(std::move(outs));
    } catch (const Error& x) {
      err = x.what();
      return std::optional<std::vector<ir::Value*>>();
    }
  };
  std::string then_err, else_err;
  const size_t first_then = c.graph().nodes().size();
  const auto t = attempt(then_g, "then", then_err);
  const size_t first_else = c.graph().nodes().size();
  const auto e = attempt(else_g, "else", else_err);
  const size_t end = c.graph().nodes().size();
  if (!t && !e) throw Error(then_err);
  // A one-element cond of any rank selects whole tensors only as a scalar.
  ir::Value* pick = cond;
  if (!cond->type.shape.empty()) pick = emit1(c, "cond_scalar", std::make_unique<Squeeze>(), {cond});
  if (!t || !e) {
    const bool keep_then = t.has_value();
    const std::string lost = keep_then ? "else" : "then";
    host.warn("node '" + c.name() + "' (If): its " + lost + " branch cannot be built for these shapes (" +
              (keep_then ? else_err : then_err) + "); the plan runs the " + (keep_then ? "then" : "else") +
              " branch and fails with an error when the condition ('" + cond->name + "') selects the " + lost +
              " branch");
    const auto& kept = keep_then ? *t : *e;
    for (int i = 0; i < n; ++i) {
      auto guard = std::make_unique<IfGuard>();
      guard->expected = keep_then ? 1 : 0;
      guard->message = "node '" + c.name() + "' (If): the condition selected the " + lost + " branch, which this "
                       "plan could not build for its input shapes; rebuild the plan for shapes that branch accepts";
      bind_output(c, static_cast<size_t>(i), emit1(c, "guard" + std::to_string(i), std::move(guard), {pick, kept[static_cast<size_t>(i)]}));
    }
    return;
  }
  for (int i = 0; i < n; ++i) {
    ir::Value *a = (*t)[static_cast<size_t>(i)], *b = (*e)[static_cast<size_t>(i)];
    if (a->type.dtype != b->type.dtype || a->type.shape != b->type.shape || !shape_static(a->type.shape))
      c.fail("output " + std::to_string(i) + ": the condition is known only at run time, so kiln runs both branches and "
             "selects; that needs both to give one static shape and dtype, but they give " +
             dtype_name(a->type.dtype) + " " + shape_str(a->type.shape) + " and " + dtype_name(b->type.dtype) + " " +
             shape_str(b->type.shape));
    bind_output(c, static_cast<size_t>(i), emit1(c, "select" + std::to_string(i), std::make_unique<Where>(), {pick, a, b}));
  }
  // Each branch's nodes run only when the condition picks it (ir::Node::when); the
  // predicate-branches pass extends this to the nodes later passes add, or drops it.
  // An enclosing run-time If seeds these nodes again, with its own condition, afterwards.
  for (size_t k = first_then; k < end; ++k) {
    ir::Node& node = *c.graph().nodes()[k];
    if (!node.op) continue;
    node.when = cond;
    node.when_true = k < first_else;
  }
}

void import_loop(NodeContext& c) {
  const onnx::GraphProto& body = c.attr_graph("body");
  if (c.num_inputs() < 2) c.fail("Loop takes M, cond and the loop-carried values (M and cond may be empty)");
  const size_t carried_n = c.num_inputs() - 2;
  if (static_cast<size_t>(body.input_size()) != carried_n + 2)
    c.fail("the body takes " + std::to_string(body.input_size()) + " inputs; it must take the iteration number, "
           "the condition and the " + std::to_string(carried_n) + " loop-carried values");
  if (static_cast<size_t>(body.output_size()) < carried_n + 1 ||
      static_cast<size_t>(body.output_size()) - 1 - carried_n != c.num_outputs() - carried_n)
    c.fail("the body gives " + std::to_string(body.output_size()) + " outputs and the node has " +
           std::to_string(c.num_outputs()) + "; the body must give the condition, the " + std::to_string(carried_n) +
           " loop-carried values and one value per scan output");
  const size_t scan_n = c.num_outputs() - carried_n;
  SubgraphHost& host = c.subgraphs();
  host.settle();
  ir::Value *m = c.input(0), *cond0 = c.input(1);
  const std::optional<int64_t> trip = known_scalar(c, m, "the trip count M");
  if (m && !trip) return import_runtime_loop(c, body, "the trip count M ('" + m->name + "') is known only at run time");
  bool keep_going = true;
  if (cond0) {
    const auto k = known_scalar(c, cond0, "the condition");
    if (!k) return import_runtime_loop(c, body, "the initial condition ('" + cond0->name + "') is known only at run time");
    keep_going = *k != 0;
  }
  if (!m && !cond0) c.fail("the loop has neither a trip count nor a condition: it never ends");
  // Past the unrolling limit the loop runs as one (a copy per iteration would bloat the plan).
  if (trip && keep_going && *trip > kMaxUnrolledNodes / std::max(body.node_size(), 1))
    return import_runtime_loop(c, body, "unrolling " + std::to_string(*trip) + " iterations would pass kiln's limit "
                               "of " + std::to_string(kMaxUnrolledNodes) + " nodes");
  std::vector<ir::Value*> carried;
  for (size_t i = 0; i < carried_n; ++i) carried.push_back(c.required_input(2 + i));
  std::vector<std::vector<ir::Value*>> scans(scan_n);
  for (int64_t it = 0; keep_going && (!trip || it < *trip); ++it) {
    if (!trip && (it + 1) * std::max(body.node_size(), 1) > kMaxUnrolledNodes)
      return import_runtime_loop(c, body, "its condition has not turned false after " + std::to_string(it) + " unrolled "
                                 "iterations, the most kiln unrolls");
    const std::string tag = "iter" + std::to_string(it);
    std::vector<ir::Value*> in{scalar(c, tag + "/iteration_num", DType::Int64, it),
                               scalar(c, tag + "/cond", DType::Bool, 1)};
    in.insert(in.end(), carried.begin(), carried.end());
    const auto outs = host.inline_graph(body, in, c.name() + "/" + tag + "/");
    host.settle();
    // The copies inlined so far have no reader and go with dead-code elimination.
    const auto k = known_scalar(c, outs[0], "the body's condition");
    if (!k) return import_runtime_loop(c, body, "the condition the body computes in iteration " + std::to_string(it) +
                                       " is known only at run time");
    keep_going = *k != 0;
    std::copy(outs.begin() + 1, outs.begin() + 1 + static_cast<std::ptrdiff_t>(carried_n), carried.begin());
    for (size_t s = 0; s < scan_n; ++s) scans[s].push_back(outs[1 + carried_n + s]);
  }
  if (scan_n && scans[0].empty())
    return import_runtime_loop(c, body, "it runs no iteration, so only its body knows its scan outputs' shapes");
  for (size_t i = 0; i < carried_n; ++i) bind_output(c, i, carried[i]);
  for (size_t s = 0; s < scan_n; ++s) {
    bind_output(c, carried_n + s, stack(c, "scan_output" + std::to_string(s), scans[s], 0));
  }
}

void import_scan(NodeContext& c) {
  const onnx::GraphProto& body = c.attr_graph("body");
  if (!c.has_attr("num_scan_inputs")) c.fail("the num_scan_inputs attribute is required");
  const int64_t m = c.attr_int("num_scan_inputs", 0);
  if (m < 1 || static_cast<size_t>(m) > c.num_inputs())
    c.fail("num_scan_inputs " + std::to_string(m) + " does not fit the node's " + std::to_string(c.num_inputs()) + " inputs");
  const size_t scan_in = static_cast<size_t>(m), state_n = c.num_inputs() - scan_in;
  if (static_cast<size_t>(body.input_size()) != c.num_inputs() || c.num_outputs() < state_n ||
      static_cast<size_t>(body.output_size()) != c.num_outputs())
    c.fail("the body's inputs and outputs do not match the node's (" + std::to_string(state_n) + " states, " +
           std::to_string(scan_in) + " scan inputs)");
  const size_t scan_out = c.num_outputs() - state_n;
  auto per = [&](const char* attr, size_t n) {
    std::vector<int64_t> v = c.attr_ints(attr, std::vector<int64_t>(n, 0));
    if (v.size() != n) c.fail(std::string(attr) + " has " + std::to_string(v.size()) + " values for " + std::to_string(n));
    return v;
  };
  const auto in_axes = per("scan_input_axes", scan_in), in_dirs = per("scan_input_directions", scan_in);
  const auto out_axes = per("scan_output_axes", scan_out), out_dirs = per("scan_output_directions", scan_out);
  SubgraphHost& host = c.subgraphs();
  host.settle();
  int64_t len = -1;
  std::vector<int64_t> axes(scan_in);
  for (size_t j = 0; j < scan_in; ++j) {
    const ir::Value* x = c.required_input(state_n + j);
    const auto r = static_cast<int64_t>(x->type.shape.size());
    axes[j] = c.axis_in(in_axes[j], r, "scan_input_axes[" + std::to_string(j) + "]");
    const int64_t d = x->type.shape[static_cast<size_t>(axes[j])];
    if (d < 0) c.fail("scan input '" + x->name + "' has a dynamic sequence length; fix it with --shapes");
    if (len >= 0 && d != len) c.fail("the scan inputs have sequence lengths " + std::to_string(len) + " and " + std::to_string(d));
    len = d;
  }
  check_unroll(c, body, len);
  std::vector<ir::Value*> states;
  for (size_t i = 0; i < state_n; ++i) states.push_back(c.required_input(i));
  std::vector<std::vector<ir::Value*>> scans(scan_out);
  for (int64_t t = 0; t < len; ++t) {
    const std::string tag = "iter" + std::to_string(t);
    std::vector<ir::Value*> in = states;
    for (size_t j = 0; j < scan_in; ++j) {
      auto g = std::make_unique<Gather>();
      g->axis = axes[j];
      ir::Value* idx = scalar(c, tag + "/index" + std::to_string(j), DType::Int64, in_dirs[j] ? len - 1 - t : t);
      in.push_back(emit1(c, tag + "/slice" + std::to_string(j), std::move(g), {c.required_input(state_n + j), idx}));
    }
    const auto outs = host.inline_graph(body, in, c.name() + "/" + tag + "/");
    std::copy(outs.begin(), outs.begin() + static_cast<std::ptrdiff_t>(state_n), states.begin());
    for (size_t k = 0; k < scan_out; ++k) scans[k].push_back(outs[state_n + k]);
  }
  host.settle();
  for (size_t i = 0; i < state_n; ++i) bind_output(c, i, states[i]);
  for (size_t k = 0; k < scan_out; ++k) {
    if (scans[k].empty()) c.fail("the sequence is empty, so the scan outputs have no known shape");
    if (out_dirs[k]) std::reverse(scans[k].begin(), scans[k].end());
    bind_output(c, state_n + k, stack(c, "scan_output" + std::to_string(k), scans[k], out_axes[k]));
  }
}

// Scan-8: a batch axis 0 in front of everything (the body sees one batch element), the sequence
// on axis 1, an optional first input sequence_lens (accepted when every length is the full one),
// `directions` for the scan inputs, and scan outputs stacked on axis 1. Unrolled per element.
void import_scan_8(NodeContext& c) {
  const onnx::GraphProto& body = c.attr_graph("body");
  const int64_t m = c.attr_int("num_scan_inputs", 0);
  if (m < 1 || static_cast<size_t>(m) + 1 > c.num_inputs())
    c.fail("num_scan_inputs " + std::to_string(m) + " does not fit the node's " + std::to_string(c.num_inputs()) + " inputs");
  const size_t scan_in = static_cast<size_t>(m), state_n = c.num_inputs() - 1 - scan_in;
  if (static_cast<size_t>(body.input_size()) != state_n + scan_in || c.num_outputs() < state_n ||
      static_cast<size_t>(body.output_size()) != c.num_outputs())
    c.fail("the body's inputs and outputs do not match the node's (" + std::to_string(state_n) + " states, " +
           std::to_string(scan_in) + " scan inputs)");
  const size_t scan_out = c.num_outputs() - state_n;
  const std::vector<int64_t> dirs = c.attr_ints("directions", std::vector<int64_t>(scan_in, 0));
  if (dirs.size() != scan_in) c.fail("directions has " + std::to_string(dirs.size()) + " values for " + std::to_string(scan_in));
  SubgraphHost& host = c.subgraphs();
  host.settle();
  int64_t batch = -1, len = -1;
  for (size_t j = 0; j < scan_in; ++j) {
    const Dims& s = c.required_input(1 + state_n + j)->type.shape;
    if (s.size() < 2 || s[0] < 0 || s[1] < 0) c.fail("scan inputs must be [batch, sequence, ...] with both known");
    if ((batch >= 0 && s[0] != batch) || (len >= 0 && s[1] != len)) c.fail("the scan inputs disagree in batch or length");
    batch = s[0];
    len = s[1];
  }
  if (ir::Value* lens = c.input(0)) {
    const auto k = lens->is_constant() ? std::optional<TensorView>(lens->view()) : std::nullopt;
    bool full = k && k->dtype == DType::Int32 && k->elements() == batch;
    for (int64_t b = 0; full && b < batch; ++b) full = k->as<const int32_t>()[b] == len;
    if (!full) c.fail("sequence_lens must be a constant int32 [batch] of full lengths; shorter sequences are not supported");
  }
  check_unroll(c, body, batch * len);
  auto take = [&](ir::Value* x, int64_t i, const std::string& tag) {
    auto g = std::make_unique<Gather>();
    g->axis = 0;
    return emit1(c, tag, std::move(g), {x, scalar(c, tag + "/index", DType::Int64, i)});
  };
  std::vector<std::vector<ir::Value*>> states_out(state_n), scans_out(scan_out);
  for (int64_t b = 0; b < batch; ++b) {
    const std::string bt = "batch" + std::to_string(b);
    std::vector<ir::Value*> states;
    for (size_t i = 0; i < state_n; ++i) states.push_back(take(c.required_input(1 + i), b, bt + "/state" + std::to_string(i)));
    std::vector<ir::Value*> seqs;
    for (size_t j = 0; j < scan_in; ++j) seqs.push_back(take(c.required_input(1 + state_n + j), b, bt + "/input" + std::to_string(j)));
    std::vector<std::vector<ir::Value*>> scans(scan_out);
    for (int64_t t = 0; t < len; ++t) {
      const std::string tag = bt + "/iter" + std::to_string(t);
      std::vector<ir::Value*> in = states;
      for (size_t j = 0; j < scan_in; ++j)
        in.push_back(take(seqs[j], dirs[j] ? len - 1 - t : t, tag + "/slice" + std::to_string(j)));
      const auto outs = host.inline_graph(body, in, c.name() + "/" + tag + "/");
      std::copy(outs.begin(), outs.begin() + static_cast<std::ptrdiff_t>(state_n), states.begin());
      for (size_t k = 0; k < scan_out; ++k) scans[k].push_back(outs[state_n + k]);
    }
    host.settle();
    for (size_t i = 0; i < state_n; ++i) states_out[i].push_back(states[i]);
    for (size_t k = 0; k < scan_out; ++k) scans_out[k].push_back(stack(c, bt + "/scan_output" + std::to_string(k), scans[k], 0));
  }
  if (batch == 0 || len == 0) c.fail("the batch or the sequence is empty, so the outputs have no known shape");
  for (size_t i = 0; i < state_n; ++i) bind_output(c, i, stack(c, "state" + std::to_string(i), states_out[i], 0));
  for (size_t k = 0; k < scan_out; ++k) bind_output(c, state_n + k, stack(c, "scan_output" + std::to_string(k), scans_out[k], 0));
}

KILN_REGISTER_IMPORTER("If", kMinOpset, kMaxOpset, import_if);
KILN_REGISTER_IMPORTER("Loop", kMinOpset, kMaxOpset, import_loop);
KILN_REGISTER_IMPORTER("Scan", 8, 8, import_scan_8);
KILN_REGISTER_IMPORTER("Scan", 9, kMaxOpset, import_scan);

}  // namespace
}  // namespace kiln::onnx_import
