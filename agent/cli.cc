#include "agent/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>

namespace deputy::cli {

int Run(const std::vector<std::string>& args, std::ostream& out,
        std::ostream& err) {
  CLI::App app{
      "deputy: a governed executor of identity work (joiner, mover, leaver,\n"
      "grant, revoke, key rotation). Every action is bounded by a scope\n"
      "manifest signed by named owners, checked by a policy gate, verified\n"
      "by reading the target back, and written to a signed evidence log.\n\n"
      "Exit codes: 0 success or valid, 1 failure or invalid (reason on\n"
      "stderr), 2 usage error. Every subcommand answers --help.",
      "deputy"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "deputy 0.1.0");
  app.footer("Documentation: docs/ (keys.md for key and envelope formats).\n");
  Context ctx{out, err, {}};
  RegisterKeysCommands(app, ctx);
  RegisterLogCommands(app, ctx);
  RegisterPolicyCommands(app, ctx);
  RegisterSandboxCommands(app, ctx);
  RegisterAgentCommands(app, ctx);

  // CLI11 wants argv without the program name, reversed.
  std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1),
                                args.end());
  std::reverse(rest.begin(), rest.end());
  try {
    app.parse(rest);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e, out, err);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (!ctx.action) {
    err << "deputy: no command given; see deputy --help\n";
    return kExitUsage;
  }
  return ctx.action();
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  return Run(args, std::cout, std::cerr);
}

}  // namespace deputy::cli
