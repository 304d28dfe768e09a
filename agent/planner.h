// The planner: a ticket to the ordered list of actions that carry it out,
// deterministically, from the configuration's department map and what
// each target showed about the subject (docs/tickets.md, "Plans").
//
// A pure function: the same ticket, configuration, observations, scope
// successors and time give the same plan. The agent gathers observations
// with each module's `read` before planning and logs them with the plan.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/ticket.h"
#include "base/status.h"

namespace deputy::agent {

// One action of a plan: what the gate decides on and a module carries out.
struct PlannedAction {
  std::string id;  // "a1", "a2", ... in order within the task.
  std::string target;
  std::string operation;
  std::string resource;
  std::string subject;
  nlohmann::json params = nlohmann::json::object();
  std::int64_t not_before = 0;  // Micros; 0 = at once (leaver grace).

  nlohmann::json ToJson() const;
  static Result<PlannedAction> FromJson(const nlohmann::json& j);
};

// What one target showed about the subject's account.
struct AccountObservation {
  bool exists = false;
  bool disabled = false;
  std::vector<std::string> memberships;             // Group DNs or role names.
  nlohmann::json state = nlohmann::json::object();  // As the module said.
};

struct PlanInput {
  const Ticket* ticket = nullptr;
  const Config* config = nullptr;
  // Target name -> observation; a configured target missing here was not
  // observed (the planner refuses to plan blind).
  std::map<std::string, AccountObservation> observed;
  // Target name -> role that takes over a dropped role's objects, from
  // the signed scope manifest.
  std::map<std::string, std::string> successors;
  std::int64_t now_micros = 0;
};

struct Plan {
  std::vector<PlannedAction> actions;
  std::vector<std::string> notes;  // "no account on postgres", ...
};

// The subject's account name on a target of `kind` ("ldap": the entry's
// DN under the target's people base; "postgres": the role name, with '.'
// and '-' replaced by '_').
Result<std::string> AccountName(const TargetConfig& target,
                                std::string_view uid);

Result<Plan> PlanTicket(const PlanInput& input);

// The simulation of one planned action: what it will change, judged from
// the module's read of the subject's account on that target (the same read
// the plan came from). {"action": id, "will_change": bool, "because": text}.
nlohmann::json Simulate(const PlannedAction& action, const TargetConfig& target,
                        const AccountObservation& observed);

}  // namespace deputy::agent
