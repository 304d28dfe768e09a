// The agent's own logic against a fake target (tests/agent/fake_target.h):
// tickets to verified actions, gate denials, approvals, duplicates,
// recovery of an intent without a result, revocation, rate limits,
// receipts. The real modules and servers are exercised by the integration
// tests; these run in milliseconds, also under the sanitizers.
#include "agent/agent.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/journal.h"
#include "agent/receipt.h"
#include "base/files.h"
#include "keys/dsse.h"
#include "keys/private_key.h"
#include "keys/sha256.h"
#include "policy/gate.h"
#include "policy/revocation.h"
#include "policy/scope.h"
#include "policy/trust_root.h"
#include "tests/agent/fake_target.h"

namespace deputy::agent {
namespace {

namespace fs = std::filesystem;
using testing::FakeRunner;
using testing::FakeTarget;

// Wednesday 2026-12-02 10:00:00 UTC.
constexpr std::int64_t kNow = 1796205600LL * 1000000;
const char* kPeople = "ou=people,dc=example,dc=org";

std::string Dn(const std::string& uid) { return "uid=" + uid + "," + kPeople; }

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("deputy-agent-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "keys");
    for (const char* n : {"alice", "bob", "agent-1"}) {
      keys_.emplace(n, keys::PrivateKey::Generate(n).value());
    }
    ASSERT_TRUE(
        WriteFileAtomic(path("keys/agent-1.key"),
                        keys_.at("agent-1").SerializeUnencryptedInsecure(),
                        0600, Overwrite::kReplace)
            .ok());
    WriteTrust();
    WriteScope(
        1, R"({"id": "accounts", "target": "ldap",
        "operations": ["create_account", "disable", "delete"],
        "resources": {"subtree": "ou=people,dc=example,dc=org"},
        "approval": "none"},
       {"id": "groups", "target": "ldap",
        "operations": ["add_member", "remove_member"],
        "resources": {"subtree": "ou=groups,dc=example,dc=org"},
        "approval": "none"},
       {"id": "vip", "target": "ldap", "operations": ["add_member"],
        "resources": {"list": ["cn=vip,ou=privileged,dc=example,dc=org"]},
        "approval": "required"})",
        R"("limits": {"actions_per_hour": 100, "deletions_per_day": 10})");
    config_ = R"({"agent": "agent-1", "origin": "deputy.test/agent-1",
      "key": "keys/agent-1.key", "insecure_unencrypted_key": true,
      "trust": "trust.json", "trust_pin": ")" +
              pin_ + R"(", "scope": "scope.json", "state_dir": "state",
      "log_dir": "log", "intake": {"directory": "intake"},
      "receipts_dir": "receipts", "workers": 2,
      "targets": [{"name": "ldap", "kind": "ldap", "module": "/bin/true",
        "host": "ldap.test", "address": "127.0.0.1", "port": 389,
        "credential_file": "cred.json",
        "options": {"base_dn": "dc=example,dc=org", "tls": "none"}}],
      "departments": {"finance": {"ldap": ["cn=finance,ou=groups,dc=example,dc=org"]}},
      "retry": {"max_attempts": 2, "initial_backoff_ms": 1, "max_backoff_ms": 2}})";
    for (const char* uid : {"ann", "dave", "erin"}) target_.AddAccount(Dn(uid));
    target_.AddMember("cn=finance,ou=groups,dc=example,dc=org", Dn("dave"));
    target_.AddMember("cn=vpn,ou=groups,dc=example,dc=org", Dn("dave"));
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& rel) const {
    return (dir_ / rel).string();
  }

  keys::Envelope Sign(std::string_view type, const std::string& payload,
                      std::initializer_list<const char*> signers) {
    auto it = signers.begin();
    keys::Envelope env = keys::SignEnvelope(type, payload, keys_.at(*it));
    for (++it; it != signers.end(); ++it) {
      EXPECT_TRUE(keys::AddSignature(env, keys_.at(*it)).ok());
    }
    return env;
  }
  std::string Pub(const char* n) {
    std::string s = keys_.at(n).public_key().Serialize();
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  void WriteTrust() {
    std::string payload = R"({"version": 1, "expires": "2027-12-03T00:00:00Z",
      "owners": [
        {"name": "alice", "keys": [")" +
                          Pub("alice") + R"("],
         "accounts": ["uid=alice,ou=people,dc=example,dc=org"]},
        {"name": "bob", "keys": [")" +
                          Pub("bob") + R"("]}],
      "agents": [{"id": "agent-1", "key": ")" +
                          Pub("agent-1") + R"(",
        "owner": "alice", "backup_owner": "bob",
        "accounts": ["cn=deputy,ou=services,dc=example,dc=org"]}],
      "thresholds": {"trust_change": 2, "scope_grant": 2, "revocation": 1}})";
    pin_ = keys::Sha256Hex(AsBytes(payload));
    ASSERT_TRUE(
        WriteFileAtomic(
            path("trust.json"),
            Sign(policy::kTrustRootType, payload, {"alice", "bob"}).Serialize(),
            0644, Overwrite::kReplace)
            .ok());
  }
  void WriteScope(int version, const std::string& grants,
                  const std::string& extra = "",
                  const char* file = "scope.json") {
    std::string payload = R"({"agent": "agent-1", "version": )" +
                          std::to_string(version) + R"(,
      "not_before": "2026-12-01T00:00:00Z", "expires": "2027-03-01T00:00:00Z",
      "grants": [)" + grants +
                          "]" + (extra.empty() ? "" : ", " + extra) + "}";
    ASSERT_TRUE(
        WriteFileAtomic(
            path(file),
            Sign(policy::kScopeType, payload, {"alice", "bob"}).Serialize(),
            0644, Overwrite::kReplace)
            .ok());
  }
  void Submit(const std::string& name, const std::string& ticket) {
    fs::create_directories(dir_ / "intake");
    ASSERT_TRUE(WriteFileAtomic(path("intake/" + name), ticket, 0644,
                                Overwrite::kReplace)
                    .ok());
  }
  Result<RunSummary> RunOnce(evidence::Clock* clock = nullptr) {
    auto config = Config::Parse(config_, dir_.string());
    if (!config.ok()) return config.status();
    config_value_.emplace(std::move(*config));
    AgentOptions options;
    options.once = true;
    options.poll_ms = 5;
    options.progress = &progress_;
    options.runner = std::make_unique<FakeRunner>(target_);
    auto agent = Agent::Create(*config_value_, clock ? *clock : clock_,
                               std::move(options));
    if (!agent.ok()) return agent.status();
    return (*agent)->Run();
  }
  std::string ReportOf(const std::string& key) {
    TaskState t = Task(key);
    std::string out = t.key + " " + std::string(TaskPhaseName(t.phase)) + " " +
                      t.reason + "\n";
    for (const auto& a : t.actions) {
      out += "  " + a.action.operation + " " + a.action.resource + " " +
             std::string(ActionPhaseName(a.phase)) + " " + a.error + "\n";
    }
    return out;
  }
  TaskState Task(const std::string& key) {
    auto j = Journal::ReadOnly(path("log"));
    EXPECT_TRUE(j.ok());
    auto t = (*j)->Task(key);
    EXPECT_TRUE(t.has_value()) << key;
    return t ? *t : TaskState{};
  }

  fs::path dir_;
  std::map<std::string, keys::PrivateKey> keys_;
  std::string pin_;
  std::string config_;
  std::optional<Config> config_value_;
  evidence::FakeClock clock_{kNow};
  FakeTarget target_;
  std::ostringstream progress_;
};

