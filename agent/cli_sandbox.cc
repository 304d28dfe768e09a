// deputy sandbox probe|run: what the kernel offers the module sandbox, and
// one module run in it by hand (for operators checking a module, and for
// the benchmarks).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "agent/cli.h"
#include "agent/cli_util.h"
#include "agent/sandbox/features.h"
#include "agent/sandbox/sandbox.h"
#include "base/files.h"

namespace deputy::cli {
namespace {

int Probe(Context& ctx, bool json) {
  auto f = sandbox::Features::Probe();
  bool ready = f.namespaces &&
               f.landlock_abi >= sandbox::Features::kRequiredLandlockAbi &&
               f.seccomp_notify && f.cgroup_memory && f.cgroup_pids;
  if (json) {
    auto j = f.ToJson();
    j["full_isolation"] = ready;
    ctx.out << j.dump() << "\n";
    return ready ? kExitOk : kExitFailure;
  }
  auto yes = [](bool b) { return b ? "yes" : "NO"; };
  ctx.out << "namespaces (user, pid, mount, net, ipc, uts, cgroup): "
          << yes(f.namespaces);
  if (!f.namespaces) ctx.out << " (" << f.namespaces_error << ")";
  ctx.out << "\nLandlock ABI: " << f.landlock_abi << " (need "
          << sandbox::Features::kRequiredLandlockAbi << ")\n"
          << "seccomp user notification: " << yes(f.seccomp_notify) << "\n"
          << "cgroup v1 memory: " << yes(f.cgroup_memory)
          << ", pids: " << yes(f.cgroup_pids) << "\n"
          << "running as root (per-run uids): " << yes(f.root) << "\n"
          << (ready ? "modules run with full isolation\n"
                    : "modules refuse to run unless the missing layers are "
                      "removed with insecure_sandbox_without\n");
  return ready ? kExitOk : kExitFailure;
}

struct RunOptions {
  std::string module;
  std::string host;
  std::string address;
  int port = 0;
  std::string credential_file;
  std::int64_t deadline_ms = 30000;
  std::vector<std::string> weaken;
  std::vector<std::string> read_only;
  std::string summary = "-";
};

int RunModule(Context& ctx, const RunOptions& o) {
  auto features = sandbox::Features::Probe();
  sandbox::Limits limits;
  limits.deadline_ms = o.deadline_ms;
  sandbox::PolicyBuilder builder(features);
  builder.Module(o.module)
      .Target({o.host, o.address, o.port})
      .WithLimits(limits);
  for (const auto& p : o.read_only) builder.ReadOnly(p);
  for (const auto& w : o.weaken) {
    auto layer = sandbox::ParseLayer(w);
    if (!layer.ok()) return Fail(ctx, "sandbox run", layer.status());
    builder.Weaken(sandbox::InsecureWeakening::Without(*layer));
  }
  auto policy = builder.Build();
  if (!policy.ok()) return Fail(ctx, "sandbox run", policy.status());
  std::string credential;
  if (!o.credential_file.empty()) {
    auto c = ReadFileBounded(o.credential_file, 60 << 10);
    if (!c.ok()) return Fail(ctx, "sandbox run", c.status());
    credential = std::move(*c);
  }
  auto input = ReadFdBounded(STDIN_FILENO, 1 << 20, "stdin");
  if (!input.ok()) return Fail(ctx, "sandbox run", input.status());
  auto run = (*policy)->Run(*input, credential);
  // Overwrite our copy of the credential; the module had its own.
  std::fill(credential.begin(), credential.end(), '\0');
  if (!run.ok()) return Fail(ctx, "sandbox run", run.status());
  ctx.out << run->out;
  ctx.out.flush();
  nlohmann::json summary = run->Summary();
  summary["sandbox"] = (*policy)->Describe();
  if (!run->err.empty()) summary["stderr"] = run->err;
  if (o.summary == "-") {
    ctx.err << summary.dump() << "\n";
  } else if (!o.summary.empty()) {
    Status s = WriteFileAtomic(o.summary, summary.dump() + "\n", 0644,
                               Overwrite::kReplace);
    if (!s.ok()) return Fail(ctx, "sandbox run", s);
  }
  return run->clean_exit() ? kExitOk : kExitFailure;
}

}  // namespace

void RegisterSandboxCommands(CLI::App& app, Context& ctx) {
  auto* sb = app.add_subcommand(
      "sandbox", "The module sandbox: probe the kernel, run a module by hand");
  sb->require_subcommand(1);

  auto json = std::make_shared<bool>(false);
  auto* probe = sb->add_subcommand(
      "probe",
      "Show which isolation layers this kernel offers (exit 1 when modules "
      "could not run with full isolation)");
  probe->add_flag("--json", *json, "One JSON object");
  probe->callback([&ctx, json] {
    ctx.action = [&ctx, json] { return Probe(ctx, *json); };
  });

  auto o = std::make_shared<RunOptions>();
  auto* run = sb->add_subcommand(
      "run",
      "Run a capability module once in the sandbox: the request on stdin, "
      "its response on stdout, the run's summary (violations, timings) as "
      "JSON on stderr. Exit 0 when the module exited 0 with no violation");
  run->add_option("--module", o->module, "Absolute path of the module")
      ->required();
  run->add_option("--host", o->host,
                  "Target host name, as the module is told it (resolves to "
                  "the forwarder inside)")
      ->required();
  run->add_option("--address", o->address,
                  "The real target: a literal IPv4 or IPv6 address")
      ->required();
  run->add_option("--port", o->port, "The target's TCP port")
      ->required()
      ->check(CLI::Range(1, 65535));
  run->add_option("--credential-file", o->credential_file,
                  "Handed to the module on fd 3 (never argv or environment)");
  run->add_option("--deadline-ms", o->deadline_ms, "Wall-clock limit")
      ->check(CLI::Range(1, 3600000));
  run->add_option("--read-only", o->read_only,
                  "An extra host path made visible read-only (a CA file)");
  run->add_option("--insecure-sandbox-without", o->weaken,
                  "INSECURE: remove a layer (landlock, seccomp, cgroups)");
  run->add_option("--summary", o->summary,
                  "Where the JSON summary goes: - (stderr, the default), a "
                  "file, or \"\" for nowhere");
  run->callback(
      [&ctx, o] { ctx.action = [&ctx, o] { return RunModule(ctx, *o); }; });
}

}  // namespace deputy::cli
