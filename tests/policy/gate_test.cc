#include "policy/gate.h"

#include <gtest/gtest.h>

#include <random>

#include "base/strict_json.h"
#include "keys/private_key.h"

namespace deputy::policy {
namespace {

constexpr std::int64_t kNow = 1796320800000000;  // 2026-12-03T18:00:00Z, Thu.
constexpr std::int64_t kHour = 3600LL * 1000000;

std::string Key(const std::string& name) {
  auto k = keys::PrivateKey::Generate(name);
  std::string line = k->public_key().Serialize();
  line.pop_back();  // The trailing newline.
  return line;
}

std::string TrustPayload() {
  nlohmann::json j = {
      {"version", 1},
      {"expires", "2027-12-03T00:00:00Z"},
      {"owners",
       {{{"name", "alice"},
         {"contact", "alice@example.org"},
         {"keys", {Key("alice")}},
         {"accounts", {"uid=alice,ou=people,dc=example,dc=org", "alice_dba"}}},
        {{"name", "bob"},
         {"contact", "bob@example.org"},
         {"keys", {Key("bob")}},
         {"accounts", {"uid=bob,ou=people,dc=example,dc=org"}}}}},
      {"auditors",
       {{{"name", "carol"},
         {"contact", "carol@example.org"},
         {"keys", {Key("carol")}},
         {"accounts", nlohmann::json::array()}}}},
      {"agents",
       {{{"id", "agent-1"},
         {"key", Key("agent-1")},
         {"owner", "alice"},
         {"backup_owner", "bob"},
         {"accounts",
          {"cn=deputy,ou=services,dc=example,dc=org", "deputy_svc"}}}}},
      {"thresholds",
       {{"trust_change", 2}, {"scope_grant", 2}, {"revocation", 1}}}};
  return j.dump();
}

nlohmann::json BaseScope() {
  return {
      {"agent", "agent-1"},
      {"version", 3},
      {"not_before", "2026-12-01T00:00:00Z"},
      {"expires", "2027-03-01T00:00:00Z"},
      {"grants",
       {{{"id", "ldap-people"},
         {"target", "ldap"},
         {"operations", {"disable", "remove_member", "delete"}},
         {"resources", {{"subtree", "ou=people,dc=example,dc=org"}}},
         {"approval", "none"}},
        {{"id", "ldap-groups"},
         {"target", "ldap"},
         {"operations", {"add_member", "remove_member"}},
         {"resources", {{"subtree", "ou=groups,dc=example,dc=org"}}},
         {"limits", {{"per_hour", 2}}},
         {"approval", "none"}},
        {{"id", "pg-app"},
         {"target", "postgres"},
         {"operations", {"grant_role", "revoke_role", "drop_role"}},
         {"resources", {{"names", {"app_*"}}}},
         {"approval", "required"}}}},
      {"forbid",
       {{{"id", "no-admin-group"},
         {"target", "*"},
         {"operations", {"*"}},
         {"resources", {{"list", {"cn=admins,ou=groups,dc=example,dc=org"}}}}},
        {{"id", "no-root"},
         {"target", "ldap"},
         {"operations", {"*"}},
         {"resources", {{"list", {"uid=root,ou=people,dc=example,dc=org"}}}}}}},
      {"limits", {{"actions_per_hour", 100}, {"deletions_per_day", 3}}}};
}

class GateTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(BaseScope()); }

  void Build(const nlohmann::json& scope_json) {
    auto trust = TrustRoot::ParsePayload(TrustPayload());
    ASSERT_TRUE(trust.ok()) << trust.status().ToString();
    trust_ = std::make_unique<TrustRoot>(std::move(*trust));
    auto scope = ScopeManifest::ParsePayload(scope_json.dump());
    ASSERT_TRUE(scope.ok()) << scope.status().ToString();
    scope_ = std::make_unique<ScopeManifest>(std::move(*scope));
    auto gate = Gate::Create(*trust_, "agent-1", scope_.get());
    ASSERT_TRUE(gate.ok()) << gate.status().ToString();
    gate_ = std::make_unique<Gate>(std::move(*gate));
  }