TEST_F(AgentTest, LeaverIsDoneOnlyWhenEveryActionIsVerified) {
  Submit("t1.json", R"({"id": "T-1", "revision": 1, "type": "leaver",
    "requester": "hr", "subject": {"uid": "dave"}})");
  auto s = RunOnce();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->done, 1) << progress_.str() << ReportOf("T-1@1");
  EXPECT_FALSE(target_.Exists(Dn("dave")));
  EXPECT_FALSE(
      target_.IsMember("cn=vpn,ou=groups,dc=example,dc=org", Dn("dave")));
  TaskState t = Task("T-1@1");
  ASSERT_EQ(t.actions.size(), 4u);  // disable, 2 x remove_member, delete.
  for (const auto& a : t.actions) {
    EXPECT_EQ(a.phase, ActionPhase::kVerified) << a.action.operation;
  }
  EXPECT_TRUE(t.receipt_written);
  // The receipt verifies offline, with the agent's key only.
  auto text = ReadFileBounded(path("receipts/T-1@1.json"), 1 << 22);
  ASSERT_TRUE(text.ok());
  auto check = VerifyReceipt(*text, keys_.at("agent-1").public_key());
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_EQ(check->outcome, "done");
  EXPECT_EQ(check->actions, 4u);
  // And beside the ticket, for whoever filed it.
  EXPECT_TRUE(fs::exists(path("intake/done/t1.json.receipt.json")));
}

