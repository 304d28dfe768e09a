// The deputy command line: parses arguments with CLI11 and dispatches to the
// libraries. main() is only `return deputy::cli::Main(argc, argv);`.
//
// Exit codes, for every subcommand: 0 success (or "valid"), 1 failure (an
// operation failed, or a verification found the input invalid, with the
// reason on stderr), 2 usage error (bad or missing arguments).
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace deputy::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// What a subcommand needs from the process: its output streams, and the
// slot where the parsed subcommand leaves the action to run after parsing
// succeeded (CLI11 callbacks run mid-parse, when errors can still follow).
struct Context {
  std::ostream& out;
  std::ostream& err;
  std::function<int()> action;
};

// One function per command family, each in its own file (cli_keys.cc, ...).
void RegisterKeysCommands(CLI::App& app, Context& ctx);
void RegisterLogCommands(CLI::App& app, Context& ctx);
void RegisterPolicyCommands(CLI::App& app, Context& ctx);
void RegisterSandboxCommands(CLI::App& app, Context& ctx);
void RegisterAgentCommands(CLI::App& app, Context& ctx);

// Runs the command line `args` (args[0] is the program name).
int Run(const std::vector<std::string>& args, std::ostream& out,
        std::ostream& err);
int Main(int argc, char** argv);

}  // namespace deputy::cli
