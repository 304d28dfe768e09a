#include "agent/journal.h"

#include "agent/evidence/segments.h"
#include "base/strict_json.h"

namespace deputy::agent {
namespace {

constexpr std::int64_t kHour = 3600LL * 1000000;
constexpr std::int64_t kDay = 24 * kHour;

nlohmann::json ParsePayload(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() || !j.is_object() ? nlohmann::json::object() : j;
}

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool Flag(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::int64_t TimeOf(const evidence::EntryView& e) {
  // "2026-12-03T18:00:00.000000Z": the log's own format, checked by the
  // parser; only the seconds are needed for counters.
  auto secs =
      policy::ParseRfc3339Seconds(std::string(e.time.substr(0, 19)) + "Z");
  std::int64_t micros = 0;
  if (e.time.size() >= 26) {
    micros = std::atoll(std::string(e.time.substr(20, 6)).c_str());
  }
  return secs.ok() ? *secs + micros : 0;
}

}  // namespace

std::string_view ActionPhaseName(ActionPhase phase) {
  switch (phase) {
    case ActionPhase::kPlanned:
      return "planned";
    case ActionPhase::kAwaitingApproval:
      return "awaiting_approval";
    case ActionPhase::kAllowed:
      return "allowed";
    case ActionPhase::kIntended:
      return "intended";
    case ActionPhase::kApplied:
      return "applied";
    case ActionPhase::kVerified:
      return "verified";
    case ActionPhase::kFailed:
      return "failed";
    case ActionPhase::kDenied:
      return "denied";
    case ActionPhase::kSkipped:
      return "skipped";
  }
  return "unknown";
}

bool IsFinal(ActionPhase p) {
  return p == ActionPhase::kVerified || p == ActionPhase::kFailed ||
         p == ActionPhase::kDenied || p == ActionPhase::kSkipped;
}

std::string_view TaskPhaseName(TaskPhase phase) {
  switch (phase) {
    case TaskPhase::kReceived:
      return "received";
    case TaskPhase::kPlanned:
      return "planned";
    case TaskPhase::kDone:
      return "done";
    case TaskPhase::kFailed:
      return "failed";
  }
  return "unknown";
}

Result<std::unique_ptr<Journal>> Journal::Open(
    std::unique_ptr<evidence::EvidenceLog> log, const std::string& log_dir,
    std::string actor, std::string owner) {
  std::unique_ptr<Journal> j(new Journal());
  j->actor_ = std::move(actor);
  j->owner_ = std::move(owner);
  j->compact_ = true;
  RETURN_IF_ERROR(j->Replay(log_dir));
  if (j->leaves_.size() != log->size()) {
    return Status::DataLoss("the log changed while it was replayed (" +
                            std::to_string(j->leaves_.size()) +
                            " entries read, " + std::to_string(log->size()) +
                            " in the writer)");
  }
  j->log_ = std::move(log);
  return j;
}

Result<std::unique_ptr<Journal>> Journal::ReadOnly(const std::string& log_dir) {
  std::unique_ptr<Journal> j(new Journal());
  RETURN_IF_ERROR(j->Replay(log_dir));
  return j;
}

Status Journal::Replay(const std::string& log_dir) {
  ASSIGN_OR_RETURN(auto segments,
                   evidence::ListSegments(evidence::LogLayout{log_dir}));
  evidence::EntryView view;
  for (const auto& seg : segments) {
    ASSIGN_OR_RETURN(auto reader, evidence::LineReader::Open(seg.path));
    std::string_view line;
    std::uint64_t offset;
    while (reader.Next(line, offset)) {
      RETURN_IF_ERROR(
          evidence::ParseEntryInto(line, view)
              .Within(seg.path + " at byte " + std::to_string(offset)));
      leaves_.push_back(evidence::EntryHash(line));
      Apply(view, line);
    }
    RETURN_IF_ERROR(reader.status());
  }
  return Status::Ok();
}

ActionState* Journal::FindAction(TaskState& t, const std::string& id) {
  for (auto& a : t.actions) {
    if (a.action.id == id) return &a;
  }
  return nullptr;
}

void Journal::Apply(const evidence::EntryView& e, std::string_view line) {
  const std::string& kind = e.kind;
  if (kind == "scope.installed" || kind == "scope.revoked") {
    nlohmann::json p = ParsePayload(e.payload);
    if (kind == "scope.installed") {
      scope_.version = p.value("version", std::int64_t{0});
      scope_.digest = Str(p, "digest");
      scope_.revoked = false;
    } else {
      scope_.revoked = true;
    }
    return;
  }
  if (kind == "action.intent") {
    // Counted whatever the task: the rate limits are the agent's.
    nlohmann::json p = ParsePayload(e.payload);
    Intent in{TimeOf(e), policy::IsDeletion(Str(p, "operation")), {}};
    if (e.task && e.action) {
      auto t = tasks_.find(*e.task);
      if (t != tasks_.end()) {
        if (ActionState* a = FindAction(t->second, *e.action)) {
          in.grants = a->grants;
        }
      }
    }
    const std::int64_t at = in.time;
    intents_.push_back(std::move(in));
    while (!intents_.empty() && intents_.front().time < at - kDay) {
      intents_.pop_front();
    }
  }
  if (!e.task) return;
  if (kind == "task.received") {
    nlohmann::json p = ParsePayload(e.payload);
    TaskState t;
    t.key = *e.task;
    t.ticket = p.value("ticket", nlohmann::json::object());
    t.id = Str(t.ticket, "id");
    t.revision = t.ticket.value("revision", std::int64_t{0});
    t.requester = Str(t.ticket, "requester");
    if (t.ticket.contains("subject") && t.ticket["subject"].is_object()) {
      t.subject = Str(t.ticket["subject"], "uid");
    }
    t.source = Str(p, "source");
    t.order = next_order_++;
    t.seqs.push_back(e.seq);
    lines_[e.seq] = std::string(line);
    open_[t.order] = t.key;
    tasks_[t.key] = std::move(t);
    return;
  }
  auto it = tasks_.find(*e.task);
  if (it == tasks_.end()) return;
  TaskState& t = it->second;
  t.seqs.push_back(e.seq);
  if (!t.receipt_written) lines_[e.seq] = std::string(line);
  nlohmann::json p = ParsePayload(e.payload);
  if (kind == "task.planned") {
    t.actions.clear();
    if (p.contains("actions") && p["actions"].is_array()) {
      for (const auto& aj : p["actions"]) {
        auto a = PlannedAction::FromJson(aj);
        if (!a.ok()) continue;
        ActionState st;
        st.action = std::move(*a);
        t.actions.push_back(std::move(st));
      }
    }
    t.notes.clear();
    if (p.contains("notes") && p["notes"].is_array()) {
      for (const auto& n : p["notes"]) {
        if (n.is_string()) t.notes.push_back(n.get<std::string>());
      }
    }
    t.phase = TaskPhase::kPlanned;
    return;
  }
  if (kind == "task.done") {
    t.phase =
        Str(p, "outcome") == "done" ? TaskPhase::kDone : TaskPhase::kFailed;
    t.reason = Str(p, "reason");
    return;
  }
  if (kind == "task.escalated") {
    t.escalated = true;
    return;
  }
  if (kind == "receipt.written") {
    // Its lines were needed only for the receipt's proofs.
    t.receipt_written = true;
    for (auto s : t.seqs) lines_.erase(s);
    open_.erase(t.order);
    if (compact_) {
      t.ticket = nlohmann::json::object();
      t.actions.clear();
      t.actions.shrink_to_fit();
      t.notes.clear();
      t.seqs.clear();
      t.seqs.shrink_to_fit();
    }
    return;
  }
  if (!e.action) return;
  ActionState* a = FindAction(t, *e.action);
  if (a == nullptr) return;
  if (kind == "gate.decision") {
    std::string effect = Str(p, "effect");
    a->grants.clear();
    if (p.contains("grants") && p["grants"].is_array()) {
      for (const auto& g : p["grants"]) {
        if (g.is_string()) a->grants.push_back(g.get<std::string>());
      }
    }
    if (effect == "allow") {
      a->phase = ActionPhase::kAllowed;
    } else if (effect == "deny") {
      a->phase = ActionPhase::kDenied;
      std::string why = Str(p, "failed_clause");
      if (p.contains("reasons") && p["reasons"].is_array() &&
          !p["reasons"].empty() && p["reasons"][0].is_string()) {
        why = p["reasons"][0].get<std::string>() +
              (why.empty() ? "" : " (" + why + ")");
      }
      a->error = why;
    }
    // needs_approval: approval.requested follows.
  } else if (kind == "approval.requested") {
    a->phase = ActionPhase::kAwaitingApproval;
    a->approval_digest = Str(p, "action_digest");
    a->approval_requested_at = TimeOf(e);
  } else if (kind == "approval.expired") {
    a->phase = ActionPhase::kFailed;
    a->error = "no approval before the deadline";
  } else if (kind == "action.intent") {
    a->phase = ActionPhase::kIntended;
    a->attempts = 0;
  } else if (kind == "action.retry") {
    ++a->attempts;
  } else if (kind == "action.result") {
    a->phase = ActionPhase::kApplied;
    if (!Flag(p, "ok") && p.contains("error") && p["error"].is_object()) {
      a->error = Str(p["error"], "kind") + ": " + Str(p["error"], "message");
    }
  } else if (kind == "action.verified" || kind == "action.recovered") {
    bool satisfied = Flag(p, "satisfied");
    a->observed = p.value("observed", nlohmann::json::object());
    a->checks = p.value("checks", nlohmann::json::array());
    if (satisfied) {
      a->phase = ActionPhase::kVerified;
      a->error.clear();
    } else if (kind == "action.recovered" && Flag(p, "reapply")) {
      a->phase = ActionPhase::kPlanned;  // Decide and apply again.
    } else {
      a->phase = ActionPhase::kFailed;
      std::string why = Str(p, "error");
      if (why.empty()) why = "the target does not show the intended end state";
      if (!a->error.empty()) why = a->error + "; " + why;
      a->error = why;
    }
  } else if (kind == "action.skipped") {
    a->phase = ActionPhase::kSkipped;
    a->error = Str(p, "reason");
  }
}

Result<evidence::Appended> Journal::Record(
    const std::string& kind, const std::optional<std::string>& task,
    const std::optional<std::string>& action, nlohmann::json payload,
    evidence::Durability durability) {
  if (!log_) return Status::FailedPrecondition("the journal is read-only");
  evidence::EntryDraft draft;
  draft.kind = kind;
  draft.actor = actor_;
  draft.owner = owner_;
  draft.task = task;
  draft.action = action;
  draft.payload = std::move(payload);
  evidence::Appended appended;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(appended,
                     log_->Append(draft, evidence::Durability::kAsync));
    leaves_.push_back(appended.hash);
    ASSIGN_OR_RETURN(auto view, evidence::ParseEntry(appended.line));
    Apply(view, appended.line);
  }
  if (durability == evidence::Durability::kSync) RETURN_IF_ERROR(log_->Sync());
  return appended;
}

Status Journal::Sync() {
  if (!log_) return Status::Ok();
  return log_->Sync();
}

Result<std::pair<evidence::SignedNote, std::uint64_t>> Journal::Checkpoint() {
  if (!log_) return Status::FailedPrecondition("the journal is read-only");
  // Under the lock, so the checkpoint's size is exactly what was recorded.
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(auto note, log_->CheckpointNow());
  return std::make_pair(std::move(note),
                        static_cast<std::uint64_t>(leaves_.size()));
}

Result<std::vector<evidence::Hash>> Journal::Prove(std::uint64_t seq,
                                                   std::uint64_t size) const {
  std::lock_guard<std::mutex> lock(mu_);
  return evidence::InclusionProof(leaves_, seq, size);
}

Result<std::string> Journal::Line(std::uint64_t seq) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = lines_.find(seq);
  if (it == lines_.end()) {
    return Status::NotFound("entry " + std::to_string(seq) + " is not kept");
  }
  return it->second;
}