TEST_F(AgentTest, ATamperedReceiptDoesNotVerify) {
  Submit("t1.json", R"({"id": "T-1", "revision": 1, "type": "revoke",
    "requester": "hr", "subject": {"uid": "dave"}, "entitlements": [
      {"target": "ldap", "group": "cn=vpn,ou=groups,dc=example,dc=org"}]})");
  ASSERT_TRUE(RunOnce().ok());
  auto text = ReadFileBounded(path("receipts/T-1@1.json"), 1 << 22);
  ASSERT_TRUE(text.ok());
  const auto& key = keys_.at("agent-1").public_key();
  ASSERT_TRUE(VerifyReceipt(*text, key).ok());
  // Claiming success for a failure, or a different end state, is caught.
  auto doc = nlohmann::json::parse(*text);
  auto lie = doc;
  lie["outcome"] = "failed";
  EXPECT_FALSE(VerifyReceipt(lie.dump(), key).ok());
  lie = doc;
  lie["actions"][0]["observed"] = {{"member", true}};
  EXPECT_FALSE(VerifyReceipt(lie.dump(), key).ok());
  lie = doc;
  lie["actions"][0]["outcome"] = "failed";
  EXPECT_FALSE(VerifyReceipt(lie.dump(), key).ok());
  // An entry line changed by one byte no longer proves inclusion.
  lie = doc;
  std::string proof = lie["entries"][1]["proof"];
  auto pos = proof.find("\nextra ");
  ASSERT_NE(pos, std::string::npos) << proof;
  proof[pos + 12] = proof[pos + 12] == 'A' ? 'B' : 'A';
  lie["entries"][1]["proof"] = proof;
  EXPECT_FALSE(VerifyReceipt(lie.dump(), key).ok());
  // Another key did not sign its checkpoint.
  EXPECT_FALSE(VerifyReceipt(*text, keys_.at("bob").public_key()).ok());
}

TEST_F(AgentTest, ForbiddenAndOwnAccountActionsAreDeniedAndNothingRuns) {
  WriteScope(1, R"({"id": "ldap", "target": "ldap",
      "operations": ["add_member", "disable"],
      "resources": {"subtree": "dc=example,dc=org"}, "approval": "none"})",
             R"("forbid": [{"id": "no-admins", "target": "ldap",
      "operations": ["*"], "resources": {"list": ["cn=admins,ou=groups,dc=example,dc=org"]}}])");
  Submit("t1.json", R"({"id": "T-1", "revision": 1, "type": "grant",
    "requester": "ann", "subject": {"uid": "ann"}, "entitlements": [
      {"target": "ldap", "group": "cn=admins,ou=groups,dc=example,dc=org"}]})");
  // An owner's account: alice is protected by the gate's invariants.
  target_.AddAccount(Dn("alice"));
  Submit("t2.json", R"({"id": "T-2", "revision": 1, "type": "leaver",
    "requester": "mallory", "subject": {"uid": "alice"}})");
  auto s = RunOnce();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->failed, 2);
  EXPECT_EQ(target_.apply_calls, 0);
  EXPECT_EQ(Task("T-1@1").actions[0].phase, ActionPhase::kDenied);
  EXPECT_NE(Task("T-1@1").actions[0].error.find("forbid"), std::string::npos);
  EXPECT_NE(Task("T-2@1").actions[0].error.find("owner"), std::string::npos)
      << Task("T-2@1").actions[0].error;
  EXPECT_TRUE(target_.Exists(Dn("alice")));
}

