#include "agent/agent.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <ostream>

#include "agent/evidence/entry.h"
#include "agent/intake.h"
#include "agent/planner.h"
#include "agent/receipt.h"
#include "agent/ticket.h"
#include "base/files.h"
#include "capabilities/protocol/module_main.h"
#include "keys/sha256.h"

namespace deputy::agent {

namespace fs = std::filesystem;
using evidence::Durability;

namespace {

constexpr std::size_t kMaxInboxBytes = 1 << 20;
constexpr std::int64_t kMicrosPerSecond = 1000000;

std::string HashFile(const std::string& path) {
  auto bytes = ReadFileBounded(path, 512u << 20);
  return bytes.ok() ? keys::Sha256Hex(AsBytes(*bytes)) : "";
}

// Fields of a module's state that carry a sealed secret (a new password
// sealed to the ticket's recipient). They are ciphertext, but they are not
// evidence: they go to the receipt only, and the log keeps their hash.
nlohmann::json TakeSealed(nlohmann::json& state) {
  nlohmann::json sealed = nlohmann::json::object();
  if (!state.is_object()) return sealed;
  for (auto it = state.begin(); it != state.end();) {
    if (it.key().rfind("sealed", 0) == 0) {
      sealed[it.key()] = it.value();
      it = state.erase(it);
    } else {
      ++it;
    }
  }
  return sealed;
}

// What a module reports is logged, but never a field that looks like a
// secret (a module might report "password_changed": <time>): such fields
// are dropped and their paths listed under "redacted". True/false flags
// stay, as the log allows them.
nlohmann::json ForLog(const nlohmann::json& v, nlohmann::json& dropped,
                      const std::string& path = "") {
  if (v.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, child] : v.items()) {
      const std::string p = path.empty() ? k : path + "." + k;
      if (evidence::LooksLikeSecretName(k) && !child.is_boolean()) {
        dropped.push_back(p);
        continue;
      }
      out[k] = ForLog(child, dropped, p);
    }
    return out;
  }
  if (v.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i = 0; i < v.size(); ++i) {
      out.push_back(
          ForLog(v[i], dropped, path + "[" + std::to_string(i) + "]"));
    }
    return out;
  }
  return v;
}

nlohmann::json ForLog(const nlohmann::json& v) {
  nlohmann::json dropped = nlohmann::json::array();
  nlohmann::json out = ForLog(v, dropped);
  if (!dropped.empty() && out.is_object()) out["redacted"] = dropped;
  return out;
}

}  // namespace

Agent::Agent(const Config& config, const evidence::Clock& clock,
             AgentOptions options)
    : config_(config), clock_(clock), options_(std::move(options)) {}

