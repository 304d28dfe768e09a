// Unit tests of the PostgreSQL module's pure logic: the role-name rule,
// action and option parsing, the libpq connection parameters, error
// mapping and sealing. No server: requests that must fail before the
// module connects are sent to a port where nothing listens, so reaching
// the network would show up as a transient error instead.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdlib.h>

#include <set>
#include <string>

#include "base/encoding.h"
#include "capabilities/postgres/action.h"
#include "capabilities/postgres/options.h"
#include "capabilities/postgres/pg_conn.h"
#include "capabilities/postgres/postgres_module.h"
#include "capabilities/postgres/secret.h"
#include "capabilities/protocol/module_main.h"

namespace deputy::postgres {
namespace {

using nlohmann::json;

protocol::Action MakeAction(std::string op, std::string resource,
                            std::string subject = "",
                            json params = json::object()) {
  protocol::Action a;
  a.operation = std::move(op);
  a.resource = std::move(resource);
  a.subject = std::move(subject);
  a.params = std::move(params);
  return a;
}

std::string Recipient() {
  unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(pk, sk);
  return Base64Encode(ByteSpan(pk, sizeof pk));
}

// ---- the name rule -------------------------------------------------------

TEST(PostgresRoleName, AcceptsTheRule) {
  for (const char* n : {"a", "_", "ann_lee", "app_finance2", "_x9"}) {
    EXPECT_TRUE(CheckRoleName(n, "resource").ok()) << n;
  }
  EXPECT_TRUE(CheckRoleName(std::string(63, 'a'), "resource").ok());
}

TEST(PostgresRoleName, RejectsInjectionCaseAndLength) {
  const std::string bad[] = {
      "",
      "Ann_Lee",
      "ANN_LEE",
      "1abc",
      "ann lee",
      " ann_lee",
      "ann_lee ",
      "ann-lee",
      "ann.lee",
      "x'; DROP ROLE ann_lee; --",
      "ann_lee\"; DROP ROLE ann_lee; --",
      "a;b",
      std::string("ann\0lee", 7),
      std::string("ann_lee\0", 8),
      "\xc3\xa1nn",  // "ánn"
      std::string(64, 'a'),
      std::string(100000, 'a'),
  };
  for (const auto& n : bad) {
    Status s = CheckRoleName(n, "resource");
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << Printable(n);
    // The message is printable and bounded, whatever the input.
    EXPECT_LT(s.message().size(), 200u);
    EXPECT_EQ(s.message().find('\0'), std::string::npos);
  }
}

TEST(PostgresRoleName, BuiltinRolesAreReserved) {
  EXPECT_TRUE(IsReservedRoleName("pg_signal_backend"));
  EXPECT_TRUE(IsReservedRoleName("pg_"));
  EXPECT_FALSE(IsReservedRoleName("pgx"));
  EXPECT_FALSE(IsReservedRoleName("app_pg_x"));
}

// ---- actions -------------------------------------------------------------

TEST(PostgresAction, ParsesEveryOperation) {
  auto c = ParseAction(MakeAction("create_role", "ann_lee", "ann_lee"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->op, PgOperation::kCreateRole);
  EXPECT_TRUE(c->login);  // The default.
  auto n = ParseAction(
      MakeAction("create_role", "app_x", "", json{{"login", false}}));
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(n->login);
  auto g = ParseAction(MakeAction("grant_role", "app_hr", "ann_lee"));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->role, "app_hr");
  EXPECT_EQ(g->member, "ann_lee");
  EXPECT_TRUE(ParseAction(MakeAction("revoke_role", "app_hr", "ann_lee")).ok());
  EXPECT_TRUE(ParseAction(MakeAction("disable", "ann_lee")).ok());
  auto r = ParseAction(MakeAction("rotate_password", "ann_lee", "ann_lee",
                                  json{{"recipient", Recipient()}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->recipient.size(), 32u);
  auto d = ParseAction(MakeAction("drop_role", "dave_leaver", "dave_leaver",
                                  json{{"successor", "app_archive"}}));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->successor, "app_archive");
  EXPECT_EQ(d->Names(),
            (std::vector<std::string>{"dave_leaver", "app_archive"}));
}

TEST(PostgresAction, RejectsMalformedActionsAsInvalid) {
  const protocol::Action bad[] = {
      MakeAction("delete", "ann_lee"),
      MakeAction("CREATE_ROLE", "ann_lee"),
      MakeAction("create_role", "ann_lee", "", json{{"login", "yes"}}),
      MakeAction("create_role", "ann_lee", "", json{{"superuser", true}}),
      MakeAction("disable", "ann_lee", "", json{{"force", true}}),
      MakeAction("disable", "ann_lee", "ben_kim"),
      MakeAction("grant_role", "app_hr"),
      MakeAction("grant_role", "app_hr", "app_hr"),
      MakeAction("grant_role", "app_hr", "Ann_Lee"),
      MakeAction("revoke_role", "app_hr", "ann_lee; DROP ROLE x"),
      MakeAction("rotate_password", "ann_lee"),
      MakeAction("rotate_password", "ann_lee", "",
                 json{{"recipient", "not base64!"}}),
      MakeAction("rotate_password", "ann_lee", "",
                 json{{"recipient", Base64Encode(Bytes(31, 1))}}),
      MakeAction("rotate_password", "ann_lee", "",
                 json{{"recipient", Base64Encode(Bytes(33, 1))}}),
      MakeAction("drop_role", "dave_leaver"),
      MakeAction("drop_role", "dave_leaver", "",
                 json{{"successor", "dave_leaver"}}),
      MakeAction("drop_role", "dave_leaver", "",
                 json{{"successor", "app_archive'; --"}}),
      MakeAction("drop_role", "dave_leaver", "", json{{"successor", 7}}),
  };
  for (const auto& a : bad) {
    auto r = ParseAction(a);
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument)
        << a.operation << " " << a.resource << " " << a.params.dump();
  }
}

TEST(PostgresAction, BuiltinRoleNamesAreDenied) {
  EXPECT_EQ(ParseAction(MakeAction("disable", "pg_monitor")).status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(ParseAction(MakeAction("grant_role", "pg_read_all_data", "ann_lee"))
                .status()
                .code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(ParseAction(MakeAction("grant_role", "app_hr", "pg_monitor"))
                .status()
                .code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(ParseAction(MakeAction("drop_role", "dave_leaver", "",
                                   json{{"successor", "pg_monitor"}}))
                .status()
                .code(),
            ErrorCode::kPermissionDenied);
}

// ---- options and connection parameters -----------------------------------

TEST(PostgresOptions, ParsesDefaultsAndEveryMode) {
  auto o = PgOptions::Parse(json{{"sslmode", "disable"}});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->database, "postgres");
  EXPECT_EQ(o->connect_timeout_s, 10);
  auto v = PgOptions::Parse(json{{"sslmode", "verify-full"},
                                 {"ca_file", "/etc/ssl/ca.pem"},
                                 {"database", "appdb"},
                                 {"connect_timeout_s", 3}});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->sslmode, SslMode::kVerifyFull);
  EXPECT_EQ(v->ca_file, "/etc/ssl/ca.pem");
  EXPECT_EQ(v->database, "appdb");
  EXPECT_EQ(v->connect_timeout_s, 3);
}

TEST(PostgresOptions, RejectsBadOptionsAsInvalid) {
  const json bad[] = {
      json::object(),               // sslmode required
      json{{"sslmode", "prefer"}},  // not offered
      json{{"sslmode", "allow"}},
      json{{"sslmode", "DISABLE"}},
      json{{"sslmode", "disable"}, {"host", "x"}},       // unknown option
      json{{"sslmode", "disable"}, {"ca_file", "/ca"}},  // only verify-full
      json{{"sslmode", "verify-full"}},                  // needs ca_file
      json{{"sslmode", "verify-full"}, {"ca_file", "ca.pem"}},
      json{{"sslmode", "disable"}, {"connect_timeout_s", 0}},
      json{{"sslmode", "disable"}, {"connect_timeout_s", 301}},
      json{{"sslmode", "disable"}, {"connect_timeout_s", "10"}},
      json{{"sslmode", "disable"}, {"database", ""}},
      json{{"sslmode", "disable"}, {"database", std::string(64, 'd')}},
      json{{"sslmode", "disable"}, {"database", "app\ndb"}},
      json{{"sslmode", "disable"}, {"database", 5}},
      json::array(),
  };
  for (const auto& o : bad) {
    EXPECT_EQ(PgOptions::Parse(o).status().code(), ErrorCode::kInvalidArgument)
        << o.dump();
  }
}

TEST(PostgresOptions, HostMustBeTcp) {
  for (const char* h : {"db.example.org", "127.0.0.1", "::1", "pg-1"}) {
    EXPECT_TRUE(CheckTcpHost(h).ok()) << h;
  }
  for (const char* h : {"", "/tmp", "/var/run/postgresql", "@abstract", "a,b",
                        "host name", "h;x", "h=x"}) {
    EXPECT_EQ(CheckTcpHost(h).code(), ErrorCode::kInvalidArgument) << h;
  }
}

protocol::Target MakeTarget(std::string host = "db.example.org",
                            int port = 5432) {
  protocol::Target t;
  t.name = "pg";
  t.host = std::move(host);
  t.port = port;
  return t;
}

TEST(PostgresConnParams, NameEveryFileAndNeverReadDefaults) {
  auto o = PgOptions::Parse(json{{"sslmode", "require"}});
  ASSERT_TRUE(o.ok());
  auto p = ConnParams::Build(MakeTarget(), *o, "deputy_svc", "s3cret", "appdb");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->Get("host"), "db.example.org");
  EXPECT_EQ(p->Get("port"), "5432");
  EXPECT_EQ(p->Get("dbname"), "appdb");
  EXPECT_EQ(p->Get("user"), "deputy_svc");
  EXPECT_EQ(p->Get("gssencmode"), "disable");
  EXPECT_EQ(p->Get("sslmode"), "require");
  EXPECT_EQ(p->Get("channel_binding"), "require");
  for (const char* file :
       {"passfile", "sslcert", "sslkey", "sslcrl", "sslrootcert"}) {
    EXPECT_EQ(p->Get(file), std::string(kNoFile)) << file;
  }
  EXPECT_FALSE(p->Get("service").has_value());
  EXPECT_FALSE(p->Get("hostaddr").has_value());
  // Every keyword is one libpq knows.
  std::set<std::string> known;
  PQconninfoOption* defaults = PQconndefaults();
  ASSERT_NE(defaults, nullptr);
  for (auto* d = defaults; d->keyword != nullptr; ++d) known.insert(d->keyword);
  PQconninfoFree(defaults);
  for (const auto& k : p->Keywords()) EXPECT_TRUE(known.count(k)) << k;

  auto v = PgOptions::Parse(
      json{{"sslmode", "verify-full"}, {"ca_file", "/etc/deputy/pg-ca.pem"}});
  ASSERT_TRUE(v.ok());
  auto pv = ConnParams::Build(MakeTarget(), *v, "u", "p", "postgres");
  ASSERT_TRUE(pv.ok());
  EXPECT_EQ(pv->Get("sslmode"), "verify-full");
  EXPECT_EQ(pv->Get("sslrootcert"), "/etc/deputy/pg-ca.pem");
}

TEST(PostgresConnParams, RefusesWhatWouldFallBackToDefaults) {
  auto o = PgOptions::Parse(json{{"sslmode", "disable"}});
  ASSERT_TRUE(o.ok());
  // An empty password or user makes libpq look elsewhere (~/.pgpass, the
  // OS user name); a socket path as host leaves TCP.
  EXPECT_FALSE(ConnParams::Build(MakeTarget(), *o, "u", "", "postgres").ok());
  EXPECT_FALSE(ConnParams::Build(MakeTarget(), *o, "", "p", "postgres").ok());
  EXPECT_FALSE(
      ConnParams::Build(MakeTarget("/tmp"), *o, "u", "p", "postgres").ok());
  EXPECT_FALSE(
      ConnParams::Build(MakeTarget("h", 0), *o, "u", "p", "postgres").ok());
  auto p = ConnParams::Build(MakeTarget(), *o, "u", "p", "postgres");
  ASSERT_TRUE(p.ok());
  auto w = p->With("ann_lee", "other", "appdb2");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->Get("user"), "ann_lee");
  EXPECT_EQ(w->Get("password"), "other");
  EXPECT_EQ(w->Get("dbname"), "appdb2");
  EXPECT_EQ(w->Get("passfile"), std::string(kNoFile));
  auto f = p->ForDatabase("appdb");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->Get("user"), "u");
  EXPECT_EQ(f->Get("dbname"), "appdb");
  EXPECT_FALSE(p->With("ann_lee", "", "appdb").ok());
}

