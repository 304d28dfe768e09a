// deputy trust|scope|approve|gate: the owners' and operators' side of the
// policy: the trust root, scope manifests, revocations, approvals, and a
// dry run of the gate with its full explanation.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "agent/cli.h"
#include "agent/cli_util.h"
#include "base/strict_json.h"
#include "keys/dsse.h"
#include "policy/gate.h"
#include "policy/revocation.h"
#include "policy/scope.h"
#include "policy/trust_root.h"

namespace deputy::cli {
namespace {

using policy::TrustRoot;

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --at accepts RFC 3339 seconds; empty means now.
Result<std::int64_t> TimeOption(const std::string& at) {
  if (at.empty()) return NowMicros();
  auto t = policy::ParseRfc3339Seconds(at);
  if (!t.ok()) return t.status().Within("--at");
  return t;
}

Result<keys::Envelope> LoadEnvelope(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadInput(path, keys::kMaxEnvelopeBytes));
  auto env = keys::Envelope::Parse(text);
  if (!env.ok()) return env.status().Within(path);
  return env;
}

Result<TrustRoot> LoadTrust(const std::string& path, const std::string& pin,
                            std::int64_t now) {
  ASSIGN_OR_RETURN(keys::Envelope env, LoadEnvelope(path));
  ASSIGN_OR_RETURN(std::string p, ReadPin(pin));
  auto root = TrustRoot::VerifyPinned(env, p, now);
  if (!root.ok()) return root.status().Within("trust root " + path);
  return root;
}

// Signs a payload into a new envelope, or adds a signature to an envelope.
// `check` validates a payload before anyone signs it.
int SignDocument(Context& ctx, std::string_view command, std::string_view type,
                 const std::string& input, const std::string& key_path,
                 const PassphraseSource& pass, const std::string& out,
                 const std::function<Status(std::string_view)>& check) {
  auto key = LoadSigningKey(key_path, pass);
  if (!key.ok()) return Fail(ctx, command, key.status());
  auto text = ReadInput(input, keys::kMaxEnvelopeBytes);
  if (!text.ok()) return Fail(ctx, command, text.status());
  keys::Envelope env;
  auto existing = keys::Envelope::Parse(*text);
  if (existing.ok()) {
    if (existing->payload_type != type) {
      return Fail(
          ctx, command,
          Status::PermissionDenied("envelope holds " + existing->payload_type +
                                   ", not " + std::string(type)));
    }
    Status s = check(existing->payload);
    if (!s.ok()) return Fail(ctx, command, s);
    env = std::move(*existing);
    s = keys::AddSignature(env, *key);
    if (!s.ok()) return Fail(ctx, command, s);
  } else {
    Status s = check(*text);
    if (!s.ok()) return Fail(ctx, command, s.Within(input));
    env = keys::SignEnvelope(type, *text, *key);
  }
  if (out.empty()) {
    ctx.out << env.Serialize();
  } else {
    Status s = WriteFileAtomic(out, env.Serialize(), 0644, Overwrite::kReplace);
    if (!s.ok()) return Fail(ctx, command, s);
    ctx.err << "signed by " << key->name() << " (" << env.signatures.size()
            << " signature(s)); wrote " << out << "\n";
  }
  return kExitOk;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

void PrintTrust(Context& ctx, const TrustRoot& t) {
  ctx.out << "trust root version " << t.version() << ", expires "
          << policy::FormatRfc3339Seconds(t.expires()) << "\n"
          << "sha256: " << t.digest() << "\n"
          << "thresholds: trust_change " << t.thresholds().trust_change
          << ", scope_grant " << t.thresholds().scope_grant << ", revocation "
          << t.thresholds().revocation << "\n";
  for (const auto& o : t.owners()) {
    ctx.out << "owner   " << o.name << " <" << o.contact << ">, "
            << o.keys.size() << " key(s)\n";
  }
  for (const auto& a : t.auditors()) {
    ctx.out << "auditor " << a.name << " <" << a.contact << ">\n";
  }
  for (const auto& a : t.agents()) {
    ctx.out << "agent   " << a.id << " (key " << a.key.key_id().substr(0, 16)
            << "), owner " << a.owner << ", backup " << a.backup_owner << "\n";
  }
}

void PrintScope(Context& ctx, const policy::ScopeManifest& s) {
  ctx.out << "scope for " << s.agent() << ", version " << s.version()
          << ", valid " << policy::FormatRfc3339Seconds(s.not_before())
          << " to " << policy::FormatRfc3339Seconds(s.expires()) << "\n"
          << "sha256: " << s.digest() << "\n";
  if (!s.signed_by().empty()) {
    ctx.out << "signed by: " << Join(s.signed_by()) << "\n";
  }
  for (const auto& g : s.grants()) {
    ctx.out << "grant  " << g.id << ": " << Join(g.operations) << " on "
            << g.target << (g.needs_approval ? " (needs approval)" : "")
            << (g.per_hour ? ", " + std::to_string(*g.per_hour) + "/hour" : "")
            << "\n";
  }
  for (const auto& f : s.forbids()) {
    ctx.out << "forbid " << f.id << ": " << Join(f.operations) << " on "
            << f.target << "\n";
  }
  if (s.actions_per_hour()) {
    ctx.out << "limit  " << *s.actions_per_hour() << " actions/hour\n";
  }
  if (s.deletions_per_day()) {
    ctx.out << "limit  " << *s.deletions_per_day() << " deletions/day\n";
  }
  if (!s.windows().empty()) {
    ctx.out << "windows: " << s.windows().size() << " (UTC)\n";
  }
}

struct SignOpts {
  std::string input;
  std::string key;
  std::string out;
  PassphraseSource pass;
};

void AddSignCommand(CLI::App* parent, Context& ctx, const std::string& what,
                    std::string_view type,
                    std::function<Status(std::string_view)> check) {
  auto o = std::make_shared<SignOpts>();
  auto* c = parent->add_subcommand(
      "sign", "Sign a " + what +
                  " payload into a DSSE envelope, or add your signature to "
                  "an envelope (co-signing)");
  c->add_option("INPUT", o->input, "Payload JSON or envelope, - for stdin")
      ->required();
  c->add_option("--key", o->key, "Your private key")->required();
  c->add_option("--out", o->out, "Write the envelope here (default stdout)");
  o->pass.AddOptions(c, "Accept an UNENCRYPTED key (tests and examples only)");
  std::string command = what + " sign";
  c->callback([&ctx, o, command, type, check] {
    ctx.action = [&ctx, o, command, type, check] {
      return SignDocument(ctx, command, type, o->input, o->key, o->pass, o->out,
                          check);
    };
  });
}

}  // namespace

void RegisterPolicyCommands(CLI::App& app, Context& ctx) {
  // --- trust ---------------------------------------------------------------
  auto* trust = app.add_subcommand(
      "trust", "The trust root: owners, auditors, agents, thresholds");
  trust->require_subcommand(1);

  auto init_in = std::make_shared<std::string>();
  auto* ti = trust->add_subcommand(
      "init", "Check a trust root payload and print the digest to pin");
  ti->add_option("PAYLOAD", *init_in, "Trust root JSON")->required();
  ti->callback([&ctx, init_in] {
    ctx.action = [&ctx, init_in]() -> int {
      auto text = ReadInput(*init_in, policy::kMaxTrustRootBytes);
      if (!text.ok()) return Fail(ctx, "trust init", text.status());
      auto root = TrustRoot::ParsePayload(*text);
      if (!root.ok()) {
        return Fail(ctx, "trust init", root.status().Within(*init_in));
      }
      PrintTrust(ctx, *root);
      ctx.out << "next: owners sign it (deputy trust sign), the operator "
                 "pins this digest (deputy trust pin)\n";
      return kExitOk;
    };
  });

  AddSignCommand(trust, ctx, "trust", policy::kTrustRootType,
                 [](std::string_view payload) {
                   return TrustRoot::ParsePayload(payload).status();
                 });

  struct TrustVerifyOpts {
    std::string envelope, pin, previous, previous_pin, at;
  };
  auto tv = std::make_shared<TrustVerifyOpts>();
  auto* tvc = trust->add_subcommand(
      "verify",
      "Verify a trust root against its pin, or as an update of a previous "
      "one (exit 0 valid, 1 invalid, 2 usage)");
  tvc->add_option("ENVELOPE", tv->envelope, "Signed trust root")->required();
  tvc->add_option("--pin", tv->pin,
                  "SHA-256 of the (first) trust root payload, or @FILE")
      ->required();
  tvc->add_option("--previous", tv->previous,
                  "The current trust root; ENVELOPE is then its update and "
                  "--pin pins the previous one");
  tvc->add_option("--at", tv->at, "Verify as of this time (RFC 3339)");
  tvc->callback([&ctx, tv] {
    ctx.action = [&ctx, tv]() -> int {
      auto now = TimeOption(tv->at);
      if (!now.ok()) return Fail(ctx, "trust verify", now.status());
      auto invalid = [&](const Status& s) {
        ctx.err << "invalid: " << s.message() << "\n";
        return kExitFailure;
      };
      if (tv->previous.empty()) {
        auto root = LoadTrust(tv->envelope, tv->pin, *now);
        if (!root.ok()) return invalid(root.status());
        PrintTrust(ctx, *root);
        return kExitOk;
      }
      auto current = LoadTrust(tv->previous, tv->pin, *now);
      if (!current.ok()) return invalid(current.status());
      auto env = LoadEnvelope(tv->envelope);
      if (!env.ok()) return invalid(env.status());
      auto next = TrustRoot::VerifyUpdate(*current, *env, *now);
      if (!next.ok()) return invalid(next.status());
      PrintTrust(ctx, *next);
      ctx.out << "valid update of version " << current->version() << "\n";
      return kExitOk;
    };
  });

  struct PinOpts {
    std::string envelope, sha256, out;
  };
  auto po = std::make_shared<PinOpts>();
  auto* tp = trust->add_subcommand(
      "pin",
      "Pin the first trust root: check it has the digest you were given out "
      "of band and its owners' signatures, then write the pin file");
  tp->add_option("ENVELOPE", po->envelope, "Signed trust root")->required();
  tp->add_option("--sha256", po->sha256,
                 "The digest you expect (from deputy trust init, confirmed "
                 "with the owners)")
      ->required();
  tp->add_option("--out", po->out, "Pin file to write")->required();
  tp->callback([&ctx, po] {
    ctx.action = [&ctx, po]() -> int {
      auto root = LoadTrust(po->envelope, po->sha256, NowMicros());
      if (!root.ok()) return Fail(ctx, "trust pin", root.status());
      Status s = WriteFileAtomic(po->out, root->digest() + "\n", 0644,
                                 Overwrite::kReplace);
      if (!s.ok()) return Fail(ctx, "trust pin", s);
      ctx.out << "pinned trust root version " << root->version() << " ("
              << root->digest() << ") in " << po->out << "\n";
      return kExitOk;
    };
  });

  // --- scope -----------------------------------------------------------------
  auto* scope = app.add_subcommand(
      "scope", "Scope manifests: what an agent may do, signed by owners");
  scope->require_subcommand(1);

  struct NewOpts {
    std::string agent;
    std::int64_t version = 1;
    int days = 90;
  };
  auto no = std::make_shared<NewOpts>();
  auto* sn = scope->add_subcommand(
      "new", "Print a scope manifest template to edit, valid from now");
  sn->add_option("--agent", no->agent, "Agent id")->required();
  sn->add_option("--version", no->version, "Version (above every earlier one)")
      ->check(CLI::PositiveNumber);
  sn->add_option("--days", no->days, "Validity in days (default 90)")
      ->check(CLI::Range(1, 366));
  sn->callback([&ctx, no] {
    ctx.action = [&ctx, no]() -> int {
      std::int64_t now = NowMicros() / 1000000 * 1000000;
      nlohmann::json j = {
          {"agent", no->agent},
          {"version", no->version},
          {"not_before", policy::FormatRfc3339Seconds(now)},
          {"expires", policy::FormatRfc3339Seconds(
                          now + std::int64_t{no->days} * 86400 * 1000000)},
          {"grants",
           {{{"id", "ldap-leavers"},
             {"target", "ldap"},
             {"operations", {"disable", "remove_member"}},
             {"resources", {{"subtree", "ou=people,dc=example,dc=org"}}},
             {"approval", "none"}}}},
          {"forbid", nlohmann::json::array()},
          {"limits", {{"actions_per_hour", 500}, {"deletions_per_day", 50}}}};
      ctx.out << j.dump(2) << "\n";
      return kExitOk;
    };
  });

  AddSignCommand(scope, ctx, "scope", policy::kScopeType,
                 [](std::string_view payload) {
                   return policy::ScopeManifest::ParsePayload(payload).status();
                 });

  struct ScopeVerifyOpts {
    std::string envelope, trust, pin, agent, state, at;
  };
  auto sv = std::make_shared<ScopeVerifyOpts>();
  auto* svc = scope->add_subcommand(
      "verify",
      "Verify a signed scope for an agent: owners' threshold, validity, "
      "version above the high-water mark (exit 0 valid, 1 invalid, 2 usage)");
  svc->add_option("ENVELOPE", sv->envelope, "Signed scope")->required();
  svc->add_option("--trust", sv->trust, "Signed trust root")->required();
  svc->add_option("--pin", sv->pin, "Trust root pin (hex or @FILE)")
      ->required();
  svc->add_option("--agent", sv->agent, "Agent id")->required();
  svc->add_option("--state", sv->state,
                  "Policy state file (high-water mark, revocations)");
  svc->add_option("--at", sv->at, "Verify as of this time (RFC 3339)");
  svc->callback([&ctx, sv] {
    ctx.action = [&ctx, sv]() -> int {
      auto now = TimeOption(sv->at);
      if (!now.ok()) return Fail(ctx, "scope verify", now.status());
      auto invalid = [&](const Status& s) {
        ctx.err << "invalid: " << s.message() << "\n";
        return kExitFailure;
      };
      auto trust_root = LoadTrust(sv->trust, sv->pin, *now);
      if (!trust_root.ok()) return invalid(trust_root.status());
      std::int64_t highest = 0;
      std::optional<policy::PolicyState> state;
      if (!sv->state.empty()) {
        auto st = policy::PolicyState::Load(sv->state);
        if (!st.ok()) return Fail(ctx, "scope verify", st.status());
        highest = st->highest_scope_version();
        state = std::move(*st);
      }
      auto env = LoadEnvelope(sv->envelope);
      if (!env.ok()) return invalid(env.status());
      auto manifest = policy::ScopeManifest::Verify(*env, *trust_root,
                                                    sv->agent, highest, *now);
      if (!manifest.ok()) return invalid(manifest.status());
      if (state && state->IsRevoked(manifest->version())) {
        return invalid(Status::PermissionDenied(
            "scope version " + std::to_string(manifest->version()) +
            " was revoked"));
      }
      PrintScope(ctx, *manifest);
      ctx.out << "valid\n";
      return kExitOk;
    };
  });

  auto show_in = std::make_shared<std::string>();
  auto* ss = scope->add_subcommand(
      "show",
      "Summarise a scope payload or envelope (signatures not "
      "checked: use scope verify)");
  ss->add_option("INPUT", *show_in, "Payload or envelope")->required();
  ss->callback([&ctx, show_in] {
    ctx.action = [&ctx, show_in]() -> int {
      auto text = ReadInput(*show_in, keys::kMaxEnvelopeBytes);
      if (!text.ok()) return Fail(ctx, "scope show", text.status());
      std::string payload = *text;
      if (auto env = keys::Envelope::Parse(*text); env.ok()) {
        payload = env->payload;
        ctx.out << "(envelope with " << env->signatures.size()
                << " signature(s), not verified)\n";
      }
      auto manifest = policy::ScopeManifest::ParsePayload(payload);
      if (!manifest.ok()) {
        return Fail(ctx, "scope show", manifest.status().Within(*show_in));
      }
      PrintScope(ctx, *manifest);
      return kExitOk;
    };
  });

  struct RevokeOpts {
    std::string agent, reason, key, out;
    std::int64_t version = 0;
    bool all = false;
    PassphraseSource pass;
  };
  auto ro = std::make_shared<RevokeOpts>();
  auto* sr = scope->add_subcommand(
      "revoke",
      "Revoke one scope version or all of them (any single owner); the "
      "agent stops at its next decision");
  sr->add_option("--agent", ro->agent, "Agent id")->required();
  auto* ver = sr->add_option("--version", ro->version, "Scope version")
                  ->check(CLI::PositiveNumber);
  auto* all = sr->add_flag("--all", ro->all, "Every version accepted so far");
  ver->excludes(all);
  sr->add_option("--reason", ro->reason, "Why (recorded)")->required();
  sr->add_option("--key", ro->key, "Your private key (an owner's)")->required();
  sr->add_option("--out", ro->out, "Write the revocation here");
  ro->pass.AddOptions(sr,
                      "Accept an UNENCRYPTED key (tests and examples only)");
  sr->callback([&ctx, ro] {
    ctx.action = [&ctx, ro]() -> int {
      if (!ro->all && ro->version == 0) {
        ctx.err << "deputy scope revoke: give --version N or --all\n";
        return kExitUsage;
      }
      nlohmann::json j = {{"agent", ro->agent},
                          {"reason", ro->reason},
                          {"issued", policy::FormatRfc3339Seconds(
                                         NowMicros() / 1000000 * 1000000)}};
      if (ro->all) {
        j["scope_version"] = "all";
      } else {
        j["scope_version"] = ro->version;
      }
      auto key = LoadSigningKey(ro->key, ro->pass);
      if (!key.ok()) return Fail(ctx, "scope revoke", key.status());
      keys::Envelope env =
          keys::SignEnvelope(policy::kRevocationType, j.dump(), *key);
      if (ro->out.empty()) {
        ctx.out << env.Serialize();
        return kExitOk;
      }
      Status s =
          WriteFileAtomic(ro->out, env.Serialize(), 0644, Overwrite::kReplace);
      if (!s.ok()) return Fail(ctx, "scope revoke", s);
      ctx.err << "wrote revocation to " << ro->out << "\n";
      return kExitOk;
    };
  });

  // --- approve ---------------------------------------------------------------
  struct ApproveOpts {
    std::string action, key, approver, out;
    int minutes = 60;
    PassphraseSource pass;
  };
  auto ao = std::make_shared<ApproveOpts>();
  auto* ap = app.add_subcommand(
      "approve",
      "As an owner, approve one exact action (signed, bound to its digest, "
      "single use, expiring)");
  ap->add_option("--action", ao->action, "The action JSON to approve")
      ->required();
  ap->add_option("--key", ao->key, "Your private key (an owner's)")->required();
  ap->add_option("--expires-in", ao->minutes,
                 "Minutes until the approval expires (default 60)")
      ->check(CLI::Range(1, 7 * 24 * 60));
  ap->add_option("--out", ao->out, "Write the approval here");
  ao->pass.AddOptions(ap,
                      "Accept an UNENCRYPTED key (tests and examples only)");
  ap->callback([&ctx, ao] {
    ctx.action = [&ctx, ao]() -> int {
      auto text = ReadInput(ao->action, json::kDefaultMaxBytes);
      if (!text.ok()) return Fail(ctx, "approve", text.status());
      auto doc = json::ParseStrict(*text);
      if (!doc.ok())
        return Fail(ctx, "approve", doc.status().Within(ao->action));
      auto action = policy::Action::FromJson(*doc);
      if (!action.ok()) {
        return Fail(ctx, "approve", action.status().Within(ao->action));
      }
      if (action->task.empty()) {
        return Fail(ctx, "approve",
                    Status::Invalid("the action names no task (ticket): an "
                                    "approval is bound to one ticket"));
      }
      auto key = LoadSigningKey(ao->key, ao->pass);
      if (!key.ok()) return Fail(ctx, "approve", key.status());
      std::int64_t now = NowMicros() / 1000000 * 1000000;
      std::string approver = ao->approver.empty() ? key->name() : ao->approver;
      nlohmann::json j = {
          {"action_digest", action->Digest()},
          {"approver", approver},
          {"ticket", action->task},
          {"expires", policy::FormatRfc3339Seconds(
                          now + std::int64_t{ao->minutes} * 60 * 1000000)}};
      keys::Envelope env =
          keys::SignEnvelope(policy::kApprovalType, j.dump(), *key);
      if (ao->out.empty()) {
        ctx.out << env.Serialize();
      } else {
        Status s = WriteFileAtomic(ao->out, env.Serialize(), 0644,
                                   Overwrite::kReplace);
        if (!s.ok()) return Fail(ctx, "approve", s);
      }
      ctx.err << approver << " approved " << action->operation << " on "
              << action->target << " " << action->resource << " for ticket "
              << action->task << " until " << j["expires"].get<std::string>()
              << "\n";
      return kExitOk;
    };
  });

  // --- gate explain
  // ------------------------------------------------------------
  auto* gate = app.add_subcommand("gate", "The policy gate");
  gate->require_subcommand(1);
  struct ExplainOpts {
    std::string trust, pin, scope, action, agent = "agent-1", at, counters,
                                           approval, state;
    bool json = false;
    bool record = false;
  };
  auto eo = std::make_shared<ExplainOpts>();
  auto* ge = gate->add_subcommand(
      "explain",
      "Dry run: decide one action against a signed scope and explain why "
      "(exit 0 allow, 1 deny or needs approval, 2 usage)");
  ge->add_option("--trust", eo->trust, "Signed trust root")->required();
  ge->add_option("--pin", eo->pin, "Trust root pin (hex or @FILE)")->required();
  ge->add_option("--scope", eo->scope, "Signed scope manifest")->required();
  ge->add_option("--action", eo->action, "Action JSON")->required();
  ge->add_option("--agent", eo->agent, "Agent id (default agent-1)");
  ge->add_option("--at", eo->at, "Decide as of this time (RFC 3339)");
  ge->add_option("--counters", eo->counters, "Usage counters JSON");
  ge->add_option("--approval", eo->approval, "A signed approval");
  ge->add_option("--state", eo->state, "Policy state file");
  ge->add_flag("--json", eo->json, "Machine-readable decision");
  ge->add_flag("--record", eo->record,
               "Print the replayable decision record (the payload of a "
               "gate.decision log entry: decision and all its inputs)");
  ge->callback([&ctx, eo] {
    ctx.action = [&ctx, eo]() -> int {
      auto now = TimeOption(eo->at);
      if (!now.ok()) return Fail(ctx, "gate explain", now.status());
      auto trust_root = LoadTrust(eo->trust, eo->pin, *now);
      if (!trust_root.ok())
        return Fail(ctx, "gate explain", trust_root.status());
      std::optional<policy::PolicyState> state;
      if (!eo->state.empty()) {
        auto st = policy::PolicyState::Load(eo->state);
        if (!st.ok()) return Fail(ctx, "gate explain", st.status());
        state = std::move(*st);
      }
      auto env = LoadEnvelope(eo->scope);
      if (!env.ok()) return Fail(ctx, "gate explain", env.status());
      // Signatures, agent and schema are checked as of a moment inside the
      // scope's validity, so that an expired or not-yet-valid scope still
      // reaches the gate and the explanation says so.
      auto payload_only = policy::ScopeManifest::ParsePayload(env->payload);
      if (!payload_only.ok()) {
        return Fail(ctx, "gate explain", payload_only.status());
      }
      std::int64_t check_at = std::clamp(*now, payload_only->not_before(),
                                         payload_only->expires() - 1);
      auto manifest = policy::ScopeManifest::Verify(*env, *trust_root,
                                                    eo->agent, 0, check_at);
      if (!manifest.ok()) return Fail(ctx, "gate explain", manifest.status());
      auto text = ReadInput(eo->action, json::kDefaultMaxBytes);
      if (!text.ok()) return Fail(ctx, "gate explain", text.status());
      auto doc = json::ParseStrict(*text);
      if (!doc.ok()) return Fail(ctx, "gate explain", doc.status());
      auto action = policy::Action::FromJson(*doc);
      if (!action.ok()) {
        return Fail(ctx, "gate explain", action.status().Within(eo->action));
      }
      policy::DecisionContext dc;
      dc.now_micros = *now;
      if (!eo->counters.empty()) {
        auto ct = ReadInput(eo->counters, json::kDefaultMaxBytes);
        if (!ct.ok()) return Fail(ctx, "gate explain", ct.status());
        auto cj = json::ParseStrict(*ct);
        if (!cj.ok()) return Fail(ctx, "gate explain", cj.status());
        auto counters = policy::Counters::FromJson(*cj);
        if (!counters.ok()) return Fail(ctx, "gate explain", counters.status());
        dc.counters = *counters;
      }
      std::optional<policy::Approval> approval;
      if (!eo->approval.empty()) {
        auto aenv = LoadEnvelope(eo->approval);
        if (!aenv.ok()) return Fail(ctx, "gate explain", aenv.status());
        auto a = policy::Approval::Verify(*aenv, *trust_root);
        if (!a.ok()) return Fail(ctx, "gate explain", a.status());
        approval = *a;
        dc.approval = &*approval;
        dc.approval_used =
            state && state->ApprovalUsed(approval->envelope_digest);
      }
      dc.scope_revoked = state && state->IsRevoked(manifest->version());
      auto g = policy::Gate::Create(*trust_root, eo->agent, &*manifest);
      if (!g.ok()) return Fail(ctx, "gate explain", g.status());
      policy::Decision d = g->Decide(*action, dc);
      if (eo->record) {
        ctx.out << policy::DecisionRecord(*action, dc, d).dump() << "\n";
      } else if (eo->json) {
        ctx.out << d.ToJson().dump(2) << "\n";
      } else {
        ctx.out << d.Explain(*action);
      }
      return d.effect == policy::Effect::kAllow ? kExitOk : kExitFailure;
    };
  });
}

}  // namespace deputy::cli