TEST_F(AgentTest, ApprovalIsRequestedThenUsedOnceByAnotherOwner) {
  Submit("t1.json", R"({"id": "T-1", "revision": 1, "type": "grant",
    "requester": "bob", "subject": {"uid": "erin"}, "entitlements": [
      {"target": "ldap", "group": "cn=vip,ou=privileged,dc=example,dc=org"}]})");
  auto s = RunOnce();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->waiting, 1);
  EXPECT_EQ(target_.apply_calls, 0);
  TaskState t = Task("T-1@1");
  ASSERT_EQ(t.actions[0].phase, ActionPhase::kAwaitingApproval);
  std::string request = path("state/approvals/T-1@1.a1.json");
  ASSERT_TRUE(fs::exists(request));
  auto action_text = ReadFileBounded(request, 1 << 16);
  auto action = policy::Action::FromJson(nlohmann::json::parse(*action_text));
  ASSERT_TRUE(action.ok());
  auto approve = [&](const char* owner) {
    nlohmann::json a = {{"action_digest", action->Digest()},
                        {"approver", owner},
                        {"ticket", "T-1"},
                        {"expires", "2026-12-03T00:00:00Z"}};
    return Sign(policy::kApprovalType, a.dump(), {owner}).Serialize();
  };
  // bob requested it: his approval is refused by the gate.
  fs::create_directories(dir_ / "state/inbox");
  ASSERT_TRUE(WriteFileAtomic(path("state/inbox/bob.json"), approve("bob"),
                              0644, Overwrite::kRefuse)
                  .ok());
  s = RunOnce();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Task("T-1@1").actions[0].phase, ActionPhase::kDenied);
  EXPECT_NE(Task("T-1@1").actions[0].error.find("approver_is_requester"),
            std::string::npos)
      << Task("T-1@1").actions[0].error;
  EXPECT_EQ(target_.apply_calls, 0);

  // A new revision: alice approves it; it runs once.
  Submit("t2.json", R"({"id": "T-1", "revision": 2, "type": "grant",
    "requester": "bob", "subject": {"uid": "erin"}, "entitlements": [
      {"target": "ldap", "group": "cn=vip,ou=privileged,dc=example,dc=org"}]})");
  ASSERT_TRUE(RunOnce().ok());
  auto a2 = ReadFileBounded(path("state/approvals/T-1@2.a1.json"), 1 << 16);
  ASSERT_TRUE(a2.ok());
  action = policy::Action::FromJson(nlohmann::json::parse(*a2));
  std::string alice = approve("alice");
  ASSERT_TRUE(WriteFileAtomic(path("state/inbox/alice.json"), alice, 0644,
                              Overwrite::kRefuse)
                  .ok());
  s = RunOnce();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Task("T-1@2").phase, TaskPhase::kDone) << progress_.str();
  EXPECT_TRUE(
      target_.IsMember("cn=vip,ou=privileged,dc=example,dc=org", Dn("erin")));
  // Delivered again, the same approval is refused: it was used.
  ASSERT_TRUE(WriteFileAtomic(path("state/inbox/again.json"), alice, 0644,
                              Overwrite::kRefuse)
                  .ok());
  ASSERT_TRUE(RunOnce().ok());
  EXPECT_TRUE(fs::exists(path("state/inbox/rejected/again.json")));
}

