// ONNX importers for the convolution family (ops/nn/conv.h): Conv and ConvTranspose. auto_pad and
// ConvTranspose's output_shape are resolved here into explicit pads and output_padding, so the
// op and its kernels only ever see explicit geometry.
#include <onnx/onnx_pb.h>

#include "import/importer.h"
#include "ops/nn/conv.h"

namespace kiln::onnx_import {
namespace {

using namespace kiln::ops;

Dims spatial(const Dims& s) { return Dims(s.begin() + 2, s.end()); }

// W's spatial dims, checked against the optional kernel_shape attribute (which fills in dims
// W leaves unknown).
Dims kernel_of(NodeContext& ctx, const ir::Value* x, const ir::Value* w) {
  const Dims& xs = x->type.shape;
  const Dims& ws = w->type.shape;
  if (xs.size() < 3) ctx.fail("X must have rank >= 3 ([N, C, spatial...]), got shape " + shape_str(xs));
  if (ws.size() != xs.size())
    ctx.fail("W (shape " + shape_str(ws) + ") must have the rank of X (shape " + shape_str(xs) + ")");
  Dims k = spatial(ws);
  if (ctx.has_attr("kernel_shape")) {
    const std::vector<int64_t> ks = ctx.attr_ints("kernel_shape");
    bool ok = ks.size() == k.size();
    for (size_t i = 0; ok && i < k.size(); ++i) ok = k[i] < 0 || ks[i] == k[i];
    if (!ok)
      ctx.fail("kernel_shape [" + shape_str(ks) + "] does not match W's spatial dims [" + shape_str(k) +
               "]; fix the model's kernel_shape attribute");
    k = ks;
  }
  return k;
}

void import_conv(NodeContext& ctx) {
  ir::Value* x = ctx.required_input(0);
  ir::Value* w = ctx.required_input(1);
  ir::Value* b = ctx.input(2);
  const Dims k = kernel_of(ctx, x, w);
  auto op = std::make_unique<Conv>();
  op->strides = ctx.attr_ints("strides");
  op->dilations = ctx.attr_ints("dilations");
  op->group = ctx.attr_int("group", 1);
  const Window win = make_window("Conv", k, op->strides, op->dilations, {});
  op->pads = resolve_auto_pad(ctx.attr_string("auto_pad", "NOTSET"), win, spatial(x->type.shape), ctx.attr_ints("pads"));
  std::vector<ir::Value*> in{x, w};
  if (b) in.push_back(b);
  ctx.emit(std::move(op), std::move(in));
}

// ConvTranspose's output_shape and auto_pad SAME_* fix the output size; the pads follow from
//   total = stride * (in - 1) + output_padding + (K - 1) * dilation + 1 - out
// split as the ONNX spec (and its reference implementation) says: SAME_UPPER puts the odd element
// at the end, everything else at the beginning. A negative total (an output larger than the
// full transposed convolution) extends the output at the end, as ONNX Runtime does.
void import_conv_transpose(NodeContext& ctx) {
  ir::Value* x = ctx.required_input(0);
  ir::Value* w = ctx.required_input(1);
  ir::Value* b = ctx.input(2);
  const Dims k = kernel_of(ctx, x, w);
  const size_t r = k.size();
  auto op = std::make_unique<ConvTranspose>();
  op->strides = ctx.attr_ints("strides");
  op->dilations = ctx.attr_ints("dilations");
  op->group = ctx.attr_int("group", 1);
  const Window win = make_window("ConvTranspose", k, op->strides, op->dilations, {});
  std::vector<int64_t> opad = ctx.attr_ints("output_padding");
  if (opad.empty()) opad.assign(r, 0);
  if (opad.size() != r)
    ctx.fail("output_padding has " + std::to_string(opad.size()) + " values for " + std::to_string(r) + " spatial dims");
  for (int64_t p : opad)
    if (p < 0) ctx.fail("output_padding values must be >= 0");

  std::vector<int64_t> out = ctx.attr_ints("output_shape");
  if (out.size() == r + 2) out.erase(out.begin(), out.begin() + 2);  // some exporters give [N, C, ...]
  if (!out.empty() && out.size() != r)
    ctx.fail("output_shape has " + std::to_string(out.size()) + " values for " + std::to_string(r) + " spatial dims");
  const std::string auto_pad = ctx.attr_string("auto_pad", "NOTSET");
  const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  if (!same && auto_pad != "NOTSET" && auto_pad != "VALID" && !auto_pad.empty())
    ctx.fail("unknown auto_pad '" + auto_pad + "' (expected NOTSET, VALID, SAME_UPPER or SAME_LOWER)");

  if (!out.empty() || same) {
    const Dims in = spatial(x->type.shape);
    bool known = shape_static(in);
    for (int64_t d : k) known = known && d >= 0;
    if (!known)
      ctx.fail(std::string(out.empty() ? "auto_pad=" + auto_pad : "output_shape") +
               " needs static spatial input dims and kernel sizes, but X has shape " + shape_str(x->type.shape) +
               "; fix the input shapes (--shapes)");
    std::vector<int64_t> pads(2 * r, 0);
    for (size_t i = 0; i < r; ++i) {
      const int64_t target = out.empty() ? in[i] * win.strides[i] : out[i];
      if (target < 1) ctx.fail("output_shape values must be >= 1");
      const int64_t total = win.strides[i] * (in[i] - 1) + opad[i] + win.extent(i) - target;
      if (total < 0) {
        opad[i] -= total;
        continue;
      }
      const int64_t half = total / 2;
      pads[i] = auto_pad == "SAME_UPPER" ? half : total - half;
      pads[r + i] = total - pads[i];
    }
    op->pads = pads;
  } else if (auto_pad != "VALID") {
    op->pads = ctx.attr_ints("pads");
  }
  bool any_opad = false;
  for (int64_t p : opad) any_opad = any_opad || p != 0;
  if (any_opad) op->output_padding = opad;
  std::vector<ir::Value*> ins{x, w};
  if (b) ins.push_back(b);
  ctx.emit(std::move(op), std::move(ins));
}

// Conv's semantics are unchanged from opset 1 (opset 11 only clarified auto_pad), likewise
// ConvTranspose's (opset 11 clarified output_shape / auto_pad as implemented above).
KILN_REGISTER_IMPORTER("Conv", kMinOpset, kMaxOpset, import_conv);
KILN_REGISTER_IMPORTER("ConvTranspose", kMinOpset, kMaxOpset, import_conv_transpose);

}  // namespace
}  // namespace kiln::onnx_import