TEST(PostgresConnParams, ScrubRemovesEveryVariableLibpqReads) {
  // Every environment variable libpq consults starts with PG, so the
  // scrub covers them all.
  PQconninfoOption* defaults = PQconndefaults();
  ASSERT_NE(defaults, nullptr);
  std::vector<std::string> vars;
  for (auto* d = defaults; d->keyword != nullptr; ++d) {
    if (d->envvar == nullptr) continue;
    std::string v = d->envvar;
    EXPECT_EQ(v.substr(0, 2), "PG") << v;
    vars.push_back(v);
  }
  PQconninfoFree(defaults);
  vars.push_back("PGSERVICEFILE");
  vars.push_back("PGSYSCONFDIR");
  for (const auto& v : vars) ::setenv(v.c_str(), "/tmp/evil", 1);
  ::setenv("NOT_PG", "kept", 1);
  ScrubLibpqEnvironment();
  for (const auto& v : vars) EXPECT_EQ(::getenv(v.c_str()), nullptr) << v;
  EXPECT_STREQ(::getenv("NOT_PG"), "kept");
  ::unsetenv("NOT_PG");
}

// ---- errors ----------------------------------------------------------------

TEST(PostgresErrors, SqlStatesMapToTypedErrors) {
  EXPECT_EQ(CodeForSqlState("42501"), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeForSqlState("28P01"), ErrorCode::kPermissionDenied);
  for (const char* s : {"08006", "08001", "57P01", "57P03", "40001", "40P01",
                        "53300", "55P03", "57014", "58030"}) {
    EXPECT_EQ(CodeForSqlState(s), ErrorCode::kUnavailable) << s;
  }
  EXPECT_EQ(CodeForSqlState("42704"), ErrorCode::kNotFound);
  for (const char* s : {"2BP01", "42710", "0LP01", "55006", "23505", "XX000"}) {
    EXPECT_EQ(CodeForSqlState(s), ErrorCode::kFailedPrecondition) << s;
  }
  for (const char* s : {"22023", "42601", "42602", "42622"}) {
    EXPECT_EQ(CodeForSqlState(s), ErrorCode::kInvalidArgument) << s;
  }
  // And through the protocol's mapping, to the kinds the agent sees.
  auto kind = [](const char* s) {
    return protocol::Reply::FromStatus(Status(CodeForSqlState(s), "x"))
        .error()
        ->kind;
  };
  EXPECT_EQ(kind("42501"), protocol::ErrorKind::kDenied);
  EXPECT_EQ(kind("57P01"), protocol::ErrorKind::kTransient);
  EXPECT_EQ(kind("40001"), protocol::ErrorKind::kTransient);
  EXPECT_EQ(kind("2BP01"), protocol::ErrorKind::kConflict);
  EXPECT_EQ(kind("42704"), protocol::ErrorKind::kNotFound);
}