TEST_F(AgentTest, DuplicateDeliveriesAreNotExecutedTwiceAcrossRestarts) {
  const std::string ticket = R"({"id": "T-1", "revision": 1, "type": "revoke",
    "requester": "hr", "subject": {"uid": "dave"}, "entitlements": [
      {"target": "ldap", "group": "cn=vpn,ou=groups,dc=example,dc=org"}]})";
  Submit("a.json", ticket);
  ASSERT_TRUE(RunOnce().ok());
  EXPECT_EQ(target_.apply_calls, 1);
  // Someone puts dave back, and the ticket arrives again: not re-run.
  target_.AddMember("cn=vpn,ou=groups,dc=example,dc=org", Dn("dave"));
  Submit("b.json", ticket);
  auto s = RunOnce();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(target_.apply_calls, 1);
  EXPECT_TRUE(fs::exists(path("intake/done/b.json.reason")));
  auto reason = ReadFileBounded(path("intake/done/b.json.reason"), 1024);
  EXPECT_NE(reason->find("duplicate"), std::string::npos);
}

TEST_F(AgentTest, BadTicketsAreRejectedWithAReasonAndLoseNothing) {
  Submit("1-bad-json.json", "{\"id\": ");
  Submit("2-dup-key.json", R"({"id": "T-9", "id": "T-8", "revision": 1,
    "type": "leaver", "requester": "x", "subject": {"uid": "dave"}})");
  Submit("3-type.json", R"({"id": "T-9", "revision": 1, "type": "promote",
    "requester": "x", "subject": {"uid": "dave"}})");
  Submit("4-no-subject.json", R"({"id": "T-9", "revision": 1,
    "type": "leaver", "requester": "x"})");
  Submit("5-injection.json", R"({"id": "T-9", "revision": 1, "type": "leaver",
    "requester": "x", "subject": {"uid": "x*)(uid=*"}})");
  Submit("6-huge.json", std::string(200 * 1024, ' '));
  Submit("7-good.json", R"({"id": "T-1", "revision": 1, "type": "revoke",
    "requester": "hr", "subject": {"uid": "dave"}, "entitlements": [
      {"target": "ldap", "group": "cn=vpn,ou=groups,dc=example,dc=org"}]})");
  auto s = RunOnce();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->rejected, 6);
  EXPECT_EQ(s->done, 1);
  for (const char* f : {"1-bad-json", "2-dup-key", "3-type", "4-no-subject",
                        "5-injection", "6-huge"}) {
    std::string base = path(std::string("intake/rejected/") + f + ".json");
    EXPECT_TRUE(fs::exists(base)) << f;
    auto reason = ReadFileBounded(base + ".reason", 4096);
    ASSERT_TRUE(reason.ok()) << f;
    EXPECT_FALSE(reason->empty()) << f;
  }
  auto dup =
      ReadFileBounded(path("intake/rejected/2-dup-key.json.reason"), 4096);
  EXPECT_NE(dup->find("duplicate"), std::string::npos) << *dup;
  auto inj =
      ReadFileBounded(path("intake/rejected/5-injection.json.reason"), 4096);
  EXPECT_NE(inj->find("uid"), std::string::npos) << *inj;
}

