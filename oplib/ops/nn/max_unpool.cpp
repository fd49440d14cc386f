// MaxUnpool: shape checks and the reference kernel (see max_unpool.h).
#include "ops/nn/max_unpool.h"

#include <algorithm>
#include <cstring>

#include "ops/tensor/shape.h"

namespace kiln::ops {

namespace {

constexpr int64_t kMaxAttr = int64_t(1) << 31;

bool is_float(DType t) { return t == DType::Float32 || t == DType::Float64; }

}  // namespace

void MaxUnpool::attrs(AttrVisitor& v) {
  v.visit("kernel_shape", kernel_shape);
  v.visit("strides", strides);
  v.visit("pads", pads);
  v.visit("output_shape", output_shape);
}

namespace {

// The unpooled size before any requested output_shape: (in - 1) * stride + kernel - pads,
// with the pads ignored when an output shape is given. -1 for unknown input dims.
Dims unpool_shape(const MaxUnpool& op, const Dims& x, bool ignore_pads) {
  const size_t r = x.size() - 2;
  check(op.kernel_shape.size() == r,
        "MaxUnpool: kernel_shape needs one value per spatial dim (" + std::to_string(r) + ")");
  check(op.strides.empty() || op.strides.size() == r, "MaxUnpool: strides needs one value per spatial dim");
  check(op.pads.empty() || op.pads.size() == 2 * r, "MaxUnpool: pads needs two values per spatial dim");
  Dims y{x[0], x[1]};
  for (size_t i = 0; i < r; ++i) {
    const int64_t k = op.kernel_shape[i], s = op.strides.empty() ? 1 : op.strides[i];
    const int64_t pb = op.pads.empty() ? 0 : op.pads[i], pe = op.pads.empty() ? 0 : op.pads[r + i];
    check(k >= 1 && k < kMaxAttr && s >= 1 && s < kMaxAttr && pb >= 0 && pb < kMaxAttr && pe >= 0 && pe < kMaxAttr,
          "MaxUnpool: kernel_shape and strides must be >= 1 and pads >= 0");
    const int64_t in = x[2 + i], pads = ignore_pads ? 0 : pb + pe;
    const int64_t o = in < 0 ? -1 : mul_or_unknown(std::max<int64_t>(in - 1, 0), s, "MaxUnpool output") + k - pads;
    check(in < 0 || o >= 1, "MaxUnpool: the pads leave an empty output along spatial dim " + std::to_string(i));
    y.push_back(o);
  }
  return y;
}

bool has_output_shape(const MaxUnpool& op, size_t num_inputs, bool third_input) {
  return !op.output_shape.empty() || (num_inputs > 2 && third_input);
}

}  // namespace

void MaxUnpool::infer(InferContext& ctx) const {
  check(ctx.num_inputs() >= 2 && ctx.num_inputs() <= 3 && ctx.num_outputs() == 1,
        "MaxUnpool takes X, I and an optional output_shape, and has one output");
  const TensorType &x = ctx.input(0), &idx = ctx.input(1);
  check(is_float(x.dtype), "MaxUnpool takes float32 or float64 X, not " + std::string(dtype_name(x.dtype)));
  check(idx.dtype == DType::Int64, "MaxUnpool: I must be int64, not " + std::string(dtype_name(idx.dtype)));
  check(x.shape.size() >= 3, "MaxUnpool: X must be [N, C, spatial...], got shape " + shape_str(x.shape));
  check(idx.shape == x.shape, "MaxUnpool: I has shape " + shape_str(idx.shape) + " but X has " + shape_str(x.shape));
  const bool shape_input = ctx.has_input(2);
  check(!shape_input || output_shape.empty(), "MaxUnpool: output_shape is given both as attribute and input");
  const Dims base = unpool_shape(*this, x.shape, has_output_shape(*this, ctx.num_inputs(), shape_input));
  std::vector<int64_t> requested = output_shape;
  if (shape_input) {
    const TensorType& s = ctx.input(2);
    check(s.dtype == DType::Int64, "MaxUnpool: output_shape must be int64, not " + std::string(dtype_name(s.dtype)));
    check(s.shape.size() == 1 && (s.shape[0] < 0 || s.shape[0] == static_cast<int64_t>(base.size())),
          "MaxUnpool: output_shape must be [" + std::to_string(base.size()) + "], got shape " + shape_str(s.shape));
    if (const TensorView* v = ctx.constant(2)) requested = to_int_vector(*v);
  }
  Dims y = base;
  if (!requested.empty()) {
    check(requested.size() == y.size(), "MaxUnpool: output_shape " + shape_str(requested) + " must have rank " +
                                            std::to_string(y.size()));
    for (size_t i = 0; i < y.size(); ++i) {
      const bool ok = i < 2 ? (y[i] < 0 || requested[i] == y[i]) : (requested[i] >= 0 && requested[i] >= y[i]);
      check(ok, "MaxUnpool: output_shape " + shape_str(requested) + " must keep X's batch and channels and not be "
                "smaller than the unpooled shape " + shape_str(base));
    }
    y = requested;
  } else if (shape_input) {
    for (size_t i = 2; i < y.size(); ++i) y[i] = -1;  // known only when the run supplies output_shape
  }
  check_output_shape(y, "MaxUnpool output");
  ctx.set_output(0, x.dtype, y);
}

void MaxUnpool::reference(const KernelArgs& a) const {
  const TensorView &x = a.in[0], &idx = a.in[1], &y = a.out[0];
  const bool third = a.in.size() > 2 && a.in[2].data;
  const Dims base = unpool_shape(*this, x.shape, has_output_shape(*this, a.in.size(), third));
  const size_t es = dtype_size(x.dtype);
  const int64_t total = shape_elements(base);
  check(y.shape.size() == base.size(), "MaxUnpool: the output has the wrong rank");
  for (size_t i = 0; i < base.size(); ++i)
    check(y.shape[i] >= base[i], "MaxUnpool: the output is smaller than the unpooled shape " + shape_str(base));
  std::memset(y.data, 0, y.bytes());
  // Scatter position p of the unpooled shape to the same coordinates of Y.
  const auto bs = shape_strides(base), ys = shape_strides(y.shape);
  const int64_t* ip = idx.as<const int64_t>();
  for (int64_t i = 0, n = x.elements(); i < n; ++i) {
    if (ip[i] < 0 || ip[i] >= total)
      fail("MaxUnpool: index " + std::to_string(ip[i]) + " is out of range for an output of " + std::to_string(total) +
           " elements");
    int64_t rem = ip[i], dst = 0;
    for (size_t d = 0; d < base.size(); ++d) {
      dst += rem / bs[d] * ys[d];
      rem %= bs[d];
    }
    std::memcpy(static_cast<char*>(y.data) + dst * es, static_cast<const char*>(x.data) + i * es, es);
  }
}

KILN_REGISTER_OP(MaxUnpool);

}  // namespace kiln::ops