  Decision Decide(Action a, DecisionContext ctx = {}) {
    if (ctx.now_micros == 0) ctx.now_micros = kNow;
    return gate_->Decide(a, ctx);
  }

  static Action Ldap(std::string op, std::string resource,
                     std::string subject = "") {
    return {"ldap", std::move(op), std::move(resource), std::move(subject),
            "T-1",  "carol.hr"};
  }

  std::unique_ptr<TrustRoot> trust_;
  std::unique_ptr<ScopeManifest> scope_;
  std::unique_ptr<Gate> gate_;
};

TEST_F(GateTest, AllowsWhatAGrantCovers) {
  Decision d = Decide(Ldap("disable", "uid=dave,ou=people,dc=example,dc=org"));
  EXPECT_EQ(d.effect, Effect::kAllow) << d.Explain({});
  EXPECT_EQ(d.grants, std::vector<std::string>{"ldap-people"});
  EXPECT_EQ(d.scope_version, 3);
  EXPECT_EQ(d.scope_digest, scope_->digest());
}

TEST_F(GateTest, DeniesByDefault) {
  Decision d =
      Decide(Ldap("disable", "uid=dave,ou=partners,dc=example,dc=org"));
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_EQ(d.reasons, std::vector<std::string>{"no_matching_grant"});
  d = Decide({"mysql", "disable", "dave", "", "T-1", "x"});
  EXPECT_EQ(d.effect, Effect::kDeny);
  d = Decide(Ldap("reset_password", "uid=dave,ou=people,dc=example,dc=org"));
  EXPECT_EQ(d.effect, Effect::kDeny);
}

TEST_F(GateTest, ForbidBeatsPermit) {
  // uid=root is inside the granted subtree, and forbidden.
  Decision d = Decide(Ldap("disable", "uid=root,ou=people,dc=example,dc=org"));
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_EQ(d.failed_clause, "forbid:no-root");
  // A forbid on the subject: removing anyone from the admins group is
  // fine, but the admins group itself is the resource here.
  d = Decide(Ldap("remove_member", "cn=admins,ou=groups,dc=example,dc=org",
                  "uid=dave,ou=people,dc=example,dc=org"));
  EXPECT_EQ(d.failed_clause, "forbid:no-admin-group");
}

TEST_F(GateTest, NormalisesOperationNamesAndDns) {
  for (const char* dn : {"UID=Root,OU=People,DC=Example,DC=Org",
                         "uid=root, ou=people, dc=example, dc=org",
                         " uid = root ,ou=PEOPLE,dc=example,dc=org "}) {
    Decision d = Decide(Ldap("DISABLE", dn));
    EXPECT_EQ(d.failed_clause, "forbid:no-root") << dn;
  }
  Decision d = Decide(Ldap("Disable", "UID=Dave,OU=People,DC=Example,DC=Org"));
  EXPECT_EQ(d.effect, Effect::kAllow);
}

TEST_F(GateTest, SpellingsTheServerTreatsAsTheSameEntryHitTheForbid) {
  for (const char* dn :
       {"uid=root\\20,ou=people,dc=example,dc=org",
        "uid=\\20root,ou=people,dc=example,dc=org",
        "userid=root,ou=people,dc=example,dc=org",
        "0.9.2342.19200300.100.1.1=root,ou=people,dc=example,dc=org",
        "uid=r\\6fot,ou=people,dc=example,dc=org"}) {
    Decision d = Decide(Ldap("disable", dn));
    EXPECT_EQ(d.effect, Effect::kDeny) << dn;
    EXPECT_EQ(d.failed_clause, "forbid:no-root") << dn;
  }
}

TEST_F(GateTest, RefusesDnsOutsidePlainAscii) {
  // Fullwidth "root": a server may fold it to root; no pattern here can.
  Decision d = Decide(
      Ldap("disable", "uid=\xef\xbd\x92oot,ou=people,dc=example,dc=org"));
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_EQ(d.reasons[0], "non_ascii_dn");
  d = Decide(Ldap("disable", "uid=root;ou=people"));
  EXPECT_EQ(d.reasons[0], "invalid_action");
}