Agent::~Agent() {
  RequestStop();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  if (journal_) (void)journal_->Close();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Result<std::unique_ptr<Agent>> Agent::Create(const Config& config,
                                             const evidence::Clock& clock,
                                             AgentOptions options) {
  std::unique_ptr<Agent> agent(new Agent(config, clock, std::move(options)));
  RETURN_IF_ERROR(agent->Start());
  return agent;
}

void Agent::RequestStop() {
  stop_ = true;
  work_cv_.notify_all();
  idle_cv_.notify_all();
}

void Agent::Progress(const std::string& line) {
  if (options_.progress == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  *options_.progress << line << std::endl;
}

void Agent::Fatal(const Status& s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fatal_.ok()) fatal_ = s;
  stop_ = true;
  work_cv_.notify_all();
  idle_cv_.notify_all();
}

// --- Start-up
// -----------------------------------------------------------------

Status Agent::Start() {
  const std::int64_t now = clock_.NowMicros();
  std::error_code ec;
  fs::create_directories(config_.state_dir, ec);
  if (ec)
    return Status::Io("create " + config_.state_dir + ": " + ec.message());

  // One agent per state directory.
  std::string lock_path = config_.state_dir + "/agent.lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return Status::Errno("open " + lock_path, errno);
  // A killed predecessor's last module may hold the lock for a moment
  // while the kernel tears it down: wait a little before refusing.
  bool locked = false;
  for (int i = 0; i < 50 && !locked; ++i) {
    locked = ::flock(lock_fd, LOCK_EX | LOCK_NB) == 0;
    if (!locked) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!locked) {
    ::close(lock_fd);
    return Status::FailedPrecondition(
        "another agent is running with state directory " + config_.state_dir);
  }
  lock_fd_ = lock_fd;  // Released when the agent (or its process) ends.

  // The agent's own key, encrypted at rest.
  {
    std::optional<keys::SecretBytes> pass;
    if (!config_.passphrase_file.empty()) {
      ASSIGN_OR_RETURN(auto p,
                       keys::ReadPassphraseFile(config_.passphrase_file));
      pass.emplace(std::move(p));
    }
    ASSIGN_OR_RETURN(auto key,
                     keys::PrivateKey::LoadFile(
                         config_.key, pass ? pass->view() : std::string_view(),
                         config_.insecure_unencrypted_key
                             ? keys::UnencryptedKeys::kAllowInsecure
                             : keys::UnencryptedKeys::kRefuse));
    key_.emplace(std::move(key));
  }

  // The trust root, pinned by the operator, must list this agent with a
  // human owner and this key.
  {
    ASSIGN_OR_RETURN(
        std::string text,
        ReadFileBounded(config_.trust, policy::kMaxTrustRootBytes * 2));
    ASSIGN_OR_RETURN(auto env, keys::Envelope::Parse(text));
    auto trust = policy::TrustRoot::VerifyPinned(env, config_.trust_pin, now);
    if (!trust.ok())
      return trust.status().Within("trust root " + config_.trust);
    trust_.emplace(std::move(*trust));
  }
  identity_ = trust_->FindAgent(config_.agent);
  if (identity_ == nullptr) {
    return Status::PermissionDenied("the trust root does not list agent \"" +
                                    config_.agent + "\": refusing to start");
  }
  if (trust_->FindOwner(identity_->owner) == nullptr) {
    return Status::PermissionDenied("agent \"" + config_.agent +
                                    "\" has no human owner in the trust root");
  }
  if (identity_->key.key_id() != key_->public_key().key_id()) {
    return Status::PermissionDenied(
        "the agent key " + config_.key + " (" + key_->public_key().key_id() +
        ") is not the key the trust root lists for " + config_.agent + " (" +
        identity_->key.key_id() + ")");
  }

  ASSIGN_OR_RETURN(auto state, policy::PolicyState::Load(config_.state_dir +
                                                         "/policy.json"));
  state_.emplace(std::move(state));

  // The evidence log: verified, torn tail cut, then replayed.
  if (!fs::exists(config_.log_dir + "/log.json")) {
    RETURN_IF_ERROR(
        evidence::EvidenceLog::Create(config_.log_dir, config_.origin));
  }
  ASSIGN_OR_RETURN(auto log, evidence::EvidenceLog::Open(
                                 config_.log_dir, *key_, config_.agent,
                                 identity_->owner, clock_));
  if (log->origin() != config_.origin) {
    return Status::FailedPrecondition("the log in " + config_.log_dir +
                                      " has origin " + log->origin() +
                                      ", not " + config_.origin);
  }
  ASSIGN_OR_RETURN(journal_, Journal::Open(std::move(log), config_.log_dir,
                                           config_.agent, identity_->owner));

  // The modules, each in its sandbox; each must be what the config says.
  if (options_.runner) {
    runner_ = std::move(options_.runner);
  } else {
    ASSIGN_OR_RETURN(auto runner, SandboxRunner::Create(
                                      config_, sandbox::Features::Probe()));
    runner_ = std::move(runner);
  }
  nlohmann::json sandboxes = nlohmann::json::object();
  for (const auto& t : config_.targets) {
    auto d = runner_->Call(t.name, protocol::Op::kDescribe,
                           "describe-" + t.name, nullptr, nullptr);
    if (!d.ok()) return d.status().Within("describe target " + t.name);
    if (!d->response.ok() || !d->response.result->is_object() ||
        d->response.result->value("kind", "") != t.kind) {
      return Status::FailedPrecondition(
          "target " + t.name + ": module " + t.module +
          " does not describe itself as kind \"" + t.kind + "\"");
    }
    sandboxes[t.name] = runner_->DescribeSandbox(t.name);
  }

  RETURN_IF_ERROR(InstallScopeAtStart());

  nlohmann::json weakened = nlohmann::json::array();
  for (auto l : config_.insecure_sandbox_without) {
    weakened.push_back(std::string(sandbox::LayerName(l)));
  }
  const policy::Principal* owner = trust_->FindOwner(identity_->owner);
  nlohmann::json started = {{"binary_sha256", HashFile("/proc/self/exe")},
                            {"config_sha256", config_.sha256},
                            {"trust_version", trust_->version()},
                            {"trust_digest", trust_->digest()},
                            {"owner", identity_->owner},
                            {"owner_contact", owner->contact},
                            {"backup_owner", identity_->backup_owner},
                            {"scope_version", scope_ ? scope_->version() : 0},
                            {"frozen", frozen_},
                            {"workers", config_.workers},
                            {"sandbox", sandboxes},
                            {"insecure_sandbox_without", weakened}};
  ASSIGN_OR_RETURN(auto appended,
                   journal_->Record("agent.started", std::nullopt, std::nullopt,
                                    started, Durability::kSync));
  (void)appended;
  return Status::Ok();
}

Status Agent::InstallScopeAtStart() {
  // Candidates: the configured scope, and one accepted from the inbox
  // earlier (kept in the state directory). The one the log says is
  // installed wins; otherwise the newest that verifies.
  std::vector<keys::Envelope> candidates;
  for (const std::string& path :
       {config_.state_dir + "/scope.json", config_.scope}) {
    auto text = ReadFileBounded(path, policy::kMaxScopeBytes * 2);
    if (!text.ok()) continue;
    auto env = keys::Envelope::Parse(*text, policy::kMaxScopeBytes * 2);
    if (env.ok()) candidates.push_back(std::move(*env));
  }
  const std::string installed = journal_->scope().digest;
  std::stable_sort(candidates.begin(), candidates.end(),
                   [&](const keys::Envelope& a, const keys::Envelope& b) {
                     bool ia = keys::Sha256Hex(AsBytes(a.payload)) == installed;
                     bool ib = keys::Sha256Hex(AsBytes(b.payload)) == installed;
                     return ia && !ib;
                   });
  std::string why = "no scope manifest at " + config_.scope;
  for (const auto& env : candidates) {
    Status s = InstallScope(env, true);
    if (s.ok()) return Status::Ok();
    why = s.message();
  }
  std::lock_guard<std::mutex> lock(policy_mu_);
  ASSIGN_OR_RETURN(auto gate,
                   policy::Gate::Create(*trust_, config_.agent, nullptr));
  gate_.emplace(std::move(gate));
  return Freeze("no valid scope: " + why);
}

Status Agent::InstallScope(const keys::Envelope& env, bool at_start) {
  const std::int64_t now = clock_.NowMicros();
  std::lock_guard<std::mutex> lock(policy_mu_);
  const std::string digest = keys::Sha256Hex(AsBytes(env.payload));
  const bool reinstall = at_start && digest == journal_->scope().digest &&
                         !journal_->scope().revoked;
  std::int64_t highest = state_->highest_scope_version();
  if (reinstall) {
    // The version this agent already accepted: verify it again (expiry,
    // signatures) without tripping over its own high-water mark.
    auto parsed = policy::ScopeManifest::ParsePayload(env.payload);
    if (!parsed.ok()) return parsed.status();
    if (parsed->version() != highest) {
      return Status::PermissionDenied(
          "scope version " + std::to_string(parsed->version()) +
          " is below the highest accepted (" + std::to_string(highest) +
          "): rollback refused");
    }
    highest = parsed->version() - 1;
  }
  ASSIGN_OR_RETURN(auto m, policy::ScopeManifest::Verify(
                               env, *trust_, config_.agent, highest, now));
  if (state_->IsRevoked(m.version())) {
    return Status::PermissionDenied(
        "scope version " + std::to_string(m.version()) + " has been revoked");
  }
  ASSIGN_OR_RETURN(auto gate, policy::Gate::Create(*trust_, config_.agent, &m));
  if (!reinstall) RETURN_IF_ERROR(state_->RecordScopeAccepted(m.version()));
  if (!reinstall) {
    nlohmann::json successors = m.successors();
    nlohmann::json payload = {
        {"version", m.version()},
        {"digest", m.digest()},
        {"signed_by", m.signed_by()},
        {"not_before", policy::FormatRfc3339Seconds(m.not_before())},
        {"expires", policy::FormatRfc3339Seconds(m.expires())},
        {"successors", successors}};
    ASSIGN_OR_RETURN(
        auto a, journal_->Record("scope.installed", std::nullopt, std::nullopt,
                                 payload, Durability::kSync));
    (void)a;
    // Kept so that a restart installs it again.
    RETURN_IF_ERROR(WriteFileAtomic(config_.state_dir + "/scope.json",
                                    env.Serialize(), 0644,
                                    Overwrite::kReplace));
  }
  scope_.emplace(std::move(m));
  gate_.emplace(std::move(gate));
  frozen_.clear();
  return Status::Ok();
}

// Called with policy_mu_ held.
Status Agent::Freeze(const std::string& reason) {
  if (frozen_ == reason) return Status::Ok();
  frozen_ = reason;
  Progress("agent frozen: " + reason);
  auto a = journal_->Record("agent.frozen", std::nullopt, std::nullopt,
                            {{"reason", reason}}, Durability::kSync);
  return a.status();
}

Status Agent::CheckExpiry() {
  const std::int64_t now = clock_.NowMicros();
  std::lock_guard<std::mutex> lock(policy_mu_);
  if (!scope_ || !frozen_.empty()) return Status::Ok();
  if (now >= scope_->expires()) {
    return Freeze("scope version " + std::to_string(scope_->version()) +
                  " expired at " +
                  policy::FormatRfc3339Seconds(scope_->expires()));
  }
  // Ahead of expiry, once per scope version: the owners have time to sign
  // the next one before the agent freezes.
  const std::int64_t left = scope_->expires() - now;
  if (left < config_.expiry_warning_days * 86400 * kMicrosPerSecond &&
      warned_expiry_of_ != scope_->version()) {
    warned_expiry_of_ = scope_->version();
    const std::string when = policy::FormatRfc3339Seconds(scope_->expires());
    Progress("WARNING: scope version " + std::to_string(scope_->version()) +
             " expires at " + when + "; the owners should sign the next one");
    auto r =
        journal_->Record("scope.expiring", std::nullopt, std::nullopt,
                         {{"version", scope_->version()},
                          {"expires", when},
                          {"days_left", left / (86400 * kMicrosPerSecond)}},
                         Durability::kAsync);
    return r.status();
  }
  return Status::Ok();
}

// --- Intake and inbox
// -----------------------------------------------------------

Status Agent::ScanIntake(RunSummary& summary) {
  ASSIGN_OR_RETURN(auto files, ListInbox(config_.intake_dir));
  for (const auto& path : files) {
    if (stop_) break;
    const std::string name = fs::path(path).filename().string();
    auto reject = [&](const std::string& reason) -> Status {
      ++summary.rejected;
      Progress(name + ": rejected: " + reason);
      ASSIGN_OR_RETURN(
          auto a, journal_->Record(
                      "ticket.rejected", std::nullopt, std::nullopt,
                      {{"file", name}, {"reason", reason}}, Durability::kSync));
      (void)a;
      return FileAway(path, config_.intake_dir, "rejected", reason).status();
    };
    auto bytes = ReadFileBounded(path, kMaxTicketBytes);
    if (!bytes.ok()) {
      RETURN_IF_ERROR(reject(bytes.status().message()));
      continue;
    }
    auto ticket = Ticket::Parse(*bytes);
    if (!ticket.ok()) {
      RETURN_IF_ERROR(reject(ticket.status().message()));
      continue;
    }
    const std::string key = ticket->Key();
    if (journal_->Seen(key)) {
      // A second delivery of the same revision: recorded, not executed.
      ASSIGN_OR_RETURN(
          auto a,
          journal_->Record("ticket.duplicate", key, std::nullopt,
                           {{"file", name}, {"ticket_sha256", ticket->sha256}},
                           Durability::kSync));
      (void)a;
      RETURN_IF_ERROR(FileAway(path, config_.intake_dir, "done",
                               "duplicate delivery of " + key +
                                   " (already received; not executed again)")
                          .status());
      Progress(name + ": duplicate delivery of " + key +
               " (recorded, not executed again)");
      continue;
    }
    const std::string done =
        (fs::path(config_.intake_dir) / "done" / name).string();
    ASSIGN_OR_RETURN(auto a,
                     journal_->Record("task.received", key, std::nullopt,
                                      {{"ticket", ticket->ToJson()},
                                       {"ticket_sha256", ticket->sha256},
                                       {"source", done}},
                                      Durability::kSync));
    (void)a;
    RETURN_IF_ERROR(FileAway(path, config_.intake_dir, "done", "").status());
    Progress(key + " " + std::string(TicketTypeName(ticket->type)) + " " +
             ticket->subject.uid + ": received");
  }
  return Status::Ok();
}

Status Agent::ScanInbox() {
  const std::string inbox = config_.state_dir + "/inbox";
  ASSIGN_OR_RETURN(auto files, ListInbox(inbox));
  for (const auto& path : files) {
    const std::string name = fs::path(path).filename().string();
    auto reject = [&](const Status& why) -> Status {
      Progress("inbox " + name + ": rejected: " + why.message());
      ASSIGN_OR_RETURN(
          auto a, journal_->Record("inbox.rejected", std::nullopt, std::nullopt,
                                   {{"file", name}, {"reason", why.message()}},
                                   Durability::kSync));
      (void)a;
      return FileAway(path, inbox, "rejected", why.message()).status();
    };
    auto text = ReadFileBounded(path, kMaxInboxBytes);
    if (!text.ok()) {
      RETURN_IF_ERROR(reject(text.status()));
      continue;
    }
    auto env = keys::Envelope::Parse(*text, kMaxInboxBytes);
    if (!env.ok()) {
      RETURN_IF_ERROR(reject(env.status()));
      continue;
    }
    const std::int64_t now = clock_.NowMicros();
    if (env->payload_type == policy::kApprovalType) {
      auto approval = policy::Approval::Verify(*env, *trust_);
      if (!approval.ok()) {
        RETURN_IF_ERROR(reject(approval.status()));
        continue;
      }
      if (approval->expires <= now) {
        RETURN_IF_ERROR(reject(Status::FailedPrecondition("approval expired")));
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(policy_mu_);
        if (state_->ApprovalUsed(approval->envelope_digest)) {
          RETURN_IF_ERROR(
              reject(Status::AlreadyExists("approval already used once")));
          continue;
        }
        approvals_[approval->action_digest] = *approval;
      }
      ASSIGN_OR_RETURN(
          auto a,
          journal_->Record(
              "approval.received", std::nullopt, std::nullopt,
              {{"approver", approval->approver},
               {"ticket", approval->ticket},
               {"action_digest", approval->action_digest},
               {"envelope_digest", approval->envelope_digest},
               {"expires", policy::FormatRfc3339Seconds(approval->expires)}},
              Durability::kSync));
      (void)a;
      Progress("approval by " + approval->approver + " for ticket " +
               approval->ticket + " received");
    } else if (env->payload_type == policy::kRevocationType) {
      auto rev = policy::Revocation::Verify(*env, *trust_);
      if (!rev.ok()) {
        RETURN_IF_ERROR(reject(rev.status()));
        continue;
      }
      if (rev->agent != config_.agent) {
        RETURN_IF_ERROR(reject(
            Status::PermissionDenied("revocation is for agent " + rev->agent)));
        continue;
      }
      std::lock_guard<std::mutex> lock(policy_mu_);
      RETURN_IF_ERROR(state_->RecordRevocation(*rev));
      nlohmann::json payload = {{"signed_by", rev->signed_by},
                                {"reason", rev->reason}};
      if (rev->all) {
        payload["scope_version"] = "all";
      } else {
        payload["scope_version"] = rev->scope_version;
      }
      ASSIGN_OR_RETURN(
          auto a, journal_->Record("scope.revoked", std::nullopt, std::nullopt,
                                   payload, Durability::kSync));
      (void)a;
      if (scope_ && state_->IsRevoked(scope_->version())) {
        RETURN_IF_ERROR(
            Freeze("scope version " + std::to_string(scope_->version()) +
                   " revoked by " + rev->signed_by +
                   (rev->reason.empty() ? "" : ": " + rev->reason)));
      }
    } else if (env->payload_type == policy::kScopeType) {
      Status s = InstallScope(*env, false);
      if (!s.ok()) {
        RETURN_IF_ERROR(reject(s));
        continue;
      }
      Progress("scope version " + std::to_string(scope_->version()) +
               " installed");
    } else {
      RETURN_IF_ERROR(
          reject(Status::Invalid("unknown document type \"" +
                                 env->payload_type.substr(0, 80) + "\"")));
      continue;
    }
    RETURN_IF_ERROR(FileAway(path, inbox, "processed", "").status());
  }
  return Status::Ok();
}

// --- Scheduling
// -----------------------------------------------------------------

bool Agent::CanProgress(const TaskState& t, bool& waiting) const {
  if (t.phase == TaskPhase::kDone || t.phase == TaskPhase::kFailed) {
    return !t.receipt_written;
  }
  if (t.phase == TaskPhase::kReceived) return !stop_;
  const std::int64_t now = clock_.NowMicros();
  for (const auto& a : t.actions) {
    if (IsFinal(a.phase)) continue;
    if (a.phase == ActionPhase::kIntended || a.phase == ActionPhase::kApplied) {
      return true;  // Recovery or verification: always allowed.
    }
    if (stop_) return false;
    std::lock_guard<std::mutex> lock(policy_mu_);
    if (!frozen_.empty() || a.action.not_before > now) {
      waiting = true;
      return false;
    }
    if (a.phase == ActionPhase::kAwaitingApproval &&
        !approvals_.count(a.approval_digest) &&
        now - a.approval_requested_at <
            config_.approval_wait_seconds * kMicrosPerSecond) {
      waiting = true;
      return false;
    }
    return true;
  }
  return true;  // Every action final: finish the task.
}

std::vector<std::string> Agent::RunnableTasks(bool& any_waiting) {
  std::vector<std::string> out;
  std::set<std::string> blocked_subjects;
  for (const auto& t : journal_->OpenTasks()) {
    bool open =
        t.phase == TaskPhase::kReceived || t.phase == TaskPhase::kPlanned;
    if (!open && t.receipt_written) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (running_.count(t.key)) {
        if (open) blocked_subjects.insert(t.subject);
        continue;
      }
    }
    // Tasks on one subject run in the order they were received.
    if (open && blocked_subjects.count(t.subject)) continue;
    bool waiting = false;
    if (CanProgress(t, waiting)) out.push_back(t.key);
    if (waiting) any_waiting = true;
    if (open) blocked_subjects.insert(t.subject);
  }
  return out;
}

