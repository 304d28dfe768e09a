// deputy log init|append|verify|show|prove|verify-proof|witness.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "agent/cli.h"
#include "agent/cli_util.h"
#include "agent/decision_replay.h"
#include "agent/evidence/log.h"
#include "agent/evidence/note.h"
#include "agent/evidence/segments.h"
#include "agent/evidence/verifier.h"
#include "agent/receipt.h"
#include "base/strict_json.h"
#include "policy/scope.h"
#include "policy/trust_root.h"

namespace deputy::cli {
namespace {

using evidence::Checkpoint;
using evidence::SignedNote;

// `--trust` names either the agent's public key file, or the signed trust
// root (then `--pin` is required and the agent's key is taken from it, for
// `--agent` or the root's only agent).
struct TrustOptions {
  std::string trust;
  std::string pin;
  std::string agent;
  void Add(CLI::App* cmd) {
    cmd->add_option("--trust", trust,
                    "The signed trust root (with --pin), or the agent's "
                    "public key file")
        ->required();
    cmd->add_option("--pin", pin,
                    "The trust root's pinned SHA-256 (hex or @FILE)");
    cmd->add_option("--agent", agent,
                    "The agent whose log this is (default: the trust root's "
                    "only agent)");
  }
};

Result<keys::PublicKey> LoadTrust(
    const TrustOptions& o,
    std::optional<policy::TrustRoot>* root_out = nullptr) {
  ASSIGN_OR_RETURN(std::string text,
                   ReadFileBounded(o.trust, keys::kMaxEnvelopeBytes));
  if (text.rfind("ed25519 ", 0) == 0) {
    auto key = keys::PublicKey::Parse(text);
    if (!key.ok()) return key.status().Within(o.trust);
    return key;
  }
  if (o.pin.empty()) {
    return Status::Invalid("--trust " + o.trust +
                           " is a trust root: give its --pin");
  }
  auto env = keys::Envelope::Parse(text);
  if (!env.ok()) return env.status().Within(o.trust);
  ASSIGN_OR_RETURN(std::string pin, ReadPin(o.pin));
  // An auditor verifies old logs: the root is checked as of its own
  // validity, not of today.
  auto payload = policy::TrustRoot::ParsePayload(env->payload);
  if (!payload.ok()) return payload.status().Within(o.trust);
  auto root =
      policy::TrustRoot::VerifyPinned(*env, pin, payload->expires() - 1);
  if (!root.ok()) return root.status().Within(o.trust);
  const policy::AgentIdentity* agent = nullptr;
  if (!o.agent.empty()) {
    agent = root->FindAgent(o.agent);
  } else if (root->agents().size() == 1) {
    agent = &root->agents()[0];
  }
  if (agent == nullptr) {
    return Status::NotFound(
        o.agent.empty() ? "the trust root lists several agents: "
                          "give --agent"
                        : "agent " + o.agent + " is not in the trust root");
  }
  keys::PublicKey key = agent->key;
  if (root_out != nullptr) *root_out = std::move(*root);
  return key;
}

// --- log init ---------------------------------------------------------------

int LogInit(Context& ctx, const std::string& dir, const std::string& origin) {
  Status s = evidence::EvidenceLog::Create(dir, origin);
  if (!s.ok()) return Fail(ctx, "log init", s);
  ctx.out << "created evidence log " << dir << " (origin " << origin << ")\n";
  return kExitOk;
}

// --- log append -------------------------------------------------------------

struct AppendOptions {
  std::string dir;
  std::string key;
  PassphraseSource passphrase;
  std::string kind;
  std::string actor;
  std::string owner;
  std::string task;
  std::string action;
  std::string payload = "{}";
  std::uint64_t count = 1;
  bool checkpoint = false;
};

int LogAppend(Context& ctx, const AppendOptions& o) {
  auto key = LoadSigningKey(o.key, o.passphrase);
  if (!key.ok()) return Fail(ctx, "log append", key.status());
  std::string payload_text = o.payload;
  if (!payload_text.empty() && payload_text[0] == '@') {
    auto text = ReadInput(payload_text.substr(1), evidence::kMaxEntryBytes);
    if (!text.ok()) return Fail(ctx, "log append", text.status());
    payload_text = *text;
  }
  auto payload = json::ParseStrict(payload_text);
  if (!payload.ok()) {
    return Fail(ctx, "log append", payload.status().Within("--payload"));
  }
  evidence::SystemClock clock;
  auto log = evidence::EvidenceLog::Open(o.dir, *key, o.actor, o.owner, clock);
  if (!log.ok()) return Fail(ctx, "log append", log.status());
  if ((*log)->recovery().cut_bytes > 0) {
    ctx.err << "deputy log append: recovered: cut "
            << (*log)->recovery().cut_bytes << " bytes of a torn final line"
            << " from " << (*log)->recovery().cut_segment
            << " (recorded as log.recovered)\n";
  }
  evidence::EntryDraft draft{o.kind,       o.actor,      o.owner,
                             std::nullopt, std::nullopt, std::move(*payload)};
  if (!o.task.empty()) draft.task = o.task;
  if (!o.action.empty()) draft.action = o.action;
  std::uint64_t first = 0;
  for (std::uint64_t i = 0; i < o.count; ++i) {
    auto a =
        (*log)->Append(draft, i + 1 == o.count ? evidence::Durability::kSync
                                               : evidence::Durability::kAsync);
    if (!a.ok()) return Fail(ctx, "log append", a.status());
    if (i == 0) first = a->seq;
  }
  if (o.checkpoint) {
    auto note = (*log)->CheckpointNow();
    if (!note.ok()) return Fail(ctx, "log append", note.status());
  }
  Status s = (*log)->Close();
  if (!s.ok()) return Fail(ctx, "log append", s);
  ctx.out << "appended seq " << first;
  if (o.count > 1) ctx.out << ".." << first + o.count - 1;
  ctx.out << " (durable)\n";
  return kExitOk;
}

// --- log verify -------------------------------------------------------------

struct VerifyLogOptions {
  std::string dir;
  TrustOptions trust;
  std::vector<std::string> scopes;
  std::vector<std::string> checkpoints;
  std::vector<std::string> witness_keys;
  bool json = false;
  bool integrity_only = false;
};

int LogVerify(Context& ctx, const VerifyLogOptions& o) {
  std::optional<policy::TrustRoot> root;
  auto agent = LoadTrust(o.trust, &root);
  if (!agent.ok()) return Fail(ctx, "log verify", agent.status());
  auto origin = evidence::ReadLogOrigin(evidence::LogLayout{o.dir});
  if (!origin.ok()) return Fail(ctx, "log verify", origin.status());
  std::vector<keys::PublicKey> witnesses;
  for (const auto& path : o.witness_keys) {
    auto w = keys::PublicKey::LoadFile(path);
    if (!w.ok()) return Fail(ctx, "log verify", w.status());
    witnesses.push_back(*w);
  }
  evidence::VerifyOptions options;
  options.agent_key = &*agent;
  if (!o.integrity_only) options.rules = evidence::DefaultRules();
  if (!o.scopes.empty()) {
    if (!root) {
      return Fail(ctx, "log verify",
                  Status::Invalid("--scope needs --trust to be the signed "
                                  "trust root (with --pin)"));
    }
    // Each signed scope the agent ran under, checked as of its own
    // validity; decisions made under it are replayed.
    std::map<std::string, policy::Gate> gates;
    for (const auto& path : o.scopes) {
      auto text = ReadFileBounded(path, keys::kMaxEnvelopeBytes);
      if (!text.ok()) return Fail(ctx, "log verify", text.status());
      auto env = keys::Envelope::Parse(*text);
      if (!env.ok()) return Fail(ctx, "log verify", env.status().Within(path));
      auto payload = policy::ScopeManifest::ParsePayload(env->payload);
      if (!payload.ok()) {
        return Fail(ctx, "log verify", payload.status().Within(path));
      }
      auto scope = policy::ScopeManifest::Verify(*env, *root, payload->agent(),
                                                 0, payload->not_before());
      if (!scope.ok()) {
        return Fail(ctx, "log verify", scope.status().Within(path));
      }
      auto gate = policy::Gate::Create(*root, scope->agent(), &*scope);
      if (!gate.ok()) return Fail(ctx, "log verify", gate.status());
      gates.emplace(scope->digest(), std::move(*gate));
    }
    options.rules.push_back(
        std::make_unique<agent::DecisionReplayRule>(std::move(gates)));
  }
  auto report_invalid = [&](const evidence::VerifyFailure& f) {
    if (o.json) {
      nlohmann::json j = {{"valid", false},
                          {"failure",
                           {{"rule", f.rule},
                            {"file", f.file},
                            {"offset", f.offset},
                            {"message", f.message}}}};
      if (f.seq) j["failure"]["seq"] = *f.seq;
      ctx.out << j.dump(2) << "\n";
    } else {
      ctx.err << "invalid: " << f.ToString() << "\n";
    }
    return kExitFailure;
  };
  for (const auto& path : o.checkpoints) {
    SignedNote note;
    auto cp = evidence::ReadSignedCheckpoint(path, *origin, *agent, &note);
    if (!cp.ok()) {
      return report_invalid(
          {"witness-signature", std::nullopt, path, 0, cp.status().message()});
    }
    for (const auto& w : witnesses) {
      auto t = evidence::VerifyCosignature(note, w.name(), w);
      if (!t.ok()) {
        return report_invalid(
            {"witness-signature", std::nullopt, path, 0, t.status().message()});
      }
    }
    options.witnessed.push_back({path, *cp});
  }
  auto result = evidence::VerifyLog(o.dir, options);
  if (!result.ok()) return Fail(ctx, "log verify", result.status());
  if (!result->ok()) return report_invalid(*result->failure);
  if (o.json) {
    nlohmann::json rules = nlohmann::json::array();
    for (const auto& r : options.rules) rules.push_back(r->name());
    ctx.out << nlohmann::json{{"valid", true},
                              {"origin", result->origin},
                              {"entries", result->entries},
                              {"bytes", result->bytes},
                              {"root", Base64Encode(result->tree.Root())},
                              {"checkpoints", result->checkpoints_verified},
                              {"witnessed", result->witnessed_verified},
                              {"unsigned_tail", result->unsigned_tail()},
                              {"rules", rules}}
                   .dump(2)
            << "\n";
  } else {
    ctx.out << "valid: " << result->entries << " entries, "
            << result->checkpoints_verified << " signed checkpoints, "
            << result->witnessed_verified << " witnessed checkpoints"
            << (o.integrity_only ? "; integrity only (no semantic rules)"
                                 : "; rules intent-needs-allow, "
                                   "intent-resolved")
            << (o.scopes.empty() ? "" : ", decision-reproduces") << "\n";
    if (result->unsigned_tail() > 0) {
      ctx.out << "note: the last " << result->unsigned_tail()
              << " entries are chained but not yet covered by a signed "
                 "checkpoint\n";
    }
  }
  return kExitOk;
}

// --- log show ---------------------------------------------------------------

int LogShow(Context& ctx, const std::string& dir, const std::string& task,
            bool as_json) {
  evidence::LogLayout layout{dir};
  auto segments = evidence::ListSegments(layout);
  if (!segments.ok()) return Fail(ctx, "log show", segments.status());
  for (const auto& seg : *segments) {
    auto reader = evidence::LineReader::Open(seg.path);
    if (!reader.ok()) return Fail(ctx, "log show", reader.status());
    std::string_view line;
    std::uint64_t offset;
    while (reader->Next(line, offset)) {
      auto e = evidence::ParseEntry(line);
      if (!e.ok()) {
        return Fail(
            ctx, "log show",
            e.status().Within(seg.path + " byte " + std::to_string(offset)));
      }
      if (!task.empty() && e->task != task) continue;
      if (as_json) {
        ctx.out << line << "\n";
        continue;
      }
      ctx.out << e->seq << "  " << e->time << "  " << e->kind << "  actor "
              << e->actor << "  owner " << e->owner;
      if (e->task) ctx.out << "  task " << *e->task;
      if (e->action) ctx.out << "  action " << *e->action;
      ctx.out << "\n    " << e->payload << "\n";
    }
    if (!reader->status().ok()) {
      return Fail(ctx, "log show", reader->status());
    }
  }
  return kExitOk;
}

// --- log prove / verify-proof -----------------------------------------------

// Reads every leaf hash and the line at `seq`.
Status ReadLeaves(const std::string& dir, std::uint64_t seq,
                  std::vector<evidence::Hash>& leaves, std::string& line_out) {
  auto segments = evidence::ListSegments(evidence::LogLayout{dir});
  if (!segments.ok()) return segments.status();
  for (const auto& seg : *segments) {
    ASSIGN_OR_RETURN(auto reader, evidence::LineReader::Open(seg.path));
    std::string_view line;
    std::uint64_t offset;
    while (reader.Next(line, offset)) {
      if (leaves.size() == seq) line_out.assign(line);
      leaves.push_back(evidence::EntryHash(line));
    }
    RETURN_IF_ERROR(reader.status());
  }
  return Status::Ok();
}

int LogProve(Context& ctx, const std::string& dir, std::uint64_t seq,
             const TrustOptions& trust) {
  auto agent = LoadTrust(trust);
  if (!agent.ok()) return Fail(ctx, "log prove", agent.status());
  evidence::LogLayout layout{dir};
  auto origin = evidence::ReadLogOrigin(layout);
  if (!origin.ok()) return Fail(ctx, "log prove", origin.status());
  auto cps = evidence::ListCheckpoints(layout);
  if (!cps.ok()) return Fail(ctx, "log prove", cps.status());
  // The newest checkpoint that covers the entry.
  const evidence::CheckpointFile* chosen = nullptr;
  for (const auto& c : *cps) {
    if (c.size > seq) chosen = &c;
  }
  if (chosen == nullptr) {
    return Fail(ctx, "log prove",
                Status::NotFound("no signed checkpoint covers seq " +
                                 std::to_string(seq) + " yet"));
  }
  evidence::InclusionProofFile proof;
  auto cp = evidence::ReadSignedCheckpoint(chosen->path, *origin, *agent,
                                           &proof.checkpoint);
  if (!cp.ok()) return Fail(ctx, "log prove", cp.status());
  std::vector<evidence::Hash> leaves;
  std::string line;
  Status s = ReadLeaves(dir, seq, leaves, line);
  if (!s.ok()) return Fail(ctx, "log prove", s);
  if (leaves.size() < cp->size) {
    return Fail(ctx, "log prove",
                Status::DataLoss("log holds fewer entries than its "
                                 "checkpoint: run deputy log verify"));
  }
  if (evidence::RootOf(std::span(leaves).first(cp->size)) != cp->root) {
    return Fail(ctx, "log prove",
                Status::DataLoss("log does not match its checkpoint: run "
                                 "deputy log verify"));
  }
  auto path = evidence::InclusionProof(leaves, seq, cp->size);
  if (!path.ok()) return Fail(ctx, "log prove", path.status());
  proof.index = seq;
  proof.proof = std::move(*path);
  proof.extra = line;  // The entry itself, so the proof stands alone.
  ctx.out << proof.Serialize();
  return kExitOk;
}

int LogVerifyProof(Context& ctx, const std::string& path,
                   const TrustOptions& trust) {
  auto agent = LoadTrust(trust);
  if (!agent.ok()) return Fail(ctx, "log verify-proof", agent.status());
  auto text = ReadInput(path, 16 << 20);
  if (!text.ok()) return Fail(ctx, "log verify-proof", text.status());
  auto invalid = [&](const Status& s) {
    ctx.err << "invalid: " << s.message() << "\n";
    return kExitFailure;
  };
  // A ticket's receipt: every proof in it, against one signed checkpoint.
  if (!text->empty() && (*text)[0] == '{') {
    auto check = agent::VerifyReceipt(*text, *agent);
    if (!check.ok()) return invalid(check.status());
    ctx.out << "valid: receipt of " << check->ticket << " (" << check->outcome
            << "): " << check->entries << " entries and " << check->actions
            << " action outcomes proven in " << check->origin
            << " at tree size " << check->tree_size << ", checkpoint signed by "
            << agent->name() << "\n";
    return kExitOk;
  }
  auto proof = evidence::InclusionProofFile::Parse(*text);
  if (!proof.ok()) return invalid(proof.status());
  auto cp = Checkpoint::ParseBody(proof->checkpoint.text);
  if (!cp.ok()) return invalid(cp.status());
  Status s = evidence::VerifyNote(proof->checkpoint, cp->origin, *agent);
  if (!s.ok()) return invalid(s);
  if (!proof->extra) {
    return invalid(Status::Invalid("proof carries no entry (extra line)"));
  }
  auto entry = evidence::ParseEntry(*proof->extra);
  if (!entry.ok()) return invalid(entry.status().Within("entry"));
  if (entry->seq != proof->index) {
    return invalid(Status::DataLoss(
        "entry has seq " + std::to_string(entry->seq) +
        " but the proof is for index " + std::to_string(proof->index)));
  }
  s = evidence::VerifyInclusion(evidence::EntryHash(*proof->extra),
                                proof->index, cp->size, proof->proof, cp->root);
  if (!s.ok()) return invalid(s);
  ctx.out << "valid: seq " << entry->seq << " (" << entry->kind
          << ") is included in " << cp->origin << " at tree size " << cp->size
          << ", checkpoint signed by " << agent->name() << "\n"
          << *proof->extra << "\n";
  return kExitOk;
}

// --- log witness ------------------------------------------------------------

struct WitnessOptions {
  std::string dir;
  std::string key;
  PassphraseSource passphrase;
  std::string state;
  TrustOptions trust;
};

int LogWitness(Context& ctx, const WitnessOptions& o) {
  auto agent = LoadTrust(o.trust);
  if (!agent.ok()) return Fail(ctx, "log witness", agent.status());
  auto witness = LoadSigningKey(o.key, o.passphrase);
  if (!witness.ok()) return Fail(ctx, "log witness", witness.status());
  const std::string& wname = witness->name();
  Status s = evidence::ValidateNoteKeyName(wname);
  if (!s.ok()) return Fail(ctx, "log witness", s.Within("witness key name"));
  evidence::LogLayout layout{o.dir};
  auto origin = evidence::ReadLogOrigin(layout);
  if (!origin.ok()) return Fail(ctx, "log witness", origin.status());
  auto cps = evidence::ListCheckpoints(layout);
  if (!cps.ok()) return Fail(ctx, "log witness", cps.status());
  if (cps->empty()) {
    return Fail(ctx, "log witness",
                Status::NotFound("the log has no signed checkpoint yet"));
  }
  SignedNote note;
  auto latest =
      evidence::ReadSignedCheckpoint(cps->back().path, *origin, *agent, &note);
  if (!latest.ok()) return Fail(ctx, "log witness", latest.status());
  std::vector<evidence::Hash> leaves;
  std::string unused;
  s = ReadLeaves(o.dir, UINT64_MAX, leaves, unused);
  if (!s.ok()) return Fail(ctx, "log witness", s);
  auto refuse = [&](const std::string& why) {
    ctx.err << "refused: " << why << "\n";
    return kExitFailure;
  };
  if (leaves.size() < latest->size ||
      evidence::RootOf(std::span(leaves).first(latest->size)) != latest->root) {
    return refuse("the log's entries do not match its latest checkpoint");
  }
  if (std::filesystem::exists(o.state)) {
    auto text = ReadFileBounded(o.state, evidence::kMaxNoteBytes);
    if (!text.ok()) return Fail(ctx, "log witness", text.status());
    auto old_note = SignedNote::Parse(*text);
    if (!old_note.ok()) {
      return Fail(ctx, "log witness", old_note.status().Within(o.state));
    }
    auto own =
        evidence::VerifyCosignature(*old_note, wname, witness->public_key());
    if (!own.ok()) {
      return Fail(
          ctx, "log witness",
          own.status().Within(o.state + " (not cosigned by " + wname + ")"));
    }
    auto old_cp = Checkpoint::ParseBody(old_note->text);
    if (!old_cp.ok()) return Fail(ctx, "log witness", old_cp.status());
    if (old_cp->origin != *origin) {
      return refuse("state " + o.state + " is for origin " + old_cp->origin);
    }
    if (latest->size < old_cp->size) {
      return refuse("rollback: the log's latest checkpoint has " +
                    std::to_string(latest->size) +
                    " entries, but this witness already cosigned " +
                    std::to_string(old_cp->size));
    }
    if (old_cp->size > 0) {
      auto proof =
          evidence::ConsistencyProof(leaves, old_cp->size, latest->size);
      if (!proof.ok()) return Fail(ctx, "log witness", proof.status());
      s = evidence::VerifyConsistency(old_cp->size, latest->size, old_cp->root,
                                      latest->root, *proof);
      if (!s.ok()) {
        return refuse(
            "fork: the new checkpoint is not an extension of the "
            "one this witness cosigned (" +
            s.message() + ")");
      }
    }
  }
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  s = evidence::Cosign(note, wname, *witness, static_cast<std::uint64_t>(now));
  if (!s.ok()) return Fail(ctx, "log witness", s);
  s = WriteFileAtomic(o.state, note.Serialize(), 0644, Overwrite::kReplace);
  if (!s.ok()) return Fail(ctx, "log witness", s);
  ctx.out << note.Serialize();
  ctx.err << "cosigned " << *origin << " at size " << latest->size << " as "
          << wname << "; state in " << o.state << "\n";
  return kExitOk;
}

}  // namespace

void RegisterLogCommands(CLI::App& app, Context& ctx) {
  auto* log = app.add_subcommand(
      "log", "The evidence log: create, append, verify, show, prove, witness");
  log->require_subcommand(1);

  auto init = std::make_shared<std::pair<std::string, std::string>>();
  auto* i = log->add_subcommand("init", "Create an empty evidence log");
  i->add_option("DIR", init->first, "Log directory")->required();
  i->add_option("--origin", init->second,
                "Log origin, also the checkpoint key name (no spaces or "
                "'+'), e.g. deputy.example.org/agent-1")
      ->required();
  i->callback([&ctx, init] {
    ctx.action = [&ctx, init] {
      return LogInit(ctx, init->first, init->second);
    };
  });

  auto ap = std::make_shared<AppendOptions>();
  auto* a = log->add_subcommand(
      "append",
      "Append an entry signed into the chain (operators' notes, tests); "
      "the agent appends its own entries");
  a->add_option("DIR", ap->dir, "Log directory")->required();
  a->add_option("--key", ap->key, "The agent's private key (signs checkpoints)")
      ->required();
  ap->passphrase.AddOptions(
      a, "Accept an UNENCRYPTED private key (tests and examples only)");
  a->add_option("--kind", ap->kind, "Entry kind, e.g. operator.note")
      ->required();
  a->add_option("--actor", ap->actor, "Actor (the agent id)")->required();
  a->add_option("--owner", ap->owner, "Accountable human owner")->required();
  a->add_option("--task", ap->task, "Task id");
  a->add_option("--action", ap->action, "Action id");
  a->add_option("--payload", ap->payload,
                "Payload JSON object, or @FILE (default {})");
  a->add_option("--count", ap->count, "Append the entry N times")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100000000}));
  a->add_flag("--checkpoint", ap->checkpoint,
              "Sign a checkpoint after appending");
  a->callback(
      [&ctx, ap] { ctx.action = [&ctx, ap] { return LogAppend(ctx, *ap); }; });

  auto vo = std::make_shared<VerifyLogOptions>();
  auto* v = log->add_subcommand(
      "verify",
      "Verify a log offline: lines, seq, prev links, time, checkpoint "
      "roots and signatures, witnessed checkpoints, semantic rules (exit 0 "
      "valid, 1 invalid naming the first failure, 2 usage)");
  v->add_option("DIR", vo->dir, "Log directory")->required();
  vo->trust.Add(v);
  v->add_option("--scope", vo->scopes,
                "A signed scope the agent ran under: re-run every decision "
                "made under it (needs the trust root; repeatable)");
  v->add_option("--checkpoint", vo->checkpoints,
                "A witnessed checkpoint the log must be consistent with "
                "(repeatable)");
  v->add_option("--witness-key", vo->witness_keys,
                "Require a cosignature by this witness public key on every "
                "--checkpoint (repeatable)");
  v->add_flag("--json", vo->json, "Machine-readable result on stdout");
  v->add_flag("--integrity-only", vo->integrity_only,
              "Skip the semantic rules (hashes, links, roots, signatures "
              "only)");
  v->callback(
      [&ctx, vo] { ctx.action = [&ctx, vo] { return LogVerify(ctx, *vo); }; });

  auto so = std::make_shared<std::tuple<std::string, std::string, bool>>();
  auto* sh = log->add_subcommand("show", "Print entries (no verification)");
  sh->add_option("DIR", std::get<0>(*so), "Log directory")->required();
  sh->add_option("--task", std::get<1>(*so), "Only entries of this task");
  sh->add_flag("--json", std::get<2>(*so), "Print the raw lines");
  sh->callback([&ctx, so] {
    ctx.action = [&ctx, so] {
      return LogShow(ctx, std::get<0>(*so), std::get<1>(*so), std::get<2>(*so));
    };
  });

  auto po =
      std::make_shared<std::tuple<std::string, std::uint64_t, TrustOptions>>();
  auto* p = log->add_subcommand(
      "prove",
      "Print an inclusion proof (C2SP tlog-proof) of one entry with the "
      "newest signed checkpoint covering it");
  p->add_option("DIR", std::get<0>(*po), "Log directory")->required();
  p->add_option("--seq", std::get<1>(*po), "Entry seq")->required();
  std::get<2>(*po).Add(p);
  p->callback([&ctx, po] {
    ctx.action = [&ctx, po] {
      return LogProve(ctx, std::get<0>(*po), std::get<1>(*po),
                      std::get<2>(*po));
    };
  });

  auto vp = std::make_shared<std::pair<std::string, TrustOptions>>();
  auto* x = log->add_subcommand(
      "verify-proof",
      "Verify an inclusion proof offline (exit 0 valid, 1 invalid, 2 usage)");
  x->add_option("PROOF", vp->first, "Proof file, - for stdin")->required();
  vp->second.Add(x);
  x->callback([&ctx, vp] {
    ctx.action = [&ctx, vp] {
      return LogVerifyProof(ctx, vp->first, vp->second);
    };
  });

  auto wo = std::make_shared<WitnessOptions>();
  auto* w = log->add_subcommand(
      "witness",
      "As an auditor: check the log's latest checkpoint is consistent with "
      "the one you cosigned before, then cosign it (C2SP tlog-cosignature)");
  w->add_option("DIR", wo->dir, "Log directory")->required();
  w->add_option("--key", wo->key, "The witness's private key")->required();
  wo->passphrase.AddOptions(
      w, "Accept an UNENCRYPTED private key (tests and examples only)");
  w->add_option("--state", wo->state,
                "The witness's state: its last cosigned checkpoint")
      ->required();
  wo->trust.Add(w);
  w->callback(
      [&ctx, wo] { ctx.action = [&ctx, wo] { return LogWitness(ctx, *wo); }; });
}

}  // namespace deputy::cli
