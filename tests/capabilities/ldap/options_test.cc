// The LDAP module's request checks (capabilities/ldap/options.h): options,
// the server URI, and every kind of bad or hostile name, all refused
// before the module would connect.
#include "capabilities/ldap/options.h"

#include <gtest/gtest.h>

#include <string>

namespace deputy::ldap {
namespace {

using nlohmann::json;

const char kBase[] = "dc=example,dc=org";
const char kAnn[] = "uid=ann.lee,ou=people,dc=example,dc=org";
const char kFinance[] = "cn=finance,ou=groups,dc=example,dc=org";
const char kDeputy[] = "cn=deputy,ou=services,dc=example,dc=org";
// The base64 of 32 zero bytes: a well-formed recipient key.
const char kRecipient[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

Options Defaults() {
  auto o = Options::Parse({{"base_dn", kBase}, {"tls", "none"}});
  EXPECT_TRUE(o.ok()) << o.status().ToString();
  return *o;
}

Dn Bound() { return *Dn::Parse(kDeputy); }

Result<CheckedAction> Check(std::string op, std::string resource,
                            std::string subject = "",
                            json params = json::object()) {
  protocol::Action a;
  a.operation = std::move(op);
  a.resource = std::move(resource);
  a.subject = std::move(subject);
  a.params = std::move(params);
  return CheckAction(Defaults(), a, Bound());
}

json NewPerson() { return {{"given_name", "Nora"}, {"surname", "Vale"}}; }

TEST(LdapOptions, DefaultsPeopleAndGroupsUnderTheBase) {
  Options o = Defaults();
  EXPECT_EQ(o.base.Canonical(), kBase);
  EXPECT_EQ(o.people.Canonical(), "ou=people,dc=example,dc=org");
  EXPECT_EQ(o.groups.Canonical(), "ou=groups,dc=example,dc=org");
  EXPECT_EQ(o.tls, Tls::kNone);
  EXPECT_EQ(o.timeout_ms, 10000);
}

TEST(LdapOptions, AcceptsEveryDocumentedOption) {
  auto o = Options::Parse({{"base_dn", "DC=Example, DC=Org"},
                           {"people", "ou=staff,dc=example,dc=org"},
                           {"groups", "ou=teams,dc=example,dc=org"},
                           {"tls", "starttls"},
                           {"ca_file", "/etc/ssl/certs/ca.pem"},
                           {"timeout_ms", 2500}});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->base.Canonical(), kBase);
  EXPECT_EQ(o->people.Canonical(), "ou=staff,dc=example,dc=org");
  EXPECT_EQ(o->tls, Tls::kStartTls);
  EXPECT_EQ(o->ca_file, "/etc/ssl/certs/ca.pem");
  EXPECT_EQ(o->timeout_ms, 2500);
}

TEST(LdapOptions, RefusesUnknownMissingAndMalformedOptions) {
  const json bad[] = {
      {{"tls", "none"}},                                     // No base_dn.
      {{"base_dn", kBase}},                                  // No tls.
      {{"base_dn", kBase}, {"tls", "yes"}},                  // Bad tls.
      {{"base_dn", kBase}, {"tls", "none"}, {"port", 389}},  // Unknown.
      {{"base_dn", ""}, {"tls", "none"}},                    // Root DN.
      {{"base_dn", "dc=example,,dc=org"}, {"tls", "none"}},  // Bad DN.
      {{"base_dn", 7}, {"tls", "none"}},
      {{"base_dn", kBase}, {"tls", "none"}, {"people", "ou=people,dc=other"}},
      {{"base_dn", kBase}, {"tls", "none"}, {"groups", kBase}},
      {{"base_dn", kBase}, {"tls", "none"}, {"ca_file", "/ca.pem"}},
      {{"base_dn", kBase}, {"tls", "ldaps"}, {"ca_file", "ca.pem"}},
      {{"base_dn", kBase}, {"tls", "none"}, {"timeout_ms", 5}},
      {{"base_dn", kBase}, {"tls", "none"}, {"timeout_ms", "10"}},
      json::array(),
  };
  for (const auto& j : bad) {
    auto o = Options::Parse(j);
    EXPECT_FALSE(o.ok()) << j.dump();
    if (!o.ok()) {
      EXPECT_EQ(o.status().code(), ErrorCode::kInvalidArgument) << j.dump();
    }
  }
}

TEST(LdapOptions, ServerUriTakesOnlyHostNamesAndAddresses) {
  protocol::Target t;
  t.port = 389;
  t.host = "ldap.example.org";
  EXPECT_EQ(*ServerUri(t, Tls::kNone), "ldap://ldap.example.org:389");
  EXPECT_EQ(*ServerUri(t, Tls::kLdaps), "ldaps://ldap.example.org:389");
  t.host = "127.0.0.1";
  EXPECT_EQ(*ServerUri(t, Tls::kStartTls), "ldap://127.0.0.1:389");
  t.host = "::1";
  EXPECT_EQ(*ServerUri(t, Tls::kNone), "ldap://[::1]:389");
  for (const char* host :
       {"", "evil.org/dc=x??sub", "a b", "user@host", "host:1234", "-x",
        "h\nost", "ldap.example.org/", "%2e"}) {
    t.host = host;
    EXPECT_FALSE(ServerUri(t, Tls::kNone).ok()) << host;
  }
  t.host = "ldap.example.org";
  t.port = 0;
  EXPECT_FALSE(ServerUri(t, Tls::kNone).ok());
  t.port = 70000;
  EXPECT_FALSE(ServerUri(t, Tls::kNone).ok());
}

TEST(LdapAction, NormalisesTheResourceAndSubject) {
  auto c = Check("add_member", "CN=Finance, OU=Groups,DC=Example,DC=Org",
                 "UID=Ann.Lee,ou=people,dc=example,dc=org");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->op, Operation::kAddMember);
  EXPECT_EQ(c->resource.Canonical(), kFinance);
  EXPECT_EQ(c->account.Canonical(), kAnn);
}

TEST(LdapAction, EveryOperationHasItsName) {
  for (Operation op : kOperations) {
    auto parsed = ParseOperation(OperationName(op));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, op);
  }
  EXPECT_FALSE(ParseOperation("drop_role").ok());
  EXPECT_FALSE(ParseOperation("Delete").ok());
}