Result<RunSummary> Agent::Run() {
  for (int i = 0; i < config_.workers; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
  RunSummary summary;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!fatal_.ok()) break;
    }
    Status s = ScanInbox();
    if (s.ok()) s = CheckExpiry();
    if (s.ok() && !stop_) s = ScanIntake(summary);
    if (!s.ok()) {
      Fatal(s);
      break;
    }
    bool waiting = false;
    std::vector<std::string> runnable = RunnableTasks(waiting);
    std::unique_lock<std::mutex> lock(mu_);
    for (const auto& key : runnable) {
      if (running_.insert(key).second) queue_.push_back(key);
    }
    if (!queue_.empty()) work_cv_.notify_all();
    if (running_.empty() && queue_.empty()) {
      if (stop_) break;
      if (options_.once && runnable.empty()) break;
    }
    idle_cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms));
  }
  stop_ = true;
  work_cv_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
  Status fatal;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fatal = fatal_;
  }
  for (const auto& t : journal_->Tasks()) {
    if (t.phase == TaskPhase::kDone) {
      ++summary.done;
    } else if (t.phase == TaskPhase::kFailed) {
      ++summary.failed;
    } else {
      ++summary.waiting;
    }
  }
  if (!fatal.ok()) return fatal;
  auto stopped = journal_->Record("agent.stopped", std::nullopt, std::nullopt,
                                  {{"done", summary.done},
                                   {"failed", summary.failed},
                                   {"waiting", summary.waiting}},
                                  Durability::kSync);
  if (!stopped.ok()) return stopped.status();
  RETURN_IF_ERROR(journal_->Close());
  return summary;
}

