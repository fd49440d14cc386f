// The timing cache file: exact round trip, deterministic bytes, and every kind of damage
// (foreign file, other version, edited entry, truncation) reported and ignored, never trusted.
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <gmock/gmock.h>

#include "kiln/runtime.hpp"
#include "tune/timing_cache.h"

namespace kiln::tune {
namespace {

using ::testing::HasSubstr;

std::string temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("kiln_tc_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

void write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TimingCache sample() {
  TimingCache c;
  c.put(TimingCache::key("avx512_core, cpu, 2 cores, 2 threads", "Conv/onednn {a=1;}", "brg:avx512_core"), 123.456789);
  c.put(TimingCache::key("avx512_core, cpu, 2 cores, 2 threads", "Conv/onednn {a=1;}", "jit:avx512_core"), 0.1 + 0.2);
  c.put(TimingCache::key("m", "tab\there", "new\nline"), 7);
  return c;
}

TEST(TimingCache, RoundTripIsExact) {
  TimingCache c = sample();
  TimingCache back = TimingCache::parse(c.serialize());
  ASSERT_EQ(back.size(), 3u);
  // Bit-exact, not approximately equal: plans built from the cache must match the cold build's.
  EXPECT_EQ(*back.find(TimingCache::key("avx512_core, cpu, 2 cores, 2 threads", "Conv/onednn {a=1;}",
                                        "jit:avx512_core")), 0.1 + 0.2);
  EXPECT_EQ(*back.find(TimingCache::key("m", "tab\there", "new\nline")), 7.0);
  EXPECT_FALSE(back.find("absent").has_value());
  EXPECT_EQ(back.serialize(), c.serialize());
}

TEST(TimingCache, InsertionOrderDoesNotChangeTheFile) {
  TimingCache a, b;
  a.put("x", 1);
  a.put("y", 2);
  b.put("y", 2);
  b.put("x", 1);
  EXPECT_EQ(a.serialize(), b.serialize());
}

TEST(TimingCache, KeysCannotBreakTheLineStructure) {
  EXPECT_EQ(TimingCache::key("a\tb", "c\nd", "e\rf").find_first_of("\t\n\r"), std::string::npos);
}

TEST(TimingCache, DamageIsDetected) {
  const std::string good = sample().serialize();
  try {
    TimingCache::parse("PK\x03\x04 zip");
    ADD_FAILURE() << "a foreign file was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("not a kiln timing cache"));
  }
  std::string other = good;
  other.replace(other.find(" 1\n"), 3, " 9\n");
  EXPECT_THROW(TimingCache::parse(other), Error);
  std::string edited = good;
  edited[edited.find("\t") - 1] ^= 1;  // one bit of the first time
  try {
    TimingCache::parse(edited);
    ADD_FAILURE() << "an edited entry was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("checksum"));
  }
  EXPECT_THROW(TimingCache::parse(good.substr(0, good.size() / 2)), Error);
  EXPECT_THROW(TimingCache::parse(good.substr(0, good.size() - 1)), Error);
  EXPECT_THROW(TimingCache::parse(""), Error);
}

TEST(TimingCache, LoadWarnsAndIgnoresADamagedFile) {
  const std::string path = temp_path("damaged.cache");
  std::string bytes = sample().serialize();
  bytes[bytes.size() / 2] ^= 0x20;
  write(path, bytes);
  std::vector<std::string> warnings;
  TimingCache c = TimingCache::load(path, warnings);
  EXPECT_EQ(c.size(), 0u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr(path));
  EXPECT_THAT(warnings[0], HasSubstr("timing cache ignored"));
}

TEST(TimingCache, MissingFileIsAnEmptyCacheWithoutWarning) {
  std::vector<std::string> warnings;
  EXPECT_EQ(TimingCache::load(temp_path("does-not-exist.cache"), warnings).size(), 0u);
  EXPECT_TRUE(warnings.empty());
}

TEST(TimingCache, SaveReplacesTheFileAndLeavesNoTemporary) {
  const std::string path = temp_path("saved.cache");
  write(path, "old contents");
  sample().save(path);
  std::vector<std::string> warnings;
  TimingCache c = TimingCache::load(path, warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(c.size(), 3u);
  for (auto& e : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
}

TEST(TimingCache, SaveToAnUnwritablePlaceThrows) {
  EXPECT_THROW(sample().save("/nonexistent-dir/kiln.cache"), Error);
}

}  // namespace
}  // namespace kiln::tune
