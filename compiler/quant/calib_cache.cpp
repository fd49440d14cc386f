// The calibration cache file (docs/cli-guide.md#int8): the model's hash, and writing and reading
// the text file of per-tensor ranges that lets a rebuild skip the calibration samples.
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <unistd.h>

#include "kiln/runtime.hpp"
#include "quant/calibrator.h"

namespace kiln::quant {

namespace {

constexpr int kVersion = 1;
constexpr const char* kMagic = "kiln-calib";
constexpr const char* kRedo = "fix the line, or delete the file to calibrate again";

// Floats are written as C99 hex floats ("-0x1.8p+1"): exact by construction, so a value reads back
// bit for bit, and std::to_chars/from_chars are independent of the C locale (printf's %a is not).
std::string hex_float(float f) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::hex);
  std::string s(buf, r.ptr);
  const size_t digits = s[0] == '-' ? 1 : 0;
  return s.insert(digits, "0x");
}

// Hex floats as written, or decimals for hand edits. Finite values only.
bool parse_float(const std::string& s, float& out) {
  size_t at = 0;
  bool negative = false;
  if (at < s.size() && (s[at] == '-' || s[at] == '+')) negative = s[at++] == '-';
  auto fmt = std::chars_format::general;
  if (s.size() - at > 2 && s[at] == '0' && (s[at + 1] == 'x' || s[at + 1] == 'X')) {
    fmt = std::chars_format::hex;
    at += 2;
  }
  if (at >= s.size() || s[at] == '-' || s[at] == '+') return false;
  float v = 0;
  const auto r = std::from_chars(s.data() + at, s.data() + s.size(), v, fmt);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v)) return false;
  out = negative ? -v : v;
  return true;
}

// Tensor names are always quoted, so spaces, quotes, '#' and empty names need no special case;
// backslash, quote and control bytes are escaped, other bytes (UTF-8 included) are kept as they are.
std::string quote(const std::string& name) {
  std::string q = "\"";
  for (unsigned char c : name) {
    if (c == '"' || c == '\\') {
      q += '\\';
      q += static_cast<char>(c);
    } else if (c == '\n') {
      q += "\\n";
    } else if (c == '\t') {
      q += "\\t";
    } else if (c == '\r') {
      q += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      q += buf;
    } else {
      q += static_cast<char>(c);
    }
  }
  return q + "\"";
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits a line into words: runs of non-blank characters, or quoted strings with quote()'s
// escapes. Returns an empty string on success, else what is wrong.
std::string split_words(const std::string& line, std::vector<std::string>& words) {
  size_t k = 0;
  while (true) {
    while (k < line.size() && (line[k] == ' ' || line[k] == '\t')) ++k;
    if (k >= line.size()) return "";
    std::string w;
    if (line[k] != '"') {
      while (k < line.size() && line[k] != ' ' && line[k] != '\t') {
        if (line[k] == '"') return "a quote inside the word '" + line.substr(0, k) + "...'; quote the whole name";
        w += line[k++];
      }
      words.push_back(w);
      continue;
    }
    ++k;
    while (true) {
      if (k >= line.size()) return "a quoted name is not closed";
      const char c = line[k++];
      if (c == '"') break;
      if (c != '\\') {
        w += c;
        continue;
      }
      if (k >= line.size()) return "a quoted name ends in a lone backslash";
      const char e = line[k++];
      if (e == '"' || e == '\\') {
        w += e;
      } else if (e == 'n') {
        w += '\n';
      } else if (e == 't') {
        w += '\t';
      } else if (e == 'r') {
        w += '\r';
      } else if (e == 'x' && k + 1 < line.size() && hex_digit(line[k]) >= 0 && hex_digit(line[k + 1]) >= 0) {
        w += static_cast<char>(hex_digit(line[k]) * 16 + hex_digit(line[k + 1]));
        k += 2;
      } else {
        return std::string("unknown escape '\\") + e + "' in a quoted name (use \\\\, \\\", \\n, \\t, \\r or \\xHH)";
      }
    }
    if (k < line.size() && line[k] != ' ' && line[k] != '\t') return "no space after a quoted name";
    words.push_back(w);
  }
}

// A header value is one word: no blanks, quotes or line breaks, so it needs no quoting.
bool plain_word(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (c <= ' ' || c == '"' || c == 0x7f) return false;
  return true;
}

}  // namespace

