// Test helpers for hostile-plan tests: the message of the kiln::Error a call throws, and a plan
// with a field rewritten and its checksum recomputed, so only the loader's semantic checks can
// catch the edit.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kiln/plan_generated.h"
#include "kiln/runtime.hpp"
#include "plan/plan_format.h"

namespace kiln::test {

// "" when f throws nothing.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline std::vector<uint8_t> resealed(std::vector<uint8_t> bytes, const std::function<void(fb::Plan*)>& edit) {
  fb::Plan* p = fb::GetMutablePlan(bytes.data());
  edit(p);
  const uint8_t* field = reinterpret_cast<const flatbuffers::Table*>(p)->GetAddressOf(fb::Plan::VT_CHECKSUM);
  p->mutate_checksum(plan::checksum(bytes, static_cast<size_t>(field - bytes.data()), p->schema_version()));
  return bytes;
}

}  // namespace kiln::test
