// Shared pieces of the kiln CLI: shape-list parsing, atomic file writes, and the usage-error
// exception that maps to exit code 2.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::cli {

// A mistake in how kiln was called (exit code 2), as opposed to a failure doing the work (1).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "input:1x3x224x224,mask:1x128" -> {input: [1,3,224,224], mask: [1,128]}. The name may contain
// ':' (the last ':' separates the dims).
std::map<std::string, std::vector<int64_t>> parse_shapes(const std::string& spec, const char* flag);
// The same for a repeatable flag: every occurrence's entries merged; an input named twice is an error.
std::map<std::string, std::vector<int64_t>> parse_shapes(const std::vector<std::string>& specs, const char* flag);
// "name:file,name2:file2" -> pairs; a single entry without ':' binds to the only input ("").
std::vector<std::pair<std::string, std::string>> parse_bindings(const std::string& spec, const char* flag);

// Writes via a temporary file in the same folder and a rename, so an interrupted write never
// leaves a half-written file under the final name.
void write_file_atomic(const std::string& path, const void* data, size_t size);
// A compiled plan at `path`, and its weights sidecar beside it (named `weights_file`) when it has one.
// The weights go first, so a plan is never left naming a missing file.
void write_plan_files(const std::string& path, const std::vector<uint8_t>& plan, const std::vector<uint8_t>& weights,
                      const std::string& weights_file);
// The sidecar name kiln gives the plan at `path`: its file name + ".weights".
std::string weights_file_for(const std::string& path);

std::string human_bytes(uint64_t b);
std::string json_escape(const std::string& s);

}  // namespace kiln::cli
