// Plan loader fuzz target: see fuzz_targets.h.
#include <cstring>
#include <vector>

#include "fuzz_targets.h"
#include "fuzz_util.h"
#include "plan/plan_format.h"
#include "kiln/plan_generated.h"

namespace kiln::fuzz {

namespace {

// Makes a mutated plan's checksum right again; otherwise nearly every input stops at the
// checksum comparison and the fuzzer never sees the bounds checks behind it.
void fix_checksum(std::vector<uint8_t>& buf) {
  if (buf.size() < 16 || !kiln::fb::PlanBufferHasIdentifier(buf.data())) return;
  flatbuffers::Verifier verifier(buf.data(), buf.size(), 64, 10'000'000);
  if (!kiln::fb::VerifyPlanBuffer(verifier)) return;
  auto* plan = kiln::fb::GetMutablePlan(buf.data());
  const uint8_t* field = reinterpret_cast<const flatbuffers::Table*>(plan)->GetAddressOf(kiln::fb::Plan::VT_CHECKSUM);
  if (!field) return;
  size_t pos = static_cast<size_t>(field - buf.data());
  plan->mutate_checksum(plan::checksum(buf, pos, plan->schema_version()));
}

}  // namespace

void plan_loader(const uint8_t* data, size_t size) {
  std::vector<uint8_t> buf(data, data + size);
  // The first byte decides whether the checksum is repaired, so the unrepaired path (the one
  // a corrupted file on disk takes) stays covered too.
  if (size > 0 && (data[0] & 1) == 0) fix_checksum(buf);
  try_load_and_run(buf, "fuzz.plan");
}

}  // namespace kiln::fuzz