TEST(PostgresErrors, ConnectFailuresAreClassified) {
  const std::string at =
      "connection to server at \"127.0.0.1\", port 5 failed: ";
  EXPECT_EQ(ClassifyConnectFailure(at + "Connection refused\n\tIs the server "
                                        "running on that host?\n",
                                   false)
                .code(),
            ErrorCode::kUnavailable);
  EXPECT_EQ(ClassifyConnectFailure(
                at + "FATAL:  the database system is starting up\n", false)
                .code(),
            ErrorCode::kUnavailable);
  EXPECT_EQ(ClassifyConnectFailure(
                at + "FATAL:  sorry, too many clients already\n", true)
                .code(),
            ErrorCode::kUnavailable);
  EXPECT_EQ(ClassifyConnectFailure(at + "FATAL:  password authentication "
                                        "failed for user \"deputy_svc\"\n",
                                   true)
                .code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(
      ClassifyConnectFailure(
          at + "FATAL:  no pg_hba.conf entry for host \"1.2.3.4\"\n", false)
          .code(),
      ErrorCode::kPermissionDenied);
  EXPECT_EQ(
      ClassifyConnectFailure(
          at + "server certificate for \"x\" does not match host name", false)
          .code(),
      ErrorCode::kPermissionDenied);
  EXPECT_EQ(ClassifyConnectFailure(
                at + "FATAL:  database \"nosuch\" does not exist\n", true)
                .code(),
            ErrorCode::kInvalidArgument);

  EXPECT_TRUE(ServerRefusedLogin(
      at + "FATAL:  password authentication failed for user \"x\"", true));
  EXPECT_TRUE(ServerRefusedLogin(
      at + "FATAL:  role \"x\" is not permitted to log in", false));
  EXPECT_FALSE(ServerRefusedLogin(at + "Connection refused", false));
  EXPECT_FALSE(ServerRefusedLogin(
      at + "FATAL:  the database system is shutting down", false));
  // Past authentication to the database check: the login was accepted.
  EXPECT_FALSE(
      ServerRefusedLogin(at + "FATAL:  database \"x\" does not exist", true));
}

// ---- secrets -------------------------------------------------------------

TEST(PostgresSecret, PasswordsAreLongRandomAndPlain) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    protocol::WipedString pw = GeneratePassword();
    ASSERT_EQ(pw.str().size(), kPasswordLength);
    for (char c : pw.str()) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9'));
    }
    EXPECT_TRUE(seen.insert(pw.str()).second);
  }
}

