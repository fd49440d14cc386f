// The timing cache (--timingCacheFile): measured tactic times keyed by machine signature, layer
// signature and tactic, so a rebuild times nothing it has seen. The file format is versioned and
// checksummed (docs/schemas/timing-cache.md); a damaged or foreign file is reported and ignored,
// never trusted, and the file is replaced atomically.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kiln::tune {

class TimingCache {
 public:
  static constexpr int kVersion = 1;

  TimingCache() = default;
  // Reads `path` if it exists. A file that is not a kiln timing cache of this version, or whose
  // checksum or syntax is wrong, adds a warning and leaves the cache empty.
  static TimingCache load(const std::string& path, std::vector<std::string>& warnings);

  // Median microseconds recorded for a key, if any.
  std::optional<double> find(const std::string& key) const;
  void put(const std::string& key, double us);
  size_t size() const { return entries_.size(); }
  bool dirty() const { return dirty_; }

  // The file's bytes: sorted entries, so equal caches are equal files.
  std::string serialize() const;
  // Parses serialize()'s output; throws kiln::Error saying what is wrong.
  static TimingCache parse(const std::string& text);
  // Writes to a temporary file beside `path` and renames it over `path`. Throws kiln::Error.
  void save(const std::string& path) const;

  // Keys may hold any text but the line structure: tabs and newlines become spaces.
  static std::string key(const std::string& machine, const std::string& layer, const std::string& tactic);

 private:
  std::map<std::string, double> entries_;
  bool dirty_ = false;
};

}  // namespace kiln::tune
