// The calibration cache file (compiler/quant/calib_cache.cpp): the documented text, exact round
// trips with awkward tensor names, the model hash (FNV-1a's published test vectors), refusal of
// another model's cache, and malformed files reported with their line.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <unistd.h>

#include <gmock/gmock.h>

#include "kiln/runtime.hpp"
#include "quant/calibrator.h"

namespace kiln::quant {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

fs::path temp_dir() {
  auto dir = fs::temp_directory_path() / ("kiln_calib_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

std::string temp_path(const std::string& name) { return (temp_dir() / name).string(); }

void write(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

const char* kHash = "fnv1a64:0123456789abcdef";

// The message of the kiln::Error that `f` throws, or "" if it throws none.
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CalibCache, WritesTheDocumentedText) {
  CalibTable t;
  t.model_hash = kHash;
  t.method = "entropy";
  t.samples = 16;
  t.ranges["conv1/relu_out"] = {-3.0f, 9.0f, 8.5f};
  t.ranges["a b"] = {0.0f, 0.0f, 0.0f};
  const std::string path = temp_path("doc.calib");
  write_calib_cache(path, t);
  // Exactly the example of docs/cli-guide.md#int8 (names in byte order).
  EXPECT_EQ(slurp(path),
            "# kiln calibration cache: per-tensor int8 ranges (docs/cli-guide.md#int8)\n"
            "# tensor \"name\" min <observed min> max <observed max> threshold <|x| clipped at>; exact hex floats\n"
            "kiln-calib 1\n"
            "model fnv1a64:0123456789abcdef\n"
            "method entropy\n"
            "samples 16\n"
            "random no\n"
            "tensor \"a b\" min 0x0p+0 max 0x0p+0 threshold 0x0p+0\n"
            "tensor \"conv1/relu_out\" min -0x1.8p+1 max 0x1.2p+3 threshold 0x1.1p+3\n"
            "end\n");
}

TEST(CalibCache, RoundTripIsBitExactWithAwkwardNames) {
  CalibTable t;
  t.model_hash = kHash;
  t.method = "percentile:99.99";
  t.samples = 123456789012ull;
  t.random = true;
  const float tiny = std::numeric_limits<float>::denorm_min();
  t.ranges["conv1/relu_out"] = {-0.1f, 0.3f, 0.2f};
  t.ranges["with space"] = {-FLT_MAX, FLT_MAX, FLT_MAX};
  t.ranges["quote\"inside"] = {-tiny, tiny, tiny};
  t.ranges["back\\slash"] = {-0.0f, 1.0f / 3.0f, std::nextafter(1.0f, 2.0f)};
  t.ranges["tab\tnew\nline\rbell\x07"] = {FLT_MIN, 2 * FLT_MIN, FLT_MIN};
  t.ranges["ünïcode #hash"] = {-1e-30f, 1e30f, 7e29f};
  t.ranges[""] = {1, 2, 3};
  const std::string path = temp_path("roundtrip.calib");
  write_calib_cache(path, t);
  const CalibTable back = read_calib_cache(path, kHash);
  EXPECT_EQ(back.model_hash, t.model_hash);
  EXPECT_EQ(back.method, t.method);
  EXPECT_EQ(back.samples, t.samples);
  EXPECT_EQ(back.random, true);
  ASSERT_EQ(back.ranges.size(), t.ranges.size());
  for (const auto& [name, r] : t.ranges) {
    ASSERT_TRUE(back.ranges.count(name)) << name;
    const TensorRange& b = back.ranges.at(name);
    EXPECT_EQ(bits(b.min), bits(r.min)) << name;
    EXPECT_EQ(bits(b.max), bits(r.max)) << name;
    EXPECT_EQ(bits(b.threshold), bits(r.threshold)) << name;
  }
  // Every name sits on its own line: no raw line break or tab leaked into the file.
  const std::string text = slurp(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2 + 5 + long(t.ranges.size()) + 1);
  EXPECT_EQ(text.find('\t'), std::string::npos);
  // Written again, the same bytes.
  write_calib_cache(path, back);
  EXPECT_EQ(slurp(path), text);
}

TEST(CalibCache, ReplacesAtomicallyAndReportsUnwritablePaths) {
  const fs::path dir = temp_dir() / "atomic";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "x.calib").string();
  CalibTable t;
  t.model_hash = kHash;
  t.method = "minmax";
  write(path, "old contents");
  write_calib_cache(path, t);
  EXPECT_EQ(read_calib_cache(path, kHash).method, "minmax");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1) << "a temporary file was left";

  const std::string missing = (dir / "no/such/dir/x.calib").string();
  EXPECT_THAT(error_of([&] { write_calib_cache(missing, t); }), HasSubstr(missing));
  t.ranges["bad"] = {0, std::numeric_limits<float>::infinity(), 1};
  EXPECT_THAT(error_of([&] { write_calib_cache(path, t); }), HasSubstr("'bad'"));
  t.ranges.clear();
  t.model_hash = "two words";
  EXPECT_THAT(error_of([&] { write_calib_cache(path, t); }), HasSubstr(path));
}

TEST(CalibCache, RefusesAnotherModelsCacheNamingBothHashes) {
  CalibTable t;
  t.model_hash = "fnv1a64:1111111111111111";
  t.method = "entropy";
  const std::string path = temp_path("other.calib");
  write_calib_cache(path, t);
  const std::string e = error_of([&] { read_calib_cache(path, "fnv1a64:2222222222222222"); });
  EXPECT_THAT(e, HasSubstr(path));
  EXPECT_THAT(e, HasSubstr("fnv1a64:1111111111111111"));
  EXPECT_THAT(e, HasSubstr("fnv1a64:2222222222222222"));
  EXPECT_THAT(e, HasSubstr("delete the file"));
  EXPECT_THAT(e, HasSubstr("cache made for this model"));
  // No expected hash: read whatever model it was made for.
  EXPECT_EQ(read_calib_cache(path, "").model_hash, "fnv1a64:1111111111111111");
}

TEST(CalibCache, ReadsHandEditedFiles) {
  const std::string path = temp_path("edited.calib");
  write(path,
        "kiln-calib 1\r\n"
        "  # indented comment\r\n"
        "\r\n"
        "random yes\r\n"
        "samples 3\r\n"
        "method minmax\r\n"
        "model m\r\n"
        "tensor bare_name min -1.5 max 2 threshold 0X1P+1\r\n"
        "tensor \"esc\\x41\\\\\"  min 0 max 0.1 threshold +0.1\r\n"
        "end\r\n");
  const CalibTable t = read_calib_cache(path, "m");
  EXPECT_TRUE(t.random);
  EXPECT_EQ(t.samples, 3u);
  ASSERT_EQ(t.ranges.size(), 2u);
  EXPECT_EQ(t.ranges.at("bare_name").min, -1.5f);
  EXPECT_EQ(t.ranges.at("bare_name").threshold, 2.0f);
  EXPECT_EQ(t.ranges.at("esc" "A\\").max, 0.1f);  // decimals are rounded to float like the compiler
}

TEST(CalibCache, MalformedLinesNameTheFileAndLine) {
  const std::string head = "# comment\nkiln-calib 1\nmodel m\nmethod entropy\nsamples 1\nrandom no\n";  // lines 1-6
  struct Case {
    std::string body;  // from line 7
    int line;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"tensor \"a\" min zz max 1 threshold 1\nend\n", 7, "finite numbers"},
      {"tensor \"a\" min 0 max 1\nend\n", 7, "expected 'tensor"},
      {"\ntensor \"a min 0 max 1 threshold 1\nend\n", 8, "not closed"},
      {"tensor \"a\\q\" min 0 max 1 threshold 1\nend\n", 7, "unknown escape"},
      {"tensor \"a\"min 0 max 1 threshold 1\nend\n", 7, "no space after"},
      {"tensor \"a\" min 0 max 1 threshold nan\nend\n", 7, "finite numbers"},
      {"tensor \"a\" min 0 max 1 threshold 0x1p+200\nend\n", 7, "finite numbers"},
      {"tensor \"a\" min 2 max 1 threshold 1\nend\n", 7, "min is above max"},
      {"tensor \"a\" min 0 max 1 threshold -1\nend\n", 7, "negative"},
      {"tensor \"a\" min 0 max 1 threshold 1\ntensor \"a\" min 0 max 1 threshold 1\nend\n", 8, "first on line 7"},
      {"colour blue\nend\n", 7, "unknown entry 'colour'"},
      {"model m\nend\n", 7, "given twice"},
      {"end\ntensor \"a\" min 0 max 1 threshold 1\n", 8, "after the closing 'end'"},
      {"end 3\n", 7, "'end' takes no value"},
  };
  const std::string path = temp_path("bad.calib");
  for (const Case& c : cases) {
    write(path, head + c.body);
    const std::string e = error_of([&] { read_calib_cache(path, "m"); });
    EXPECT_THAT(e, HasSubstr(path + ": line " + std::to_string(c.line) + ": ")) << c.body;
    EXPECT_THAT(e, HasSubstr(c.says)) << c.body;
  }
  // Header values.
  for (auto [text, line, says] : std::vector<std::tuple<std::string, int, std::string>>{
           {"kiln-calib 1\nsamples -3\n", 2, "'samples -3' is not a whole number"},
           {"kiln-calib 1\nrandom maybe\n", 2, "'random maybe': expected yes or no"},
           {"kiln-calib 1\n\nmethod\n", 3, "'method' takes one value"}}) {
    write(path, text);
    EXPECT_THAT(error_of([&] { read_calib_cache(path, "m"); }), HasSubstr("line " + std::to_string(line) + ": " + says));
  }
}

