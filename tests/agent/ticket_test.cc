// Tickets, the configuration and the planner: strict parsing with errors
// that name the field, deputy's own name rules, and deterministic plans.
#include "agent/ticket.h"

#include <gtest/gtest.h>

#include "agent/config.h"
#include "agent/planner.h"

namespace deputy::agent {
namespace {

bool Has(const Status& s, const std::string& text) {
  return s.message().find(text) != std::string::npos;
}

TEST(Ticket, ParsesEveryType) {
  auto t = Ticket::Parse(R"({"id": "CHG-1", "revision": 2, "type": "joiner",
    "requester": "hr", "subject": {"uid": "nora.vale", "given_name": "Nora",
    "surname": "Vale", "department": "engineering"}})");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->Key(), "CHG-1@2");
  EXPECT_EQ(t->type, TicketType::kJoiner);
  EXPECT_EQ(t->sha256.size(), 64u);
  for (const char* type : {"mover", "leaver", "grant", "revoke", "rotate"}) {
    std::string extra;
    if (std::string(type) == "grant" || std::string(type) == "revoke") {
      extra = R"(, "entitlements": [{"target": "postgres", "role": "app_x"}])";
    }
    if (std::string(type) == "rotate") {
      extra =
          R"(, "recipient": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")";
    }
    auto u =
        Ticket::Parse(std::string(R"({"id": "T", "revision": 1, "type": ")") +
                      type + R"(", "requester": "hr", "subject": {"uid": "ann",
                           "department": "hr"})" +
                      extra + "}");
    EXPECT_TRUE(u.ok()) << type << ": " << u.status().ToString();
  }
  // The JSON form parses back to the same ticket.
  auto again = Ticket::Parse(t->ToJson().dump());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ToJson(), t->ToJson());
}

TEST(Ticket, RefusesBadInputNamingTheField) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"{\"id\": ", "byte"},
      {R"({"id": "T", "id": "U", "revision": 1, "type": "leaver",
           "requester": "x", "subject": {"uid": "a"}})",
       "duplicate"},
      {R"({"id": "T", "revision": 1, "type": "promote", "requester": "x",
           "subject": {"uid": "a"}})",
       "unknown ticket type"},
      {R"({"id": "T", "revision": 1, "type": "leaver", "requester": "x"})",
       "subject"},
      {R"({"id": "T", "revision": 1, "type": "leaver", "requester": "x",
           "subject": {"uid": "a"}, "urgent": true})",
       "urgent"},
      {R"({"id": "T", "revision": "1", "type": "leaver", "requester": "x",
           "subject": {"uid": "a"}})",
       "revision"},
      {R"({"id": "T", "revision": 0, "type": "leaver", "requester": "x",
           "subject": {"uid": "a"}})",
       "revision"},
      {R"({"id": "../etc", "revision": 1, "type": "leaver", "requester": "x",
           "subject": {"uid": "a"}})",
       "$.id"},
      {R"({"id": "T", "revision": 1, "type": "leaver", "requester": "x",
           "subject": {"uid": "x*)(uid=*"}})",
       "$.subject.uid"},
      {R"({"id": "T", "revision": 1, "type": "leaver", "requester": "x",
           "subject": {"uid": "Robert'); DROP ROLE x;--"}})",
       "$.subject.uid"},
      {R"({"id": "T", "revision": 1, "type": "leaver", "requester": "x",
           "subject": {"uid": "a\u0000b"}})",
       "$.subject.uid"},
      {R"({"id": "T", "revision": 1, "type": "joiner", "requester": "x",
           "subject": {"uid": "a"}})",
       "joiner needs"},
      {R"({"id": "T", "revision": 1, "type": "grant", "requester": "x",
           "subject": {"uid": "a"}})",
       "entitlements"},
      {R"({"id": "T", "revision": 1, "type": "grant", "requester": "x",
           "subject": {"uid": "a"}, "entitlements": [{"target": "ldap"}]})",
       "exactly one"},
      {R"({"id": "T", "revision": 1, "type": "rotate", "requester": "x",
           "subject": {"uid": "a"}})",
       "recipient"},
      {R"({"id": "T", "revision": 1, "type": "rotate", "requester": "x",
           "subject": {"uid": "a"}, "recipient": "c2hvcnQ="})",
       "32-byte"},
      {R"({"id": "T", "revision": 1, "type": "leaver", "requester": "x\ny",
           "subject": {"uid": "a"}})",
       "control"},
      {R"({"id": "T", "revision": 1, "type": "mover", "requester": "x",
           "subject": {"uid": "a", "department": "Fin Ance"}})",
       "department"},
  };
  for (const auto& c : cases) {
    auto t = Ticket::Parse(c.text);
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_TRUE(Has(t.status(), c.says))
        << c.text << "\n  said: " << t.status().message();
  }
  auto huge = Ticket::Parse(std::string(kMaxTicketBytes + 1, ' '));
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().code(), ErrorCode::kResourceExhausted);
}

