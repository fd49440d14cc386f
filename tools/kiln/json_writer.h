// A tiny streaming JSON writer for the CLI's machine-readable output (run --json, --exportTimes,
// --exportProfile, --exportOutput). It owns commas, string escaping and number spelling, so callers
// never build JSON by concatenation: non-finite numbers become null (JSON has no NaN), and numbers
// use the shortest text that reads back to the same value.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

namespace kiln::cli {

class JsonWriter {
 public:
  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  // one_per_line puts each element on its own line: long arrays of records stay diffable.
  JsonWriter& begin_array(bool one_per_line = false) { return open('[', one_per_line); }
  JsonWriter& end_array() { return close(']'); }

  JsonWriter& key(std::string_view k) {
    separate();
    quote(k);
    out_ += ": ";
    after_key_ = true;
    return *this;
  }

  JsonWriter& value(std::string_view s) {
    separate();
    quote(s);
    return *this;
  }
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b) { return literal(b ? "true" : "false"); }
  JsonWriter& value(std::nullptr_t) { return literal("null"); }
  template <class T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) JsonWriter& value(T v) {
    separate();
    fmt::format_to(std::back_inserter(out_), "{}", v);
    return *this;
  }
  JsonWriter& value(double v) { return number(v); }
  JsonWriter& value(float v) { return number(v); }

  template <class T>
  JsonWriter& field(std::string_view k, const T& v) {
    return key(k).value(v);
  }

  // The document so far; complete once every begin_* has its end_*.
  const std::string& str() const { return out_; }

 private:
  struct Level {
    bool first = true;
    bool one_per_line = false;
  };

  JsonWriter& literal(const char* text) {
    separate();
    out_ += text;
    return *this;
  }

  template <class F>
  JsonWriter& number(F v) {
    separate();
    if (!std::isfinite(v))
      out_ += "null";
    else
      fmt::format_to(std::back_inserter(out_), "{}", v);  // shortest round-trip form of F
    return *this;
  }

  JsonWriter& open(char c, bool one_per_line = false) {
    separate();
    out_ += c;
    stack_.push_back({true, one_per_line});
    return *this;
  }

  JsonWriter& close(char c) {
    if (!stack_.empty() && stack_.back().one_per_line && !stack_.back().first) out_ += '\n';
    if (!stack_.empty()) stack_.pop_back();
    out_ += c;
    return *this;
  }

  // Emits the comma (and newline) that goes before a new element, except right after a key.
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (stack_.empty()) return;
    Level& l = stack_.back();
    if (!l.first)
      out_ += l.one_per_line ? ",\n" : ", ";
    else if (l.one_per_line)
      out_ += '\n';
    l.first = false;
  }

  void quote(std::string_view s) {
    out_ += '"';
    for (char c : s) {
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20)
            fmt::format_to(std::back_inserter(out_), "\\u{:04x}", int(c));
          else
            out_ += c;  // UTF-8 passes through unchanged
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<Level> stack_;
  bool after_key_ = false;
};

}  // namespace kiln::cli