TEST(CalibCache, RefusesOtherVersionsForeignAndTruncatedFiles) {
  const std::string path = temp_path("v.calib");
  write(path, "# a future kiln\nkiln-calib 2\nmodel m\nend\n");
  std::string e = error_of([&] { read_calib_cache(path, "m"); });
  EXPECT_THAT(e, HasSubstr(path + ": line 2: calibration cache format version 2; this kiln reads version 1"));
  EXPECT_THAT(e, HasSubstr("delete the file"));

  write(path, "{\"json\": true}\n");
  EXPECT_THAT(error_of([&] { read_calib_cache(path, "m"); }), HasSubstr("line 1: not a kiln calibration cache"));
  write(path, "");
  EXPECT_THAT(error_of([&] { read_calib_cache(path, "m"); }), HasSubstr("not a kiln calibration cache"));

  CalibTable t;
  t.model_hash = "m";
  t.method = "entropy";
  t.ranges["x"] = {0, 1, 1};
  write_calib_cache(path, t);
  std::string text = slurp(path);
  write(path, text.substr(0, text.size() - 4));  // "end\n" cut off
  EXPECT_THAT(error_of([&] { read_calib_cache(path, "m"); }), HasSubstr("cut short"));
  write(path, "kiln-calib 1\nmodel m\nmethod entropy\nrandom no\nend\n");
  EXPECT_THAT(error_of([&] { read_calib_cache(path, "m"); }), HasSubstr("no 'samples' line"));

  const std::string missing = temp_path("does-not-exist.calib");
  EXPECT_THAT(error_of([&] { read_calib_cache(missing, "m"); }), HasSubstr(missing));
}

