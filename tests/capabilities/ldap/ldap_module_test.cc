// The deputy-ldap binary against a real slapd (scripts/ldap-server, seeded
// with examples/ldap/seed.ldif, a fresh server per test), run the way the
// agent's plain runner runs it: request on stdin, credential on fd 3, an
// empty environment. Every effect is checked independently, as the root
// DN through raw libldap (ldap_test_server.h), including binds with the
// seed's known test passwords ('pw-<uid>').
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "tests/capabilities/ldap/ldap_test_server.h"
#include "tests/capabilities/module_runner.h"

#ifndef DEPUTY_LDAP_MODULE
#error "DEPUTY_LDAP_MODULE must name the deputy-ldap binary"
#endif

namespace deputy {
namespace {

using nlohmann::json;
using testing::LdapTestServer;

const std::string kBase = "dc=example,dc=org";
const std::string kPeople = "ou=people,dc=example,dc=org";
const std::string kDeputy = "cn=deputy,ou=services,dc=example,dc=org";

std::string Person(const std::string& uid) {
  return "uid=" + uid + "," + kPeople;
}
std::string Group(const std::string& cn) {
  return "cn=" + cn + ",ou=groups," + kBase;
}

json Action(const std::string& op, const std::string& resource,
            const std::string& subject = "", json params = json::object()) {
  return {{"operation", op},
          {"resource", resource},
          {"subject", subject},
          {"params", params}};
}

class LdapModuleTest : public ::testing::Test {
 protected:
  virtual bool WithTls() const { return false; }
  void SetUp() override {
    std::string error;
    server_ = LdapTestServer::Start(&error, WithTls());
    ASSERT_NE(server_, nullptr) << error;
  }

  json Request(const std::string& op, const json& action,
               json options = nullptr, std::string host = "127.0.0.1",
               int port = 0) const {
    if (options.is_null()) options = {{"base_dn", kBase}, {"tls", "none"}};
    json r = {{"protocol", 1},
              {"op", op},
              {"id", "test-" + op},
              {"target",
               {{"name", "ldap"},
                {"host", host},
                {"port", port != 0 ? port : server_->port()},
                {"options", options}}}};
    if (!action.is_null()) r["action"] = action;
    return r;
  }

  testing::ModuleRun RunRaw(const std::string& request,
                            const std::string* cred) const {
    return testing::RunModuleBinary(DEPUTY_LDAP_MODULE, request,
                                    cred != nullptr ? *cred : "",
                                    cred != nullptr);
  }

  // One request through the binary; the parsed response line.
  json Run(const json& request, const std::string* cred = nullptr) const {
    const std::string& c = cred != nullptr ? *cred : server_->admin_cred();
    testing::ModuleRun run = RunRaw(request.dump(), &c);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    auto parsed = json::parse(run.out, nullptr, false);
    EXPECT_TRUE(parsed.is_object()) << run.out;
    last_output_ = run.out + run.err;
    return parsed;
  }
  json Op(const std::string& op, const json& action) const {
    return Run(Request(op, action));
  }
  // The result of a successful response (the test fails otherwise).
  static json Ok(const json& response) {
    EXPECT_TRUE(response.value("ok", false)) << response.dump();
    return response.value("result", json::object());
  }
  static std::string Kind(const json& response) {
    if (response.value("ok", false)) return "ok";
    return response["error"]["kind"].get<std::string>();
  }
  static std::vector<std::string> CheckNames(const json& verify) {
    std::vector<std::string> out;
    for (const auto& c : verify["checks"]) out.push_back(c["check"]);
    return out;
  }
  static bool CheckOk(const json& verify, const std::string& name) {
    for (const auto& c : verify["checks"]) {
      if (c["check"] == name) return c["ok"].get<bool>();
    }
    ADD_FAILURE() << "no check " << name << " in " << verify.dump();
    return false;
  }

  // Group DNs (as root) whose member, uniqueMember or memberUid names the
  // account: the independent proof of removal.
  std::vector<std::string> GroupsListing(const std::string& uid) const {
    const std::string dn = Person(uid);
    return server_->Find("(|(member=" + dn + ")(uniqueMember=" + dn +
                         ")(memberUid=" + uid + "))");
  }

