// Optimisation profiles: checking input shapes against the plan's ranges, and building (and
// caching) a Specialization -- every tensor's shape and every static layer's kernel -- for one
// tuple of input shapes.
#include <algorithm>

#include "engine_impl.h"
#include "ops/infer_layer.h"

namespace kiln {

namespace {

std::string shapes_str(const Engine::Impl& e, const std::vector<Dims>& shapes) {
  std::string r;
  for (size_t i = 0; i < shapes.size(); ++i)
    r += (i ? ", " : "") + e.tensors[e.input_ids[i]].name + ":" + shape_str(shapes[i]);
  return r;
}

std::shared_ptr<const Specialization> build(const Engine::Impl& e, const std::vector<Dims>& input_shapes) {
  auto sp = std::make_shared<Specialization>();
  sp->input_shapes = input_shapes;
  sp->shapes = e.base->shapes;
  sp->bytes.assign(e.tensors.size(), 0);
  for (size_t i = 0; i < input_shapes.size(); ++i) sp->shapes[e.input_ids[i]] = input_shapes[i];
  const std::string at = "at input shapes " + shapes_str(e, input_shapes) + ": ";
  auto size_of = [&](int id) {
    const TensorRec& t = e.tensors[id];
    const Dims& s = sp->shapes[id];
    uint64_t b = 0;
    try {
      b = t.layout.empty() ? shape_bytes(s, t.dtype)
                           : dnn::physical_bytes(t.dtype, s, t.layout);
    } catch (const dnnl::error&) {
      throw Error(at + "tensor '" + t.name + "' cannot hold shape " + shape_str(s) + " in layout " + t.layout);
    }
    // The arena slot was sized at the profile's max shapes; a tensor that grows beyond it (an op
    // whose output does not grow with its inputs) cannot run here.
    if (b > t.capacity)
      throw Error(at + "tensor '" + t.name + "' needs " + std::to_string(b) + " bytes (shape " + shape_str(s) +
                  ") but the plan reserves " + std::to_string(t.capacity) +
                  " at the profile's max shapes; rebuild the plan with a profile that covers these shapes");
    sp->bytes[id] = b;
  };
  for (int id : e.input_ids) size_of(id);
  // The values of shape programs (Shape -> ... -> a Reshape's target) at these shapes, evaluated
  // on the host as we go, so the layers they parameterise get concrete shapes and fast kernels.
  std::vector<std::vector<uint8_t>> known(e.tensors.size());
  for (size_t li = 0; li < e.layers.size(); ++li) {
    const LayerRec& l = e.layers[li];
    const std::string label = at + "layer '" + l.name + "' (" + l.op_type + ")";
    std::vector<ops::TensorType> types;
    std::vector<TensorView> views;
    for (int id : l.inputs) {
      types.push_back(id < 0 ? ops::TensorType{} : ops::TensorType{e.tensors[id].dtype, sp->shapes[id]});
      const TensorRec* t = id < 0 ? nullptr : &e.tensors[id];
      if (t && t->data) views.push_back(TensorView{t->dtype, t->shape, const_cast<void*>(t->data)});
      else if (t && !known[id].empty()) views.push_back(TensorView{t->dtype, sp->shapes[id], known[id].data()});
      else views.push_back(TensorView{});
    }
    const std::vector<ops::TensorType> inferred = ops::infer_layer(*l.op, types, views, l.outputs.size(), label);
    auto values = ops::evaluate_shape_layer(*l.op, types, views, inferred, label);
    for (size_t o = 0; o < values.size(); ++o) known[l.outputs[o]] = std::move(values[o]);
    for (size_t o = 0; o < l.outputs.size(); ++o) {
      const int id = l.outputs[o];
      const TensorRec& t = e.tensors[id];
      const Dims& got = inferred[o].shape;
      // A tensor whose size depends on input values stays so (the context sizes it per run); any
      // other must come out fully known.
      if (!ops::stored_type_ok(inferred[o].dtype, t.dtype) || got.size() != t.shape.size() || (!t.dynamic && !shape_static(got)))
        throw Error(label + ": output '" + t.name + "' comes out as " + shape_str(got) +
                    ", which the plan cannot hold; the model's graph may depend on the input shape in a way "
                    "the profile does not cover");
      sp->shapes[id] = got;
      if (!t.dynamic) size_of(id);
    }
    if (l.dynamic) {
      sp->kernels.push_back(nullptr);
      continue;
    }
    std::string used;
    auto k = create_layer_kernel(e, l, sp->shapes, used);
    if (!k) throw Error(label + ": no kernel on this machine can run this layer at these shapes");
    sp->scratchpad_bytes = std::max(sp->scratchpad_bytes, k->scratchpad_bytes());
    for (const PackedWeights& w : k->packed_weights()) {
      const int id = w.input < l.inputs.size() ? l.inputs[w.input] : -1;
      const TensorRec* t = id < 0 ? nullptr : &e.tensors[id];
      if (t && !reads_in_place(*t, w)) sp->weight_copy_bytes += w.packed.get_desc().get_size();
    }
    sp->kernels.push_back(k.get());
    sp->owned.push_back(std::move(k));
  }
  return sp;
}

}  // namespace

void Engine::Impl::check_input_shape(size_t input, const Dims& s) const {
  const TensorRec& t = tensors[input_ids[input]];
  const Dims& lo = ranges.empty() ? t.shape : ranges[input].min;
  const Dims& hi = ranges.empty() ? t.shape : ranges[input].max;
  bool ok = s.size() == lo.size();
  for (size_t d = 0; ok && d < s.size(); ++d) ok = s[d] >= lo[d] && s[d] <= hi[d];
  if (ok) return;
  std::string range = lo == hi ? "the only shape the plan was built for is " + shape_str(lo)
                               : "the plan's profile allows " + shape_str(lo) + " to " + shape_str(hi);
  std::string fix = lo == hi ? "rebuild the plan with --shapes, or with --minShapes/--optShapes/--maxShapes"
                             : "rebuild the plan with a profile (--minShapes/--maxShapes) that covers it";
  throw Error("input '" + t.name + "': shape " + shape_str(s) + " is outside the allowed range: " + range +
              " (each dimension between the two); " + fix);
}

std::shared_ptr<const Specialization> Engine::Impl::specialize(const std::vector<Dims>& input_shapes) const {
  if (input_shapes == base->input_shapes) return base;
  for (size_t i = 0; i < input_shapes.size(); ++i) check_input_shape(i, input_shapes[i]);
  {
    std::lock_guard<std::mutex> lock(spec_mu);
    for (auto it = specs.begin(); it != specs.end(); ++it)
      if ((*it)->input_shapes == input_shapes) {
        specs.splice(specs.begin(), specs, it);
        return specs.front();
      }
  }
  // Built outside the lock so other shapes keep running; two threads racing on one new shape
  // each build it, and the first to finish is kept.
  auto sp = build(*this, input_shapes);
  std::lock_guard<std::mutex> lock(spec_mu);
  for (auto& have : specs)
    if (have->input_shapes == input_shapes) return have;
  specs.push_front(sp);
  // Evicted specialisations live on in the contexts still using them (shared_ptr).
  size_t held = 0;
  for (auto& s : specs) held += s->weight_copy_bytes;
  while (specs.size() > 1 && (specs.size() > kMaxSpecializations || held > kSpecializationBudget)) {
    held -= specs.back()->weight_copy_bytes;
    specs.pop_back();
  }
  return sp;
}

}  // namespace kiln
