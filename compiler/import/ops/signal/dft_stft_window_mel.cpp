// Importers of the opset-17 signal ops (oplib/ops/signal/dft_stft_window_mel.h): the three window
// generators share one SignalWindow op, MelWeightMatrix, DFT and STFT map one to one. Scalar size
// inputs stay inputs: when they are constants infer() reads them, else the runtime does.
#include "import/importer.h"
#include "ops/signal/dft_stft_window_mel.h"

namespace kiln::onnx_import {
namespace {

DType output_datatype(NodeContext& c) {
  const int64_t code = c.attr_int("output_datatype", 1);
  const auto t = static_cast<DType>(code);
  if (code < 0 || code > 127 || !dtype_onnx(t) || t == DType::Bool)
    c.fail("output_datatype " + std::to_string(code) + " is not a numeric type kiln supports");
  return t;
}

void import_window(NodeContext& c, ops::WindowKind kind) {
  auto op = std::make_unique<ops::SignalWindow>();
  op->kind = kind;
  op->periodic = c.attr_int("periodic", 1) != 0;
  op->output_dtype = output_datatype(c);
  c.emit(std::move(op), {c.required_input(0)});
}

void import_mel(NodeContext& c) {
  auto op = std::make_unique<ops::MelWeightMatrix>();
  op->output_dtype = output_datatype(c);
  std::vector<ir::Value*> in;
  for (size_t i = 0; i < 5; ++i) in.push_back(c.required_input(i));
  c.emit(std::move(op), in);
}

void import_dft(NodeContext& c) {
  auto op = std::make_unique<ops::DFT>();
  if (c.opset() >= 20) {
    // DFT-20: the axis moves from an attribute (default 1) to input 2 (default -2, counted on the
    // input with its trailing real/imaginary dim).
    c.expect_signature(1, 3, 1, 1, {"inverse", "onesided"});
    op->axis = -2;
    if (ir::Value* a = c.input(2)) {
      if (!a->is_constant() || a->view().elements() != 1)
        c.fail("the axis input must be a compile-time constant scalar");
      op->axis = c.const_ints(2).at(0);
    }
    const int64_t r = static_cast<int64_t>(c.required_input(0)->type.shape.size());
    if (op->axis < -r || op->axis >= r - 1 || op->axis == -1)
      c.fail("axis " + std::to_string(op->axis) + " is out of range: the input has rank " + std::to_string(r) +
             ", its last dim holding the real/imaginary parts");
    if (op->axis < 0) op->axis += r;
  } else {
    op->axis = c.attr_int("axis", 1);
  }
  op->inverse = c.attr_int("inverse", 0) != 0;
  op->onesided = c.attr_int("onesided", 0) != 0;
  std::vector<ir::Value*> in{c.required_input(0)};
  if (ir::Value* n = c.input(1)) in.push_back(n);
  c.emit(std::move(op), in);
}

void import_stft(NodeContext& c) {
  auto op = std::make_unique<ops::STFT>();
  op->onesided = c.attr_int("onesided", 1) != 0;
  ir::Value *window = c.input(2), *length = c.input(3);
  if (!window && !length) c.fail("STFT needs a window or a frame_length input to know the frame size");
  std::vector<ir::Value*> in{c.required_input(0), c.required_input(1), window};
  if (length) in.push_back(length);
  c.emit(std::move(op), in);
}

KILN_REGISTER_IMPORTER("HannWindow", 17, kMaxOpset,
                       [](NodeContext& c) { import_window(c, ops::WindowKind::Hann); });
KILN_REGISTER_IMPORTER("HammingWindow", 17, kMaxOpset,
                       [](NodeContext& c) { import_window(c, ops::WindowKind::Hamming); });
KILN_REGISTER_IMPORTER("BlackmanWindow", 17, kMaxOpset,
                       [](NodeContext& c) { import_window(c, ops::WindowKind::Blackman); });
KILN_REGISTER_IMPORTER("MelWeightMatrix", 17, kMaxOpset, import_mel);
KILN_REGISTER_IMPORTER("DFT", 17, 19, import_dft);
KILN_REGISTER_IMPORTER("DFT", 20, kMaxOpset, import_dft);  // axis as an input
KILN_REGISTER_IMPORTER("STFT", 17, kMaxOpset, import_stft);

}  // namespace
}  // namespace kiln::onnx_import