void Agent::WorkerLoop() {
  while (true) {
    std::string key;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) {
        if (stop_) return;
        continue;
      }
      key = queue_.front();
      queue_.erase(queue_.begin());
    }
    Status s = RunTask(key);
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_.erase(key);
    }
    if (!s.ok()) Fatal(s);
    idle_cv_.notify_all();
  }
}

// --- The task pipeline
// ------------------------------------------------------------

policy::Action Agent::GateAction(const TaskState& t,
                                 const PlannedAction& a) const {
  policy::Action g;
  g.target = a.target;
  g.operation = a.operation;
  g.resource = a.resource;
  g.subject = a.subject;
  g.task = t.id;
  g.requester = t.requester;
  return g;
}

protocol::Action Agent::ModuleAction(const PlannedAction& a) const {
  protocol::Action m;
  m.operation = a.operation;
  m.resource = a.resource;
  m.subject = a.subject;
  m.params = a.params;
  return m;
}

std::string Agent::RequestId(const TaskState& t, const PlannedAction& a,
                             std::string_view what) {
  std::lock_guard<std::mutex> lock(mu_);
  return t.key + "/" + a.id + "/" + std::string(what) + "-" +
         std::to_string(++request_counter_);
}

Status Agent::RunTask(const std::string& key) {
  // The scheduler works from a snapshot that may be a moment old: what
  // the task needs is decided here, from its current state.
  auto t = journal_->Task(key);
  if (!t) return Status::Internal("no task " + key);
  if (t->phase == TaskPhase::kDone || t->phase == TaskPhase::kFailed) {
    if (t->receipt_written) return Status::Ok();
    return WriteReceipt(key);
  }
  if (t->phase == TaskPhase::kReceived) return PlanTask(*t);
  for (std::size_t i = 0; i < t->actions.size(); ++i) {
    // Each step records entries that change the task: read it afresh.
    while (true) {
      t = journal_->Task(key);
      const ActionState& a = t->actions[i];
      if (IsFinal(a.phase)) break;
      bool parked = false;
      RETURN_IF_ERROR(RunAction(*t, a, parked));
      if (parked) return Status::Ok();
    }
  }
  RETURN_IF_ERROR(FinishTask(key));
  return WriteReceipt(key);
}