const char* kConfig = R"({
  "agent": "agent-1", "origin": "deputy.test/agent-1",
  "key": "keys/agent.key", "passphrase_file": "keys/agent.pass",
  "trust": "trust.json",
  "trust_pin": "0000000000000000000000000000000000000000000000000000000000000000",
  "scope": "scope.json", "state_dir": "state", "log_dir": "/var/log/deputy",
  "intake": {"directory": "tickets"}, "receipts_dir": "receipts",
  "targets": [
    {"name": "ldap", "kind": "ldap", "module": "/usr/lib/deputy/deputy-ldap",
     "host": "ldap.example.org", "address": "10.0.0.5", "port": 636,
     "credential_file": "creds/ldap.json",
     "options": {"base_dn": "dc=example,dc=org", "tls": "ldaps"},
     "limits": {"deadline_ms": 5000}},
    {"name": "postgres", "kind": "postgres", "module": "bin/deputy-postgres",
     "host": "db.example.org", "address": "10.0.0.6", "port": 5432,
     "credential_file": "creds/pg.json", "options": {"sslmode": "verify-full"}}],
  "departments": {
    "finance": {"ldap": ["cn=finance,ou=groups,dc=example,dc=org"],
                "postgres": ["app_finance"]}},
  "leaver": {"grace_seconds": 86400}})";

TEST(Config, ParsesAndResolvesRelativePaths) {
  auto c = Config::Parse(kConfig, "/etc/deputy");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->key, "/etc/deputy/keys/agent.key");
  EXPECT_EQ(c->log_dir, "/var/log/deputy");
  EXPECT_EQ(c->targets[1].module, "/etc/deputy/bin/deputy-postgres");
  EXPECT_EQ(c->targets[0].limits.deadline_ms, 5000);
  EXPECT_EQ(c->leaver_grace_seconds, 86400);
  EXPECT_EQ(c->workers, 2);
  EXPECT_EQ(c->departments["finance"]["postgres"][0], "app_finance");
  EXPECT_EQ(c->sha256.size(), 64u);
}

TEST(Config, RefusesWhatWouldWeakenOrConfuseIt) {
  auto bad = [](std::string from, std::string to) {
    std::string text = kConfig;
    auto pos = text.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    text.replace(pos, from.size(), to);
    return Config::Parse(text, "/etc/deputy");
  };
  struct Case {
    const char* from;
    const char* to;
    const char* says;
  } cases[] = {
      {R"("passphrase_file": "keys/agent.pass",)", "", "passphrase_file"},
      {R"("kind": "ldap")", R"("kind": "ad")", "kind"},
      {R"("name": "postgres")", R"("name": "ldap")", "twice"},
      {R"("postgres": ["app_finance"])", R"("mysql": ["x"])", "no such target"},
      {R"("port": 5432)", R"("port": 70000)", "port"},
      {R"("origin")", R"("colour": "red", "origin")", "colour"},
      {R"("trust_pin": "0000)", R"("trust_pin": "000)", "trust_pin"},
      {R"("grace_seconds": 86400)", R"("grace_seconds": -1)", "grace"},
      {R"("deadline_ms": 5000)", R"("deadline_ms": 5)", "deadline_ms"},
  };
  for (const auto& c : cases) {
    auto r = bad(c.from, c.to);
    ASSERT_FALSE(r.ok()) << c.to;
    EXPECT_TRUE(Has(r.status(), c.says)) << r.status().message();
  }
  // Weakening the sandbox is possible only by name, and only known layers.
  auto weak = bad(R"("leaver")",
                  R"("insecure_sandbox_without": ["landlock"], "leaver")");
  ASSERT_TRUE(weak.ok()) << weak.status().ToString();
  EXPECT_EQ(weak->insecure_sandbox_without.size(), 1u);
  EXPECT_FALSE(bad(R"("leaver")",
                   R"("insecure_sandbox_without": ["namespaces"], "leaver")")
                   .ok());
}

AccountObservation Seen(bool exists) {
  AccountObservation o;
  o.exists = exists;
  return o;
}
AccountObservation Seen(bool exists, std::vector<std::string> groups) {
  AccountObservation o = Seen(exists);
  o.memberships = std::move(groups);
  return o;
}

class PlannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Config::Parse(kConfig, "/etc/deputy");
    ASSERT_TRUE(c.ok());
    config_.emplace(std::move(*c));
    config_->departments["engineering"]["ldap"] = {
        "cn=engineering,ou=groups,dc=example,dc=org"};
    config_->departments["engineering"]["postgres"] = {"app_engineering"};
  }
  Result<Plan> PlanFor(const std::string& ticket_text,
                       std::map<std::string, AccountObservation> seen) {
    auto t = Ticket::Parse(ticket_text);
    if (!t.ok()) return t.status();
    ticket_.emplace(std::move(*t));
    PlanInput in;
    in.ticket = &*ticket_;
    in.config = &*config_;
    in.observed = std::move(seen);
    in.successors = {{"postgres", "app_archive"}};
    in.now_micros = 1000000;
    return PlanTicket(in);
  }
  static std::string Ops(const Plan& p) {
    std::string s;
    for (const auto& a : p.actions) {
      s += a.target + ":" + a.operation + ":" + a.resource + ";";
    }
    return s;
  }
  std::optional<Config> config_;
  std::optional<Ticket> ticket_;
};

TEST_F(PlannerTest, LeaverDisablesRemovesEveryMembershipThenDeletesAfterGrace) {
  AccountObservation ldap =
      Seen(true, {"cn=finance,ou=groups,dc=example,dc=org",
                  "cn=vpn,ou=groups,dc=example,dc=org"});
  AccountObservation pg = Seen(true, {"app_finance"});
  auto p = PlanFor(R"({"id": "T", "revision": 1, "type": "leaver",
      "requester": "hr", "subject": {"uid": "dave.leaver"}})",
                   {{"ldap", ldap}, {"postgres", pg}});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(Ops(*p),
            "ldap:disable:uid=dave.leaver,ou=people,dc=example,dc=org;"
            "ldap:remove_member:cn=finance,ou=groups,dc=example,dc=org;"
            "ldap:remove_member:cn=vpn,ou=groups,dc=example,dc=org;"
            "ldap:delete:uid=dave.leaver,ou=people,dc=example,dc=org;"
            "postgres:revoke_role:app_finance;"
            "postgres:disable:dave_leaver;"
            "postgres:drop_role:dave_leaver;");
  // Deletion waits for the grace period; the rest runs at once.
  EXPECT_EQ(p->actions[0].not_before, 0);
  EXPECT_EQ(p->actions[3].not_before, 1000000 + 86400LL * 1000000);
  EXPECT_EQ(p->actions[6].params["successor"], "app_archive");
  // Deterministic: the same inputs, the same plan.
  auto q =
      PlanFor(ticket_->ToJson().dump(), {{"ldap", ldap}, {"postgres", pg}});
  EXPECT_EQ(Ops(*q), Ops(*p));
}

TEST_F(PlannerTest, TheSimulationSaysWhatEachActionWillChange) {
  AccountObservation ldap = Seen(true, {"CN=VPN,ou=groups,dc=example,dc=org"});
  ldap.disabled = true;
  const TargetConfig& t = *config_->FindTarget("ldap");
  auto sim = [&](const char* op, const char* resource) {
    PlannedAction a;
    a.id = "a1";
    a.target = "ldap";
    a.operation = op;
    a.resource = resource;
    return Simulate(a, t, ldap)["will_change"].get<bool>();
  };
  EXPECT_FALSE(sim("disable", "uid=x,ou=people,dc=example,dc=org"));
  EXPECT_TRUE(sim("delete", "uid=x,ou=people,dc=example,dc=org"));
  EXPECT_TRUE(sim("remove_member", "cn=vpn,ou=groups,dc=example,dc=org"));
  EXPECT_FALSE(sim("add_member", "cn=vpn,ou=groups,dc=example,dc=org"));
  EXPECT_TRUE(sim("add_member", "cn=wiki,ou=groups,dc=example,dc=org"));
  EXPECT_FALSE(sim("create_account", "uid=x,ou=people,dc=example,dc=org"));
  EXPECT_TRUE(sim("reset_credential", "uid=x,ou=people,dc=example,dc=org"));
}

TEST_F(PlannerTest, LeaverAbsentEverywhereNeedsNothingAndSaysSo) {
  auto p = PlanFor(R"({"id": "T", "revision": 1, "type": "leaver",
      "requester": "hr", "subject": {"uid": "gone"}})",
                   {{"ldap", Seen(false)}, {"postgres", Seen(false)}});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->actions.empty());
  EXPECT_EQ(p->notes.size(), 2u);
}

