// A fake target for the agent's unit tests: an in-memory directory of
// accounts and groups behind the ModuleRunner swap point, answering the
// protocol as the LDAP module does (kind "ldap"). Integration tests use the
// real modules and servers; this fake lets the agent's own logic (gating,
// approvals, recovery, receipts) run under the sanitizers in milliseconds.
// Thread-safe (one mutex).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "agent/runner.h"

namespace deputy::agent::testing {

class FakeTarget {
 public:
  struct Account {
    bool disabled = false;
  };
  std::mutex mu;
  std::map<std::string, Account> accounts;              // DN -> account.
  std::map<std::string, std::set<std::string>> groups;  // DN -> member DNs.
  std::map<std::string, int> applies;  // "operation resource subject" -> n.
  int apply_calls = 0;
  // Called before each apply; return a non-OK status to fail it.
  std::function<Status(const protocol::Action&)> before_apply;

  void AddAccount(const std::string& dn) {
    std::lock_guard<std::mutex> l(mu);
    accounts[dn];
  }
  void AddMember(const std::string& group, const std::string& dn) {
    std::lock_guard<std::mutex> l(mu);
    groups[group].insert(dn);
  }
  bool IsMember(const std::string& group, const std::string& dn) {
    std::lock_guard<std::mutex> l(mu);
    return groups[group].count(dn) > 0;
  }
  bool Exists(const std::string& dn) {
    std::lock_guard<std::mutex> l(mu);
    return accounts.count(dn) > 0;
  }
};

class FakeRunner final : public ModuleRunner {
 public:
  explicit FakeRunner(FakeTarget& t) : t_(t) {}

  Result<ModuleOutcome> Call(const std::string& target, protocol::Op op,
                             const std::string& id,
                             const protocol::Action* action,
                             nlohmann::json* sandbox) override {
    if (sandbox != nullptr) *sandbox = {{"fake", true}};
    ModuleOutcome out;
    out.response.id = id;
    if (target != "ldap") return Status::NotFound("no target " + target);
    if (op == protocol::Op::kDescribe) {
      out.response.result = nlohmann::json{
          {"kind", "ldap"}, {"operations", nlohmann::json::array()}};
      return out;
    }
    const protocol::Action& a = *action;
    std::lock_guard<std::mutex> l(t_.mu);
    const bool member_op =
        a.operation == "add_member" || a.operation == "remove_member";
    auto account_state = [&](const std::string& dn) {
      nlohmann::json m = nlohmann::json::array();
      for (const auto& [g, members] : t_.groups) {
        if (members.count(dn)) m.push_back(g);
      }
      bool exists = t_.accounts.count(dn) > 0;
      return nlohmann::json{{"exists", exists},
                            {"disabled", exists && t_.accounts[dn].disabled},
                            {"memberships", m}};
    };
    auto satisfied = [&]() -> bool {
      if (member_op) {
        bool in = t_.groups[a.resource].count(a.subject) > 0;
        return a.operation == "add_member" ? in : !in;
      }
      bool exists = t_.accounts.count(a.resource) > 0;
      if (a.operation == "create_account") return exists;
      if (a.operation == "disable") {
        return exists && t_.accounts[a.resource].disabled;
      }
      if (a.operation == "delete") {
        for (const auto& [g, m] : t_.groups) {
          if (m.count(a.resource)) return false;
        }
        return !exists;
      }
      return false;
    };
    if (op == protocol::Op::kRead) {
      protocol::ReadResult r;
      r.exists = member_op ? true : t_.accounts.count(a.resource) > 0;
      r.satisfied = satisfied();
      r.state =
          member_op ? nlohmann::json::object() : account_state(a.resource);
      out.response.result = r.ToJson();
      return out;
    }
    if (op == protocol::Op::kVerify) {
      protocol::VerifyResult v;
      v.satisfied = satisfied();
      v.checks.push_back({"fake_check", v.satisfied, ""});
      v.observed = member_op
                       ? nlohmann::json{{"member", a.operation == "add_member"}}
                       : account_state(a.resource);
      out.response.result = v.ToJson();
      return out;
    }
    // Apply.
    ++t_.apply_calls;
    if (t_.before_apply) {
      Status s = t_.before_apply(a);
      if (!s.ok()) {
        if (s.code() == ErrorCode::kUnavailable) return s;
        protocol::Error e;
        e.kind = protocol::ErrorKind::kDenied;
        e.message = s.message();
        out.response.error = e;
        out.response.result.reset();
        return out;
      }
    }
    bool changed = !satisfied();
    if (changed) {
      ++t_.applies[a.operation + " " + a.resource + " " + a.subject];
      if (a.operation == "create_account") t_.accounts[a.resource];
      if (a.operation == "disable") t_.accounts[a.resource].disabled = true;
      if (a.operation == "delete") {
        t_.accounts.erase(a.resource);
        for (auto& [g, m] : t_.groups) m.erase(a.resource);
      }
      if (a.operation == "add_member") t_.groups[a.resource].insert(a.subject);
      if (a.operation == "remove_member")
        t_.groups[a.resource].erase(a.subject);
    }
    out.response.result = protocol::ApplyResult{changed, {}}.ToJson();
    return out;
  }

  nlohmann::json DescribeSandbox(const std::string&) const override {
    return {{"fake", true}};
  }

 private:
  FakeTarget& t_;
};

}  // namespace deputy::agent::testing
