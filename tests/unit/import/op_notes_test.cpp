// The op notes (compiler/import/op_notes.cpp) must cover exactly the ONNX op types the importer
// registry holds, and the support matrix must print them, so docs/operators.md cannot drift from
// the importers. Each failure lists every offending op type at once.
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "import/importer.h"
#include "import/op_notes.h"
#include "kiln/compiler.hpp"

namespace kiln::test {
namespace {

using onnx_import::ImporterRegistry;
using onnx_import::kMissingNote;
using onnx_import::op_note_or_missing;
using onnx_import::op_notes;

std::string join(const std::vector<std::string>& v) {
  std::string r;
  for (const std::string& s : v) r += (r.empty() ? "" : ", ") + s;
  return r;
}

TEST(OpNotes, EveryRegisteredOpTypeHasANote) {
  std::vector<std::string> missing;
  for (const std::string& op : ImporterRegistry::instance().op_types())
    if (!op_notes().count(op)) missing.push_back(op);
  EXPECT_TRUE(missing.empty()) << missing.size() << " imported op type(s) have no note in "
                               << "compiler/import/op_notes.cpp: " << join(missing);
}

TEST(OpNotes, EveryNoteNamesARegisteredOpType) {
  std::vector<std::string> stale;
  for (const auto& [op, note] : op_notes())
    if (!ImporterRegistry::instance().known(op)) stale.push_back(op);
  EXPECT_TRUE(stale.empty()) << stale.size() << " note(s) in compiler/import/op_notes.cpp name op types no "
                             << "importer registers (stale or misspelt): " << join(stale);
}

// One line each, short, and nothing that would break the Markdown table.
TEST(OpNotes, CellsAreShortSingleLines) {
  std::vector<std::string> bad;
  for (const auto& [op, note] : op_notes()) {
    for (const char* c : {note.dtypes, note.limits}) {
      const std::string s = c ? c : "";
      if (s.empty() || s.size() >= 160 || s.find_first_of("|\n") != std::string::npos || s == kMissingNote)
        bad.push_back(op + " (\"" + s + "\")");
    }
  }
  EXPECT_TRUE(bad.empty()) << "cells must be non-empty single lines under 160 characters without '|': "
                           << join(bad);
}

TEST(OpNotes, UnknownOpTypeReadsMissingNote) {
  const auto n = op_note_or_missing("NoSuchOnnxOp");
  EXPECT_STREQ(n.dtypes, kMissingNote);
  EXPECT_STREQ(n.limits, kMissingNote);
  const auto conv = op_note_or_missing("Conv");
  EXPECT_STRNE(conv.dtypes, kMissingNote);
}

// The matrix has one row per imported op type, carrying its note; no row reads MISSING NOTE.
TEST(OpNotes, MatrixPrintsTheNotes) {
  const std::string md = operator_matrix_markdown();
  EXPECT_NE(md.find("| ONNX op | opsets | dtypes | limits |"), std::string::npos);
  std::vector<std::string> wrong;
  for (const std::string& op : ImporterRegistry::instance().op_types()) {
    const auto note = op_note_or_missing(op);
    const std::string row_start = "\n| " + op + " | ";
    const size_t at = md.find(row_start);
    if (at == std::string::npos) {
      wrong.push_back(op + " (no row)");
      continue;
    }
    const std::string row = md.substr(at + 1, md.find('\n', at + 1) - at - 1);
    const std::string tail = std::string(" | ") + note.dtypes + " | " + note.limits + " |";
    if (row.size() < tail.size() || row.compare(row.size() - tail.size(), tail.size(), tail) != 0)
      wrong.push_back(op + " (row \"" + row + "\")");
  }
  EXPECT_TRUE(wrong.empty()) << "matrix rows without their note: " << join(wrong);
  std::istringstream lines(md);
  std::vector<std::string> missing_rows;
  for (std::string line; std::getline(lines, line);)
    if (line.find(kMissingNote) != std::string::npos && line.rfind("| ", 0) == 0) missing_rows.push_back(line);
  EXPECT_TRUE(missing_rows.empty()) << "rows reading " << kMissingNote << ": " << join(missing_rows);
}

}  // namespace
}  // namespace kiln::test