TEST_F(PlannerTest, MoverAddsTheNewDepartmentAndRemovesTheOld) {
  AccountObservation ldap =
      Seen(true, {"CN=Engineering, OU=Groups,DC=example,DC=org",
                  "cn=vpn,ou=groups,dc=example,dc=org"});
  AccountObservation pg = Seen(true, {"app_engineering"});
  auto p = PlanFor(R"({"id": "T", "revision": 1, "type": "mover",
      "requester": "hr", "subject": {"uid": "gina", "department": "finance"}})",
                   {{"ldap", ldap}, {"postgres", pg}});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  // vpn belongs to no department: untouched. engineering is matched as a
  // DN whatever its spelling.
  EXPECT_EQ(Ops(*p),
            "ldap:add_member:cn=finance,ou=groups,dc=example,dc=org;"
            "ldap:remove_member:cn=engineering,ou=groups,dc=example,dc=org;"
            "postgres:grant_role:app_finance;"
            "postgres:revoke_role:app_engineering;");
}

TEST_F(PlannerTest, JoinerCreatesAccountsAndDepartmentEntitlements) {
  auto p = PlanFor(R"({"id": "T", "revision": 1, "type": "joiner",
      "requester": "hr", "subject": {"uid": "nora", "given_name": "Nora",
      "surname": "Vale", "department": "finance"},
      "entitlements": [{"target": "postgres", "role": "app_finance"}]})",
                   {{"ldap", Seen(false)}, {"postgres", Seen(false)}});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(Ops(*p),
            "ldap:create_account:uid=nora,ou=people,dc=example,dc=org;"
            "ldap:add_member:cn=finance,ou=groups,dc=example,dc=org;"
            "postgres:create_role:nora;"
            "postgres:grant_role:app_finance;");
  EXPECT_EQ(p->actions[0].params["given_name"], "Nora");
}

TEST_F(PlannerTest, RefusesWhatItCannotPlanSafely) {
  // An entitlement on a target that does not exist, or of the wrong kind.
  EXPECT_FALSE(PlanFor(R"({"id": "T", "revision": 1, "type": "grant",
      "requester": "hr", "subject": {"uid": "ann"},
      "entitlements": [{"target": "mysql", "role": "x"}]})",
                       {{"ldap", Seen(true)}, {"postgres", Seen(true)}})
                   .ok());
  EXPECT_FALSE(PlanFor(R"({"id": "T", "revision": 1, "type": "grant",
      "requester": "hr", "subject": {"uid": "ann"},
      "entitlements": [{"target": "ldap", "role": "app_x"}]})",
                       {{"ldap", Seen(true)}, {"postgres", Seen(true)}})
                   .ok());
  // A group that is not a DN.
  EXPECT_FALSE(PlanFor(R"({"id": "T", "revision": 1, "type": "grant",
      "requester": "hr", "subject": {"uid": "ann"},
      "entitlements": [{"target": "ldap", "group": "cn=a,,dc=b"}]})",
                       {{"ldap", Seen(true)}, {"postgres", Seen(true)}})
                   .ok());
  // A target nobody observed: no blind plans.
  EXPECT_FALSE(PlanFor(R"({"id": "T", "revision": 1, "type": "leaver",
      "requester": "hr", "subject": {"uid": "ann"}})",
                       {{"ldap", Seen(true)}})
                   .ok());
  // A grant for someone without an account there.
  EXPECT_FALSE(PlanFor(R"({"id": "T", "revision": 1, "type": "grant",
      "requester": "hr", "subject": {"uid": "ann"},
      "entitlements": [{"target": "postgres", "role": "app_x"}]})",
                       {{"ldap", Seen(true)}, {"postgres", Seen(false)}})
                   .ok());
}

TEST(AccountName, EscapesAndMapsTheUid) {
  TargetConfig ldap;
  ldap.name = "ldap";
  ldap.kind = "ldap";
  ldap.options = {{"base_dn", "dc=example,dc=org"}};
  auto dn = AccountName(ldap, "dave.leaver");
  ASSERT_TRUE(dn.ok());
  EXPECT_EQ(*dn, "uid=dave.leaver,ou=people,dc=example,dc=org");
  TargetConfig pg;
  pg.name = "postgres";
  pg.kind = "postgres";
  EXPECT_EQ(*AccountName(pg, "dave.leaver-x"), "dave_leaver_x");
  EXPECT_FALSE(AccountName(pg, "a,b").ok());
  EXPECT_FALSE(AccountName(ldap, "x*").ok());
}

}  // namespace
}  // namespace deputy::agent