Status Agent::PlanTask(const TaskState& t) {
  auto fail = [&](const std::string& reason) -> Status {
    ASSIGN_OR_RETURN(auto a,
                     journal_->Record("task.done", t.key, std::nullopt,
                                      {{"outcome", "failed"},
                                       {"reason", reason},
                                       {"actions", nlohmann::json::array()}},
                                      Durability::kSync));
    (void)a;
    Progress(t.key + ": failed: " + reason);
    return WriteReceipt(t.key);
  };
  auto ticket = Ticket::Parse(t.ticket.dump());
  if (!ticket.ok()) return fail("ticket: " + ticket.status().message());
  PlanInput in;
  in.ticket = &*ticket;
  in.config = &config_;
  in.now_micros = clock_.NowMicros();
  {
    std::lock_guard<std::mutex> lock(policy_mu_);
    if (scope_) in.successors = scope_->successors();
  }
  nlohmann::json observed = nlohmann::json::object();
  for (const auto& target : config_.targets) {
    auto account = AccountName(target, ticket->subject.uid);
    if (!account.ok()) return fail(account.status().message());
    protocol::Action read;
    read.operation = "disable";
    read.resource = *account;
    read.subject = *account;
    PlannedAction pa;
    pa.id = "observe-" + target.name;
    auto out = runner_->Call(target.name, protocol::Op::kRead,
                             RequestId(t, pa, "read"), &read, nullptr);
    AccountObservation obs;
    std::string error;
    if (!out.ok()) {
      error = out.status().message();
    } else if (!out->response.ok()) {
      const auto& e = *out->response.error;
      if (e.kind == protocol::ErrorKind::kNotFound) {
        obs.exists = false;
      } else if (e.kind == protocol::ErrorKind::kDenied) {
        // The module will not even read this account (its own login, a
        // superuser): plan as if it exists and let the gate decide, so
        // the refusal is a decision on record, not a silent skip.
        obs.exists = true;
        in.observed[target.name] = obs;
        observed[target.name] = {{"exists", nullptr}, {"refused", e.message}};
        continue;
      } else {
        error = std::string(protocol::ErrorKindName(e.kind)) + ": " + e.message;
      }
    } else {
      auto r = protocol::ReadResult::FromJson(*out->response.result);
      if (!r.ok()) {
        error = r.status().message();
      } else {
        obs.exists = r->exists;
        obs.state = r->state;
        obs.disabled = r->state.value("disabled", false);
        auto m = r->state.find("memberships");
        if (m != r->state.end() && m->is_array()) {
          for (const auto& g : *m) {
            if (g.is_string()) obs.memberships.push_back(g.get<std::string>());
          }
        }
      }
    }
    if (!error.empty()) {
      int failures;
      {
        std::lock_guard<std::mutex> lock(mu_);
        failures = ++plan_failures_[t.key];
      }
      if (failures < config_.retry.max_attempts) {
        Progress(t.key + ": cannot observe " + target.name + " yet: " + error);
        return Status::Ok();  // Planned again on a later pass.
      }
      return fail("could not observe target " + target.name + ": " + error);
    }
    observed[target.name] = {{"exists", obs.exists},
                             {"memberships", obs.memberships},
                             {"state", ForLog(obs.state)}};
    in.observed[target.name] = std::move(obs);
  }
  auto plan = PlanTicket(in);
  if (!plan.ok()) return fail("cannot plan: " + plan.status().message());
  // The simulation: what each action would change, judged from what each
  // module read of the subject's account just now.
  nlohmann::json actions = nlohmann::json::array();
  nlohmann::json simulation = nlohmann::json::array();
  for (const auto& a : plan->actions) {
    // What the journal will read back must be exactly this action.
    auto round_trip = PlannedAction::FromJson(a.ToJson());
    if (!round_trip.ok()) {
      return Status::Internal(
          "planned action " + a.id +
          " does not read back: " + round_trip.status().message());
    }
    actions.push_back(a.ToJson());
    simulation.push_back(
        Simulate(a, *config_.FindTarget(a.target), in.observed.at(a.target)));
  }
  ASSIGN_OR_RETURN(auto rec,
                   journal_->Record("task.planned", t.key, std::nullopt,
                                    {{"actions", actions},
                                     {"notes", plan->notes},
                                     {"observed", observed},
                                     {"simulation", simulation}},
                                    Durability::kAsync));
  (void)rec;
  return Status::Ok();
}

