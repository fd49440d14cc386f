#include "plan/plan_format.h"

#include <cstring>

namespace kiln::plan {

static inline uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v * 0x9E3779B97F4A7C15ull;
  h = (h << 31) | (h >> 33);
  return h * 0xC2B2AE3D27D4EB4Full;
}

uint64_t checksum(std::span<const uint8_t> file, size_t checksum_offset) {
  auto word = [&](size_t pos) {
    uint64_t w = 0;
    size_t n = file.size() - pos < 8 ? file.size() - pos : 8;
    std::memcpy(&w, file.data() + pos, n);
    // Blank out any byte of the checksum field inside this word.
    for (size_t i = 0; i < n; ++i)
      if (pos + i >= checksum_offset && pos + i < checksum_offset + 8)
        reinterpret_cast<uint8_t*>(&w)[i] = 0;
    return w;
  };
  uint64_t h[4] = {0x243F6A8885A308D3ull, 0x13198A2E03707344ull, 0xA4093822299F31D0ull, 0x082EFA98EC4E6C89ull};
  size_t pos = 0, n = file.size();
  const size_t lo = checksum_offset >= 32 ? checksum_offset - 32 : 0, hi = checksum_offset + 8;
  for (; pos + 32 <= n; pos += 32) {
    if (pos + 32 > lo && pos < hi) {
      for (int l = 0; l < 4; ++l) h[l] = mix(h[l], word(pos + 8 * l));
    } else {
      uint64_t w[4];
      std::memcpy(w, file.data() + pos, 32);
      for (int l = 0; l < 4; ++l) h[l] = mix(h[l], w[l]);
    }
  }
  for (; pos < n; pos += 8) h[0] = mix(h[0], word(pos));
  uint64_t r = mix(mix(h[0], h[1]), mix(h[2], h[3]));
  return mix(r, n);
}

}  // namespace kiln::plan
