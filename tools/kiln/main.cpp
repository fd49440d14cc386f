// kiln command-line entry point: subcommand dispatch and the exit-code contract
// (0 success, 1 failure doing the work, 2 usage error; every error on stderr as "error: ...").
#include <cstdio>
#include <new>

#include <fmt/format.h>

#include "cli_util.h"
#include "commands.h"
#include "kiln/runtime.hpp"

int main(int argc, char** argv) {
  CLI::App app{"kiln: ahead-of-time neural-network compiler for CPUs (ONNX -> plan -> oneDNN runtime)"};
  app.set_version_flag("--version", "kiln " KILN_VERSION);
  app.require_subcommand(1);
  // Defaults are captured when a flag is defined, so --help and the generated docs/cli.md show them.
  app.option_defaults()->always_capture_default();
  kiln::cli::add_compile_command(app);
  kiln::cli::add_run_command(app);
  kiln::cli::add_inspect_command(app);
  kiln::cli::add_passes_command(app);
  kiln::cli::add_ops_command(app);
  kiln::cli::add_help_markdown_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    fmt::print(stderr, "error: {}\nRun 'kiln --help' or 'kiln <command> --help' for usage.\n", e.what());
    return 2;
  } catch (const kiln::cli::UsageError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  } catch (const kiln::Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: internal: {}\n", e.what());
    return 1;
  }
  return 0;
}
