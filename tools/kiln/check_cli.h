// `kiln compile --check/--checkTolerance`: the flags, the input files, the table on stderr and the
// report's "check" object. The comparison itself is the compiler library's (kiln/accuracy.hpp).
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "kiln/accuracy.hpp"

namespace kiln::cli {

struct CheckFlags {
  bool check = false;
  std::string tolerance;  // --checkTolerance spec
  std::string load_inputs;  // --calib, which --int8 reads too, is a build flag (build_flags.h)
  uint32_t seed = 0;
  CLI::Option* seed_option = nullptr;  // to tell a given --checkSeed from the default
};

void add_check_flags(CLI::App* c, CheckFlags& f);

// Validates the flags before anything is built (UsageError on a malformed spec, or --loadInputs /
// --checkSeed without --check); returns whether the check runs.
bool check_requested(const CheckFlags& f, CheckTolerance& tolerance);

// The check's inputs and tolerance from the flags (--loadInputs files read against r's plan; else the
// sets under --calib, else random inputs).
CheckOptions check_options(const CheckFlags& f, const CheckTolerance& tolerance, const std::string& model,
                           const std::string& calib, const CompileResult& r);

// Prints the check's table.
void print_table(const AccuracyReport& r);

// Loads the --loadInputs files (against the plan's inputs), runs the check and prints its table.
AccuracyReport run_check(const CheckFlags& f, const CheckTolerance& tolerance, const std::string& model,
                         const CompileOptions& opts, const CompileResult& r);

// The report's "check" object.
std::string check_json(const AccuracyReport& r);

}  // namespace kiln::cli
