// Plan file format constants and helpers shared by the compiler's writer and the runtime's
// loader: schema version range, file identifier, alignment and the checksum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace kiln::plan {

// Bump on every plan.fbs change and record it in schemas/README.md.
constexpr uint32_t kSchemaVersion = 5;
// Oldest schema version this runtime still reads.
constexpr uint32_t kMinReadableSchemaVersion = 1;
constexpr size_t kWeightAlignment = 64;
constexpr size_t kArenaAlignment = 64;

// 64-bit checksum of the file with the 8 bytes at checksum_offset read as zero. Four
// interleaved multiply-xorshift lanes, so hashing 100 MB of weights costs tens of milliseconds.
uint64_t checksum(std::span<const uint8_t> file, size_t checksum_offset);

}  // namespace kiln::plan
