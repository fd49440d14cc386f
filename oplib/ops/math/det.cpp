// Det: shape checks and the reference kernel (see det.h).
#include "ops/math/det.h"

#include <cmath>
#include <utility>
#include <vector>

#include "ops/tensor/shape.h"

namespace kiln::ops {

namespace {

bool is_float(DType t) { return t == DType::Float32 || t == DType::Float64; }

template <class T>
T* out_ptr(const KernelArgs& a) {
  return a.out[0].as<T>();
}

}  // namespace

void Det::infer(InferContext& ctx) const {
  check(ctx.num_inputs() == 1 && ctx.num_outputs() == 1, "Det takes one input and has one output");
  const TensorType& x = ctx.input(0);
  check(is_float(x.dtype), "Det takes float32 or float64, not " + std::string(dtype_name(x.dtype)));
  const size_t r = x.shape.size();
  check(r >= 2, "Det: input must be [*, M, M], got shape " + shape_str(x.shape));
  check(x.shape[r - 1] < 0 || x.shape[r - 2] < 0 || x.shape[r - 1] == x.shape[r - 2],
        "Det: the last two dims must be equal (square matrices), got shape " + shape_str(x.shape));
  ctx.set_output(0, x.dtype, Dims(x.shape.begin(), x.shape.end() - 2));
}

namespace {

// LU decomposition with partial pivoting, in double.
template <class T>
void det(const KernelArgs& a) {
  const TensorView& x = a.in[0];
  const int64_t m = x.shape.back(), mm = m * m, count = m ? x.elements() / mm : a.out[0].elements();
  std::vector<double> lu(static_cast<size_t>(mm));
  for (int64_t b = 0; b < count; ++b) {
    for (int64_t i = 0; i < mm; ++i) lu[i] = x.as<const T>()[b * mm + i];
    double d = 1;
    for (int64_t col = 0; col < m && d != 0; ++col) {
      int64_t piv = col;
      for (int64_t r = col + 1; r < m; ++r)
        if (std::fabs(lu[r * m + col]) > std::fabs(lu[piv * m + col])) piv = r;
      if (lu[piv * m + col] == 0) {
        d = 0;
        break;
      }
      if (piv != col) {
        for (int64_t k = 0; k < m; ++k) std::swap(lu[col * m + k], lu[piv * m + k]);
        d = -d;
      }
      d *= lu[col * m + col];
      for (int64_t r = col + 1; r < m; ++r) {
        const double f = lu[r * m + col] / lu[col * m + col];
        for (int64_t k = col; k < m; ++k) lu[r * m + k] -= f * lu[col * m + k];
      }
    }
    out_ptr<T>(a)[b] = static_cast<T>(d);
  }
}

}  // namespace

void Det::reference(const KernelArgs& a) const {
  if (a.in[0].dtype == DType::Float64) det<double>(a);
  else det<float>(a);
}

KILN_REGISTER_OP(Det);

}  // namespace kiln::ops
