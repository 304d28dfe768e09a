// The LDAP module's answers that need no server (capabilities/ldap): a
// request that fails a check is refused before any connection. The
// target is 127.0.0.1:1, where nothing listens, so a module that did try
// to connect would answer "transient" instead.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "capabilities/ldap/ldap_module.h"

namespace deputy::ldap {
namespace {

using nlohmann::json;

const char kAnn[] = "uid=ann.lee,ou=people,dc=example,dc=org";
const char kCred[] =
    R"({"bind_dn":"cn=deputy,ou=services,dc=example,dc=org","password":"pw"})";

json Request(std::string op, json options, json action = nullptr) {
  json r = {{"protocol", 1},
            {"op", op},
            {"id", "t-1"},
            {"target",
             {{"name", "ldap"},
              {"host", "127.0.0.1"},
              {"port", 1},
              {"options", options}}}};
  if (!action.is_null()) r["action"] = action;
  return r;
}

json Options() { return {{"base_dn", "dc=example,dc=org"}, {"tls", "none"}}; }

json Action(std::string op, std::string resource, std::string subject = "",
            json params = json::object()) {
  return {{"operation", op},
          {"resource", resource},
          {"subject", subject},
          {"params", params}};
}

json Handle(const json& request, const char* cred = kCred) {
  LdapModule module;
  std::string out;
  if (cred == nullptr) {
    out = protocol::HandleRequest(module, request.dump(), nullptr);
  } else {
    auto c = protocol::Credential::FromBytes(cred);
    out = protocol::HandleRequest(module, request.dump(), &c);
  }
  return json::parse(out);
}

std::string ErrorKind(const json& response) {
  if (response.value("ok", true)) return "ok";
  return response["error"]["kind"].get<std::string>();
}

TEST(LdapModuleUnit, DescribeNamesEveryOperationWithoutACredential) {
  json r = Handle(Request("describe", Options()), nullptr);
  ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
  EXPECT_EQ(r["result"]["kind"], "ldap");
  std::set<std::string> names;
  for (const auto& op : r["result"]["operations"]) names.insert(op["name"]);
  EXPECT_EQ(names, (std::set<std::string>{"create_account", "disable", "delete",
                                          "add_member", "remove_member",
                                          "reset_credential"}));
}

TEST(LdapModuleUnit, MissingCredentialIsDenied) {
  json r =
      Handle(Request("apply", Options(), Action("disable", kAnn)), nullptr);
  EXPECT_EQ(ErrorKind(r), "denied") << r.dump();
}

TEST(LdapModuleUnit, MalformedCredentialIsRefusedWithoutEchoingIt) {
  json r = Handle(Request("apply", Options(), Action("disable", kAnn)),
                  R"({"bind_dn":"cn=deputy,ou=services,dc=example,dc=org"})");
  EXPECT_EQ(ErrorKind(r), "invalid") << r.dump();
  r = Handle(Request("apply", Options(), Action("disable", kAnn)),
             R"({"bind_dn":"not a dn","password":"s3cret-value"})");
  EXPECT_EQ(ErrorKind(r), "invalid") << r.dump();
  EXPECT_EQ(r.dump().find("s3cret-value"), std::string::npos);
  r = Handle(Request("apply", Options(), Action("disable", kAnn)),
             "s3cret-value");
  EXPECT_EQ(ErrorKind(r), "invalid") << r.dump();
  EXPECT_EQ(r.dump().find("s3cret-value"), std::string::npos);
}

TEST(LdapModuleUnit, EmptyPasswordIsDeniedNotAnAnonymousBind) {
  json r = Handle(
      Request("apply", Options(), Action("disable", kAnn)),
      R"({"bind_dn":"cn=deputy,ou=services,dc=example,dc=org","password":""})");
  EXPECT_EQ(ErrorKind(r), "denied") << r.dump();
}

TEST(LdapModuleUnit, BadOptionsAreInvalidBeforeAnyConnection) {
  for (const json& o :
       {json{{"base_dn", "dc=example,dc=org"}},
        json{{"base_dn", "dc=example,dc=org"}, {"tls", "none"}, {"x", 1}},
        json{{"tls", "none"}},
        json{{"base_dn", "dc=example,,dc=org"}, {"tls", "none"}}}) {
    for (const char* op : {"read", "apply", "verify", "list"}) {
      json req = std::string(op) == "list"
                     ? Request(op, o)
                     : Request(op, o, Action("disable", kAnn));
      json r = Handle(req);
      EXPECT_EQ(ErrorKind(r), "invalid") << op << " " << o.dump() << r.dump();
    }
  }
}

TEST(LdapModuleUnit, HostileNamesAreInvalidBeforeAnyConnection) {
  const json cases[] = {
      Action("delete", "uid=*)(uid=*,ou=people,dc=example,dc=org,dc=evil"),
      Action("delete", std::string("uid=a\0b,ou=people,dc=example,dc=org", 35)),
      Action("delete",
             "uid=" + std::string(5000, 'a') + ",ou=people,dc=example,dc=org"),
      Action("create_account", "uid=x\\,ou=admins,ou=people,dc=example,dc=org",
             "", {{"given_name", "X"}, {"surname", "Y"}}),
      Action("create_account", "uid=*)(uid=*,ou=people,dc=example,dc=org", "",
             {{"given_name", "X"}, {"surname", "Y"}}),
      Action("add_member", "cn=finance,ou=groups,dc=example,dc=org",
             "uid=*,ou=other,dc=example,dc=org"),
      Action("remove_member", "cn=finance)(cn=*", kAnn),
  };
  for (const json& a : cases) {
    json r = Handle(Request("apply", Options(), a));
    EXPECT_EQ(ErrorKind(r), "invalid") << a.dump() << r.dump();
  }
}

TEST(LdapModuleUnit, ActingOnTheServiceAccountIsDeniedBeforeAnyConnection) {
  json r = Handle(
      Request("apply", Options(),
              Action("add_member", "cn=finance,ou=groups,dc=example,dc=org",
                     "cn=deputy,ou=services,dc=example,dc=org")));
  EXPECT_EQ(ErrorKind(r), "denied") << r.dump();
}

TEST(LdapModuleUnit, AnUnreachableServerIsTransient) {
  json r = Handle(Request("apply", Options(), Action("disable", kAnn)));
  EXPECT_EQ(ErrorKind(r), "transient") << r.dump();
  r = Handle(Request("list", Options()));
  EXPECT_EQ(ErrorKind(r), "transient") << r.dump();
}

}  // namespace
}  // namespace deputy::ldap