// Found by the Cedar comparison: the index looked up a DN's ancestors but
// never the root DN, so a forbid on the whole directory did not apply.
TEST_F(GateTest, ForbidOnTheRootDnCoversEveryEntry) {
  nlohmann::json scope = BaseScope();
  scope["forbid"].push_back({{"id", "freeze-all"},
                             {"target", "*"},
                             {"operations", {"*"}},
                             {"resources", {{"subtree", ""}}}});
  Build(scope);
  for (const char* dn : {"uid=dave,ou=people,dc=example,dc=org", "dc=org"}) {
    Decision d = Decide(Ldap("disable", dn));
    EXPECT_EQ(d.effect, Effect::kDeny) << dn;
    EXPECT_EQ(d.failed_clause, "forbid:freeze-all") << dn;
  }
  // Plain names are not in any DN subtree.
  Decision d = Decide({"postgres", "grant_role", "app_x", "", "T-1", "x"});
  EXPECT_NE(d.failed_clause, "forbid:freeze-all");
}

TEST_F(GateTest, SubtreeIsNotAStringSuffix) {
  Decision d =
      Decide(Ldap("disable", "uid=dave,ou=notpeople,dc=example,dc=org"));
  EXPECT_EQ(d.effect, Effect::kDeny);
  d = Decide(Ldap("disable", "uid=dave\\,ou=people,dc=example,dc=org"));
  EXPECT_EQ(d.effect, Effect::kDeny) << "an escaped comma is not a level";
}

TEST_F(GateTest, NeverActsOnItsOwnIdentityOrItsOwners) {
  // Even a manifest that grants everything in the directory cannot lift it.
  nlohmann::json scope = BaseScope();
  scope["grants"].push_back({{"id", "everything"},
                             {"target", "ldap"},
                             {"operations", {"disable", "delete"}},
                             {"resources", {{"subtree", "dc=example,dc=org"}}},
                             {"approval", "none"}});
  Build(scope);
  struct Case {
    Action action;
    std::string reason;
  } cases[] = {
      {Ldap("disable", "cn=deputy,ou=services,dc=example,dc=org"),
       "invariant_agent_self"},
      {Ldap("delete", "CN=Deputy, OU=Services, DC=example, DC=org"),
       "invariant_agent_self"},
      {Ldap("disable", "uid=alice,ou=people,dc=example,dc=org"),
       "invariant_owner_account"},
      {Ldap("remove_member", "cn=staff,ou=groups,dc=example,dc=org",
            "uid=bob,ou=people,dc=example,dc=org"),
       "invariant_owner_account"},
      {{"postgres", "drop_role", "deputy_svc", "", "T-1", "x"},
       "invariant_agent_self"},
      {{"postgres", "revoke_role", "app_reader", "ALICE_DBA", "T-1", "x"},
       "invariant_owner_account"},
      {{"deputy", "rotate_key", "agent-1", "", "T-1", "x"},
       "invariant_trust_root"},
  };
  for (const auto& c : cases) {
    Decision d = Decide(c.action);
    EXPECT_EQ(d.effect, Effect::kDeny) << c.action.resource;
    ASSERT_FALSE(d.reasons.empty());
    EXPECT_EQ(d.reasons[0], c.reason) << c.action.resource;
  }
}

TEST_F(GateTest, ExpiredScopeFreezesTheAgent) {
  DecisionContext ctx;
  ctx.now_micros = scope_->expires();
  Decision d =
      Decide(Ldap("disable", "uid=dave,ou=people,dc=example,dc=org"), ctx);
  EXPECT_EQ(d.reasons, std::vector<std::string>{"scope_expired"});
  ctx.now_micros = scope_->not_before() - 1;
  d = Decide(Ldap("disable", "uid=dave,ou=people,dc=example,dc=org"), ctx);
  EXPECT_EQ(d.reasons, std::vector<std::string>{"scope_not_yet_valid"});
}

