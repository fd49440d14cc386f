// Kernel selection with fallback, one rule for the builder (which picks a layer's kernel) and the
// plan loader (which falls back when the recorded kernel is unavailable on this machine): the
// registered implementations in preference order, then the reference kernel.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "kernels/kernel.h"

namespace kiln {

struct KernelChoice {
  std::string impl;  // "" when no kernel takes the layer
  std::unique_ptr<Kernel> kernel;
};

// The first implementation of `op` that takes `spec`, else the reference kernel (unless
// with_reference is false). A factory that throws declines the layer; `declined` (optional) hears
// which one and why, for the build log.
KernelChoice first_kernel(const std::string& op, const KernelSpec& spec, bool with_reference = true,
                          const std::function<void(const std::string& impl, const std::string& why)>& declined = {});

}  // namespace kiln
