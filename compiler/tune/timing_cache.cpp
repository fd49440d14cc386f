#include "tune/timing_cache.h"

#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "kiln/runtime.hpp"

namespace kiln::tune {

namespace {

constexpr const char* kMagic = "kiln-timing-cache";

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string clean(std::string s) {
  for (char& c : s)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

std::string TimingCache::key(const std::string& machine, const std::string& layer, const std::string& tactic) {
  return clean(machine) + " | " + clean(layer) + " | " + clean(tactic);
}

std::optional<double> TimingCache::find(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void TimingCache::put(const std::string& key, double us) {
  entries_[key] = us;
  dirty_ = true;
}

std::string TimingCache::serialize() const {
  std::string body = std::string(kMagic) + " " + std::to_string(kVersion) + "\n";
  char num[64];
  for (auto& [k, us] : entries_) {
    // %a is exact, so a time read back is bit-identical to the one measured (plans match).
    std::snprintf(num, sizeof num, "%a", us);
    body += std::string(num) + "\t" + k + "\n";
  }
  char tail[96];
  std::snprintf(tail, sizeof tail, "end %zu %016" PRIx64 "\n", entries_.size(), fnv1a(body));
  return body + tail;
}

TimingCache TimingCache::parse(const std::string& text) {
  const std::string head = std::string(kMagic) + " ";
  if (text.rfind(head, 0) != 0) throw Error("not a kiln timing cache (no '" + std::string(kMagic) + "' header)");
  const size_t eol = text.find('\n');
  if (eol == std::string::npos) throw Error("truncated header");
  const std::string version = text.substr(head.size(), eol - head.size());
  if (version != std::to_string(kVersion))
    throw Error("format version " + version + ", this kiln reads version " + std::to_string(kVersion));
  // The last line seals the rest: entry count and checksum of everything before it.
  if (text.empty() || text.back() != '\n') throw Error("truncated (no final 'end' line)");
  const size_t last = text.rfind('\n', text.size() - 2);
  if (last == std::string::npos || last < eol) throw Error("truncated (no final 'end' line)");
  const std::string body = text.substr(0, last + 1), tail = text.substr(last + 1);
  size_t count = 0;
  uint64_t sum = 0;
  char extra = 0;
  if (std::sscanf(tail.c_str(), "end %zu %" SCNx64 "%c", &count, &sum, &extra) != 3 || extra != '\n')
    throw Error("truncated or damaged (bad final 'end' line)");
  if (sum != fnv1a(body)) throw Error("checksum mismatch: the file was damaged or edited");
  TimingCache c;
  std::istringstream in(body.substr(eol + 1));
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos || tab + 1 >= line.size())
      throw Error("entry " + std::to_string(n) + " has no key");
    const std::string num = line.substr(0, tab);
    char* end = nullptr;
    errno = 0;
    const double us = std::strtod(num.c_str(), &end);
    if (errno || end != num.c_str() + num.size() || !std::isfinite(us) || us < 0)
      throw Error("entry " + std::to_string(n) + " has an invalid time '" + num + "'");
    c.entries_[line.substr(tab + 1)] = us;
  }
  if (n != count || c.entries_.size() != count) throw Error("entry count does not match the 'end' line");
  return c;
}

TimingCache TimingCache::load(const std::string& path, std::vector<std::string>& warnings) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return {};
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  if (!f) {
    warnings.push_back(path + ": cannot read the timing cache; ignoring it (it is rewritten after this build)");
    return {};
  }
  try {
    return parse(ss.str());
  } catch (const Error& e) {
    warnings.push_back(path + ": timing cache ignored: " + e.what() +
                       "; every layer is timed again and the file is rewritten after this build");
    return {};
  }
}

void TimingCache::save(const std::string& path) const {
  const std::string bytes = serialize();
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      throw Error(path + ": cannot write the timing cache (" + std::strerror(errno) + ")");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot replace the timing cache: " + ec.message());
  }
}

}  // namespace kiln::tune
