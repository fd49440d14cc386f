// What each imported ONNX op supports: its dtypes and its limits (what is not supported, which
// kernels run it), one note per op type registered with the ImporterRegistry. The support matrix
// (kiln ops --markdown, docs/operators.md) prints these beside the opset ranges, and
// tests/unit/import/op_notes_test.cpp fails when a registered op has no note or a note names no
// registered op, so the published table cannot drift from the importers.
//
// Vocabulary of the dtypes cells (the matrix prints it as a legend):
//   "all numeric" = float32, float64, int8..int64, uint8..uint64 (not bool, float16, bfloat16);
//   "signed ints" = int8, int16, int32, int64;
//   "any"         = every kiln dtype: all numeric, bool, float16 and bfloat16.
// Strings, complex and 8-bit float tensors are rejected by the model importer for every op.
#pragma once

#include <map>
#include <string>

namespace kiln::onnx_import {

struct OpNote {
  const char* dtypes;
  const char* limits;
};

// What the matrix prints for an op type that has no note.
inline constexpr const char* kMissingNote = "MISSING NOTE";

// Keyed by ONNX op type, or domain_key() for another domain ("ai.onnx.preview.training:Adam").
const std::map<std::string, OpNote>& op_notes();

// The note of op_type, or {kMissingNote, kMissingNote} when it has none.
OpNote op_note_or_missing(const std::string& op_type);

}  // namespace kiln::onnx_import
