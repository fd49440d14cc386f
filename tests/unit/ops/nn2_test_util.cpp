#include "ops/nn2_test_util.h"

namespace kiln::test::nn2 {

std::vector<ops::TensorType> infer_n(const ops::Op& op, std::vector<HostTensor>& in, size_t n) {
  std::vector<ops::TensorType> types;
  std::vector<TensorView> views;
  for (auto& t : in) {
    types.push_back({t.dtype, t.shape});
    views.push_back(t.dtype == DType::Undefined ? TensorView{} : t.view());
  }
  std::vector<const TensorView*> consts;
  for (size_t i = 0; i < in.size(); ++i) consts.push_back(in[i].constant ? &views[i] : nullptr);
  ops::InferContext ctx(types, consts, n);
  op.infer(ctx);
  return ctx.outputs();
}

std::vector<HostTensor> ref_n(const ops::Op& op, std::vector<HostTensor> in, size_t n) {
  auto types = infer_n(op, in, n);
  std::vector<HostTensor> out;
  for (auto& t : types) out.emplace_back(t.dtype, t.shape);
  ops::KernelArgs args;
  for (auto& t : in) args.in.push_back(t.dtype == DType::Undefined ? TensorView{} : t.view());
  for (auto& t : out) args.out.push_back(t.view());
  op.reference(args);
  return out;
}

bool kernel_n(const ops::Op& op, const std::string& impl, std::vector<HostTensor> in, size_t n,
              std::vector<HostTensor>& out) {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  auto types = infer_n(op, in, n);
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
  // Poison the outputs so a kernel that skips elements cannot pass by luck.
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

void expect_kernel_n(const ops::Op& op, const std::string& impl, std::vector<HostTensor> in, size_t n,
                     double rtol, double atol) {
  auto want = ref_n(op, in, n);
  std::vector<HostTensor> got;
  ASSERT_TRUE(kernel_n(op, impl, in, n, got)) << impl << " declined the spec";
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(all_close(got[i], want[i], rtol, atol)) << "output " << i;
}

std::string infer_err(const ops::Op& op, std::vector<HostTensor> in, size_t n) {
  try {
    infer_n(op, in, n);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace kiln::test::nn2
