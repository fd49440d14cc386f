#include "kernel_test_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

namespace kiln::test {

HostTensor::HostTensor(DType t, Dims s, bool is_const) : dtype(t), shape(std::move(s)), constant(is_const) {
  bytes.assign(static_cast<size_t>(shape_elements(shape)) * dtype_size(t), 0);
}

template <class T>
static void fill(HostTensor& h, std::mt19937& rng, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  T* p = h.as<T>();
  for (int64_t i = 0; i < h.elements(); ++i) {
    double x = d(rng);
    if constexpr (std::is_integral_v<T>) p[i] = static_cast<T>(std::llround(x));
    else p[i] = static_cast<T>(x);
  }
}

HostTensor random_tensor(DType t, Dims s, uint32_t seed, double lo, double hi, bool is_const) {
  HostTensor h(t, std::move(s), is_const);
  std::mt19937 rng(seed);
  switch (t) {
    case DType::Float32: fill<float>(h, rng, lo, hi); break;
    case DType::Float64: fill<double>(h, rng, lo, hi); break;
    case DType::Int64: fill<int64_t>(h, rng, lo, hi); break;
    case DType::Int32: fill<int32_t>(h, rng, lo, hi); break;
    case DType::Int8: fill<int8_t>(h, rng, lo, hi); break;
    case DType::UInt8: case DType::Bool: fill<uint8_t>(h, rng, lo, hi); break;
    default: ADD_FAILURE() << "random_tensor: unsupported dtype " << dtype_name(t);
  }
  return h;
}

std::vector<ops::TensorType> infer_outputs(const ops::Op& op, std::vector<HostTensor>& in, size_t num_outputs) {
  std::vector<ops::TensorType> types;
  std::vector<TensorView> views;
  for (auto& t : in) {
    types.push_back({t.dtype, t.shape});
    views.push_back(t.dtype == DType::Undefined ? TensorView{} : t.view());
  }
  std::vector<const TensorView*> consts;
  for (size_t i = 0; i < in.size(); ++i) consts.push_back(in[i].constant ? &views[i] : nullptr);
  if (num_outputs) {
    ops::InferContext ctx(types, consts, num_outputs);
    op.infer(ctx);
    return ctx.outputs();
  }
  // Ops here produce one output unless they say otherwise via infer; try up to 4.
  for (size_t n = 1; n <= 4; ++n) {
    ops::InferContext ctx(types, consts, n);
    try {
      op.infer(ctx);
    } catch (const Error& e) {
      if (std::string(e.what()).find("more outputs") != std::string::npos) continue;
      throw;
    }
    return ctx.outputs();
  }
  throw Error("infer_outputs: op produces more than 4 outputs");
}

std::vector<HostTensor> run_reference(const ops::Op& op, std::vector<HostTensor>& in, size_t num_outputs) {
  auto types = infer_outputs(op, in, num_outputs);
  std::vector<HostTensor> out;
  for (auto& t : types) out.emplace_back(t.dtype, t.shape);
  ops::KernelArgs args;
  for (auto& t : in) args.in.push_back(t.dtype == DType::Undefined ? TensorView{} : t.view());
  for (auto& t : out) args.out.push_back(t.view());
  op.reference(args);
  return out;
}

bool run_kernel(const ops::Op& op, const std::string& impl, std::vector<HostTensor>& in,
                std::vector<HostTensor>& out, size_t num_outputs) {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  auto types = infer_outputs(op, in, num_outputs);
  KernelSpec spec{op, {}, {}, eng};
  for (auto& t : in) {
    KernelTensor kt{t.dtype, t.shape, "", nullptr};
    if (t.constant) kt.const_data = t.bytes.data();
    spec.in.push_back(kt);
  }
  for (auto& t : types) spec.out.push_back({t.dtype, t.shape, "", nullptr});
  auto k = KernelRegistry::instance().create(std::string(op.type()), impl, spec);
  if (!k) return false;
  out.clear();
  for (auto& t : types) out.emplace_back(t.dtype, t.shape);
  for (auto& t : out) std::fill(t.bytes.begin(), t.bytes.end(), uint8_t{0x7f});
  std::vector<uint8_t> scratch(k->scratchpad_bytes() + 64);
  KernelBinding b;
  for (auto& t : in) b.in.push_back(t.dtype == DType::Undefined ? nullptr : t.bytes.data());
  for (auto& t : out) b.out.push_back(t.bytes.data());
  b.scratchpad = scratch.data();
  dnnl::stream s(eng);
  auto run = k->bind(b);
  run(s);
  s.wait();
  return true;
}

::testing::AssertionResult all_close(const HostTensor& got, const HostTensor& want, double rtol, double atol) {
  if (got.dtype != want.dtype || got.shape != want.shape)
    return ::testing::AssertionFailure() << "type mismatch: got " << dtype_name(got.dtype) << "["
                                         << shape_str(got.shape) << "], want " << dtype_name(want.dtype)
                                         << "[" << shape_str(want.shape) << "]";
  TensorView g{got.dtype, got.shape, const_cast<uint8_t*>(got.bytes.data())};
  TensorView w{want.dtype, want.shape, const_cast<uint8_t*>(want.bytes.data())};
  int64_t bad = 0, first = -1;
  double worst = 0;
  for (int64_t i = 0; i < g.elements(); ++i) {
    double a = element_as_double(g, i), b = element_as_double(w, i);
    bool ok = (std::isnan(a) && std::isnan(b)) || a == b || std::fabs(a - b) <= atol + rtol * std::fabs(b);
    if (!ok) {
      if (first < 0) first = i;
      ++bad;
      worst = std::max(worst, std::fabs(a - b));
    }
  }
  if (!bad) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << g.elements() << " elements differ; first at " << first
                                       << ": got " << element_as_double(g, first) << ", want "
                                       << element_as_double(w, first) << "; worst |diff| " << worst;
}

void expect_kernel_matches_reference(const ops::Op& op, const std::string& impl, std::vector<HostTensor> in,
                                     double rtol, double atol, size_t num_outputs) {
  auto want = run_reference(op, in, num_outputs);
  std::vector<HostTensor> got;
  ASSERT_TRUE(run_kernel(op, impl, in, got, num_outputs)) << impl << " declined " << op.type();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(all_close(got[i], want[i], rtol, atol)) << "output " << i;
}

std::string infer_error(const ops::Op& op, std::vector<ops::TensorType> in) {
  std::vector<const TensorView*> consts(in.size(), nullptr);
  ops::InferContext ctx(std::move(in), consts, 1);
  try {
    op.infer(ctx);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace kiln::test
