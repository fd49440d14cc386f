#include "ops/literal_test_util.h"

namespace kiln::test::literal {

std::vector<ops::TensorType> infer_n(const ops::Op& op, std::vector<HostTensor>& in, size_t n) {
  return infer_outputs(op, in, n);
}

std::vector<HostTensor> ref_n(const ops::Op& op, std::vector<HostTensor> in, size_t n) {
  return run_reference(op, in, n);
}

bool kernel_n(const ops::Op& op, const std::string& impl, std::vector<HostTensor> in, size_t n,
              std::vector<HostTensor>& out) {
  return run_kernel(op, impl, in, out, n);
}

void expect_kernel_n(const ops::Op& op, const std::string& impl, std::vector<HostTensor> in, size_t n,
                     double rtol, double atol) {
  expect_kernel_matches_reference(op, impl, std::move(in), rtol, atol, n);
}

std::string infer_err(const ops::Op& op, std::vector<HostTensor> in, size_t n) {
  try {
    infer_n(op, in, n);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace kiln::test::literal
