#include "ops/controlflow/loop.h"

namespace kiln::ops {

void Loop::attrs(AttrVisitor& v) {
  v.visit("carried", carried);
  v.visit("scan_dtypes", scan_dtypes);
  v.visit("scan_ranks", scan_ranks);
  v.visit("scan_dims", scan_dims);
  v.visit("body_checksum", body_checksum);
}

Dims Loop::scan_shape(size_t k) const {
  size_t at = 0;
  for (size_t j = 0; j < k; ++j) at += static_cast<size_t>(scan_ranks[j]);
  return Dims(scan_dims.begin() + static_cast<std::ptrdiff_t>(at),
              scan_dims.begin() + static_cast<std::ptrdiff_t>(at + static_cast<size_t>(scan_ranks[k])));
}

void Loop::infer(InferContext& ctx) const {
  // Attributes come from hostile plans too: every count is checked before it sizes anything.
  check(carried >= 0 && static_cast<size_t>(carried) + 2 <= ctx.num_inputs(),
        "Loop: " + std::to_string(carried) + " loop-carried values do not fit " + std::to_string(ctx.num_inputs()) +
            " inputs (M, cond, the carried values, the outer-scope values)");
  const size_t n = static_cast<size_t>(carried), scans = scan_dtypes.size();
  check(scan_ranks.size() == scans && ctx.num_outputs() == n + scans,
        "Loop: " + std::to_string(ctx.num_outputs()) + " outputs for " + std::to_string(n) + " carried values and " +
            std::to_string(scans) + " scan outputs");
  if (ctx.has_input(0)) {
    const TensorType& m = ctx.input(0);
    check((m.dtype == DType::Int64 || m.dtype == DType::Int32) && shape_elements(m.shape) == 1,
          "Loop: the trip count M must be one int64 element, not " + std::string(dtype_name(m.dtype)) + " " +
              shape_str(m.shape));
  }
  if (ctx.has_input(1)) {
    const TensorType& c = ctx.input(1);
    check(c.dtype == DType::Bool && shape_elements(c.shape) == 1,
          "Loop: the condition must be one bool element, not " + std::string(dtype_name(c.dtype)) + " " +
              shape_str(c.shape));
  }
  for (size_t i = 0; i < n; ++i) {
    check(ctx.has_input(2 + i), "Loop: loop-carried value " + std::to_string(i) + " is absent");
    ctx.set_output(i, ctx.input(2 + i).dtype, ctx.input(2 + i).shape);
  }
  size_t dims = 0;
  for (size_t k = 0; k < scans; ++k) {
    check(scan_ranks[k] >= 0 && scan_ranks[k] <= 7, "Loop: scan output " + std::to_string(k) + " has rank " +
                                                        std::to_string(scan_ranks[k]) + "; at most 7 is allowed");
    dims += static_cast<size_t>(scan_ranks[k]);
  }
  check(dims == scan_dims.size(), "Loop: scan_dims holds " + std::to_string(scan_dims.size()) + " dims for ranks summing to " +
                                      std::to_string(dims));
  for (int64_t d : scan_dims) check(d >= 0 && d <= (int64_t(1) << 31), "Loop: a scan output dim is out of range");
  for (size_t k = 0; k < scans; ++k) {
    check(scan_dtypes[k] > 0 && scan_dtypes[k] < 128 && dtype_onnx(static_cast<DType>(scan_dtypes[k])),
          "Loop: scan output " + std::to_string(k) + " has an invalid type");
    const auto t = static_cast<DType>(scan_dtypes[k]);
    Dims s{-1};
    const Dims one = scan_shape(k);
    s.insert(s.end(), one.begin(), one.end());
    ctx.set_output(n + k, t, s);
  }
}

void Loop::reference(const KernelArgs&) const {
  fail("a run-time Loop runs only in the runtime, which holds its body's plan");
}

KILN_REGISTER_OP(Loop);

}  // namespace kiln::ops