std::string model_hash(const std::string& onnx_path) {
  std::error_code ec;
  if (std::filesystem::is_directory(onnx_path, ec))
    throw Error(onnx_path + ": is a directory, not an ONNX model; pass the .onnx file to calibrate");
  std::ifstream f(onnx_path, std::ios::binary);
  if (!f) throw Error(onnx_path + ": cannot read the model to hash it (" + std::strerror(errno) + ")");
  // 64-bit FNV-1a: tells one model file from another (the purpose here), not a defence against
  // a deliberately forged file; a plan is verified separately.
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64's offset basis and prime, in hex as published
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize got = f.gcount();
    for (std::streamsize k = 0; k < got; ++k) {
      h ^= static_cast<unsigned char>(buf[static_cast<size_t>(k)]);
      h *= 0x100000001b3ull;
    }
  }
  if (f.bad()) throw Error(onnx_path + ": cannot read the model to hash it (read error)");
  char out[32];
  std::snprintf(out, sizeof out, "fnv1a64:%016" PRIx64, h);
  return out;
}

void write_calib_cache(const std::string& path, const CalibTable& t) {
  // Refuse here what read_calib_cache would refuse, so every file written reads back.
  if (!plain_word(t.model_hash) || !plain_word(t.method))
    throw Error(path + ": cannot write the calibration cache: the model hash '" + t.model_hash + "' and method '" +
                t.method + "' must be single words (no spaces or quotes)");
  std::string text =
      "# kiln calibration cache: per-tensor int8 ranges (docs/cli-guide.md#int8)\n"
      "# tensor \"name\" min <observed min> max <observed max> threshold <|x| clipped at>; exact hex floats\n";
  text += std::string(kMagic) + " " + std::to_string(kVersion) + "\n";
  text += "model " + t.model_hash + "\n";
  text += "method " + t.method + "\n";
  text += "samples " + std::to_string(t.samples) + "\n";
  text += std::string("random ") + (t.random ? "yes" : "no") + "\n";
  for (const auto& [name, r] : t.ranges) {
    if (!std::isfinite(r.min) || !std::isfinite(r.max) || !std::isfinite(r.threshold) || r.min > r.max ||
        r.threshold < 0)
      throw Error(path + ": cannot write the calibration cache: tensor '" + name + "' has min " +
                  std::to_string(r.min) + ", max " + std::to_string(r.max) + ", threshold " +
                  std::to_string(r.threshold) + " (finite, min <= max and threshold >= 0 are required)");
    text += "tensor " + quote(name) + " min " + hex_float(r.min) + " max " + hex_float(r.max) + " threshold " +
            hex_float(r.threshold) + "\n";
  }
  // The closing line tells a complete file from one cut short.
  text += "end\n";

  // A temporary file in the same directory, then rename(): readers (another build sharing the
  // cache) see the old file or the new one, never half of one.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f)
      throw Error(path + ": cannot write the calibration cache (" + std::strerror(errno) +
                  "); check that the directory exists and is writable, or choose another path");
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.flush();
    if (!f) {
      const int err = errno;
      std::remove(tmp.c_str());
      throw Error(path + ": cannot write the calibration cache (" + std::strerror(err) + ")");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot replace the calibration cache: " + ec.message());
  }
}

