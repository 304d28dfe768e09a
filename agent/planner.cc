#include "agent/planner.h"

#include <algorithm>
#include <set>

#include "base/dn.h"
#include "base/strict_json.h"

namespace deputy::agent {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// Entitlement names compare as the target compares them: DNs after
// normalisation, role names case-insensitively.
std::string Key(const TargetConfig& t, const std::string& name) {
  if (t.kind == "ldap") {
    auto dn = Dn::Parse(name);
    if (dn.ok()) return dn->Canonical();
  }
  return Lower(name);
}

class Builder {
 public:
  explicit Builder(std::int64_t grace_until) : grace_until_(grace_until) {}
  void Add(const std::string& target, const std::string& op,
           const std::string& resource, const std::string& subject,
           nlohmann::json params = nlohmann::json::object(),
           bool after_grace = false) {
    PlannedAction a;
    a.id = "a" + std::to_string(plan.actions.size() + 1);
    a.target = target;
    a.operation = op;
    a.resource = resource;
    a.subject = subject;
    a.params = params.is_null() ? nlohmann::json::object() : std::move(params);
    a.not_before = after_grace ? grace_until_ : 0;
    plan.actions.push_back(std::move(a));
  }
  Plan plan;

 private:
  std::int64_t grace_until_;
};

const std::string kMemberOp[2][2] = {{"add_member", "remove_member"},
                                     {"grant_role", "revoke_role"}};
const std::string& MemberOp(const TargetConfig& t, bool add) {
  return kMemberOp[t.kind == "ldap" ? 0 : 1][add ? 0 : 1];
}

// Membership actions: resource = the group or role, subject = account.
void AddMembership(Builder& b, const TargetConfig& t, const std::string& group,
                   const std::string& account, bool add) {
  b.Add(t.name, MemberOp(t, add), group, account);
}

std::vector<std::string> DepartmentEntitlements(const Config& c,
                                                const std::string& dept,
                                                const std::string& target) {
  auto d = c.departments.find(dept);
  if (d == c.departments.end()) return {};
  auto t = d->second.find(target);
  return t == d->second.end() ? std::vector<std::string>() : t->second;
}

}  // namespace

nlohmann::json PlannedAction::ToJson() const {
  nlohmann::json j = {{"id", id},
                      {"target", target},
                      {"operation", operation},
                      {"resource", resource},
                      {"subject", subject},
                      {"params", params}};
  if (not_before != 0) j["not_before"] = not_before;
  return j;
}

Result<PlannedAction> PlannedAction::FromJson(const nlohmann::json& j) {
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(j, "action"));
  PlannedAction a;
  ASSIGN_OR_RETURN(a.id, r.String("id"));
  ASSIGN_OR_RETURN(a.target, r.String("target"));
  ASSIGN_OR_RETURN(a.operation, r.String("operation"));
  ASSIGN_OR_RETURN(a.resource, r.String("resource"));
  ASSIGN_OR_RETURN(a.subject, r.String("subject"));
  ASSIGN_OR_RETURN(const nlohmann::json* params, r.Object("params"));
  a.params = *params;
  ASSIGN_OR_RETURN(auto nb, r.OptionalInt("not_before"));
  a.not_before = nb.value_or(0);
  RETURN_IF_ERROR(r.Finish());
  return a;
}

Result<std::string> AccountName(const TargetConfig& target,
                                std::string_view uid) {
  RETURN_IF_ERROR(ValidateUid(uid));
  if (target.kind == "ldap") {
    std::string people;
    if (target.options.contains("people") &&
        target.options["people"].is_string()) {
      people = target.options["people"].get<std::string>();
    } else if (target.options.contains("base_dn") &&
               target.options["base_dn"].is_string()) {
      people = "ou=people," + target.options["base_dn"].get<std::string>();
    } else {
      return Status::Invalid("target " + target.name +
                             ": options.base_dn is required for LDAP");
    }
    std::string dn = "uid=" + EscapeDnValue(uid) + "," + people;
    ASSIGN_OR_RETURN(auto parsed, Dn::Parse(dn));
    return parsed.Canonical();
  }
  std::string role(uid);
  for (char& c : role) {
    if (c == '.' || c == '-') c = '_';
  }
  return role;
}