  std::unique_ptr<LdapTestServer> server_;
  mutable std::string last_output_;
};

// ------------------------------------------------------------ create

TEST_F(LdapModuleTest, CreateAccountAddsAnAccountWithoutPassword) {
  const std::string nora = Person("nora.vale");
  const json a = Action("create_account", nora, nora,
                        {{"given_name", "Nora"},
                         {"surname", "Vale"},
                         {"mail", "nora.vale@example.org"},
                         {"department", "engineering"}});
  json read = Ok(Op("read", a));
  EXPECT_FALSE(read["exists"].get<bool>());
  EXPECT_FALSE(read["satisfied"].get<bool>());
  EXPECT_FALSE(server_->Exists(nora));  // read changed nothing.

  json applied = Ok(Op("apply", a));
  EXPECT_TRUE(applied["changed"].get<bool>());
  ASSERT_TRUE(server_->Exists(nora));
  EXPECT_EQ(server_->Values(nora, "givenName"),
            std::vector<std::string>{"Nora"});
  EXPECT_EQ(server_->Values(nora, "mail"),
            std::vector<std::string>{"nora.vale@example.org"});
  EXPECT_EQ(server_->Values(nora, "departmentNumber"),
            std::vector<std::string>{"engineering"});
  EXPECT_TRUE(server_->Values(nora, "userPassword").empty());
  // The next free uidNumber: above every existing one.
  auto uid_number = server_->Values(nora, "uidNumber");
  ASSERT_EQ(uid_number.size(), 1u);
  EXPECT_GT(std::stoi(uid_number[0]), 10052);

  json verify = Ok(Op("verify", a));
  EXPECT_TRUE(verify["satisfied"].get<bool>()) << verify.dump();
  EXPECT_EQ(CheckNames(verify),
            (std::vector<std::string>{"entry_exists", "identity_matches",
                                      "uid_unique"}));
  EXPECT_TRUE(Ok(Op("read", a))["satisfied"].get<bool>());
}

TEST_F(LdapModuleTest, CreateAccountTwiceChangesNothing) {
  const std::string nora = Person("nora.vale");
  const json a = Action("create_account", nora, "",
                        {{"given_name", "Nora"}, {"surname", "Vale"}});
  EXPECT_TRUE(Ok(Op("apply", a))["changed"].get<bool>());
  auto first = server_->Values(nora, "entryCSN");
  EXPECT_FALSE(Ok(Op("apply", a))["changed"].get<bool>());
  EXPECT_EQ(server_->Values(nora, "entryCSN"), first);  // Not rewritten.
}

TEST_F(LdapModuleTest, CreateAccountConflictsWithAnotherIdentityAtTheDn) {
  const std::string ann = Person("ann.lee");
  auto before = server_->Values(ann, "entryCSN");
  json r = Op("apply", Action("create_account", ann, "",
                              {{"given_name", "Anna"}, {"surname", "Other"}}));
  EXPECT_EQ(Kind(r), "conflict") << r.dump();
  EXPECT_EQ(server_->Values(ann, "entryCSN"), before);
  EXPECT_EQ(server_->Values(ann, "givenName"), std::vector<std::string>{"Ann"});
  json v =
      Ok(Op("verify", Action("create_account", ann, "",
                             {{"given_name", "Anna"}, {"surname", "Other"}})));
  EXPECT_FALSE(v["satisfied"].get<bool>());
  EXPECT_FALSE(CheckOk(v, "identity_matches"));
}

TEST_F(LdapModuleTest, DuplicateUidElsewhereConflictsWithoutAnyWrite) {
  // Someone already holds the uid "nora.vale" under another DN.
  ASSERT_EQ(server_->Add("cn=Nora Vale," + kPeople,
                         {{"objectClass", {"inetOrgPerson"}},
                          {"cn", {"Nora Vale"}},
                          {"sn", {"Vale"}},
                          {"uid", {"nora.vale"}}}),
            LDAP_SUCCESS);
  const std::string nora = Person("nora.vale");
  json r = Op("apply", Action("create_account", nora, "",
                              {{"given_name", "Nora"}, {"surname", "Vale"}}));
  EXPECT_EQ(Kind(r), "conflict") << r.dump();
  EXPECT_NE(
      r["error"]["message"].get<std::string>().find("nothing was changed"),
      std::string::npos);
  EXPECT_FALSE(server_->Exists(nora));
}

// ------------------------------------------------------------ disable

TEST_F(LdapModuleTest, DisableLocksAndTheKnownPasswordNoLongerBinds) {
  const std::string ann = Person("ann.lee");
  ASSERT_EQ(server_->Bind(ann, "pw-ann.lee"), LDAP_SUCCESS);
  const json a = Action("disable", ann, ann);
  json read = Ok(Op("read", a));
  EXPECT_TRUE(read["exists"].get<bool>());
  EXPECT_FALSE(read["satisfied"].get<bool>());
  EXPECT_FALSE(read["state"]["disabled"].get<bool>());
  // engineering, engineering-unix and vpn-users.
  EXPECT_EQ(read["state"]["memberships"].size(), 3u);

  EXPECT_TRUE(Ok(Op("apply", a))["changed"].get<bool>());
  EXPECT_EQ(server_->Bind(ann, "pw-ann.lee"), LDAP_INVALID_CREDENTIALS);
  EXPECT_EQ(server_->Values(ann, "pwdAccountLockedTime"),
            std::vector<std::string>{"000001010000Z"});
  EXPECT_TRUE(server_->Values(ann, "userPassword").empty());

  json v = Ok(Op("verify", a));
  EXPECT_TRUE(v["satisfied"].get<bool>()) << v.dump();
  EXPECT_EQ(CheckNames(v),
            (std::vector<std::string>{"locked", "no_password", "bind_fails"}));
  // The server itself says why the bind fails.
  EXPECT_NE(v["checks"][2]["detail"].get<std::string>().find("locked"),
            std::string::npos)
      << v.dump();
  EXPECT_TRUE(Ok(Op("read", a))["state"]["disabled"].get<bool>());
}

TEST_F(LdapModuleTest, DisableTwiceChangesNothing) {
  const std::string ben = Person("ben.kim");
  const json a = Action("disable", ben, ben);
  EXPECT_TRUE(Ok(Op("apply", a))["changed"].get<bool>());
  auto csn = server_->Values(ben, "entryCSN");
  EXPECT_FALSE(Ok(Op("apply", a))["changed"].get<bool>());
  EXPECT_EQ(server_->Values(ben, "entryCSN"), csn);
}

TEST_F(LdapModuleTest, DisableOfAMissingAccountIsNotFound) {
  json r = Op("apply", Action("disable", Person("nobody")));
  EXPECT_EQ(Kind(r), "not_found") << r.dump();
  json v = Ok(Op("verify", Action("disable", Person("nobody"))));
  EXPECT_FALSE(v["satisfied"].get<bool>());
}

TEST_F(LdapModuleTest, VerifyDisableFailsWhileTheLockIsMissing) {
  const std::string ann = Person("ann.lee");
  const json a = Action("disable", ann, ann);
  // Password removed by hand, no lock: not disabled.
  ASSERT_EQ(server_->Modify(ann, LDAP_MOD_DELETE, "userPassword", {}),
            LDAP_SUCCESS);
  json v = Ok(Op("verify", a));
  EXPECT_FALSE(v["satisfied"].get<bool>());
  EXPECT_FALSE(CheckOk(v, "locked"));
  EXPECT_TRUE(CheckOk(v, "no_password"));
}

// ------------------------------------------------------------ delete

TEST_F(LdapModuleTest, LeaverDeleteLeavesNoGroupListingAndNoBind) {
  const std::string dave = Person("dave.leaver");
  const json a = Action("delete", dave, dave);
  ASSERT_EQ(server_->Bind(dave, "pw-dave.leaver"), LDAP_SUCCESS);
  // He is in groups of every class: member, memberUid and uniqueMember.
  ASSERT_EQ(GroupsListing("dave.leaver").size(), 5u);

  json read = Ok(Op("read", a));
  EXPECT_FALSE(read["satisfied"].get<bool>());
  std::set<std::string> listed(read["state"]["memberships"].begin(),
                               read["state"]["memberships"].end());
  EXPECT_EQ(listed,
            (std::set<std::string>{Group("finance"), Group("finance-unix"),
                                   Group("payroll-admins"), Group("vpn-users"),
                                   Group("wiki-editors")}));
  EXPECT_TRUE(server_->Exists(dave));  // read changed nothing.

  json applied = Ok(Op("apply", a));
  EXPECT_TRUE(applied["changed"].get<bool>());
  EXPECT_EQ(applied["state"]["removed_from"].size(), 5u);

  // Independent proof of removal.
  EXPECT_FALSE(server_->Exists(dave));
  EXPECT_EQ(server_->Bind(dave, "pw-dave.leaver"), LDAP_INVALID_CREDENTIALS);
  EXPECT_TRUE(GroupsListing("dave.leaver").empty());
  // Nobody else lost anything: ben is still in payroll-admins.
  EXPECT_EQ(server_->Values(Group("payroll-admins"), "member"),
            std::vector<std::string>{Person("ben.kim")});

  json v = Ok(Op("verify", a));
  EXPECT_TRUE(v["satisfied"].get<bool>()) << v.dump();
  EXPECT_EQ(CheckNames(v),
            (std::vector<std::string>{"entry_absent", "bind_fails",
                                      "no_group_lists_dn"}));
  EXPECT_TRUE(Ok(Op("read", a))["satisfied"].get<bool>());
}

TEST_F(LdapModuleTest, DeleteTwiceReportsNotFoundAndVerifyConfirms) {
  const std::string dave = Person("dave.leaver");
  const json a = Action("delete", dave, dave);
  EXPECT_TRUE(Ok(Op("apply", a))["changed"].get<bool>());
  json again = Op("apply", a);
  EXPECT_EQ(Kind(again), "not_found") << again.dump();
  EXPECT_TRUE(Ok(Op("verify", a))["satisfied"].get<bool>());
}

TEST_F(LdapModuleTest, DeleteRemovesDanglingMembersOfAGoneEntry) {
  // Without refint, deleting the entry by hand leaves its listings behind.
  const std::string eva = Person("eva.ross");
  ASSERT_EQ(server_->Delete(eva), LDAP_SUCCESS);
  ASSERT_EQ(GroupsListing("eva.ross").size(), 3u);
  const json a = Action("delete", eva, eva);

  json read = Ok(Op("read", a));
  EXPECT_FALSE(read["exists"].get<bool>());
  EXPECT_FALSE(read["satisfied"].get<bool>());
  EXPECT_EQ(read["state"]["memberships"].size(), 3u);
  json before = Ok(Op("verify", a));
  EXPECT_FALSE(before["satisfied"].get<bool>());
  EXPECT_TRUE(CheckOk(before, "entry_absent"));
  EXPECT_FALSE(CheckOk(before, "no_group_lists_dn"));

  json applied = Ok(Op("apply", a));
  EXPECT_TRUE(applied["changed"].get<bool>());
  EXPECT_FALSE(applied["state"]["entry_deleted"].get<bool>());
  EXPECT_TRUE(GroupsListing("eva.ross").empty());
  EXPECT_TRUE(Ok(Op("verify", a))["satisfied"].get<bool>());
}

TEST_F(LdapModuleTest, DeleteOfAGroupsLastMemberLeavesThePlaceholder) {
  ASSERT_EQ(server_->Add(Group("solo"), {{"objectClass", {"groupOfNames"}},
                                         {"cn", {"solo"}},
                                         {"member", {Person("dave.leaver")}}}),
            LDAP_SUCCESS);
  const std::string dave = Person("dave.leaver");
  EXPECT_TRUE(Ok(Op("apply", Action("delete", dave)))["changed"].get<bool>());
  EXPECT_EQ(server_->Values(Group("solo"), "member"),
            std::vector<std::string>{""});
  EXPECT_TRUE(
      Ok(Op("verify", Action("delete", dave)))["satisfied"].get<bool>());
}

TEST_F(LdapModuleTest, DeleteOfAnEntryWithChildrenConflictsWithoutAnyWrite) {
  const std::string ann = Person("ann.lee");
  ASSERT_EQ(server_->Add("cn=laptop," + ann,
                         {{"objectClass", {"device"}}, {"cn", {"laptop"}}}),
            LDAP_SUCCESS);
  json r = Op("apply", Action("delete", ann));
  EXPECT_EQ(Kind(r), "conflict") << r.dump();
  EXPECT_TRUE(server_->Exists(ann));
  EXPECT_EQ(GroupsListing("ann.lee").size(), 3u);
}

TEST_F(LdapModuleTest, DuplicateUidAbortsPosixRemovalWithoutAnyWrite) {
  // A second entry with the uid "ann.lee": memberUid ann.lee is ambiguous.
  ASSERT_EQ(server_->Add("cn=Ann Lee Two," + kPeople,
                         {{"objectClass", {"inetOrgPerson"}},
                          {"cn", {"Ann Lee Two"}},
                          {"sn", {"Lee"}},
                          {"uid", {"ann.lee"}}}),
            LDAP_SUCCESS);
  const std::string ann = Person("ann.lee");
  json r = Op("apply", Action("remove_member", Group("engineering-unix"), ann));
  EXPECT_EQ(Kind(r), "conflict") << r.dump();
  auto uids = server_->Values(Group("engineering-unix"), "memberUid");
  EXPECT_NE(std::find(uids.begin(), uids.end(), "ann.lee"), uids.end());

  json d = Op("apply", Action("delete", ann));
  EXPECT_EQ(Kind(d), "conflict") << d.dump();
  EXPECT_TRUE(server_->Exists(ann));
  EXPECT_EQ(GroupsListing("ann.lee").size(), 3u);  // Not even member went.
}

// --------------------------------------------------------- membership

TEST_F(LdapModuleTest, AddMemberWritesTheAttributeOfEachGroupClass) {
  const std::string ann = Person("ann.lee");
  struct Case {
    std::string group, attr, value;
  } cases[] = {{Group("finance"), "member", ann},
               {Group("finance-unix"), "memberUid", "ann.lee"},
               {Group("wiki-editors"), "uniqueMember", ann}};
  for (const auto& c : cases) {
    const json a = Action("add_member", c.group, ann);
    EXPECT_FALSE(Ok(Op("read", a))["satisfied"].get<bool>()) << c.group;
    EXPECT_TRUE(Ok(Op("apply", a))["changed"].get<bool>()) << c.group;
    auto values = server_->Values(c.group, c.attr);
    EXPECT_NE(std::find(values.begin(), values.end(), c.value), values.end())
        << c.group;
    json v = Ok(Op("verify", a));
    EXPECT_TRUE(v["satisfied"].get<bool>()) << v.dump();
    EXPECT_TRUE(CheckOk(v, "listed_in_" + c.attr));
    EXPECT_FALSE(Ok(Op("apply", a))["changed"].get<bool>()) << c.group;
    EXPECT_TRUE(Ok(Op("read", a))["satisfied"].get<bool>()) << c.group;
  }
}

TEST_F(LdapModuleTest, RemoveMemberClearsEachGroupClassAndIsIdempotent) {
  const std::string dave = Person("dave.leaver");
  for (const std::string& g :
       {Group("payroll-admins"), Group("vpn-users"), Group("wiki-editors")}) {
    const json a = Action("remove_member", g, dave);
    EXPECT_TRUE(Ok(Op("apply", a))["changed"].get<bool>()) << g;
    json v = Ok(Op("verify", a));
    EXPECT_TRUE(v["satisfied"].get<bool>()) << v.dump();
    EXPECT_FALSE(Ok(Op("apply", a))["changed"].get<bool>()) << g;
  }
  // Only the two department groups still list him.
  EXPECT_EQ(GroupsListing("dave.leaver").size(), 2u);
  // And he can still bind: membership removal is not a disable.
  EXPECT_EQ(server_->Bind(dave, "pw-dave.leaver"), LDAP_SUCCESS);
}

TEST_F(LdapModuleTest, RemoveMemberMatchesAnyDnSpellingOfTheAccount) {
  const std::string gina = Person("gina.shaw");
  ASSERT_EQ(server_->Modify(Group("sales"), LDAP_MOD_ADD, "member",
                            {"UID=Gina.Shaw, OU=People,DC=Example,DC=Org"}),
            LDAP_SUCCESS);
  const json a = Action("remove_member", "CN=Sales,ou=groups," + kBase, gina);
  EXPECT_FALSE(Ok(Op("read", a))["satisfied"].get<bool>());
  EXPECT_TRUE(Ok(Op("apply", a))["changed"].get<bool>());
  // Only her own department's group still lists her.
  EXPECT_EQ(server_->Find("(member=" + gina + ")"),
            std::vector<std::string>{Group("engineering")});
  auto sales = server_->Values(Group("sales"), "member");
  for (const auto& m : sales) {
    EXPECT_EQ(m.find("Gina"), std::string::npos) << m;
  }
}

TEST_F(LdapModuleTest, RemovingTheLastMemberKeepsTheGroupValid) {
  ASSERT_EQ(server_->Add(Group("solo"), {{"objectClass", {"groupOfNames"}},
                                         {"cn", {"solo"}},
                                         {"member", {Person("ann.lee")}}}),
            LDAP_SUCCESS);
  const std::string ann = Person("ann.lee");
  EXPECT_TRUE(
      Ok(Op("apply", Action("remove_member", Group("solo"), ann)))["changed"]
          .get<bool>());
  EXPECT_EQ(server_->Values(Group("solo"), "member"),
            std::vector<std::string>{""});
  // The placeholder is no member: list skips it, and adding drops it.
  EXPECT_TRUE(Ok(Op("apply", Action("add_member", Group("solo"),
                                    Person("ben.kim"))))["changed"]
                  .get<bool>());
  EXPECT_EQ(server_->Values(Group("solo"), "member"),
            std::vector<std::string>{Person("ben.kim")});
}

TEST_F(LdapModuleTest, RemoveMemberOfAGoneAccountAndGroupIsNotFound) {
  json r =
      Op("apply", Action("remove_member", Group("finance"), Person("nobody")));
  EXPECT_EQ(Kind(r), "not_found") << r.dump();
  json g = Op("apply", Action("remove_member", Group("no-such-group"),
                              Person("ann.lee")));
  EXPECT_EQ(Kind(g), "not_found") << g.dump();
  // Verify confirms the absence in both cases.
  EXPECT_TRUE(Ok(Op("verify", Action("remove_member", Group("finance"),
                                     Person("nobody"))))["satisfied"]
                  .get<bool>());
  json v = Ok(Op("verify", Action("remove_member", Group("no-such-group"),
                                  Person("ann.lee"))));
  EXPECT_TRUE(v["satisfied"].get<bool>()) << v.dump();
  EXPECT_EQ(CheckNames(v), std::vector<std::string>{"group_absent"});
}

TEST_F(LdapModuleTest, AddMemberOfAMissingAccountIsNotFound) {
  json r = Op("apply", Action("add_member", Group("finance"), Person("ghost")));
  EXPECT_EQ(Kind(r), "not_found") << r.dump();
  EXPECT_TRUE(server_->Find("(member=" + Person("ghost") + ")").empty());
}

// ---------------------------------------------------------- injection

TEST_F(LdapModuleTest, FilterMetacharactersInANameMatchNothing) {
  const std::size_t people = server_->Find("(objectClass=posixAccount)").size();
  // A valid DN whose uid value is "*)(uid=*": escaped, it names nobody.
  const std::string evil = "uid=*)(uid=*," + kPeople;
  json r = Op("apply", Action("delete", evil));
  EXPECT_EQ(Kind(r), "not_found") << r.dump();
  json m = Op("apply",
              Action("remove_member", Group("vpn-users"), "uid=*," + kPeople));
  EXPECT_EQ(Kind(m), "not_found") << m.dump();
  EXPECT_EQ(server_->Find("(objectClass=posixAccount)").size(), people);
  EXPECT_EQ(server_->Values(Group("vpn-users"), "memberUid").size(), 3u);
  json v = Ok(Op("verify", Action("delete", evil)));
  EXPECT_TRUE(v["satisfied"].get<bool>()) << v.dump();
}

TEST_F(LdapModuleTest, DnSpecialCharactersCannotReachAnotherEntry) {
  // An escaped comma keeps "ou=admins" inside the uid value.
  const std::string tricky = "uid=ann.lee\\,ou=people," + kPeople;
  json r = Op("apply", Action("disable", tricky));
  EXPECT_EQ(Kind(r), "not_found") << r.dump();
  EXPECT_EQ(server_->Bind(Person("ann.lee"), "pw-ann.lee"), LDAP_SUCCESS);
  json c = Op("apply", Action("create_account", "uid=x\\,ou=admins," + kPeople,
                              "", {{"given_name", "X"}, {"surname", "Y"}}));
  EXPECT_EQ(Kind(c), "invalid") << c.dump();
}

TEST_F(LdapModuleTest, NulBytesAndOverlongNamesAreInvalid) {
  const std::string nul("uid=ann.lee\0x,ou=people,dc=example,dc=org", 40);
  EXPECT_EQ(Kind(Op("apply", Action("delete", nul))), "invalid");
  EXPECT_EQ(Kind(Op("apply", Action("delete", "uid=ann\\00," + kPeople))),
            "invalid");
  EXPECT_EQ(Kind(Op("apply", Action("delete", "uid=" + std::string(5000, 'a') +
                                                  "," + kPeople))),
            "invalid");
  EXPECT_TRUE(server_->Exists(Person("ann.lee")));
}

// ------------------------------------------------------- access control

TEST_F(LdapModuleTest, AddingToTheAdminsGroupIsDeniedByTheServer) {
  const json a = Action("add_member", Group("admins"), Person("paul.moss"));
  json r = Op("apply", a);
  EXPECT_EQ(Kind(r), "denied") << r.dump();
  EXPECT_EQ(server_->Values(Group("admins"), "member"),
            std::vector<std::string>{Person("root")});
  EXPECT_FALSE(Ok(Op("verify", a))["satisfied"].get<bool>());
}

TEST_F(LdapModuleTest, DisablingTheAdminPersonIsDeniedByTheServer) {
  json r = Op("apply", Action("disable", Person("root")));
  EXPECT_EQ(Kind(r), "denied") << r.dump();
  EXPECT_EQ(server_->Bind(Person("root"), "pw-root"), LDAP_SUCCESS);
  json d = Op("apply", Action("delete", Person("root")));
  EXPECT_EQ(Kind(d), "denied") << d.dump();
  EXPECT_TRUE(server_->Exists(Person("root")));
}

TEST_F(LdapModuleTest, ActingOnTheServiceAccountIsDenied) {
  for (const json& a :
       {Action("disable", kDeputy), Action("delete", kDeputy),
        Action("add_member", Group("finance"), kDeputy),
        Action(
            "reset_credential", kDeputy, "",
            {{"recipient", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}})}) {
    json r = Op("apply", a);
    EXPECT_EQ(Kind(r), "denied") << r.dump();
  }
  auto cred = json::parse(server_->admin_cred());
  EXPECT_EQ(server_->Bind(cred["bind_dn"], cred["password"]), LDAP_SUCCESS);
}

TEST_F(LdapModuleTest, UserPasswordsAreNeverReadable) {
  // The module's own credential cannot read a hash: a search for one
  // returns the entry without it.
  auto cred = json::parse(server_->admin_cred());
  const std::string ann = Person("ann.lee");
  int rc = -1;
  std::vector<std::string> values;
  {
    setenv("LDAPNOINIT", "1", 1);
    LDAP* ld = nullptr;
    ASSERT_EQ(ldap_initialize(&ld, server_->uri().c_str()), LDAP_SUCCESS);
    int v3 = LDAP_VERSION3;
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
    const std::string pw = cred["password"];
    berval b{static_cast<ber_len_t>(pw.size()), const_cast<char*>(pw.data())};
    std::string bind_dn = cred["bind_dn"];
    ASSERT_EQ(ldap_sasl_bind_s(ld, bind_dn.c_str(), LDAP_SASL_SIMPLE, &b,
                               nullptr, nullptr, nullptr),
              LDAP_SUCCESS);
    char attr[] = "userPassword";
    char* attrs[] = {attr, nullptr};
    LDAPMessage* res = nullptr;
    rc = ldap_search_ext_s(ld, ann.c_str(), LDAP_SCOPE_BASE, "(objectClass=*)",
                           attrs, 0, nullptr, nullptr, nullptr, 0, &res);
    for (LDAPMessage* e = ldap_first_entry(ld, res); e != nullptr;
         e = ldap_next_entry(ld, e)) {
      berval** v = ldap_get_values_len(ld, e, "userPassword");
      for (int i = 0; v != nullptr && v[i] != nullptr; ++i) {
        values.emplace_back(v[i]->bv_val, v[i]->bv_len);
      }
      if (v != nullptr) ldap_value_free_len(v);
    }
    ldap_msgfree(res);
    ldap_unbind_ext_s(ld, nullptr, nullptr);
  }
  EXPECT_EQ(rc, LDAP_SUCCESS);
  EXPECT_TRUE(values.empty());
  EXPECT_FALSE(server_->Values(ann, "userPassword").empty());  // Root sees it.
}

// ------------------------------------------------ credential and options

TEST_F(LdapModuleTest, MissingCredentialIsDenied) {
  testing::ModuleRun run = RunRaw(
      Request("apply", Action("disable", Person("ann.lee"))).dump(), nullptr);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json r = json::parse(run.out);
  EXPECT_EQ(Kind(r), "denied") << r.dump();
  EXPECT_EQ(server_->Bind(Person("ann.lee"), "pw-ann.lee"), LDAP_SUCCESS);
}

TEST_F(LdapModuleTest, WrongPasswordIsDeniedAndNeverEchoed) {
  const std::string cred =
      R"({"bind_dn":"cn=deputy,ou=services,dc=example,dc=org","password":"wrong-Secret-123"})";
  json r = Run(Request("apply", Action("disable", Person("ann.lee"))), &cred);
  EXPECT_EQ(Kind(r), "denied") << r.dump();
  EXPECT_EQ(last_output_.find("wrong-Secret-123"), std::string::npos);
}

TEST_F(LdapModuleTest, BadOptionsAreInvalid) {
  const json a = Action("disable", Person("ann.lee"));
  for (const json& o :
       {json{{"base_dn", kBase}},
        json{{"base_dn", kBase}, {"tls", "none"}, {"referrals", true}},
        json{{"base_dn", kBase}, {"tls", "sometimes"}},
        json{{"base_dn", kBase},
             {"tls", "none"},
             {"people", "ou=x,dc=other"}}}) {
    json r = Run(Request("apply", a, o));
    EXPECT_EQ(Kind(r), "invalid") << o.dump() << r.dump();
  }
  EXPECT_EQ(server_->Bind(Person("ann.lee"), "pw-ann.lee"), LDAP_SUCCESS);
}

TEST_F(LdapModuleTest, AMissingBaseIsNotFoundNeverAbsent) {
  const json o = {{"base_dn", "dc=nowhere,dc=org"}, {"tls", "none"}};
  const std::string dave = "uid=dave.leaver,ou=people,dc=nowhere,dc=org";
  json r = Run(Request("apply", Action("delete", dave), o));
  EXPECT_EQ(Kind(r), "not_found") << r.dump();
  EXPECT_NE(r["error"]["message"].get<std::string>().find("base_dn"),
            std::string::npos);
  // Verify cannot claim the removal either.
  json v = Run(Request("verify", Action("delete", dave), o));
  EXPECT_FALSE(v.value("ok", false) && v["result"]["satisfied"].get<bool>())
      << v.dump();
}

// -------------------------------------------------------------- list

TEST_F(LdapModuleTest, ListStreamsEveryAccountAndMembership) {
  ASSERT_EQ(server_->Delete(Person("eva.ross")), LDAP_SUCCESS);  // Dangling.
  EXPECT_TRUE(Ok(Op("apply", Action("disable", Person("ben.kim"))))["changed"]
                  .get<bool>());
  const std::string cred = server_->admin_cred();
  testing::ModuleRun run = RunRaw(Request("list", nullptr).dump(), &cred);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<json> lines;
  std::size_t start = 0;
  while (start < run.out.size()) {
    std::size_t end = run.out.find('\n', start);
    lines.push_back(json::parse(run.out.substr(start, end - start)));
    start = end + 1;
  }
  ASSERT_FALSE(lines.empty());
  const json last = lines.back();
  ASSERT_TRUE(last["ok"].get<bool>()) << last.dump();
  EXPECT_EQ(last["result"]["count"].get<std::size_t>(), lines.size() - 1);

  std::map<std::string, json> accounts;
  std::multimap<std::string, std::string> entitlements;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    const json& rec = lines[i]["record"];
    if (rec["type"] == "account") {
      accounts[rec["account"]] = rec["attributes"];
    } else {
      entitlements.emplace(rec["account"], rec["entitlement"]);
    }
  }
  // Every posixAccount the root DN sees is listed; the placeholder is not.
  const auto all = server_->Find("(objectClass=posixAccount)");
  EXPECT_EQ(accounts.size(), all.size());
  EXPECT_EQ(accounts.size(), 52u);  // 52 people and root, minus eva.ross.
  EXPECT_TRUE(accounts[Person("ben.kim")]["disabled"].get<bool>());
  EXPECT_FALSE(accounts[Person("ann.lee")]["disabled"].get<bool>());
  EXPECT_EQ(accounts[Person("ann.lee")]["uid"], "ann.lee");
  EXPECT_EQ(entitlements.count(Person("dave.leaver")), 5u);
  // eva.ross's listings survive her entry; list shows them.
  EXPECT_EQ(entitlements.count(Person("eva.ross")), 3u);
  EXPECT_EQ(entitlements.count(""), 0u);
  // Every member value in the directory appears exactly once.
  std::size_t values = 0;
  for (const auto& g : server_->Find(
           "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)"
           "(objectClass=posixGroup))")) {
    values += server_->Values(g, "member").size() +
              server_->Values(g, "uniqueMember").size() +
              server_->Values(g, "memberUid").size();
  }
  EXPECT_EQ(entitlements.size(), values);
}

// ------------------------------------------------------------- reset

TEST_F(LdapModuleTest, ResetCredentialSealsAWorkingPasswordToTheRecipient) {
  ASSERT_GE(sodium_init(), 0);
  unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(pk, sk);
  const std::string recipient =
      Base64Encode(ByteSpan(pk, crypto_box_PUBLICKEYBYTES));
  const std::string ann = Person("ann.lee");
  const json a = Action(
      "reset_credential", ann, ann,
      {{"recipient", recipient}, {"not_before", "2020-01-01T00:00:00Z"}});
  json read = Ok(Op("read", a));
  EXPECT_FALSE(read["satisfied"].get<bool>());

  testing::ModuleRun run =
      RunRaw(Request("apply", a).dump(), &server_->admin_cred());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json r = json::parse(run.out);
  json state = Ok(r)["state"];
  ASSERT_TRUE(state.contains("sealed_secret")) << r.dump();
  auto box = Base64Decode(state["sealed_secret"].get<std::string>());
  ASSERT_TRUE(box.ok());
  ASSERT_GT(box->size(), crypto_box_SEALBYTES);
  std::string secret(box->size() - crypto_box_SEALBYTES, '\0');
  ASSERT_EQ(
      crypto_box_seal_open(reinterpret_cast<unsigned char*>(secret.data()),
                           box->data(), box->size(), pk, sk),
      0);
  // The opened secret binds; the old one does not; it appears nowhere
  // in the response or on stderr.
  EXPECT_GE(secret.size(), 32u);
  EXPECT_EQ(server_->Bind(ann, secret), LDAP_SUCCESS);
  EXPECT_EQ(server_->Bind(ann, "pw-ann.lee"), LDAP_INVALID_CREDENTIALS);
  EXPECT_EQ(run.out.find(secret), std::string::npos);
  EXPECT_EQ(run.err.find(secret), std::string::npos);
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest,
                     reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size());
  EXPECT_EQ(state["secret_fingerprint"],
            "sha256:" + HexEncode(ByteSpan(digest, sizeof digest)));
  EXPECT_TRUE(state["proved_by_bind"].get<bool>());