Status Agent::RunAction(const TaskState& t, const ActionState& a,
                        bool& parked) {
  switch (a.phase) {
    case ActionPhase::kIntended:
      // An intent without a result: the agent stopped mid-action. The
      // target says what happened.
      return VerifyAction(t, a.action, "action.recovered", true);
    case ActionPhase::kApplied:
      return VerifyAction(t, a.action, "action.verified", false);
    case ActionPhase::kPlanned:
    case ActionPhase::kAllowed:
    case ActionPhase::kAwaitingApproval: {
      if (stop_) {
        parked = true;
        return Status::Ok();
      }
      RETURN_IF_ERROR(Decide(t, a, parked));
      if (parked) return Status::Ok();
      auto fresh = journal_->Task(t.key);
      for (const auto& x : fresh->actions) {
        if (x.action.id == a.action.id && x.phase == ActionPhase::kIntended) {
          return ApplyAndVerify(*fresh, x);
        }
      }
      return Status::Ok();  // Denied: final.
    }
    default:
      return Status::Ok();
  }
}

Status Agent::Decide(const TaskState& t, const ActionState& a, bool& parked) {
  const std::int64_t now = clock_.NowMicros();
  std::unique_lock<std::mutex> lock(policy_mu_);
  if (!frozen_.empty() || a.action.not_before > now) {
    parked = true;
    return Status::Ok();
  }
  const policy::Action ga = GateAction(t, a.action);
  const std::string digest = ga.Digest();
  auto approval = approvals_.find(digest);
  if (a.phase == ActionPhase::kAwaitingApproval &&
      approval == approvals_.end()) {
    if (now - a.approval_requested_at >=
        config_.approval_wait_seconds * kMicrosPerSecond) {
      ASSIGN_OR_RETURN(
          auto r,
          journal_->Record("approval.expired", t.key, a.action.id,
                           {{"action_digest", digest},
                            {"waited_seconds", (now - a.approval_requested_at) /
                                                   kMicrosPerSecond}},
                           Durability::kSync));
      (void)r;
      return Status::Ok();
    }
    parked = true;
    return Status::Ok();
  }
  policy::DecisionContext ctx;
  ctx.now_micros = now;
  ctx.counters = journal_->CountersAt(now);
  ctx.scope_revoked = scope_ && state_->IsRevoked(scope_->version());
  if (approval != approvals_.end()) {
    ctx.approval = &approval->second;
    ctx.approval_used = state_->ApprovalUsed(approval->second.envelope_digest);
  }
  policy::Decision d = gate_->Decide(ga, ctx);
  nlohmann::json record = policy::DecisionRecord(ga, ctx, d);
  ASSIGN_OR_RETURN(auto rec,
                   journal_->Record("gate.decision", t.key, a.action.id, record,
                                    Durability::kAsync));
  (void)rec;
  if (d.effect == policy::Effect::kNeedsApproval) {
    parked = true;
    if (a.phase == ActionPhase::kAwaitingApproval) return Status::Ok();
    const std::string file =
        config_.state_dir + "/approvals/" + t.key + "." + a.action.id + ".json";
    std::error_code ec;
    fs::create_directories(config_.state_dir + "/approvals", ec);
    RETURN_IF_ERROR(WriteFileAtomic(file, ga.ToJson().dump(2) + "\n", 0644,
                                    Overwrite::kReplace));
    ASSIGN_OR_RETURN(auto r,
                     journal_->Record("approval.requested", t.key, a.action.id,
                                      {{"action_digest", digest},
                                       {"action", ga.ToJson()},
                                       {"file", file}},
                                      Durability::kSync));
    (void)r;
    Progress(t.key + " " + a.action.operation + " " + a.action.resource +
             ": needs an owner's approval (deputy approve --action " + file +
             ")");
    return Status::Ok();
  }
  if (d.effect == policy::Effect::kDeny) {
    lock.unlock();
    Progress(t.key + " " + a.action.operation + " " + a.action.resource +
             ": denied (" +
             (d.reasons.empty() ? std::string("deny") : d.reasons.front()) +
             ")");
    return journal_->Sync();
  }
  if (ctx.approval != nullptr) {
    // Single use, and persisted before the action runs.
    RETURN_IF_ERROR(state_->RecordApprovalUsed(ctx.approval->envelope_digest));
    approvals_.erase(approval);
  }
  nlohmann::json params = a.action.params;
  ASSIGN_OR_RETURN(
      auto intent,
      journal_->Record("action.intent", t.key, a.action.id,
                       {{"target", a.action.target},
                        {"operation", a.action.operation},
                        {"resource", a.action.resource},
                        {"subject", a.action.subject},
                        {"params", params},
                        {"sandbox", runner_->DescribeSandbox(a.action.target)}},
                       Durability::kAsync));
  (void)intent;
  lock.unlock();
  // Nothing reaches a module before its intent is on disk.
  return journal_->Sync();
}