Result<Plan> PlanTicket(const PlanInput& in) {
  const Ticket& t = *in.ticket;
  const Config& c = *in.config;
  Builder b(in.now_micros + c.leaver_grace_seconds * 1000000);
  // Every configured target must have been observed: no blind plans.
  for (const auto& target : c.targets) {
    if (!in.observed.count(target.name)) {
      return Status::FailedPrecondition("target " + target.name +
                                        " was not observed; cannot plan");
    }
  }
  // Entitlements named in the ticket, per target, checked.
  std::map<std::string, std::vector<std::string>> named;
  for (const auto& e : t.entitlements) {
    const TargetConfig* target = c.FindTarget(e.target);
    if (target == nullptr) {
      return Status::Invalid("entitlement on unknown target \"" + e.target +
                             "\"");
    }
    if ((target->kind == "ldap") != (e.kind == "group")) {
      return Status::Invalid("target " + e.target + " takes " +
                             (target->kind == "ldap" ? "groups" : "roles") +
                             ", not a " + e.kind);
    }
    if (target->kind == "ldap" && !Dn::Parse(e.name).ok()) {
      return Status::Invalid("group \"" + e.name + "\" is not a valid DN");
    }
    named[e.target].push_back(e.name);
  }
  bool any_account = false;
  for (const auto& target : c.targets) {
    ASSIGN_OR_RETURN(std::string account, AccountName(target, t.subject.uid));
    const AccountObservation& seen = in.observed.at(target.name);
    std::set<std::string> held;
    for (const auto& m : seen.memberships) held.insert(Key(target, m));
    auto holds = [&](const std::string& g) {
      return held.count(Key(target, g));
    };
    if (seen.exists) any_account = true;
    switch (t.type) {
      case TicketType::kJoiner: {
        if (target.kind == "ldap") {
          nlohmann::json params = {{"given_name", t.subject.given_name},
                                   {"surname", t.subject.surname},
                                   {"department", t.subject.department}};
          if (!t.subject.mail.empty()) params["mail"] = t.subject.mail;
          b.Add(target.name, "create_account", account, account, params);
        } else {
          b.Add(target.name, "create_role", account, account,
                {{"login", true}});
        }
        std::vector<std::string> wanted =
            DepartmentEntitlements(c, t.subject.department, target.name);
        for (const auto& n : named[target.name]) wanted.push_back(n);
        std::set<std::string> done;
        for (const auto& g : wanted) {
          if (!done.insert(Key(target, g)).second) continue;
          AddMembership(b, target, g, account, true);
        }
        break;
      }
      case TicketType::kMover: {
        if (!seen.exists) {
          b.plan.notes.push_back("no account on " + target.name);
          break;
        }
        std::vector<std::string> wanted =
            DepartmentEntitlements(c, t.subject.department, target.name);
        for (const auto& n : named[target.name]) wanted.push_back(n);
        std::set<std::string> wanted_keys;
        for (const auto& g : wanted) {
          if (!wanted_keys.insert(Key(target, g)).second) continue;
          if (!holds(g)) AddMembership(b, target, g, account, true);
        }
        // Another department's entitlements the subject still holds.
        std::set<std::string> removed;
        for (const auto& [dept, per_target] : c.departments) {
          if (dept == t.subject.department) continue;
          auto it = per_target.find(target.name);
          if (it == per_target.end()) continue;
          for (const auto& g : it->second) {
            std::string k = Key(target, g);
            if (wanted_keys.count(k) || !held.count(k)) continue;
            if (!removed.insert(k).second) continue;
            AddMembership(b, target, g, account, false);
          }
        }
        break;
      }
      case TicketType::kLeaver: {
        if (!seen.exists) {
          b.plan.notes.push_back("no account on " + target.name);
          break;
        }
        if (target.kind == "ldap") {
          b.Add(target.name, "disable", account, account);
          for (const auto& g : seen.memberships) {
            AddMembership(b, target, g, account, false);
          }
          b.Add(target.name, "delete", account, account, {}, true);
        } else {
          for (const auto& g : seen.memberships) {
            AddMembership(b, target, g, account, false);
          }
          b.Add(target.name, "disable", account, account);
          auto successor = in.successors.find(target.name);
          if (successor == in.successors.end()) {
            return Status::FailedPrecondition(
                "the scope manifest names no successor for " + target.name +
                ": a dropped role's objects need a new owner");
          }
          b.Add(target.name, "drop_role", account, account,
                {{"successor", successor->second}}, true);
        }
        break;
      }
      case TicketType::kGrant:
      case TicketType::kRevoke: {
        bool add = t.type == TicketType::kGrant;
        if (named[target.name].empty()) break;
        if (!seen.exists) {
          return Status::FailedPrecondition("the subject has no account on " +
                                            target.name);
        }
        for (const auto& g : named[target.name]) {
          AddMembership(b, target, g, account, add);
        }
        break;
      }
      case TicketType::kRotate: {
        if (!seen.exists) {
          b.plan.notes.push_back("no account on " + target.name);
          break;
        }
        b.Add(target.name,
              target.kind == "ldap" ? "reset_credential" : "rotate_password",
              account, account, {{"recipient", t.recipient}});
        break;
      }
    }
  }
  if ((t.type == TicketType::kMover || t.type == TicketType::kRotate) &&
      !any_account) {
    return Status::FailedPrecondition("the subject has no account anywhere");
  }
  return std::move(b.plan);
}

nlohmann::json Simulate(const PlannedAction& a, const TargetConfig& t,
                        const AccountObservation& seen) {
  const std::string& op = a.operation;
  bool held = false;
  for (const auto& m : seen.memberships) {
    if (Key(t, m) == Key(t, a.resource)) held = true;
  }
  bool change = true;
  std::string because;
  if (op == "create_account" || op == "create_role") {
    change = !seen.exists;
    because = seen.exists ? "the account exists" : "no account yet";
  } else if (op == "disable") {
    change = seen.exists && !seen.disabled;
    because = !seen.exists    ? "no account"
              : seen.disabled ? "already disabled"
                              : "the account is enabled";
  } else if (op == "delete" || op == "drop_role") {
    change = seen.exists || !seen.memberships.empty();
    because = change ? "the account or a membership exists" : "already gone";
  } else if (op == "add_member" || op == "grant_role") {
    change = !held;
    because = held ? "already a member" : "not a member yet";
  } else if (op == "remove_member" || op == "revoke_role") {
    change = held;
    because = held ? "a member" : "not a member";
  } else {
    because = "a new credential every time";
  }
  return {{"action", a.id}, {"will_change", change}, {"because", because}};
}

}  // namespace deputy::agent