TEST(PostgresSecret, SealedSecretOpensOnlyWithTheRecipientKey) {
  ASSERT_GE(sodium_init(), 0);
  unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
  unsigned char pk2[crypto_box_PUBLICKEYBYTES], sk2[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(pk, sk);
  crypto_box_keypair(pk2, sk2);
  const std::string secret = "Abc123secretvalue";
  auto sealed = SealToRecipient(secret, ByteSpan(pk, sizeof pk));
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find(secret), std::string::npos);
  auto bytes = Base64Decode(*sealed);
  ASSERT_TRUE(bytes.ok());
  ASSERT_EQ(bytes->size(), secret.size() + crypto_box_SEALBYTES);
  std::string opened(secret.size(), '\0');
  ASSERT_EQ(
      crypto_box_seal_open(reinterpret_cast<unsigned char*>(opened.data()),
                           bytes->data(), bytes->size(), pk, sk),
      0);
  EXPECT_EQ(opened, secret);
  EXPECT_NE(
      crypto_box_seal_open(reinterpret_cast<unsigned char*>(opened.data()),
                           bytes->data(), bytes->size(), pk2, sk2),
      0);
  EXPECT_FALSE(SealToRecipient(secret, ByteSpan(pk, 31)).ok());
}

TEST(PostgresSecret, FingerprintIsSha256Hex) {
  // FIPS 180-2 test vector for "abc".
  EXPECT_EQ(Fingerprint("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f2"
            "0015ad");
}

// ---- the module, before it connects ---------------------------------------

// A target where nothing listens: a request that got as far as connecting
// would come back transient, not with the error the test expects.
protocol::Request MakeRequest(protocol::Op op,
                              std::optional<protocol::Action> a,
                              json options = json{{"sslmode", "disable"}}) {
  protocol::Request r;
  r.op = op;
  r.id = "T-1/a-1";
  r.target.name = "pg";
  r.target.host = "127.0.0.1";
  r.target.port = 1;
  r.target.options = std::move(options);
  r.action = std::move(a);
  return r;
}

json Handle(const protocol::Request& req, const protocol::Credential* cred) {
  PostgresModule m;
  std::string out = protocol::HandleRequest(m, req.Encode(), cred);
  return json::parse(out);
}

protocol::Credential Cred() {
  return protocol::Credential::FromBytes(
      R"({"user":"deputy_svc","password":"x"})");
}

TEST(PostgresModuleOffline, DescribeNamesEveryOperation) {
  auto req = MakeRequest(protocol::Op::kDescribe, std::nullopt);
  PostgresModule m;
  std::string out = protocol::HandleRequest(m, req.Encode(), nullptr);
  // The agent's strict reader accepts it.
  auto decoded =
      protocol::Response::Decode(out, protocol::Op::kDescribe, req.id);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  json r = json::parse(out);
  ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
  EXPECT_EQ(r["result"]["kind"], "postgres");
  std::set<std::string> ops;
  for (const auto& o : r["result"]["operations"]) ops.insert(o["name"]);
  EXPECT_EQ(ops,
            (std::set<std::string>{"create_role", "grant_role", "revoke_role",
                                   "disable", "rotate_password", "drop_role"}));
}

TEST(PostgresModuleOffline, BadNamesAreInvalidBeforeConnecting) {
  auto cred = Cred();
  const std::vector<std::string> names = {"x'; DROP ROLE ann_lee; --",
                                          "Ann_Lee", std::string("a\0b", 3),
                                          std::string(64, 'a')};
  for (const auto& name : names) {
    json r = Handle(
        MakeRequest(protocol::Op::kApply, MakeAction("disable", name)), &cred);
    ASSERT_FALSE(r["ok"].get<bool>());
    EXPECT_EQ(r["error"]["kind"], "invalid") << r.dump();
  }
}

TEST(PostgresModuleOffline, OwnRoleIsDeniedBeforeConnecting) {
  auto cred = Cred();
  for (const auto& a : {MakeAction("disable", "deputy_svc"),
                        MakeAction("grant_role", "app_hr", "deputy_svc"),
                        MakeAction("drop_role", "dave_leaver", "",
                                   json{{"successor", "deputy_svc"}})}) {
    json r = Handle(MakeRequest(protocol::Op::kApply, a), &cred);
    ASSERT_FALSE(r["ok"].get<bool>());
    EXPECT_EQ(r["error"]["kind"], "denied") << r.dump();
  }
}

TEST(PostgresModuleOffline, BadOptionsAndHostsAreInvalid) {
  auto cred = Cred();
  json r = Handle(MakeRequest(protocol::Op::kRead, MakeAction("disable", "x"),
                              json{{"sslmode", "disable"}, {"port", 5}}),
                  &cred);
  EXPECT_EQ(r["error"]["kind"], "invalid") << r.dump();
  auto req = MakeRequest(protocol::Op::kRead, MakeAction("disable", "x"));
  req.target.host = "/var/run/postgresql";
  r = Handle(req, &cred);
  EXPECT_EQ(r["error"]["kind"], "invalid") << r.dump();
  auto list = MakeRequest(protocol::Op::kList, std::nullopt, json::object());
  r = Handle(list, &cred);
  EXPECT_EQ(r["error"]["kind"], "invalid") << r.dump();
}

TEST(PostgresModuleOffline, MissingCredentialIsDenied) {
  json r = Handle(MakeRequest(protocol::Op::kRead, MakeAction("disable", "x")),
                  nullptr);
  EXPECT_EQ(r["error"]["kind"], "denied") << r.dump();
  auto no_password =
      protocol::Credential::FromBytes(R"({"user":"deputy_svc"})");
  r = Handle(MakeRequest(protocol::Op::kRead, MakeAction("disable", "x")),
             &no_password);
  EXPECT_EQ(r["error"]["kind"], "invalid") << r.dump();
}

TEST(PostgresModuleOffline, UnreachableServerIsTransient) {
  auto cred = Cred();
  json r = Handle(MakeRequest(protocol::Op::kRead, MakeAction("disable", "x")),
                  &cred);
  EXPECT_EQ(r["error"]["kind"], "transient") << r.dump();
}

}  // namespace
}  // namespace deputy::postgres