TEST_F(AgentTest, AnIntentWithoutAResultIsResolvedByReadingTheTarget) {
  // A first run records the ticket and its plan, then "crashes" right after
  // the durable intent of its first action: before_apply makes the agent
  // fail closed, as a lost process would leave it.
  Submit("t1.json", R"({"id": "T-1", "revision": 1, "type": "revoke",
    "requester": "hr", "subject": {"uid": "dave"}, "entitlements": [
      {"target": "ldap", "group": "cn=vpn,ou=groups,dc=example,dc=org"},
      {"target": "ldap", "group": "cn=finance,ou=groups,dc=example,dc=org"}]})");
  {
    // Simulate the crash by writing the entries the agent would have
    // written, through the journal, up to the first intent.
    ASSERT_TRUE(RunOnce().ok());  // Creates the log; T-1 completes.
  }
  EXPECT_EQ(target_.apply_calls, 2);
  // Now a second ticket whose first action's apply happened on the target
  // but whose result never reached the log.
  auto key = keys::PrivateKey::LoadFile(path("keys/agent-1.key"), "",
                                        keys::UnencryptedKeys::kAllowInsecure);
  ASSERT_TRUE(key.ok());
  {
    auto log = evidence::EvidenceLog::Open(path("log"), *key, "agent-1",
                                           "alice", clock_);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    auto journal =
        Journal::Open(std::move(*log), path("log"), "agent-1", "alice");
    ASSERT_TRUE(journal.ok());
    auto& j = **journal;
    const std::string t = "T-2@1";
    nlohmann::json ticket = {{"id", "T-2"},
                             {"revision", 1},
                             {"type", "revoke"},
                             {"requester", "hr"},
                             {"subject", {{"uid", "ann"}}},
                             {"entitlements", nlohmann::json::array()}};
    PlannedAction a;
    a.id = "a1";
    a.target = "ldap";
    a.operation = "add_member";
    a.resource = "cn=vpn,ou=groups,dc=example,dc=org";
    a.subject = Dn("ann");
    ASSERT_TRUE(j.Record("task.received", t, std::nullopt,
                         {{"ticket", ticket}, {"source", ""}},
                         evidence::Durability::kSync)
                    .ok());
    ASSERT_TRUE(j.Record("task.planned", t, std::nullopt,
                         {{"actions", {a.ToJson()}},
                          {"notes", nlohmann::json::array()}},
                         evidence::Durability::kSync)
                    .ok());
    ASSERT_TRUE(j.Record("action.intent", t, "a1",
                         {{"operation", "add_member"}},
                         evidence::Durability::kSync)
                    .ok());
    ASSERT_TRUE(j.Close().ok());
  }
  // The apply had reached the target before the crash.
  target_.AddMember("cn=vpn,ou=groups,dc=example,dc=org", Dn("ann"));
  int before = target_.apply_calls;
  auto s = RunOnce();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(target_.apply_calls, before) << "applied twice";
  TaskState t2 = Task("T-2@1");
  EXPECT_EQ(t2.actions[0].phase, ActionPhase::kVerified);
  EXPECT_EQ(t2.phase, TaskPhase::kDone);
  EXPECT_NE(progress_.str().find("recovered"), std::string::npos);
}

TEST_F(AgentTest, ARevocationStopsEveryNewApply) {
  auto rev = nlohmann::json{{"agent", "agent-1"},
                            {"scope_version", 1},
                            {"reason", "incident 42"},
                            {"issued", "2026-12-02T09:00:00Z"}};
  fs::create_directories(dir_ / "state/inbox");
  ASSERT_TRUE(
      WriteFileAtomic(
          path("state/inbox/revoke.json"),
          Sign(policy::kRevocationType, rev.dump(), {"bob"}).Serialize(), 0644,
          Overwrite::kRefuse)
          .ok());
  Submit("t1.json", R"({"id": "T-1", "revision": 1, "type": "leaver",
    "requester": "hr", "subject": {"uid": "dave"}})");
  auto s = RunOnce();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(target_.apply_calls, 0);
  EXPECT_EQ(s->waiting, 1);
  EXPECT_NE(progress_.str().find("frozen"), std::string::npos);
  // A restart does not unfreeze it: the revocation is persisted.
  s = RunOnce();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(target_.apply_calls, 0);
  // A new version signed by both owners does.
  WriteScope(2, R"({"id": "ldap", "target": "ldap",
      "operations": ["disable", "delete", "remove_member"],
      "resources": {"subtree": "dc=example,dc=org"}, "approval": "none"})",
             "", "scope2.json");
  fs::copy_file(path("scope2.json"), path("state/inbox/scope2.json"));
  s = RunOnce();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->done, 1) << progress_.str();
  EXPECT_FALSE(target_.Exists(Dn("dave")));
}