Status Agent::ApplyAndVerify(const TaskState& t, const ActionState& a) {
  const protocol::Action m = ModuleAction(a.action);
  nlohmann::json result;
  bool escalate = false;
  std::int64_t backoff = config_.retry.initial_backoff_ms;
  for (int attempt = 1;; ++attempt) {
    nlohmann::json sandbox;
    auto out = runner_->Call(a.action.target, protocol::Op::kApply,
                             RequestId(t, a.action, "apply"), &m, &sandbox);
    bool transient = false;
    std::string error_kind, message;
    nlohmann::json remaining;
    if (!out.ok()) {
      transient = out.status().code() == ErrorCode::kUnavailable;
      error_kind = transient ? "transient" : "module";
      message = out.status().message();
    } else if (!out->response.ok()) {
      const auto& e = *out->response.error;
      error_kind = std::string(protocol::ErrorKindName(e.kind));
      message = e.message;
      remaining = e.remaining;
      transient = e.kind == protocol::ErrorKind::kTransient;
    }
    if (transient && attempt < config_.retry.max_attempts && !stop_) {
      ASSIGN_OR_RETURN(auto r,
                       journal_->Record("action.retry", t.key, a.action.id,
                                        {{"attempt", attempt},
                                         {"error", message},
                                         {"backoff_ms", backoff}},
                                        Durability::kAsync));
      (void)r;
      std::unique_lock<std::mutex> lock(mu_);
      idle_cv_.wait_for(lock, std::chrono::milliseconds(backoff),
                        [&] { return stop_.load(); });
      backoff = std::min(backoff * 2, config_.retry.max_backoff_ms);
      continue;
    }
    if (!error_kind.empty()) {
      result = {{"ok", false},
                {"error", {{"kind", error_kind}, {"message", message}}},
                {"attempts", attempt}};
      if (!remaining.is_null() && !remaining.empty()) {
        result["error"]["remaining"] = remaining;
      }
      escalate = transient || error_kind == "module" || error_kind == "partial";
    } else {
      auto applied = protocol::ApplyResult::FromJson(*out->response.result);
      if (!applied.ok()) {
        result = {
            {"ok", false},
            {"error",
             {{"kind", "module"}, {"message", applied.status().message()}}},
            {"attempts", attempt}};
        escalate = true;
      } else {
        nlohmann::json state = applied->state;
        nlohmann::json sealed = TakeSealed(state);
        result = {{"ok", true},
                  {"changed", applied->changed},
                  {"state", ForLog(state)},
                  {"attempts", attempt}};
        if (!sealed.empty()) {
          // The sealed secret goes to the ticket's receipt directory, never
          // to the log; the log proves which bytes were delivered.
          const std::string file = config_.receipts_dir + "/" + t.key + "." +
                                   a.action.id + ".sealed.json";
          std::error_code ec;
          fs::create_directories(config_.receipts_dir, ec);
          const std::string bytes = sealed.dump() + "\n";
          RETURN_IF_ERROR(
              WriteFileAtomic(file, bytes, 0600, Overwrite::kReplace));
          result["sealed_file"] = file;
          result["sealed_sha256"] = keys::Sha256Hex(AsBytes(bytes));
        }
      }
    }
    result["sandbox"] = sandbox;
    break;
  }
  ASSIGN_OR_RETURN(auto r, journal_->Record("action.result", t.key, a.action.id,
                                            result, Durability::kAsync));
  (void)r;
  RETURN_IF_ERROR(VerifyAction(t, a.action, "action.verified", false));
  if (escalate) {
    const policy::Principal* owner = trust_->FindOwner(identity_->owner);
    ASSIGN_OR_RETURN(auto e,
                     journal_->Record("task.escalated", t.key, a.action.id,
                                      {{"to", identity_->owner},
                                       {"contact", owner ? owner->contact : ""},
                                       {"reason", result["error"]["message"]}},
                                      Durability::kSync));
    (void)e;
    Progress(t.key + " " + a.action.operation + " " + a.action.resource +
             ": escalated to " + identity_->owner);
  }
  return Status::Ok();
}

