// ArgMax/ArgMin (one op, ArgMinMax): shape checks and the reference kernel (see arg_min_max.h).
#include "ops/reduction/arg_min_max.h"

#include <cmath>
#include <type_traits>

#include "ops/reduction/reduce.h"

namespace kiln::ops {

namespace {

// A dense tensor seen as [outer, n, inner] around one axis.
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
};
AxisSplit split_at(const Dims& s, int64_t axis) {
  AxisSplit p;
  for (int64_t i = 0; i < static_cast<int64_t>(s.size()); ++i) {
    if (i < axis) p.outer *= s[i];
    else if (i == axis) p.n = s[i];
    else p.inner *= s[i];
  }
  return p;
}

template <class T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

}  // namespace


void ArgMinMax::attrs(AttrVisitor& v) {
  visit_bool(v, "max", max);
  v.visit("axis", axis);
  visit_bool(v, "keepdims", keepdims);
  visit_bool(v, "select_last_index", select_last_index);
}

void ArgMinMax::infer(InferContext& ctx) const {
  const char* name = max ? "ArgMax" : "ArgMin";
  check(ctx.num_inputs() == 1 && ctx.num_outputs() == 1, std::string(name) + " takes one input and one output");
  const auto& x = ctx.input(0);
  check(dtype_numeric(x.dtype), std::string(name) + " takes a numeric tensor, not " + dtype_name(x.dtype));
  const int64_t r = static_cast<int64_t>(x.shape.size());
  check(r >= 1, std::string(name) + " needs an input of rank 1 or more");
  const int64_t a = normalize_axis(axis, r, name);
  check(x.shape[a] != 0, std::string(name) + ": the axis " + std::to_string(axis) +
                             " has size 0, so there is no element to pick");
  Dims out;
  for (int64_t i = 0; i < r; ++i) {
    if (i != a) out.push_back(x.shape[i]);
    else if (keepdims) out.push_back(1);
  }
  ctx.set_output(0, DType::Int64, std::move(out));
}

namespace {

template <class T>
void arg_extreme(const ArgMinMax& op, const TensorView& xv, int64_t* y) {
  const auto p = split_at(xv.shape, normalize_axis(op.axis, static_cast<int64_t>(xv.shape.size()), "ArgMinMax"));
  const T* x = xv.as<const T>();
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t i = 0; i < p.inner; ++i) {
      const T* row = x + o * p.n * p.inner + i;
      int64_t best = 0;
      for (int64_t j = 1; j < p.n; ++j) {
        const T v = row[j * p.inner], b = row[best * p.inner];
        bool take;
        if (is_nan(b)) take = op.select_last_index && is_nan(v);
        else if (is_nan(v)) take = true;
        else take = op.max ? v > b : v < b;
        if (!take && op.select_last_index && v == b) take = true;
        if (take) best = j;
      }
      y[o * p.inner + i] = best;
    }
}

}  // namespace

void ArgMinMax::reference(const KernelArgs& args) const {
  dispatch_numeric(args.in[0].dtype,
                   [&](auto tag) { arg_extreme<decltype(tag)>(*this, args.in[0], args.out[0].as<int64_t>()); });
}

KILN_REGISTER_OP(ArgMinMax);

}  // namespace kiln::ops