TEST_F(GateTest, RevokedScopeDeniesAtTheNextDecision) {
  DecisionContext ctx;
  ctx.scope_revoked = true;
  Decision d =
      Decide(Ldap("disable", "uid=dave,ou=people,dc=example,dc=org"), ctx);
  EXPECT_EQ(d.reasons, std::vector<std::string>{"scope_revoked"});
}

TEST_F(GateTest, NoScopeMeansNothingIsAllowed) {
  auto gate = Gate::Create(*trust_, "agent-1", nullptr);
  ASSERT_TRUE(gate.ok());
  DecisionContext ctx;
  ctx.now_micros = kNow;
  Decision d = gate->Decide(
      Ldap("disable", "uid=dave,ou=people,dc=example,dc=org"), ctx);
  EXPECT_EQ(d.reasons, std::vector<std::string>{"no_scope"});
  EXPECT_FALSE(Gate::Create(*trust_, "agent-9", nullptr).ok());
}

TEST_F(GateTest, EnforcesTheBlastRadius) {
  DecisionContext ctx;
  ctx.counters.actions_last_hour = 100;
  Decision d =
      Decide(Ldap("disable", "uid=dave,ou=people,dc=example,dc=org"), ctx);
  EXPECT_EQ(d.reasons, std::vector<std::string>{"rate_limit"});
  ctx.counters = {};
  ctx.counters.deletions_last_day = 3;
  d = Decide(Ldap("delete", "uid=dave,ou=people,dc=example,dc=org"), ctx);
  EXPECT_EQ(d.reasons, std::vector<std::string>{"deletion_limit"});
  // A disable is not a deletion.
  d = Decide(Ldap("disable", "uid=dave,ou=people,dc=example,dc=org"), ctx);
  EXPECT_EQ(d.effect, Effect::kAllow);
  ctx.counters = {};
  ctx.counters.grant_actions_last_hour["ldap-groups"] = 2;
  d = Decide(Ldap("add_member", "cn=staff,ou=groups,dc=example,dc=org",
                  "uid=dave,ou=people,dc=example,dc=org"),
             ctx);
  EXPECT_EQ(d.reasons, std::vector<std::string>{"grant_rate_limit"});
}

TEST_F(GateTest, TimeWindowsAreInputsNotTheClock) {
  nlohmann::json scope = BaseScope();
  scope["windows"] = {{{"days", {"mon", "tue", "wed", "thu", "fri"}},
                       {"start", "06:00"},
                       {"end", "20:00"}}};
  Build(scope);
  Action a = Ldap("disable", "uid=dave,ou=people,dc=example,dc=org");
  DecisionContext ctx;
  ctx.now_micros = kNow;  // Thursday 18:00.
  EXPECT_EQ(Decide(a, ctx).effect, Effect::kAllow);
  ctx.now_micros = kNow + 3 * kHour;  // Thursday 21:00.
  EXPECT_EQ(Decide(a, ctx).reasons,
            std::vector<std::string>{"outside_time_window"});
  ctx.now_micros = kNow + 2 * 24 * kHour;  // Saturday 18:00.
  EXPECT_EQ(Decide(a, ctx).effect, Effect::kDeny);
}

class ApprovalTest : public GateTest {
 protected:
  Action Pg() {
    return {"postgres", "grant_role", "app_reader", "dave", "T-7", "carol.hr"};
  }
  Approval For(const Action& a, std::string approver = "alice") {
    Approval ap;
    ap.action_digest = a.Digest();
    ap.approver = std::move(approver);
    ap.ticket = a.task;
    ap.expires = kNow + kHour;
    ap.envelope_digest = "e1";
    return ap;
  }
};

