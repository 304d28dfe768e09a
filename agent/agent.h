// The agent: deputy's runtime (docs/operations.md).
//
// Create() refuses to start without what makes the agent governable: a
// trust root that matches the operator's pin and lists this agent with a
// human owner, the agent's own key (matching the trust root), an evidence
// log it can write, and a sandbox for every target's module. It then
// replays the log (tasks, counters, deduplication), installs the signed
// scope (or starts frozen, saying why) and logs agent.started.
//
// Run() serves: intake (tickets), the inbox (owners' approvals,
// revocations, new scopes), and workers that carry each ticket out, one
// action at a time: gate, approval, durable intent, sandboxed apply,
// sandboxed verify, result. A task is done only when every action is
// verified. RequestStop() (SIGTERM) stops new applies; actions already
// applied finish their verification. With `once`, Run() returns when no
// task can make progress (all done, failed, or waiting for an approval, a
// grace period or a new scope).
//
// Thread-safe: RequestStop() may be called from any thread while Run()
// runs; Run() itself is called once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <iosfwd>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/config.h"
#include "agent/evidence/clock.h"
#include "agent/journal.h"
#include "agent/runner.h"
#include "base/status.h"
#include "keys/private_key.h"
#include "policy/gate.h"
#include "policy/revocation.h"
#include "policy/scope.h"
#include "policy/trust_root.h"

namespace deputy::agent {

struct AgentOptions {
  bool once = false;
  std::ostream* progress = nullptr;  // One line per finished ticket.
  // Tests substitute the runner; nullptr builds the sandboxed one.
  std::unique_ptr<ModuleRunner> runner;
  // How often the main loop looks at intake and inbox when idle.
  std::int64_t poll_ms = 100;
};

struct RunSummary {
  int done = 0;
  int failed = 0;
  int waiting = 0;   // Approval, grace, or frozen.
  int rejected = 0;  // Ticket files refused at intake.
};

class Agent {
 public:
  static Result<std::unique_ptr<Agent>> Create(const Config& config,
                                               const evidence::Clock& clock,
                                               AgentOptions options);
  ~Agent();

  Result<RunSummary> Run();
  void RequestStop();

 private:
  Agent(const Config& config, const evidence::Clock& clock,
        AgentOptions options);
  Status Start();
  Status InstallScopeAtStart();
  Status InstallScope(const keys::Envelope& envelope, bool at_start);
  Status Freeze(const std::string& reason);

  // Main loop steps.
  Status ScanIntake(RunSummary& summary);
  Status ScanInbox();
  Status CheckExpiry();
  // Tasks that can run now, in receipt order, one per subject.
  std::vector<std::string> RunnableTasks(bool& any_waiting);
  bool CanProgress(const TaskState& t, bool& waiting) const;

  // The per-task pipeline, run by workers.
  void WorkerLoop();
  Status RunTask(const std::string& key);
  Status PlanTask(const TaskState& t);
  // Advances one action as far as it can go now. Sets `parked` when it
  // must wait (approval, grace, frozen, stopping).
  Status RunAction(const TaskState& t, const ActionState& a, bool& parked);
  Status Decide(const TaskState& t, const ActionState& a, bool& parked);
  Status ApplyAndVerify(const TaskState& t, const ActionState& a);
  Status VerifyAction(const TaskState& t, const PlannedAction& a,
                      const std::string& kind, bool recovery);
  Status FinishTask(const std::string& key);
  Status WriteReceipt(const std::string& key);

  policy::Action GateAction(const TaskState& t, const PlannedAction& a) const;
  protocol::Action ModuleAction(const PlannedAction& a) const;
  std::string RequestId(const TaskState& t, const PlannedAction& a,
                        std::string_view what);
  void Progress(const std::string& line);
  void Fatal(const Status& s);

  const Config config_;
  const evidence::Clock& clock_;
  AgentOptions options_;
  std::unique_ptr<ModuleRunner> runner_;
  std::optional<keys::PrivateKey> key_;
  std::optional<policy::TrustRoot> trust_;
  const policy::AgentIdentity* identity_ = nullptr;
  std::unique_ptr<Journal> journal_;

  // The authority: scope, gate, policy state, approvals, freeze. Guarded
  // by policy_mu_, which also serialises decide-then-intent so that the
  // rate limits count every allowed action.
  mutable std::mutex policy_mu_;
  std::optional<policy::ScopeManifest> scope_;
  std::optional<policy::Gate> gate_;
  std::optional<policy::PolicyState> state_;
  std::map<std::string, policy::Approval> approvals_;  // By action digest.
  std::string frozen_;  // Why no new action may start; "" when not.
  std::int64_t warned_expiry_of_ = 0;  // Scope version warned about.

  // Scheduling. Guarded by mu_.
  std::mutex mu_;
  std::condition_variable work_cv_;  // Workers wait for tasks.
  std::condition_variable idle_cv_;  // The main loop waits for progress.
  std::vector<std::string> queue_;
  std::set<std::string> running_;   // Task keys being worked on.
  std::set<std::string> subjects_;  // Their subjects.
  std::map<std::string, int> plan_failures_;
  std::atomic<bool> stop_{false};
  Status fatal_;
  std::vector<std::thread> workers_;
  int request_counter_ = 0;
  int lock_fd_ = -1;  // flock on state_dir/agent.lock while this lives.
};

}  // namespace deputy::agent