void Journal::DropLines(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tasks_.find(key);
  if (it == tasks_.end()) return;
  for (auto s : it->second.seqs) lines_.erase(s);
}

std::optional<TaskState> Journal::Task(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tasks_.find(key);
  if (it == tasks_.end()) return std::nullopt;
  return it->second;
}

std::vector<TaskState> Journal::Tasks() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TaskState> out;
  for (const auto& [k, t] : tasks_) out.push_back(t);
  std::sort(out.begin(), out.end(), [](const TaskState& a, const TaskState& b) {
    return a.order < b.order;
  });
  return out;
}

std::vector<TaskState> Journal::OpenTasks() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TaskState> out;
  for (const auto& [order, key] : open_) out.push_back(tasks_.at(key));
  return out;
}

std::vector<std::string> Journal::TaskKeys() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::uint64_t, std::string>> keyed;
  for (const auto& [k, t] : tasks_) keyed.emplace_back(t.order, k);
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::string> out;
  for (auto& [o, k] : keyed) out.push_back(std::move(k));
  return out;
}

bool Journal::Seen(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_.count(key) > 0;
}

policy::Counters Journal::CountersAt(std::int64_t now) const {
  std::lock_guard<std::mutex> lock(mu_);
  policy::Counters c;
  for (const auto& in : intents_) {
    if (in.time > now - kDay && in.deletion) ++c.deletions_last_day;
    if (in.time > now - kHour) {
      ++c.actions_last_hour;
      for (const auto& g : in.grants) ++c.grant_actions_last_hour[g];
    }
  }
  return c;
}

ScopeStatus Journal::scope() const {
  std::lock_guard<std::mutex> lock(mu_);
  return scope_;
}

std::uint64_t Journal::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leaves_.size();
}

Status Journal::Close() {
  if (!log_) return Status::Ok();
  return log_->Close();
}

}  // namespace deputy::agent
