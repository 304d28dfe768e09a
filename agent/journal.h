// The journal: the agent's state as a pure function of its evidence log.
//
// Every change of a task's state is an evidence entry first; the journal
// applies each entry it records to its in-memory state, and at start-up
// rebuilds the same state by reading the whole log again. So what the
// agent believes after a crash is exactly what its log proves: received
// tickets (and the deduplication set), plans, decisions, intents without
// results (resolved by recovery), counters for the rate limits, and which
// tasks still need receipts.
//
// Thread-safe: Record() and the accessors take one mutex. Record() holds
// it only to queue the entry and apply it; waiting for durability happens
// outside it, so concurrent workers share fdatasyncs (group commit).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/evidence/clock.h"
#include "agent/evidence/log.h"
#include "agent/planner.h"
#include "base/status.h"
#include "policy/gate.h"

namespace deputy::agent {

enum class ActionPhase {
  kPlanned,           // No decision yet (or decide again after recovery).
  kAwaitingApproval,  // The gate wants an owner's approval; requested.
  kAllowed,           // Allowed; no intent yet.
  kIntended,          // Intent durable; no result recorded.
  kApplied,           // The module's apply answered; verify pending.
  kVerified,          // Final: the target shows the intended end state.
  kFailed,            // Final.
  kDenied,            // Final: the gate said no.
  kSkipped,           // Final: not carried out (the task stopped).
};
std::string_view ActionPhaseName(ActionPhase phase);
bool IsFinal(ActionPhase phase);

struct ActionState {
  PlannedAction action;
  ActionPhase phase = ActionPhase::kPlanned;
  int attempts = 0;                 // Applies tried since the last intent.
  std::string error;                // Why it failed or was denied.
  nlohmann::json observed;          // The verified end state.
  nlohmann::json checks;            // The verify checks.
  std::vector<std::string> grants;  // Of the allowing decision.
  std::string approval_digest;      // Action digest awaiting approval.
  std::int64_t approval_requested_at = 0;
};

enum class TaskPhase { kReceived, kPlanned, kDone, kFailed };
std::string_view TaskPhaseName(TaskPhase phase);

struct TaskState {
  std::string id;
  std::int64_t revision = 0;
  std::string key;  // id@revision.
  nlohmann::json ticket;
  std::string requester;
  std::string subject;      // The uid: tasks on one subject run in order.
  std::string source;       // The intake file, if any.
  std::uint64_t order = 0;  // Receipt order.
  TaskPhase phase = TaskPhase::kReceived;
  std::vector<ActionState> actions;
  std::vector<std::string> notes;
  std::string reason;  // Why it failed.
  bool escalated = false;
  bool receipt_written = false;
  std::vector<std::uint64_t> seqs;  // Its entries, in order.
};

struct ScopeStatus {
  std::int64_t version = 0;
  std::string digest;
  bool revoked = false;
};

class Journal {
 public:
  // Rebuilds the state from the log in `log_dir` (already opened, so
  // verified and recovered, by `log`), then records through `log`.
  static Result<std::unique_ptr<Journal>> Open(
      std::unique_ptr<evidence::EvidenceLog> log, const std::string& log_dir,
      std::string actor, std::string owner);
  // Rebuilds the state without a writer (deputy status): read-only.
  static Result<std::unique_ptr<Journal>> ReadOnly(const std::string& log_dir);

  // Appends an entry (actor and owner filled in) and applies it. With
  // kSync, returns once it is durable. A failure means the log is closed
  // for writing: the caller must stop acting.
  Result<evidence::Appended> Record(const std::string& kind,
                                    const std::optional<std::string>& task,
                                    const std::optional<std::string>& action,
                                    nlohmann::json payload,
                                    evidence::Durability durability);
  Status Sync();
  // A signed checkpoint covering everything recorded so far, with the
  // leaf hashes it covers (for inclusion proofs).
  Result<std::pair<evidence::SignedNote, std::uint64_t>> Checkpoint();
  // Inclusion proof of entry `seq` in the tree of `size` entries.
  Result<std::vector<evidence::Hash>> Prove(std::uint64_t seq,
                                            std::uint64_t size) const;
  // The exact line of entry `seq` (kept for tasks without a receipt).
  Result<std::string> Line(std::uint64_t seq) const;
  // Forgets the lines of a task whose receipt is written.
  void DropLines(const std::string& key);

  // Copies, under the lock.
  std::optional<TaskState> Task(const std::string& key) const;
  std::vector<TaskState> Tasks() const;
  // Tasks that are not finished, or finished without a receipt, in order.
  std::vector<TaskState> OpenTasks() const;
  std::vector<std::string> TaskKeys() const;
  bool Seen(const std::string& key) const;
  policy::Counters CountersAt(std::int64_t now_micros) const;
  ScopeStatus scope() const;
  std::uint64_t size() const;
  evidence::EvidenceLog* log() { return log_.get(); }
  const std::string& actor() const { return actor_; }
  const std::string& owner() const { return owner_; }
  Status Close();

 private:
  Journal() = default;
  Status Replay(const std::string& log_dir);
  // Applies one entry (already in the log) to the state. Entries the
  // journal does not know are ignored: the verifier, not the journal,
  // judges the log.
  void Apply(const evidence::EntryView& e, std::string_view line);
  ActionState* FindAction(TaskState& t, const std::string& id);

  std::unique_ptr<evidence::EvidenceLog> log_;
  // A running agent keeps only the outline of a finished task (its key,
  // phase, subject), so memory does not grow with history; deputy status
  // and report read the whole log with everything.
  bool compact_ = false;
  std::string actor_;
  std::string owner_;

  mutable std::mutex mu_;
  std::map<std::string, TaskState> tasks_;     // By key.
  std::map<std::uint64_t, std::string> open_;  // Order -> key.
  std::uint64_t next_order_ = 0;
  std::vector<evidence::Hash> leaves_;
  std::map<std::uint64_t, std::string> lines_;  // Of tasks still open.
  struct Intent {
    std::int64_t time;
    bool deletion;
    std::vector<std::string> grants;
  };
  std::deque<Intent> intents_;  // The last 24 hours.
  ScopeStatus scope_;
};

}  // namespace deputy::agent