  json v = Ok(Op("verify", a));
  EXPECT_TRUE(v["satisfied"].get<bool>()) << v.dump();
  EXPECT_TRUE(CheckOk(v, "password_changed_since"));
  // A rotation that should have happened after now is not proven.
  json later = Action(
      "reset_credential", ann, ann,
      {{"recipient", recipient}, {"not_before", "2099-01-01T00:00:00Z"}});
  json vl = Ok(Op("verify", later));
  EXPECT_FALSE(vl["satisfied"].get<bool>());
  EXPECT_FALSE(CheckOk(vl, "password_changed_since"));
}

TEST_F(LdapModuleTest, ResetCredentialRefusesADisabledAccount) {
  const std::string ben = Person("ben.kim");
  EXPECT_TRUE(Ok(Op("apply", Action("disable", ben)))["changed"].get<bool>());
  json r = Op(
      "apply",
      Action("reset_credential", ben, "",
             {{"recipient", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}));
  EXPECT_EQ(Kind(r), "conflict") << r.dump();
  EXPECT_TRUE(server_->Values(ben, "userPassword").empty());
}

TEST_F(LdapModuleTest, ResetCredentialWithABadRecipientChangesNothing) {
  const std::string ann = Person("ann.lee");
  json r =
      Op("apply", Action("reset_credential", ann, "", {{"recipient", "AAAA"}}));
  EXPECT_EQ(Kind(r), "invalid") << r.dump();
  EXPECT_EQ(server_->Bind(ann, "pw-ann.lee"), LDAP_SUCCESS);
}

TEST_F(LdapModuleTest, StartTlsAgainstAServerWithoutTlsNeverFallsBack) {
  const json o = {{"base_dn", kBase},
                  {"tls", "starttls"},
                  {"ca_file", "/etc/ssl/certs/ca-certificates.crt"}};
  json r = Run(Request("apply", Action("disable", Person("ann.lee")), o));
  EXPECT_FALSE(r.value("ok", true)) << r.dump();
  EXPECT_EQ(server_->Bind(Person("ann.lee"), "pw-ann.lee"), LDAP_SUCCESS);
}

// ---------------------------------------------------------------- TLS

class LdapTlsTest : public LdapModuleTest {
 protected:
  bool WithTls() const override { return true; }
  json Tls(const std::string& mode, const std::string& ca) const {
    return {{"base_dn", kBase}, {"tls", mode}, {"ca_file", ca}};
  }
};

TEST_F(LdapTlsTest, StartTlsAndLdapsWorkWithTheServersCa) {
  const std::string ann = Person("ann.lee");
  const json a = Action("disable", ann);
  json r = Run(Request("read", a, Tls("starttls", server_->ca_file())));
  EXPECT_TRUE(Ok(r)["exists"].get<bool>());
  r = Run(Request("apply", a, Tls("ldaps", server_->ca_file()), "127.0.0.1",
                  server_->ldaps_port()));
  EXPECT_TRUE(Ok(r)["changed"].get<bool>());
  // verify binds on a second TLS connection of its own.
  json v = Ok(Run(Request("verify", a, Tls("ldaps", server_->ca_file()),
                          "127.0.0.1", server_->ldaps_port())));
  EXPECT_TRUE(v["satisfied"].get<bool>()) << v.dump();
  EXPECT_NE(v["checks"][2]["detail"].get<std::string>().find("locked"),
            std::string::npos)
      << v.dump();
}

TEST_F(LdapTlsTest, AnUntrustedCertificateIsRefusedAndNothingChanges) {
  const std::string ann = Person("ann.lee");
  const std::string system_ca = "/etc/ssl/certs/ca-certificates.crt";
  json r =
      Run(Request("apply", Action("disable", ann), Tls("starttls", system_ca)));
  EXPECT_FALSE(r.value("ok", true)) << r.dump();
  r = Run(Request("apply", Action("disable", ann), Tls("ldaps", system_ca),
                  "127.0.0.1", server_->ldaps_port()));
  EXPECT_FALSE(r.value("ok", true)) << r.dump();
  EXPECT_EQ(server_->Bind(ann, "pw-ann.lee"), LDAP_SUCCESS);
}

TEST_F(LdapTlsTest, ACertificateForAnotherNameIsRefused) {
  // The certificate names 127.0.0.1 only; "localhost" reaches the same
  // server but is not the name in it.
  const std::string ann = Person("ann.lee");
  json r = Run(Request("apply", Action("disable", ann),
                       Tls("ldaps", server_->ca_file()), "localhost",
                       server_->ldaps_port()));
  EXPECT_FALSE(r.value("ok", true)) << r.dump();
  EXPECT_EQ(server_->Bind(ann, "pw-ann.lee"), LDAP_SUCCESS);
}

TEST_F(LdapTlsTest, TheWrongTlsModeForAPortFails) {
  // ldaps:// on the StartTLS port, StartTLS on the ldaps:// port.
  json r = Run(Request("read", Action("disable", Person("ann.lee")),
                       Tls("ldaps", server_->ca_file())));
  EXPECT_FALSE(r.value("ok", true)) << r.dump();
  r = Run(Request("read", Action("disable", Person("ann.lee")),
                  Tls("starttls", server_->ca_file()), "127.0.0.1",
                  server_->ldaps_port()));
  EXPECT_FALSE(r.value("ok", true)) << r.dump();
}

}  // namespace
}  // namespace deputy