TEST_F(AgentTest, AnExpiredScopeFreezesTheAgent) {
  evidence::FakeClock later(kNow + 100LL * 86400 * 1000000);  // March 2027.
  Submit("t1.json", R"({"id": "T-1", "revision": 1, "type": "leaver",
    "requester": "hr", "subject": {"uid": "dave"}})");
  auto s = RunOnce(&later);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(target_.apply_calls, 0);
  EXPECT_EQ(s->waiting, 1);
}

TEST_F(AgentTest, WarnsAheadOfScopeExpiryAndStillWorks) {
  // 2027-02-20: the scope expires on 2027-03-01, inside the 14-day warning.
  evidence::FakeClock late(kNow + 80LL * 86400 * 1000000);
  Submit("t1.json", R"({"id": "T-1", "revision": 1, "type": "leaver",
    "requester": "hr", "subject": {"uid": "dave"}})");
  auto s = RunOnce(&late);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->done, 1);
  EXPECT_NE(progress_.str().find("WARNING: scope version 1 expires"),
            std::string::npos)
      << progress_.str();
}

TEST_F(AgentTest, TheRateLimitIsCountedFromTheLogAcrossRestarts) {
  WriteScope(1, R"({"id": "ldap", "target": "ldap",
      "operations": ["remove_member"],
      "resources": {"subtree": "dc=example,dc=org"}, "approval": "none"})",
             R"("limits": {"actions_per_hour": 2})");
  for (int i = 0; i < 3; ++i) {
    std::string g = "cn=g" + std::to_string(i) + ",ou=groups,dc=example,dc=org";
    target_.AddMember(g, Dn("erin"));
    Submit("t" + std::to_string(i) + ".json",
           R"({"id": "T-)" + std::to_string(i) +
               R"(", "revision": 1, "type": "revoke", "requester": "hr",
    "subject": {"uid": "erin"}, "entitlements": [{"target": "ldap", "group": ")" +
               g + "\"}]}");
    // One ticket per run: the counter must come from the log.
    auto s = RunOnce();
    ASSERT_TRUE(s.ok());
  }
  EXPECT_EQ(target_.apply_calls, 2);
  TaskState t = Task("T-2@1");
  EXPECT_EQ(t.actions[0].phase, ActionPhase::kDenied);
  EXPECT_NE(t.actions[0].error.find("rate"), std::string::npos)
      << t.actions[0].error;
}

TEST_F(AgentTest, TransientFailuresRetryThenEscalateAndNeverCountAsDone) {
  target_.before_apply = [](const protocol::Action&) {
    return Status::Unavailable("target busy");
  };
  Submit("t1.json", R"({"id": "T-1", "revision": 1, "type": "revoke",
    "requester": "hr", "subject": {"uid": "dave"}, "entitlements": [
      {"target": "ldap", "group": "cn=vpn,ou=groups,dc=example,dc=org"}]})");
  auto s = RunOnce();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->failed, 1);
  EXPECT_EQ(target_.apply_calls, 2);  // max_attempts.
  TaskState t = Task("T-1@1");
  EXPECT_TRUE(t.escalated);
  EXPECT_EQ(t.actions[0].phase, ActionPhase::kFailed);
}

TEST_F(AgentTest, RefusesToStartWithoutItsTrustRootListingIt) {
  // A pin that does not match the trust root.
  config_.replace(config_.find(pin_), pin_.size(), std::string(64, 'a'));
  auto s = RunOnce();
  ASSERT_FALSE(s.ok());
  // Another agent's key.
  config_.replace(config_.find(std::string(64, 'a')), 64, pin_);
  ASSERT_TRUE(WriteFileAtomic(path("keys/agent-1.key"),
                              keys_.at("bob").SerializeUnencryptedInsecure(),
                              0600, Overwrite::kReplace)
                  .ok());
  s = RunOnce();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("not the key"), std::string::npos)
      << s.status().ToString();
}

}  // namespace
}  // namespace deputy::agent
