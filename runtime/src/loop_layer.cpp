// The run-time Loop layer (plan schema v8): ONNX Loop semantics over a body that is a plan of its
// own, loaded with the runtime's loader (so verified like any plan) and run on its own execution
// context, created per parent context on first use. Per iteration the body gets the iteration
// number, the condition (true: it runs) and the loop-carried values; it gives the next condition,
// the next carried values and one value per scan output, which are stacked along a new axis 0.
// Outer-scope values the body reads are extra inputs of the layer, copied in once per run.
// Carried values are copied between the body's outputs and inputs (the body plan owns both
// buffers); at the sizes loops carry, that costs little beside running the body.
#include <cstring>
#include <limits>

#include "engine_impl.h"
#include "kiln/plan_generated.h"
#include "ops/controlflow/loop.h"

namespace kiln {

namespace {

std::string type_str(DType t, const Dims& s) { return std::string(dtype_name(t)) + " " + shape_str(s); }

}  // namespace

// Bodies inside bodies: each level is a plan of its own, loaded recursively on this thread.
constexpr int kMaxBodyDepth = 32;  // as deep as the importer nests subgraphs
thread_local int body_depth = 0;

std::shared_ptr<const Engine> load_loop_body(const Engine::Impl& impl, const LayerRec& rec,
                                             std::span<const uint8_t> bytes, const LoadOptions& opts,
                                             const std::string& label) {
  auto corrupt = [&](const std::string& what) {
    throw Error(label + ": " + what + "; the plan is corrupt or was not written by kiln: rebuild it with `kiln compile`");
  };
  const auto* loop = dynamic_cast<const ops::Loop*>(rec.op.get());
  if (!loop) corrupt("carries a body but is not a Loop");
  if (body_depth >= kMaxBodyDepth) corrupt("its loop bodies nest more than " + std::to_string(kMaxBodyDepth) + " deep");
  std::shared_ptr<const Engine> loaded;
  ++body_depth;
  try {
    loaded = Engine::load_memory(bytes, label + "'s body", opts);
  } catch (...) {
    --body_depth;
    throw;
  }
  --body_depth;
  // Verified by the load: the body's own checksum, which the layer's attribute must name.
  if (fb::GetPlan(bytes.data())->checksum() != static_cast<uint64_t>(loop->body_checksum))
    corrupt("its body is not the one its attributes name (checksum)");
  const Engine& body = *loaded;
  const size_t n = static_cast<size_t>(loop->carried), scans = loop->scan_dtypes.size();
  // The layer's infer() has checked the counts against its own inputs and outputs.
  if (body.inputs().size() != rec.inputs.size() || body.outputs().size() != 1 + n + scans)
    corrupt("its body takes " + std::to_string(body.inputs().size()) + " inputs and gives " +
            std::to_string(body.outputs().size()) + " outputs, which do not match the layer");
  auto one = [](const TensorDesc& d, DType t) { return d.dtype == t && shape_static(d.shape) && shape_elements(d.shape) == 1; };
  if (!one(body.inputs()[0], DType::Int64) || !one(body.inputs()[1], DType::Bool) || !one(body.outputs()[0], DType::Bool))
    corrupt("its body's iteration number, condition or condition output is not one int64 or bool element");
  for (size_t i = 2; i < rec.inputs.size(); ++i) {
    const TensorDesc& d = body.inputs()[i];
    if (rec.inputs[i] < 0) corrupt("input " + std::to_string(i) + " is absent");
    const TensorRec& t = impl.tensors[static_cast<size_t>(rec.inputs[i])];
    if (t.dynamic || !t.layout.empty() || t.dtype != d.dtype || t.shape != d.shape)
      corrupt("input " + std::to_string(i) + " ('" + t.name + "') is " + type_str(t.dtype, t.shape) +
              " but its body takes " + type_str(d.dtype, d.shape));
  }
  for (size_t o = 0; o < n + scans; ++o) {
    const TensorDesc& d = body.outputs()[1 + o];
    const TensorRec& t = impl.tensors[static_cast<size_t>(rec.outputs[o])];
    const Dims want = o < n ? body.inputs()[2 + o].shape : loop->scan_shape(o - n);
    const DType want_t = o < n ? body.inputs()[2 + o].dtype : t.dtype;
    // A body output of value-dependent shape (-1 dims) is checked per iteration by run_loop.
    bool fits = d.shape.size() == want.size();
    for (size_t k = 0; fits && k < want.size(); ++k) fits = d.shape[k] < 0 || d.shape[k] == want[k];
    if (!t.layout.empty() || d.dtype != want_t || d.dtype != t.dtype || !fits)
      corrupt("its body gives output " + std::to_string(1 + o) + " as " + type_str(d.dtype, d.shape) +
              ", which does not match the layer's output '" + t.name + "'");
  }
  return loaded;
}

void run_loop(const LayerRec& l, LayerIO& io) {
  const auto& loop = static_cast<const ops::Loop&>(*l.op);
  const std::string who = "layer '" + l.name + "' (Loop)";
  const size_t n = static_cast<size_t>(loop.carried), scans = loop.scan_dtypes.size();
  const size_t outer = l.inputs.size() - 2 - n;
  int64_t trip = std::numeric_limits<int64_t>::max();
  if (const TensorView m = io.input(0); m.data)
    trip = m.dtype == DType::Int32 ? *static_cast<const int32_t*>(m.data) : *static_cast<const int64_t*>(m.data);
  bool cond = true;
  if (const TensorView c = io.input(1); c.data) cond = *static_cast<const uint8_t*>(c.data) != 0;
  if (!io.input(0).data && !io.input(1).data)
    throw Error(who + ": the loop has neither a trip count nor a condition, so it never ends");
  ExecutionContext& b = io.body_context();
  const Engine& body = *l.body;
  auto bytes_of = [](const TensorDesc& d) { return d.elements() * dtype_size(d.dtype); };
  // The carried values start in the body's input buffers and return there after every iteration.
  for (size_t i = 0; i < n + outer; ++i) {
    const TensorView v = io.input(2 + i);
    // Other input shapes (an optimisation profile) reach a body built for the recorded ones.
    if (v.shape != body.inputs()[2 + i].shape)
      throw Error(who + ": input '" + body.inputs()[2 + i].name + "' has shape " + shape_str(v.shape) + " but the " +
                  "loop's body was built for " + shape_str(body.inputs()[2 + i].shape) + "; run the loop at the "
                  "shapes the plan was built for, or rebuild it for these");
    std::memcpy(b.input(2 + i), v.data, bytes_of(body.inputs()[2 + i]));
  }
  std::vector<size_t> row_bytes;  // one iteration's value of each scan output
  for (size_t k = 0; k < scans; ++k)
    row_bytes.push_back(shape_bytes(loop.scan_shape(k), static_cast<DType>(loop.scan_dtypes[k])));
  std::vector<std::vector<uint8_t>> stacked(scans);
  uint64_t stacked_bytes = 0;
  const uint64_t budget = io.memory_left();
  int64_t it = 0;
  for (; it < trip && cond; ++it) {
    *static_cast<int64_t*>(b.input(0)) = it;
    *static_cast<uint8_t*>(b.input(1)) = 1;
    try {
      b.run();
    } catch (const Error& e) {
      throw Error(who + ": iteration " + std::to_string(it) + ": " + e.what());
    }
    cond = *static_cast<const uint8_t*>(b.output(0)) != 0;
    for (size_t o = 0; o < n + scans; ++o) {
      const Dims want = o < n ? body.inputs()[2 + o].shape : loop.scan_shape(o - n);
      if (shape_static(body.outputs()[1 + o].shape)) continue;  // checked at load
      const Dims got = b.output_shape(1 + o);
      if (got != want)
        throw Error(who + ": iteration " + std::to_string(it) + ": the body's output '" + body.outputs()[1 + o].name +
                    "' came out as " + shape_str(got) + " where the loop needs " + shape_str(want) +
                    (o < n ? " (a loop-carried value keeps its shape)" : " (scan outputs keep one shape)"));
    }
    for (size_t i = 0; i < n; ++i)  // memmove: the body may write an output in its input's buffer
      std::memmove(b.input(2 + i), b.output(1 + i), bytes_of(body.inputs()[2 + i]));
    for (size_t k = 0; k < scans; ++k) {
      const size_t add = row_bytes[k];
      // Twice: the stacked rows and the output they are copied into at the end.
      if ((stacked_bytes + add) * 2 > budget)
        throw Error(who + ": after " + std::to_string(it + 1) + " iterations its scan outputs need " +
                    mib((stacked_bytes + add) * 2) + " with their copies, beyond the context's memory limit (" +
                    mib(budget) + " left; raise it with --memPoolSize, or LoadOptions::memory_limit in the API); "
                    "check the trip count and condition the loop is given");
      const auto* p = static_cast<const uint8_t*>(b.output(1 + n + k));
      stacked[k].insert(stacked[k].end(), p, p + add);
      stacked_bytes += add;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const TensorDesc& d = body.inputs()[2 + i];
    std::memcpy(io.output(i, d.shape).data, b.input(2 + i), bytes_of(d));
  }
  for (size_t k = 0; k < scans; ++k) {
    Dims shape{it};
    const Dims one = loop.scan_shape(k);
    shape.insert(shape.end(), one.begin(), one.end());
    const TensorView out = io.output(n + k, shape);
    if (!stacked[k].empty()) std::memcpy(out.data, stacked[k].data(), stacked[k].size());
  }
}

}  // namespace kiln