Status Agent::VerifyAction(const TaskState& t, const PlannedAction& a,
                           const std::string& kind, bool recovery) {
  const protocol::Action m = ModuleAction(a);
  std::int64_t backoff = config_.retry.initial_backoff_ms;
  nlohmann::json payload;
  for (int attempt = 1;; ++attempt) {
    nlohmann::json sandbox;
    auto out = runner_->Call(a.target, protocol::Op::kVerify,
                             RequestId(t, a, "verify"), &m, &sandbox);
    std::string error;
    bool transient = false;
    if (!out.ok()) {
      error = out.status().message();
      transient = out.status().code() == ErrorCode::kUnavailable;
    } else if (!out->response.ok()) {
      const auto& e = *out->response.error;
      error = std::string(protocol::ErrorKindName(e.kind)) + ": " + e.message;
      transient = e.kind == protocol::ErrorKind::kTransient;
    } else {
      auto v = protocol::VerifyResult::FromJson(*out->response.result);
      if (!v.ok()) {
        error = v.status().message();
      } else {
        payload = ForLog(v->ToJson());
        payload["sandbox"] = sandbox;
        if (recovery) payload["reapply"] = !v->satisfied;
        break;
      }
    }
    if (transient && attempt < config_.retry.max_attempts) {
      std::unique_lock<std::mutex> lock(mu_);
      idle_cv_.wait_for(lock, std::chrono::milliseconds(backoff));
      backoff = std::min(backoff * 2, config_.retry.max_backoff_ms);
      continue;
    }
    // The end state is unknown: the action cannot count as done.
    payload = {{"satisfied", false},
               {"error", "verification failed: " + error},
               {"sandbox", sandbox}};
    if (recovery) payload["reapply"] = false;
    break;
  }
  ASSIGN_OR_RETURN(
      auto r, journal_->Record(kind, t.key, a.id, payload, Durability::kAsync));
  (void)r;
  if (recovery) {
    Progress(t.key + " " + a.operation + " " + a.resource +
             ": recovered after a restart (" +
             (payload.value("satisfied", false) ? "already done"
              : payload.value("reapply", false) ? "not done: will decide again"
                                                : "state unknown") +
             ")");
  }
  return Status::Ok();
}

Status Agent::FinishTask(const std::string& key) {
  auto t = journal_->Task(key);
  bool ok = true;
  std::string reason;
  nlohmann::json actions = nlohmann::json::array();
  int verified = 0;
  for (const auto& a : t->actions) {
    actions.push_back({{"id", a.action.id},
                       {"outcome", std::string(ActionPhaseName(a.phase))}});
    if (a.phase == ActionPhase::kVerified) {
      ++verified;
      continue;
    }
    ok = false;
    if (reason.empty()) {
      reason = a.action.id + " " + a.action.operation + " " +
               a.action.resource + ": " +
               std::string(ActionPhaseName(a.phase)) +
               (a.error.empty() ? "" : " (" + a.error + ")");
    }
  }
  ASSIGN_OR_RETURN(auto r,
                   journal_->Record("task.done", key, std::nullopt,
                                    {{"outcome", ok ? "done" : "failed"},
                                     {"reason", reason},
                                     {"actions", actions}},
                                    Durability::kSync));
  (void)r;
  Progress(key + ": " + (ok ? "done" : "failed") + ", " +
           std::to_string(verified) + " of " +
           std::to_string(t->actions.size()) + " actions verified" +
           (reason.empty() ? "" : "; " + reason));
  return Status::Ok();
}

Status Agent::WriteReceipt(const std::string& key) {
  ASSIGN_OR_RETURN(auto cp, journal_->Checkpoint());
  auto t = journal_->Task(key);
  ASSIGN_OR_RETURN(auto receipt,
                   BuildReceipt(*t, cp.first, cp.second, *journal_));
  const std::string text = receipt.dump(1) + "\n";
  std::error_code ec;
  fs::create_directories(config_.receipts_dir, ec);
  const std::string path = config_.receipts_dir + "/" + key + ".json";
  RETURN_IF_ERROR(WriteFileAtomic(path, text, 0644, Overwrite::kReplace));
  nlohmann::json payload = {{"path", path},
                            {"checkpoint_size", cp.second},
                            {"sha256", keys::Sha256Hex(AsBytes(text))}};
  if (!t->source.empty() && fs::exists(t->source)) {
    // Beside the ticket, for whoever filed it.
    RETURN_IF_ERROR(WriteFileAtomic(t->source + ".receipt.json", text, 0644,
                                    Overwrite::kReplace));
    payload["beside"] = t->source + ".receipt.json";
  }
  ASSIGN_OR_RETURN(
      auto r, journal_->Record("receipt.written", key, std::nullopt, payload,
                               Durability::kAsync));
  (void)r;
  return Status::Ok();
}

}  // namespace deputy::agent