CalibTable read_calib_cache(const std::string& path, const std::string& expected_hash) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot read the calibration cache (" + std::strerror(errno) + ")");
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw Error(path + ": cannot read the calibration cache (read error)");

  CalibTable t;
  std::map<std::string, size_t> tensor_line;
  std::set<std::string> header_seen;
  bool versioned = false, ended = false;
  size_t n = 0;
  auto fail = [&](const std::string& what, const char* todo = kRedo) {
    throw Error(path + ": line " + std::to_string(n) + ": " + what + "; " + todo);
  };
  std::string line;
  std::istringstream in(ss.str());
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // a file edited on Windows
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    std::vector<std::string> w;
    const std::string bad = split_words(line, w);
    if (!bad.empty() && versioned) fail(bad);
    const std::string& key = w.empty() ? line : w[0];
    if (!versioned) {
      if (!bad.empty() || key != kMagic || w.size() != 2)
        fail("not a kiln calibration cache (its first line should be '" + std::string(kMagic) + " " +
                 std::to_string(kVersion) + "')",
             "pass a calibration cache that kiln wrote");
      if (w[1] != std::to_string(kVersion))
        fail("calibration cache format version " + w[1] + "; this kiln reads version " + std::to_string(kVersion),
             "delete the file to calibrate again, or use the kiln that wrote it");
      versioned = true;
      continue;
    }
    if (ended) fail("'" + key + "' after the closing 'end' line");
    if (key == "end") {
      if (w.size() != 1) fail("'end' takes no value");
      ended = true;
      continue;
    }
    if (key == "tensor") {
      if (w.size() != 8 || w[2] != "min" || w[4] != "max" || w[6] != "threshold")
        fail("expected 'tensor \"NAME\" min X max Y threshold T'");
      TensorRange r;
      if (!parse_float(w[3], r.min) || !parse_float(w[5], r.max) || !parse_float(w[7], r.threshold))
        fail("tensor '" + w[1] + "': min, max and threshold must be finite numbers (hex floats as kiln writes them)");
      if (r.min > r.max || r.threshold < 0)
        fail("tensor '" + w[1] + "': min is above max or the threshold is negative");
      auto [it, fresh] = tensor_line.emplace(w[1], n);
      if (!fresh) fail("tensor '" + w[1] + "' is listed twice (first on line " + std::to_string(it->second) + ")");
      t.ranges[w[1]] = r;
      continue;
    }
    if (key != "model" && key != "method" && key != "samples" && key != "random")
      fail("unknown entry '" + key + "' (expected model, method, samples, random, tensor or end)");
    if (w.size() != 2) fail("'" + key + "' takes one value");
    if (!header_seen.insert(key).second) fail("'" + key + "' is given twice");
    const std::string& v = w[1];
    if (key == "model") {
      if (!expected_hash.empty() && v != expected_hash)
        throw Error(path + ": this calibration cache was made for another model (its hash " + v +
                    ", this model's " + expected_hash +
                    "); delete the file to calibrate again, or pass the cache made for this model");
      t.model_hash = v;
    } else if (key == "method") {
      t.method = v;
    } else if (key == "samples") {
      const auto r = std::from_chars(v.data(), v.data() + v.size(), t.samples);
      if (r.ec != std::errc() || r.ptr != v.data() + v.size()) fail("'samples " + v + "' is not a whole number");
    } else if (v == "yes" || v == "no") {
      t.random = v == "yes";
    } else {
      fail("'random " + v + "': expected yes or no");
    }
  }
  if (!versioned)
    throw Error(path + ": empty, not a kiln calibration cache; delete it, or pass a file written by kiln");
  if (!ended)
    throw Error(path + ": the calibration cache is cut short (no closing 'end' line); delete the file to calibrate "
                       "again");
  for (const char* key : {"model", "method", "samples", "random"})
    if (!header_seen.count(key))
      throw Error(path + ": the calibration cache has no '" + key + "' line; delete the file to calibrate again");
  return t;
}

}  // namespace kiln::quant
