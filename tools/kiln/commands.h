// The kiln CLI subcommands. Each registers its flags on a CLI11 subcommand and runs with the
// parsed values; they return the process exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace kiln::cli {

void add_compile_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_passes_command(CLI::App& app);
void add_ops_command(CLI::App& app);

}  // namespace kiln::cli