TEST_F(ApprovalTest, GrantThatNeedsApprovalWaitsForOne) {
  Decision d = Decide(Pg());
  EXPECT_EQ(d.effect, Effect::kNeedsApproval);
  EXPECT_EQ(d.grants, std::vector<std::string>{"pg-app"});
  Approval ap = For(Pg());
  DecisionContext ctx;
  ctx.approval = &ap;
  d = Decide(Pg(), ctx);
  EXPECT_EQ(d.effect, Effect::kAllow);
  EXPECT_EQ(d.reasons[1], "approved_by:alice");
}

TEST_F(ApprovalTest, RefusesReplayedExpiredMisboundAndSelfApprovals) {
  DecisionContext ctx;
  Approval ap = For(Pg());
  ctx.approval = &ap;
  ctx.approval_used = true;
  EXPECT_EQ(Decide(Pg(), ctx).reasons[0], "approval_replayed");
  ctx.approval_used = false;
  ctx.now_micros = kNow + kHour;
  EXPECT_EQ(Decide(Pg(), ctx).reasons[0], "approval_expired");
  ctx.now_micros = kNow;
  Action other = Pg();
  other.resource = "app_admin";
  EXPECT_EQ(Decide(other, ctx).reasons[0], "approval_other_action");
  Action own = Pg();
  own.requester = "Alice";
  Approval self = For(own);
  ctx.approval = &self;
  EXPECT_EQ(Decide(own, ctx).reasons[0], "approver_is_requester");
  Approval stranger = For(Pg(), "mallory");
  ctx.approval = &stranger;
  EXPECT_EQ(Decide(Pg(), ctx).reasons[0], "approver_not_owner");
}

TEST(GateNormalise, CanonicalAncestorsMatchTheDnLibrary) {
  std::vector<std::string> ancestors;
  std::string c =
      NormaliseResource("UID=Dave , OU=People,DC=Example,DC=Org", &ancestors);
  auto dn = Dn::Parse("uid=dave,ou=people,dc=example,dc=org");
  ASSERT_TRUE(dn.ok());
  EXPECT_EQ(c, dn->Canonical());
  ASSERT_EQ(ancestors.size(), 3u);
  EXPECT_EQ(ancestors[0], dn->Parent().Canonical());
  EXPECT_EQ(ancestors[2], "dc=org");
  EXPECT_EQ(NormaliseResource("App_Reader"), "app_reader");
}

