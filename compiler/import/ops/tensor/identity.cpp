// ONNX importers for ops/tensor/identity.h: Identity, and Dropout: an Identity when it is known to
// keep everything, else ops::Dropout, which checks at run time.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/tensor/identity.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

void import_identity(NodeContext& c) { c.emit(std::make_unique<Identity>(), {c.required_input(0)}); }

// A constant filled with ones of dtype t: the mask of a Dropout that keeps everything.
ir::Value* ones(NodeContext& c, const std::string& name, DType t, const Dims& s) {
  ir::Value* v = c.graph().add_constant(c.graph().unique_name(name), t, s);
  void* p = v->constant->data();
  int64_t n = shape_elements(s);
  for (int64_t i = 0; i < n; ++i) {
    switch (t) {
      case DType::Bool: static_cast<uint8_t*>(p)[i] = 1; break;
      case DType::Float32: static_cast<float*>(p)[i] = 1.f; break;
      case DType::Float64: static_cast<double*>(p)[i] = 1.0; break;
      case DType::Float16: static_cast<uint16_t*>(p)[i] = 0x3C00; break;
      case DType::BFloat16: static_cast<uint16_t*>(p)[i] = 0x3F80; break;
      default: c.fail(std::string("cannot build a Dropout mask of type ") + dtype_name(t));
    }
  }
  return v;
}

// Inference-mode Dropout, and training-mode Dropout with ratio 0, pass the input through; a
// requested mask is all-true. With a ratio above 0 training-mode Dropout draws a random mask, which
// kiln cannot reproduce: refused at build time when training_mode and ratio are constants, at run
// time (ops::Dropout) when either is a run-time value.
void import_dropout(NodeContext& c) {
  ir::Value* x = c.required_input(0);
  if (c.opset() >= 12) {
    if (ir::Value* tm = c.input(2)) {
      ir::Value* ratio = c.input(1);
      for (ir::Value* v : {tm, ratio})
        if (v && v->is_constant() && shape_elements(v->type.shape) != 1)
          c.fail("ratio and training_mode must be scalars, got shape " + shape_str(v->type.shape));
      if (!tm->is_constant() || (element_as_int(tm->view(), 0) != 0 && ratio && !ratio->is_constant())) {
        auto op = std::make_unique<Dropout>();
        op->node = c.name();
        c.emit(std::move(op), {x, ratio, tm});
        return;
      }
      if (element_as_int(tm->view(), 0) != 0) {
        const double r = ratio ? element_as_double(ratio->view(), 0) : 0.5;
        if (r != 0.0)
          c.fail("training_mode is true with ratio " + std::to_string(r) + (ratio ? "" : " (the default)") +
                 ": Dropout would draw a random mask, which kiln cannot reproduce; export the model in eval mode");
      }
    }
  }
  ir::Value* y = c.graph().add_value(c.proto().output(0));
  ir::Node* n = c.graph().add_node(c.name(), std::make_unique<Identity>(), {x}, std::vector<ir::Value*>{y});
  n->fused.push_back(c.proto().op_type());
  c.alias_output(0, y);
  if (c.num_outputs() > 1 && !c.proto().output(1).empty()) {
    if (!shape_static(x->type.shape))
      c.fail("the mask output is used but the input shape " + shape_str(x->type.shape) +
             " is not static; fix the input shapes with --shapes");
    // Opsets 7-9 type the mask like the data; 10+ make it bool.
    DType t = c.opset() >= 10 ? DType::Bool : x->type.dtype;
    c.alias_output(1, ones(c, c.proto().output(1), t, x->type.shape));
  }
}


KILN_REGISTER_IMPORTER("Identity", kMinOpset, kMaxOpset, import_identity);
KILN_REGISTER_IMPORTER("Dropout", kMinOpset, kMaxOpset, import_dropout);

}  // namespace
}  // namespace kiln::onnx_import