TEST(LdapAction, RefusesAnUnknownOperation) {
  auto c = Check("modrdn", kAnn, kAnn);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kInvalidArgument);
}

TEST(LdapAction, RefusesDnsOutsideTheBase) {
  for (const char* dn : {"uid=x,ou=people,dc=evil,dc=org", "dc=example,dc=org",
                         "uid=x,ou=people,dc=example,dc=org,dc=evil", "dc=org",
                         "uid=x,ou=people,dc=example,dc=orgx", ""}) {
    auto c = Check("disable", dn);
    ASSERT_FALSE(c.ok()) << dn;
    EXPECT_EQ(c.status().code(), ErrorCode::kInvalidArgument) << dn;
  }
}

TEST(LdapAction, AccountsMustLieUnderPeople) {
  auto c = Check("delete", "cn=finance,ou=groups,dc=example,dc=org");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kInvalidArgument);
  c = Check("disable", "ou=people,dc=example,dc=org");
  EXPECT_FALSE(c.ok());
  // Removal works anywhere under the base, addition only into `groups`.
  EXPECT_TRUE(
      Check("remove_member", "cn=x,ou=other,dc=example,dc=org", kAnn).ok());
  EXPECT_FALSE(
      Check("add_member", "cn=x,ou=other,dc=example,dc=org", kAnn).ok());
  EXPECT_FALSE(
      Check("add_member", kFinance, "uid=x,ou=other,dc=example,dc=org").ok());
}

TEST(LdapAction, RefusesToActOnTheBoundIdentity) {
  for (auto c : {Check("disable", kDeputy), Check("delete", kDeputy),
                 Check("reset_credential",
                       "CN=Deputy,OU=Services,DC=example,"
                       "DC=org",
                       "", {{"recipient", kRecipient}}),
                 Check("add_member", kFinance, kDeputy),
                 Check("remove_member", kFinance,
                       "cn=deputy, ou=services, "
                       "dc=example, dc=org"),
                 // An entry above the bound identity is refused too.
                 Check("delete", "ou=services,dc=example,dc=org")}) {
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), ErrorCode::kPermissionDenied)
        << c.status().ToString();
  }
}

TEST(LdapAction, SubjectMustMatchForAccountOperations) {
  EXPECT_TRUE(Check("disable", kAnn, "").ok());
  EXPECT_TRUE(
      Check("disable", kAnn, "UID=ann.lee,ou=people,dc=example,dc=org").ok());
  EXPECT_FALSE(
      Check("disable", kAnn, "uid=ben,ou=people,dc=example,dc=org").ok());
  EXPECT_FALSE(Check("add_member", kFinance, "").ok());
}

TEST(LdapAction, CreateAccountNeedsAPortableUidDirectlyUnderPeople) {
  EXPECT_TRUE(Check("create_account",
                    "uid=nora.vale,ou=people,dc=example,"
                    "dc=org",
                    "", NewPerson())
                  .ok());
  for (const char* dn : {
           "uid=a\\,ou=admins,ou=people,dc=example,dc=org",  // Escaped ','.
           "uid=x,ou=sub,ou=people,dc=example,dc=org",       // Too deep.
           "cn=Nora Vale,ou=people,dc=example,dc=org",       // Not uid=.
           "uid=a+cn=b,ou=people,dc=example,dc=org",         // Multi-valued.
           "uid=*)(uid=*,ou=people,dc=example,dc=org",       // Filter chars.
           "uid=-rf,ou=people,dc=example,dc=org",            // Leading '-'.
           "uid=a b,ou=people,dc=example,dc=org",            // Space.
           "uid=\\23x,ou=people,dc=example,dc=org",          // '#'.
       }) {
    auto c = Check("create_account", dn, "", NewPerson());
    ASSERT_FALSE(c.ok()) << dn;
    EXPECT_EQ(c.status().code(), ErrorCode::kInvalidArgument) << dn;
  }
  std::string long_uid =
      "uid=" + std::string(65, 'a') + ",ou=people,dc=example,dc=org";
  EXPECT_FALSE(Check("create_account", long_uid, "", NewPerson()).ok());
}