// Random actions against random manifests: every allow has a matching
// grant and no matching forbid (checked independently with
// MatchesResource, not through the gate's index).
TEST(GateProperty, EveryAllowHasAGrantAndNoForbid) {
  auto trust = TrustRoot::ParsePayload(TrustPayload());
  ASSERT_TRUE(trust.ok());
  std::mt19937 rng(20261203);
  const char* ous[] = {"people", "groups", "services", "admins"};
  const char* names[] = {"dave", "erin", "root", "app_x", "ops"};
  const char* ops[] = {"disable", "delete", "add_member", "grant_role"};
  const char* targets[] = {"ldap", "postgres"};
  auto pick = [&](auto& arr) {
    return arr[rng() % (sizeof(arr) / sizeof(arr[0]))];
  };
  auto random_pattern = [&]() -> nlohmann::json {
    switch (rng() % 3) {
      case 0:
        return {
            {"subtree", std::string("ou=") + pick(ous) + ",dc=example,dc=org"}};
      case 1:
        return {{"names", {std::string(pick(names)).substr(0, 2) + "*"}}};
      default:
        return {{"list",
                 {std::string("uid=") + pick(names) + ",ou=" + pick(ous) +
                  ",dc=example,dc=org"}}};
    }
  };
  int allows = 0;
  for (int round = 0; round < 200; ++round) {
    nlohmann::json scope = BaseScope();
    scope["grants"] = nlohmann::json::array();
    scope["forbid"] = nlohmann::json::array();
    for (int i = 0; i < 4; ++i) {
      scope["grants"].push_back({{"id", "g" + std::to_string(i)},
                                 {"target", pick(targets)},
                                 {"operations", {pick(ops), pick(ops)}},
                                 {"resources", random_pattern()},
                                 {"approval", "none"}});
    }
    for (int i = 0; i < 2; ++i) {
      scope["forbid"].push_back({{"id", "f" + std::to_string(i)},
                                 {"target", rng() % 2 ? "*" : pick(targets)},
                                 {"operations", {pick(ops)}},
                                 {"resources", random_pattern()}});
    }
    scope.erase("limits");
    auto manifest = ScopeManifest::ParsePayload(scope.dump());
    ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
    auto gate = Gate::Create(*trust, "agent-1", &*manifest);
    ASSERT_TRUE(gate.ok());
    for (int k = 0; k < 50; ++k) {
      std::string resource =
          rng() % 3 == 0 ? std::string(pick(names))
                         : std::string("UID=") + pick(names) +
                               ", ou=" + pick(ous) + ",DC=example,dc=org";
      Action a{pick(targets), pick(ops), resource, "", "T", "r"};
      DecisionContext ctx;
      ctx.now_micros = kNow;
      Decision d = gate->Decide(a, ctx);
      bool any_grant = false;
      bool any_forbid = false;
      for (const auto& g : manifest->grants()) {
        any_grant |= g.target == a.target &&
                     std::count(g.operations.begin(), g.operations.end(),
                                a.operation) > 0 &&
                     MatchesResource(g.resources, a.resource);
      }
      for (const auto& f : manifest->forbids()) {
        any_forbid |= (f.target == "*" || f.target == a.target) &&
                      std::count(f.operations.begin(), f.operations.end(),
                                 a.operation) > 0 &&
                      MatchesResource(f.resources, a.resource);
      }
      if (d.effect == Effect::kAllow) {
        ++allows;
        EXPECT_TRUE(any_grant) << a.resource << " " << a.operation;
        EXPECT_FALSE(any_forbid) << a.resource << " " << a.operation;
      } else if (any_grant && !any_forbid) {
        // The only other reasons to refuse are the invariants.
        EXPECT_TRUE(d.reasons[0].rfind("invariant", 0) == 0)
            << d.reasons[0] << " " << a.resource;
      }
    }
  }
  EXPECT_GT(allows, 100);  // The property was exercised, not vacuous.
}

}  // namespace
}  // namespace deputy::policy

namespace deputy::policy {
namespace {

TEST_F(GateTest, RecordedDecisionsReplay) {
  Action a = Ldap("disable", "uid=dave,ou=people,dc=example,dc=org");
  DecisionContext ctx;
  ctx.now_micros = kNow;
  ctx.counters.actions_last_hour = 7;
  Decision d = gate_->Decide(a, ctx);
  nlohmann::json record = DecisionRecord(a, ctx, d);
  // Through text, as it travels in the log.
  auto parsed = json::ParseStrict(record.dump());
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(ReplayDecision(*gate_, *parsed).ok());
}

TEST_F(GateTest, ReplayFlagsADecisionThatDoesNotReproduce) {
  Action a = Ldap("disable", "uid=root,ou=people,dc=example,dc=org");
  DecisionContext ctx;
  ctx.now_micros = kNow;
  Decision d = gate_->Decide(a, ctx);
  ASSERT_EQ(d.effect, Effect::kDeny);
  // A tampered record, or an executor that allowed what the gate denies.
  nlohmann::json record = DecisionRecord(a, ctx, d);
  record["effect"] = "allow";
  Status s = ReplayDecision(*gate_, record);
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_NE(s.message().find("recorded allow"), std::string::npos);
  // Changed inputs change the answer: the counters were understated.
  Action ok = Ldap("disable", "uid=dave,ou=people,dc=example,dc=org");
  DecisionContext over;
  over.now_micros = kNow;
  over.counters.actions_last_hour = 100;
  nlohmann::json honest = DecisionRecord(ok, over, gate_->Decide(ok, over));
  honest["inputs"]["counters"]["actions_last_hour"] = 1;
  EXPECT_FALSE(ReplayDecision(*gate_, honest).ok());
  // Malformed records are Invalid, not a crash.
  EXPECT_EQ(ReplayDecision(*gate_, nlohmann::json::object()).code(),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace deputy::policy
