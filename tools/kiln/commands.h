// The kiln CLI subcommands. Each registers its flags on a CLI11 subcommand and runs with the
// parsed values; they return the process exit code.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace kiln::cli {

void add_compile_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_passes_command(CLI::App& app);
void add_ops_command(CLI::App& app);
// Hidden `kiln help-markdown`: register it last; it documents every visible command of `app`.
void add_help_markdown_command(CLI::App& app);

// The command-line reference (docs/cli.md) as Markdown, generated from the CLI11 definitions.
std::string cli_reference_markdown(const CLI::App& app);

}  // namespace kiln::cli