// 64-bit FNV-1a, one byte at a time, the definition the chunked model_hash must agree with.
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

TEST(ModelHash, IsFnv1aOfTheFileBytes) {
  // The published FNV-1a 64-bit test vectors (www.isthe.com/chongo/tech/comp/fnv).
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", "fnv1a64:cbf29ce484222325"}, {"a", "fnv1a64:af63dc4c8601ec8c"}, {"foobar", "fnv1a64:85944171f73967e8"}};
  const std::string path = temp_path("model.onnx");
  for (auto& [bytes, want] : vectors) {
    write(path, bytes);
    EXPECT_EQ(model_hash(path), want) << "'" << bytes << "'";
  }
  // Longer than model_hash's read buffer, with every byte value.
  std::string big;
  for (size_t k = 0; k < 2'500'003; ++k) big += static_cast<char>((k * 131) >> 3);
  write(path, big);
  char want[32];
  std::snprintf(want, sizeof want, "fnv1a64:%016llx", static_cast<unsigned long long>(fnv1a(big)));
  EXPECT_EQ(model_hash(path), want);
  big[1'234'567] ^= 1;
  write(path, big);
  EXPECT_NE(model_hash(path), want);

  const std::string missing = temp_path("missing.onnx");
  EXPECT_THAT(error_of([&] { model_hash(missing); }), HasSubstr(missing));
  EXPECT_THAT(error_of([&] { model_hash(temp_dir().string()); }), HasSubstr("directory"));
}

}  // namespace
}  // namespace kiln::quant
