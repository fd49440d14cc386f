// Plan file format constants and helpers shared by the compiler's writer and the runtime's
// loader: schema version range, file identifier, alignment and the checksum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <atomic>
#include <span>
#include <string_view>
#include <vector>

namespace kiln::plan {

// Bump on every plan.fbs change and record it in schemas/README.md.
constexpr uint32_t kSchemaVersion = 8;
// Oldest schema version this runtime still reads.
constexpr uint32_t kMinReadableSchemaVersion = 1;
constexpr size_t kWeightAlignment = 64;
constexpr size_t kArenaAlignment = 64;

// 64-bit checksum of the file with the 8 bytes at checksum_offset read as zero, as the plan's
// schema version defines it: from v7 a block-parallel hash at memory speed (a few milliseconds
// for 100 MB), before that a serial one (tens of milliseconds).
// `threads`: 0 = OpenMP's count, else at most that many (the loader hashes on one thread while
// the other cores create kernels).
uint64_t checksum(std::span<const uint8_t> file, size_t checksum_offset, uint32_t schema_version = kSchemaVersion,
                  int threads = 0);
// The same checksum shared among threads: each calling work() hashes blocks until none is left to
// start; sum() is valid once every work() call has returned. The loader hashes on a helper thread
// while it creates kernels, then joins in.
class ChecksumJob {
 public:
  ChecksumJob() : ChecksumJob({}, 0, kSchemaVersion) {}
  ChecksumJob(std::span<const uint8_t> file, size_t checksum_offset, uint32_t schema_version);
  void work();
  uint64_t sum() const;

 private:
  std::span<const uint8_t> file_;
  size_t offset_;
  uint32_t version_;
  size_t blocks_;
  std::vector<uint64_t> hashes_;
  std::atomic<size_t> next_{0};
};
// The checksum of a weights sidecar file (v6): every byte counts.
inline uint64_t sidecar_checksum(std::span<const uint8_t> file, uint32_t schema_version = kSchemaVersion,
                                 int threads = 0) {
  return checksum(file, file.size(), schema_version, threads);
}
// Weights above this go to a sidecar file: flatbuffers' offsets are 32-bit, so a plan holding them
// inline must stay below 2 GiB with its tables.
constexpr uint64_t kMaxInlineWeights = uint64_t(1) << 30;
// A sidecar's recorded name must be a plain file name, so it can only name a file beside the plan.
inline bool weights_file_name_ok(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

}  // namespace kiln::plan
