// deputy run|submit|status: the agent itself, handing it work, and what it
// is doing.
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/agent.h"
#include "agent/cli.h"
#include "agent/cli_util.h"
#include "agent/config.h"
#include "agent/intake.h"
#include "agent/journal.h"
#include "agent/ticket.h"
#include "base/files.h"
#include "keys/dsse.h"
#include "policy/revocation.h"
#include "policy/scope.h"
#include "policy/trust_root.h"

namespace deputy::cli {
namespace {

namespace fs = std::filesystem;

int Run(Context& ctx, const std::string& config_path, bool once) {
  auto config = agent::Config::Load(config_path);
  if (!config.ok()) return Fail(ctx, "run", config.status());
  // SIGTERM and SIGINT drain the agent: blocked in every thread, taken by
  // one that asks the agent to stop.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  evidence::SystemClock clock;
  agent::AgentOptions options;
  options.once = once;
  options.progress = &ctx.out;
  auto a = agent::Agent::Create(*config, clock, std::move(options));
  if (!a.ok()) return Fail(ctx, "run", a.status());
  agent::Agent* raw = a->get();
  std::thread waiter([raw, set] {
    int sig = 0;
    if (sigwait(&set, &sig) == 0 && sig != SIGUSR2) raw->RequestStop();
  });
  auto summary = (*a)->Run();
  // Wake the signal thread if no signal came.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (!summary.ok()) return Fail(ctx, "run", summary.status());
  ctx.out << "deputy: " << summary->done << " done, " << summary->failed
          << " failed, " << summary->waiting << " waiting, "
          << summary->rejected << " rejected at intake\n";
  return kExitOk;
}

int Submit(Context& ctx, const std::string& config_path,
           const std::string& file) {
  auto config = agent::Config::Load(config_path);
  if (!config.ok()) return Fail(ctx, "submit", config.status());
  auto bytes = ReadInput(file, 1 << 20);
  if (!bytes.ok()) return Fail(ctx, "submit", bytes.status());
  // An owner's signed document goes to the inbox; anything else must be a
  // valid ticket, checked here so the submitter hears at once.
  if (auto env = keys::Envelope::Parse(*bytes); env.ok()) {
    const auto& t = env->payload_type;
    if (t != policy::kApprovalType && t != policy::kRevocationType &&
        t != policy::kScopeType) {
      return Fail(ctx, "submit",
                  Status::Invalid("a signed " + t.substr(0, 80) +
                                  " is not something the agent accepts"));
    }
    std::string name = std::to_string(std::time(nullptr)) + "-" +
                       keys::Sha256Hex(AsBytes(*bytes)).substr(0, 16) + ".json";
    Status s = agent::DropInto(config->state_dir + "/inbox", name, *bytes);
    if (!s.ok()) return Fail(ctx, "submit", s);
    ctx.out << "delivered to the agent's inbox as " << name << "\n";
    return kExitOk;
  }
  auto ticket = agent::Ticket::Parse(*bytes);
  if (!ticket.ok()) {
    return Fail(ctx, "submit", ticket.status().Within("ticket " + file));
  }
  Status s =
      agent::DropInto(config->intake_dir, ticket->Key() + ".json", *bytes);
  if (!s.ok()) return Fail(ctx, "submit", s);
  ctx.out << "submitted " << ticket->Key() << "\n";
  return kExitOk;
}

int StatusCmd(Context& ctx, const std::string& config_path, bool json) {
  auto config = agent::Config::Load(config_path);
  if (!config.ok()) return Fail(ctx, "status", config.status());
  evidence::SystemClock clock;
  const std::int64_t now = clock.NowMicros();
  nlohmann::json out;
  int rc = kExitOk;
  std::vector<std::string> warnings;
  // Identity, from the pinned trust root.
  auto trust_text = ReadFileBounded(config->trust, 1 << 20);
  if (!trust_text.ok()) return Fail(ctx, "status", trust_text.status());
  auto env = keys::Envelope::Parse(*trust_text);
  if (!env.ok()) return Fail(ctx, "status", env.status());
  auto trust = policy::TrustRoot::VerifyPinned(*env, config->trust_pin, now);
  if (!trust.ok())
    return Fail(ctx, "status", trust.status().Within("trust root"));
  const policy::AgentIdentity* id = trust->FindAgent(config->agent);
  if (id == nullptr) {
    return Fail(
        ctx, "status",
        Status::NotFound("the trust root does not list " + config->agent));
  }
  const policy::Principal* owner = trust->FindOwner(id->owner);
  out["agent"] = config->agent;
  out["key_id"] = id->key.key_id();
  out["owner"] = id->owner;
  out["owner_contact"] = owner ? owner->contact : "";
  out["backup_owner"] = id->backup_owner;
  out["trust_version"] = trust->version();
  out["trust_expires"] = policy::FormatRfc3339Seconds(trust->expires());
  auto days_left = [&](std::int64_t t) { return (t - now) / 86400000000LL; };
  if (days_left(trust->expires()) < config->expiry_warning_days) {
    warnings.push_back("the trust root expires in " +
                       std::to_string(days_left(trust->expires())) + " days");
  }
  // The scope in force: the one the log installed last.
  auto journal = agent::Journal::ReadOnly(config->log_dir);
  if (!journal.ok()) return Fail(ctx, "status", journal.status());
  auto scope_status = (*journal)->scope();
  std::optional<policy::ScopeManifest> scope;
  for (const std::string& path :
       {config->state_dir + "/scope.json", config->scope}) {
    auto text = ReadFileBounded(path, 2 << 20);
    if (!text.ok()) continue;
    auto senv = keys::Envelope::Parse(*text, 2 << 20);
    if (!senv.ok()) continue;
    auto m = policy::ScopeManifest::ParsePayload(senv->payload);
    if (m.ok() && m->digest() == scope_status.digest) scope.emplace(*m);
  }
  if (scope) {
    out["scope"] = {{"version", scope->version()},
                    {"expires", policy::FormatRfc3339Seconds(scope->expires())},
                    {"revoked", scope_status.revoked},
                    {"digest", scope->digest()}};
    if (scope_status.revoked) {
      warnings.push_back("scope version " + std::to_string(scope->version()) +
                         " is revoked: the agent is frozen");
      rc = kExitFailure;
    } else if (scope->expires() <= now) {
      warnings.push_back("scope version " + std::to_string(scope->version()) +
                         " has expired: the agent is frozen");
      rc = kExitFailure;
    } else if (days_left(scope->expires()) < config->expiry_warning_days) {
      warnings.push_back("scope version " + std::to_string(scope->version()) +
                         " expires in " +
                         std::to_string(days_left(scope->expires())) +
                         " days: ask the owners to sign the next one");
    }
  } else {
    out["scope"] = nullptr;
    warnings.push_back("no scope manifest installed: the agent is frozen");
    rc = kExitFailure;
  }
  // Tasks.
  std::map<std::string, int> counts;
  nlohmann::json open = nlohmann::json::array();
  for (const auto& t : (*journal)->Tasks()) {
    std::string phase(agent::TaskPhaseName(t.phase));
    if (t.phase == agent::TaskPhase::kPlanned) {
      for (const auto& a : t.actions) {
        if (a.phase == agent::ActionPhase::kAwaitingApproval) {
          phase = "awaiting_approval";
        }
      }
    }
    ++counts[phase];
    if (t.phase != agent::TaskPhase::kDone &&
        t.phase != agent::TaskPhase::kFailed) {
      open.push_back({{"task", t.key}, {"phase", phase}});
    }
  }
  out["tasks"] = counts;
  out["open"] = open;
  out["log_entries"] = (*journal)->size();
  out["warnings"] = warnings;
  if (json) {
    ctx.out << out.dump(2) << "\n";
    return rc;
  }
  ctx.out << "agent:   " << config->agent << " (key "
          << id->key.key_id().substr(0, 16) << "...)\n"
          << "owner:   " << id->owner << " <"
          << out["owner_contact"].get<std::string>() << ">, backup "
          << id->backup_owner << "\n"
          << "trust:   version " << trust->version() << ", expires "
          << out["trust_expires"].get<std::string>() << "\n";
  if (scope) {
    ctx.out << "scope:   version " << scope->version() << ", expires "
            << policy::FormatRfc3339Seconds(scope->expires())
            << (scope_status.revoked ? " (REVOKED)" : "") << "\n";
  } else {
    ctx.out << "scope:   none\n";
  }
  ctx.out << "tasks:  ";
  for (const auto& [phase, n] : counts) ctx.out << " " << phase << " " << n;
  ctx.out << "\nlog:     " << (*journal)->size() << " entries\n";
  for (const auto& o : open) {
    ctx.out << "open:    " << o["task"].get<std::string>() << " ("
            << o["phase"].get<std::string>() << ")\n";
  }
  for (const auto& w : warnings) ctx.out << "WARNING: " << w << "\n";
  return rc;
}

// A readable account of every ticket: what was decided and what the
// targets showed afterwards.
int Report(Context& ctx, const std::string& config_path,
           const std::string& only) {
  auto config = agent::Config::Load(config_path);
  if (!config.ok()) return Fail(ctx, "report", config.status());
  auto journal = agent::Journal::ReadOnly(config->log_dir);
  if (!journal.ok()) return Fail(ctx, "report", journal.status());
  for (const auto& t : (*journal)->Tasks()) {
    if (!only.empty() && t.id != only && t.key != only) continue;
    std::string type = t.ticket.value("type", "?");
    std::string phase(agent::TaskPhaseName(t.phase));
    bool waiting = false;
    for (const auto& a : t.actions) {
      if (a.phase == agent::ActionPhase::kAwaitingApproval) waiting = true;
    }
    if (waiting && t.phase == agent::TaskPhase::kPlanned) {
      phase = "awaiting approval";
    }
    ctx.out << t.key << "  " << type << " " << t.subject << " (requested by "
            << t.requester << "): " << phase << "\n";
    if (!t.reason.empty() && t.phase == agent::TaskPhase::kFailed) {
      ctx.out << "    reason: " << t.reason << "\n";
    }
    for (const auto& n : t.notes) ctx.out << "    note: " << n << "\n";
    for (const auto& a : t.actions) {
      ctx.out << "    " << a.action.id << " " << a.action.operation << " "
              << a.action.target << ":" << a.action.resource;
      if (!a.action.subject.empty() && a.action.subject != a.action.resource) {
        ctx.out << " (" << a.action.subject << ")";
      }
      ctx.out << " -> " << agent::ActionPhaseName(a.phase);
      if (!a.error.empty()) ctx.out << ": " << a.error;
      ctx.out << "\n";
      if (a.phase == agent::ActionPhase::kVerified && a.checks.is_array() &&
          !a.checks.empty()) {
        ctx.out << "        read back:";
        for (const auto& c : a.checks) {
          ctx.out << " " << c.value("check", "?")
                  << (c.value("ok", false) ? "" : "(FAILED)");
        }
        ctx.out << "\n";
      }
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterAgentCommands(CLI::App& app, Context& ctx) {
  auto run_opts = std::make_shared<std::pair<std::string, bool>>();
  auto* run = app.add_subcommand(
      "run",
      "Run the agent: take tickets from the intake directory and carry them "
      "out, each action gated, logged, sandboxed and verified. SIGTERM "
      "drains (no new applies; applied actions finish their verification)");
  run->add_option("--config", run_opts->first, "The agent's configuration")
      ->required();
  run->add_flag("--once", run_opts->second,
                "Process what is waiting, then exit when every task is done, "
                "failed, or waiting (approval, grace, frozen)");
  run->callback([&ctx, run_opts] {
    ctx.action = [&ctx, run_opts] {
      return Run(ctx, run_opts->first, run_opts->second);
    };
  });

  auto sub = std::make_shared<std::pair<std::string, std::string>>();
  auto* submit = app.add_subcommand(
      "submit",
      "Hand the agent a ticket (checked, then written to its intake "
      "directory) or an owner's signed approval, revocation or scope "
      "manifest (written to its inbox)");
  submit->add_option("--config", sub->first, "The agent's configuration")
      ->required();
  submit
      ->add_option("FILE", sub->second,
                   "The ticket or signed document (- "
                   "for stdin)")
      ->required();
  submit->callback([&ctx, sub] {
    ctx.action = [&ctx, sub] { return Submit(ctx, sub->first, sub->second); };
  });

  auto rep = std::make_shared<std::pair<std::string, std::string>>();
  auto* report = app.add_subcommand(
      "report",
      "For every ticket (or one): its actions, the gate's decisions and what "
      "each target showed when read back, from the agent's log");
  report->add_option("--config", rep->first, "The agent's configuration")
      ->required();
  report->add_option("--ticket", rep->second,
                     "Only this ticket (ID or ID@REV)");
  report->callback([&ctx, rep] {
    ctx.action = [&ctx, rep] { return Report(ctx, rep->first, rep->second); };
  });

  auto st = std::make_shared<std::pair<std::string, bool>>();
  auto* status = app.add_subcommand(
      "status",
      "The agent's identity, owner, trust root, scope version and expiry "
      "(warning ahead of expiry), and its tasks, from its log. Exit 1 when "
      "the agent is frozen");
  status->add_option("--config", st->first, "The agent's configuration")
      ->required();
  status->add_flag("--json", st->second, "One JSON object");
  status->callback([&ctx, st] {
    ctx.action = [&ctx, st] { return StatusCmd(ctx, st->first, st->second); };
  });
}

}  // namespace deputy::cli
