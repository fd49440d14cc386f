#include "cli_util.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <fmt/format.h>

#include "kiln/runtime.hpp"

namespace kiln::cli {

static std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> r;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    r.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return r;
}

std::map<std::string, std::vector<int64_t>> parse_shapes(const std::string& spec, const char* flag) {
  std::map<std::string, std::vector<int64_t>> out;
  if (spec.empty()) return out;
  for (const std::string& item : split(spec, ',')) {
    size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == item.size())
      throw UsageError(fmt::format("{}: '{}' is not name:dims (e.g. input:1x3x224x224)", flag, item));
    std::vector<int64_t> dims;
    for (const std::string& d : split(item.substr(colon + 1), 'x')) {
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(d.c_str(), &end, 10);
      if (d.empty() || *end || errno || v <= 0 || v > (1ll << 31))
        throw UsageError(fmt::format("{}: '{}' in '{}' is not a positive dimension", flag, d, item));
      dims.push_back(v);
    }
    if (!out.emplace(item.substr(0, colon), dims).second)
      throw UsageError(fmt::format("{}: input '{}' is given twice", flag, item.substr(0, colon)));
  }
  return out;
}

std::map<std::string, std::vector<int64_t>> parse_shapes(const std::vector<std::string>& specs, const char* flag) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const std::string& spec : specs)
    for (auto& [name, dims] : parse_shapes(spec, flag))
      if (!out.emplace(name, dims).second)
        throw UsageError(fmt::format("{}: input '{}' is given twice", flag, name));
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_bindings(const std::string& spec, const char* flag) {
  std::vector<std::pair<std::string, std::string>> out;
  if (spec.empty()) return out;
  for (const std::string& item : split(spec, ',')) {
    size_t colon = item.rfind(':');
    if (colon == std::string::npos) {
      out.emplace_back("", item);
    } else {
      if (colon == 0 || colon + 1 == item.size())
        throw UsageError(fmt::format("{}: '{}' is not name:file", flag, item));
      out.emplace_back(item.substr(0, colon), item.substr(colon + 1));
    }
  }
  return out;
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path tmp = target;
  tmp += fmt::format(".tmp.{}", static_cast<long>(getpid()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(fmt::format("{}: cannot write here ({}); check the folder exists and is writable",
                                      path, std::strerror(errno)));
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw Error(fmt::format("{}: writing failed (disk full?)", path));
    }
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error(fmt::format("{}: cannot replace the file: {}", path, ec.message()));
  }
}

void write_plan_files(const std::string& path, const std::vector<uint8_t>& plan, const std::vector<uint8_t>& weights,
                      const std::string& weights_file) {
  if (!weights.empty())
    write_file_atomic((std::filesystem::path(path).parent_path() / weights_file).string(), weights.data(),
                      weights.size());
  write_file_atomic(path, plan.data(), plan.size());
}

std::string weights_file_for(const std::string& path) {
  return std::filesystem::path(path).filename().string() + ".weights";
}

std::string human_bytes(uint64_t b) {
  if (b >= (1ull << 20)) return fmt::format("{:.2f} MiB", b / 1048576.0);
  if (b >= 1024) return fmt::format("{:.1f} KiB", b / 1024.0);
  return fmt::format("{} B", b);
}

std::string json_escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    switch (c) {
      case '"': r += "\\\""; break;
      case '\\': r += "\\\\"; break;
      case '\n': r += "\\n"; break;
      case '\t': r += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) r += fmt::format("\\u{:04x}", c);
        else r += c;
    }
  }
  return r;
}

}  // namespace kiln::cli