TEST(LdapAction, RefusesNulAndControlCharactersInNames) {
  const std::string nul("uid=a\0b,ou=people,dc=example,dc=org", 35);
  for (const std::string& dn :
       {nul, std::string("uid=a\\00b,ou=people,dc=example,dc=org"),
        std::string("uid=a\nb,ou=people,dc=example,dc=org"),
        std::string("uid=a\\0ab,ou=people,dc=example,dc=org")}) {
    auto c = Check("delete", dn);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), ErrorCode::kInvalidArgument);
    // The message never echoes the raw bytes.
    EXPECT_EQ(c.status().message().find('\0'), std::string::npos);
    EXPECT_EQ(c.status().message().find('\n'), std::string::npos);
  }
}

TEST(LdapAction, RefusesNonAsciiDns) {
  // Fullwidth "ａ" (U+FF41) folds to "a" on the server.
  auto c =
      Check("delete", "uid=\xef\xbd\x81nn.lee,ou=people,dc=example,dc=org");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kInvalidArgument);
  // A BER hex value may spell any name.
  EXPECT_FALSE(
      Check("delete", "uid=#04036161,ou=people,dc=example,dc=org").ok());
}

TEST(LdapAction, RefusesOverlongValues) {
  std::string dn =
      "uid=" + std::string(5000, 'a') + ",ou=people,dc=example,dc=org";
  EXPECT_FALSE(Check("delete", dn).ok());
  json p = NewPerson();
  p["given_name"] = std::string(300, 'x');
  EXPECT_FALSE(
      Check("create_account", "uid=nora,ou=people,dc=example,dc=org", "", p)
          .ok());
  p = NewPerson();
  p["mail"] = std::string(250, 'x') + "@example.org";
  EXPECT_FALSE(
      Check("create_account", "uid=nora,ou=people,dc=example,dc=org", "", p)
          .ok());
}

TEST(LdapAction, ParamsAreTypedAndUnknownOnesRefused) {
  const std::string nora = "uid=nora,ou=people,dc=example,dc=org";
  auto c = Check("create_account", nora, "",
                 {{"given_name", "Nora"},
                  {"surname", "Vale"},
                  {"mail", "nora@example.org"},
                  {"department", "engineering"},
                  {"uid_number", 12345},
                  {"gid_number", 10000}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->new_account.mail, "nora@example.org");
  EXPECT_EQ(*c->new_account.uid_number, 12345);
  const json bad[] = {
      {{"given_name", "Nora"}},                                 // No surname.
      {{"given_name", "Nora"}, {"surname", 5}},                 // Wrong type.
      {{"given_name", "Nora"}, {"surname", "Vale"}, {"x", 1}},  // Unknown.
      {{"given_name", "   "}, {"surname", "Vale"}},             // Blank.
      {{"given_name", "No\tra"}, {"surname", "Vale"}},          // Control.
      {{"given_name", "Nora"}, {"surname", "Vale"}, {"mail", "nora"}},
      {{"given_name", "Nora"}, {"surname", "Vale"}, {"mail", "n@x@y"}},
      {{"given_name", "Nora"}, {"surname", "Vale"}, {"mail", "nörä@x.org"}},
      {{"given_name", "Nora"}, {"surname", "Vale"}, {"uid_number", 0}},
      {{"given_name", "Nora"}, {"surname", "Vale"}, {"gid_number", -1}},
      json::array(),
  };
  for (const auto& p : bad) {
    EXPECT_FALSE(Check("create_account", nora, "", p).ok()) << p.dump();
  }
  EXPECT_FALSE(Check("disable", kAnn, "", {{"force", true}}).ok());
  EXPECT_FALSE(Check("add_member", kFinance, kAnn, {{"x", 1}}).ok());
}

TEST(LdapAction, ResetCredentialNeedsA32ByteRecipientKey) {
  auto c = Check(
      "reset_credential", kAnn, kAnn,
      {{"recipient", kRecipient}, {"not_before", "2026-12-04T07:00:00+01:00"}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->rotation.recipient.size(), 32u);
  EXPECT_EQ(*c->rotation.not_before, 1796364000);  // 06:00Z.
  for (const json& p :
       {json::object(), json{{"recipient", "AAAA"}},
        json{{"recipient", "not base64!"}},
        json{{"recipient", kRecipient}, {"not_before", "yesterday"}},
        json{{"recipient", kRecipient}, {"extra", 1}}}) {
    EXPECT_FALSE(Check("reset_credential", kAnn, kAnn, p).ok()) << p.dump();
  }
}

TEST(LdapAction, PrintableEscapesControlBytesAndCuts) {
  EXPECT_EQ(Printable(std::string("a\0b\n", 4)), "a\\x00b\\x0a");
  EXPECT_EQ(Printable("\xff"), "\\xff");
  EXPECT_EQ(Printable(std::string(200, 'x'), 4), "xxxx...");
}

}  // namespace
}  // namespace deputy::ldap
