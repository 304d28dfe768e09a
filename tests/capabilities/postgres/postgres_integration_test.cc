// The PostgreSQL module against a real PostgreSQL 15 cluster: the real
// deputy-postgres binary, run as the agent runs it (request on stdin,
// credential on fd 3, empty environment), and the server checked
// independently as the superuser over the cluster's private socket.
//
// The cluster comes from the ctest fixture (DEPUTY_PG_DIR, started by
// pg-cluster); run directly, the binary starts its own through
// scripts/pg-server and stops it at exit. Either way a missing server is
// a failure, never a skip. Tests share the cluster and use their own
// roles; only LeaverIsRemovedEverywhere touches dave_leaver.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/encoding.h"
#include "capabilities/module_runner.h"
#include "capabilities/postgres/postgres_module.h"
#include "capabilities/protocol/module_main.h"
#include "capabilities/protocol/protocol.h"

namespace deputy::postgres {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using protocol::Op;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs argv (no shell); returns the exit code and stdout+stderr.
int RunCommand(const std::vector<std::string>& argv, std::string* output) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(pipefd[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) {
    output->append(buf, static_cast<std::size_t>(n));
  }
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The cluster under test.
struct Cluster {
  std::string dir;
  int port = 0;
  std::string credential;  // admin.cred: the module's login.
  bool owned = false;      // Started here, stopped at exit.
};

Cluster* g_cluster = nullptr;

class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    static Cluster cluster;
    g_cluster = &cluster;
    const char* fixture = ::getenv("DEPUTY_PG_DIR");
    if (fixture != nullptr && *fixture != '\0') {
      cluster.dir = fixture;
    } else {
      char tmpl[] = "/tmp/deputy-pg-XXXXXX";
      ASSERT_NE(mkdtemp(tmpl), nullptr);
      cluster.dir = tmpl;
      cluster.owned = true;
      std::string out;
      int rc = RunCommand(
          {std::string(DEPUTY_SOURCE_DIR) + "/scripts/pg-server", "start",
           cluster.dir, "--seed",
           std::string(DEPUTY_SOURCE_DIR) + "/examples/postgres/seed.sql"},
          &out);
      ASSERT_EQ(rc, 0) << "scripts/pg-server start failed:\n" << out;
    }
    std::string port = ReadFile(cluster.dir + "/port");
    cluster.port = std::atoi(port.c_str());
    cluster.credential = ReadFile(cluster.dir + "/admin.cred");
    ASSERT_GT(cluster.port, 0)
        << "no PostgreSQL cluster in " << cluster.dir
        << " (the fixture postgres.ClusterStart must run first)";
    ASSERT_FALSE(cluster.credential.empty());
    ASSERT_GE(sodium_init(), 0);
  }
  void TearDown() override {
    if (g_cluster == nullptr || !g_cluster->owned) return;
    std::string out;
    int rc = RunCommand({std::string(DEPUTY_SOURCE_DIR) + "/scripts/pg-server",
                         "stop", g_cluster->dir},
                        &out);
    EXPECT_EQ(rc, 0) << out;
    std::error_code ec;
    fs::remove_all(g_cluster->dir, ec);
  }
};

const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment);

// ---- independent checks: the superuser over the private socket ----------

using Rows = std::vector<std::vector<std::string>>;

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;

Conn Connect(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::vector<const char*> k, v;
  for (const auto& [a, b] : kv) {
    k.push_back(a.c_str());
    v.push_back(b.c_str());
  }
  k.push_back(nullptr);
  v.push_back(nullptr);
  return Conn(PQconnectdbParams(k.data(), v.data(), 0));
}

// Runs SQL as the superuser in `db`; fails the test on an error.
Rows Admin(const std::string& sql, const std::string& db = "postgres") {
  Conn c = Connect({{"host", g_cluster->dir + "/socket"},
                    {"port", std::to_string(g_cluster->port)},
                    {"user", "postgres"},
                    {"dbname", db}});
  Rows rows;
  if (PQstatus(c.get()) != CONNECTION_OK) {
    ADD_FAILURE() << "admin connect: " << PQerrorMessage(c.get());
    return rows;
  }
  PGresult* r = PQexec(c.get(), sql.c_str());
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    ADD_FAILURE() << "admin SQL failed: " << sql << "\n"
                  << PQresultErrorMessage(r);
  } else {
    for (int i = 0; i < PQntuples(r); ++i) {
      std::vector<std::string> row;
      for (int j = 0; j < PQnfields(r); ++j) {
        row.push_back(PQgetvalue(r, i, j));
      }
      rows.push_back(std::move(row));
    }
  }
  PQclear(r);
  return rows;
}

std::string AdminValue(const std::string& sql,
                       const std::string& db = "postgres") {
  Rows r = Admin(sql, db);
  return r.empty() || r[0].empty() ? "" : r[0][0];
}

// A login over TCP, as a user with a password. Kept open when returned.
Conn Login(const std::string& user, const std::string& password,
           const std::string& db = "postgres") {
  return Connect({{"host", "127.0.0.1"},
                  {"port", std::to_string(g_cluster->port)},
                  {"user", user},
                  {"password", password},
                  {"dbname", db},
                  {"sslmode", "disable"},
                  {"gssencmode", "disable"}});
}

bool CanLogin(const std::string& user, const std::string& password,
              const std::string& db = "postgres") {
  Conn c = Login(user, password, db);
  return PQstatus(c.get()) == CONNECTION_OK;
}

bool SessionAlive(PGconn* c) {
  PGresult* r = PQexec(c, "SELECT 1");
  bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
  PQclear(r);
  return ok;
}

// ---- running the module ----------------------------------------------------

protocol::Action Act(std::string op, std::string resource,
                     std::string subject = "", json params = json::object()) {
  protocol::Action a;
  a.operation = std::move(op);
  a.resource = std::move(resource);
  a.subject = std::move(subject);
  a.params = std::move(params);
  return a;
}

json DefaultOptions() { return json{{"sslmode", "disable"}}; }

struct Outcome {
  json response;              // The final response line, decoded.
  std::vector<json> records;  // list only.
  std::string raw;            // Everything on stdout.
  std::string err;            // stderr.
  double ms = 0;              // Wall time of the run.
};

Outcome RunModule(Op op, std::optional<protocol::Action> action,
                  json options = DefaultOptions(),
                  std::optional<std::string> credential = std::nullopt,
                  bool with_credential = true,
                  const std::string& host = "127.0.0.1") {
  protocol::Request req;
  req.op = op;
  req.id = "T-pg/" + std::string(protocol::OpName(op));
  req.target.name = "postgres";
  req.target.host = host;
  req.target.port = g_cluster->port;
  req.target.options = std::move(options);
  req.action = std::move(action);
  auto start = std::chrono::steady_clock::now();
  testing::ModuleRun run = testing::RunModuleBinary(
      DEPUTY_POSTGRES_MODULE, req.Encode(),
      credential.value_or(g_cluster->credential), with_credential);
  Outcome o;
  o.ms = std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
             .count();
  o.raw = run.out;
  o.err = run.err;
  EXPECT_EQ(run.exit_code, 0) << run.err;
  // Every answer must pass the agent's own strict reader.
  if (op == Op::kList) {
    auto resp = protocol::DecodeListStream(
        run.out, req.id, [&](const protocol::Record& r) {
          json j = {{"type", r.type == protocol::Record::Type::kAccount
                                 ? "account"
                                 : "entitlement"},
                    {"account", r.account},
                    {"attributes", r.attributes}};
          if (r.type == protocol::Record::Type::kEntitlement) {
            j["entitlement"] = r.entitlement;
          }
          o.records.push_back(std::move(j));
          return Status::Ok();
        });
    EXPECT_TRUE(resp.ok()) << resp.status().ToString() << "\n" << run.out;
  } else {
    auto resp = protocol::Response::Decode(run.out, op, req.id);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString() << "\n" << run.out;
  }
  std::string last = run.out;
  if (!last.empty() && last.back() == '\n') last.pop_back();
  last = last.substr(
      last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
  o.response = json::parse(last, nullptr, false);
  return o;
}

json Ok(const Outcome& o) {
  EXPECT_TRUE(o.response.value("ok", false)) << o.raw << o.err;
  return o.response.value("result", json::object());
}

std::string ErrorKind(const Outcome& o) {
  EXPECT_FALSE(o.response.value("ok", true)) << o.raw;
  if (!o.response.contains("error")) return "";
  return o.response["error"].value("kind", "");
}

json ApplyOk(const protocol::Action& a) { return Ok(RunModule(Op::kApply, a)); }
json ReadOk(const protocol::Action& a) { return Ok(RunModule(Op::kRead, a)); }
json VerifyOk(const protocol::Action& a) {
  return Ok(RunModule(Op::kVerify, a));
}

std::map<std::string, bool> Checks(const json& verify) {
  std::map<std::string, bool> out;
  for (const auto& c : verify["checks"]) out[c["check"]] = c["ok"];
  return out;
}

bool RoleExists(const std::string& role) {
  return AdminValue("SELECT count(*) FROM pg_roles WHERE rolname = '" + role +
                    "'") == "1";
}

bool CanLoginFlag(const std::string& role) {
  return AdminValue("SELECT rolcanlogin FROM pg_roles WHERE rolname = '" +
                    role + "'") == "t";
}

bool IsDirectMember(const std::string& group, const std::string& member) {
  return AdminValue(
             "SELECT count(*) FROM pg_auth_members m "
             "JOIN pg_roles g ON g.oid = m.roleid "
             "JOIN pg_roles r ON r.oid = m.member "
             "WHERE g.rolname = '" +
             group + "' AND r.rolname = '" + member + "'") == "1";
}

std::string Owner(const std::string& db, const std::string& relation) {
  return AdminValue(
      "SELECT pg_get_userbyid(relowner) FROM pg_class "
      "WHERE oid = '" +
          relation + "'::regclass",
      db);
}

// What the service role is a member of, besides pg_signal_backend.
std::set<std::string> ServiceMemberships() {
  std::set<std::string> out;
  for (const auto& row : Admin("SELECT g.rolname FROM pg_auth_members m "
                               "JOIN pg_roles g ON g.oid = m.roleid "
                               "JOIN pg_roles r ON r.oid = m.member "
                               "WHERE r.rolname = 'deputy_svc'")) {
    out.insert(row[0]);
  }
  return out;
}

// ---- create_role -----------------------------------------------------------

TEST(PostgresModule, CreateRoleIsIdempotentAndVerified) {
  auto create = Act("create_role", "joiner_one", "joiner_one");
  json before = ReadOk(create);
  EXPECT_FALSE(before["exists"].get<bool>());
  EXPECT_FALSE(before["satisfied"].get<bool>());
  EXPECT_FALSE(RoleExists("joiner_one"));

  json first = ApplyOk(create);
  EXPECT_TRUE(first["changed"].get<bool>());
  EXPECT_EQ(Admin("SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, "
                  "rolreplication, rolbypassrls, rolpassword IS NULL "
                  "FROM pg_authid WHERE rolname = 'joiner_one'"),
            (Rows{{"t", "f", "f", "f", "f", "f", "t"}}));

  json again = ApplyOk(create);
  EXPECT_FALSE(again["changed"].get<bool>());
  json after = ReadOk(create);
  EXPECT_TRUE(after["satisfied"].get<bool>());
  json v = VerifyOk(create);
  EXPECT_TRUE(v["satisfied"].get<bool>()) << v.dump();
  EXPECT_EQ(Checks(v), (std::map<std::string, bool>{{"role_exists", true},
                                                    {"login_matches", true},
                                                    {"not_privileged", true}}));

  // The LOGIN flag is part of the ensured state.
  auto group = Act("create_role", "joiner_one", "", json{{"login", false}});
  EXPECT_FALSE(VerifyOk(group)["satisfied"].get<bool>());
  EXPECT_TRUE(ApplyOk(group)["changed"].get<bool>());
  EXPECT_FALSE(CanLoginFlag("joiner_one"));
  EXPECT_TRUE(VerifyOk(group)["satisfied"].get<bool>());
}

TEST(PostgresModule, CreateRoleRefusesAnExistingPrivilegedRole) {
  Admin("CREATE ROLE joiner_dba LOGIN CREATEDB");
  auto create = Act("create_role", "joiner_dba");
  EXPECT_EQ(ErrorKind(RunModule(Op::kApply, create)), "conflict");
  json v = VerifyOk(create);
  EXPECT_FALSE(v["satisfied"].get<bool>());
  EXPECT_FALSE(Checks(v)["not_privileged"]);
  EXPECT_EQ(AdminValue("SELECT rolcreatedb FROM pg_roles "
                       "WHERE rolname = 'joiner_dba'"),
            "t");
}

// ---- grant_role / revoke_role -----------------------------------------------

TEST(PostgresModule, GrantAndRevokeAreIdempotentAndVerified) {
  Admin("CREATE ROLE mover_one LOGIN");
  auto grant = Act("grant_role", "app_sales", "mover_one");
  auto revoke = Act("revoke_role", "app_sales", "mover_one");
  EXPECT_FALSE(ReadOk(grant)["satisfied"].get<bool>());
  EXPECT_TRUE(ReadOk(revoke)["satisfied"].get<bool>());

  EXPECT_TRUE(ApplyOk(grant)["changed"].get<bool>());
  EXPECT_TRUE(IsDirectMember("app_sales", "mover_one"));
  EXPECT_FALSE(ApplyOk(grant)["changed"].get<bool>());
  json v = VerifyOk(grant);
  EXPECT_TRUE(v["satisfied"].get<bool>()) << v.dump();
  EXPECT_EQ(Checks(v),
            (std::map<std::string, bool>{{"role_exists", true},
                                         {"member_exists", true},
                                         {"direct_membership", true}}));
  EXPECT_FALSE(VerifyOk(revoke)["satisfied"].get<bool>());

  EXPECT_TRUE(ApplyOk(revoke)["changed"].get<bool>());
  EXPECT_FALSE(IsDirectMember("app_sales", "mover_one"));
  EXPECT_FALSE(ApplyOk(revoke)["changed"].get<bool>());
  EXPECT_TRUE(VerifyOk(revoke)["satisfied"].get<bool>());
  EXPECT_FALSE(VerifyOk(grant)["satisfied"].get<bool>());
}

TEST(PostgresModule, RevokeShowsAccessThatSurvivesThroughAnotherGroup) {
  // ben_kim is in app_finance, which is in app_reporting.
  Admin("GRANT app_reporting TO ben_kim");
  auto revoke = Act("revoke_role", "app_reporting", "ben_kim");
  json applied = ApplyOk(revoke);
  EXPECT_TRUE(applied["changed"].get<bool>());
  json v = VerifyOk(revoke);
  EXPECT_TRUE(v["satisfied"].get<bool>());
  EXPECT_FALSE(v["observed"]["direct_member"].get<bool>());
  EXPECT_TRUE(v["observed"]["reaches_role"].get<bool>());
}

TEST(PostgresModule, GrantOfAMissingRoleIsNotFoundAndRevokeIsAlreadyDone) {
  EXPECT_EQ(ErrorKind(RunModule(Op::kApply,
                                Act("grant_role", "app_nosuch", "ann_lee"))),
            "not_found");
  EXPECT_EQ(ErrorKind(RunModule(Op::kApply,
                                Act("grant_role", "app_hr", "nosuch_person"))),
            "not_found");
  auto revoke = Act("revoke_role", "app_hr", "nosuch_person");
  EXPECT_FALSE(ApplyOk(revoke)["changed"].get<bool>());
  EXPECT_TRUE(VerifyOk(revoke)["satisfied"].get<bool>());
  EXPECT_FALSE(RoleExists("app_nosuch"));
}

TEST(PostgresModule, GrantRefusesRolesThatReachPrivilege) {
  Admin("CREATE ROLE esc_member LOGIN");
  Admin("CREATE ROLE esc_reader NOLOGIN");
  Admin("GRANT pg_read_all_data TO esc_reader");
  Admin("CREATE ROLE esc_creator NOLOGIN CREATEROLE");
  Admin("CREATE ROLE esc_nested NOLOGIN");
  Admin("GRANT esc_creator TO esc_nested");
  Admin("CREATE ROLE esc_service NOLOGIN");
  Admin("GRANT deputy_svc TO esc_service");
  Admin("CREATE ROLE esc_super SUPERUSER NOLOGIN");
  for (const char* group : {"esc_reader", "esc_creator", "esc_nested",
                            "esc_service", "esc_super"}) {
    Outcome o = RunModule(Op::kApply, Act("grant_role", group, "esc_member"));
    EXPECT_EQ(ErrorKind(o), "denied") << group << ": " << o.raw;
    EXPECT_FALSE(IsDirectMember(group, "esc_member")) << group;
  }
}

// ---- disable ---------------------------------------------------------

TEST(PostgresModule, DisableEndsLiveSessionsAndTheLoginFails) {
  // kate_hart's known test password is 'pw-kate.hart'.
  Conn live = Login("kate_hart", "pw-kate.hart", "appdb");
  ASSERT_EQ(PQstatus(live.get()), CONNECTION_OK) << PQerrorMessage(live.get());
  ASSERT_TRUE(SessionAlive(live.get()));
  auto disable = Act("disable", "kate_hart", "kate_hart");
  json before = ReadOk(disable);
  EXPECT_FALSE(before["satisfied"].get<bool>());
  EXPECT_EQ(before["state"]["sessions"], 1);

  Outcome applied = RunModule(Op::kApply, disable);
  json r = Ok(applied);
  EXPECT_TRUE(r["changed"].get<bool>());
  EXPECT_EQ(r["state"]["terminated"], 1);
  EXPECT_FALSE(CanLoginFlag("kate_hart"));
  EXPECT_FALSE(SessionAlive(live.get()));
  EXPECT_EQ(AdminValue("SELECT count(*) FROM pg_stat_activity "
                       "WHERE usename = 'kate_hart'"),
            "0");
  EXPECT_FALSE(CanLogin("kate_hart", "pw-kate.hart"));

  json v = VerifyOk(disable);
  EXPECT_TRUE(v["satisfied"].get<bool>()) << v.dump();
  EXPECT_EQ(Checks(v), (std::map<std::string, bool>{{"nologin", true},
                                                    {"no_sessions", true},
                                                    {"login_fails", true}}));
  EXPECT_FALSE(ApplyOk(disable)["changed"].get<bool>());
  std::printf("[ metric ] disable with one live session: %.1f ms\n",
              applied.ms);
}

TEST(PostgresModule, DisableOfAMissingRoleIsNotFound) {
  auto disable = Act("disable", "nosuch_person");
  EXPECT_EQ(ErrorKind(RunModule(Op::kApply, disable)), "not_found");
  json read = ReadOk(disable);
  EXPECT_FALSE(read["exists"].get<bool>());
  EXPECT_FALSE(VerifyOk(disable)["satisfied"].get<bool>());
}

// ---- drop_role -----------------------------------------------------------

TEST(PostgresModule, LeaverIsRemovedEverywhere) {
  Conn live = Login("dave_leaver", "pw-dave.leaver", "appdb");
  ASSERT_EQ(PQstatus(live.get()), CONNECTION_OK) << PQerrorMessage(live.get());
  ASSERT_TRUE(SessionAlive(live.get()));
  ASSERT_EQ(Owner("appdb", "dave_work.expenses"), "dave_leaver");
  ASSERT_EQ(Owner("appdb2", "public.dave_drafts"), "dave_leaver");

  auto drop = Act("drop_role", "dave_leaver", "dave_leaver",
                  json{{"successor", "app_archive"}});
  json read = ReadOk(drop);
  EXPECT_TRUE(read["exists"].get<bool>());
  EXPECT_FALSE(read["satisfied"].get<bool>());
  EXPECT_EQ(read["state"]["owned"]["appdb"]["owned"], 3);
  EXPECT_EQ(read["state"]["owned"]["appdb2"]["owned"], 3);
  EXPECT_EQ(read["state"]["owned"]["appdb"]["privileges"], 1);
  EXPECT_FALSE(VerifyOk(drop)["satisfied"].get<bool>());

  Outcome applied = RunModule(Op::kApply, drop);
  json r = Ok(applied);
  EXPECT_TRUE(r["changed"].get<bool>()) << applied.raw;
  EXPECT_EQ(r["state"]["terminated"], 1);

  // Independently: the session is gone, the role is gone, its objects
  // belong to the successor in both databases, its privilege is revoked,
  // and its real password no longer logs in.
  EXPECT_FALSE(SessionAlive(live.get()));
  EXPECT_FALSE(RoleExists("dave_leaver"));
  for (const char* rel : {"dave_work.expenses", "public.dave_notes"}) {
    EXPECT_EQ(Owner("appdb", rel), "app_archive") << rel;
  }
  for (const char* rel : {"dave_work.forecasts", "public.dave_drafts"}) {
    EXPECT_EQ(Owner("appdb2", rel), "app_archive") << rel;
  }
  EXPECT_EQ(AdminValue("SELECT pg_get_userbyid(nspowner) FROM pg_namespace "
                       "WHERE nspname = 'dave_work'",
                       "appdb2"),
            "app_archive");
  EXPECT_EQ(AdminValue("SELECT count(*) FROM pg_class c, "
                       "aclexplode(c.relacl) a WHERE c.relname = 'ledger' "
                       "AND NOT EXISTS (SELECT 1 FROM pg_roles r "
                       "WHERE r.oid = a.grantee) AND a.grantee <> 0",
                       "appdb"),
            "0");
  EXPECT_EQ(AdminValue("SELECT count(*) FROM pg_shdepend s WHERE NOT EXISTS "
                       "(SELECT 1 FROM pg_authid r WHERE r.oid = s.refobjid) "
                       "AND s.refclassid = 'pg_authid'::regclass"),
            "0");
  EXPECT_FALSE(CanLogin("dave_leaver", "pw-dave.leaver", "appdb"));
  // The module gave itself the memberships REASSIGN OWNED needs and took
  // them back.
  EXPECT_EQ(ServiceMemberships(), (std::set<std::string>{"pg_signal_backend"}));

  json v = VerifyOk(drop);
  EXPECT_TRUE(v["satisfied"].get<bool>()) << v.dump();
  EXPECT_EQ(Checks(v), (std::map<std::string, bool>{{"role_absent", true},
                                                    {"no_memberships", true},
                                                    {"no_sessions", true},
                                                    {"login_fails", true}}));
  // Ensure absent: again is a no-op.
  EXPECT_FALSE(ApplyOk(drop)["changed"].get<bool>());
  EXPECT_TRUE(ReadOk(drop)["satisfied"].get<bool>());
  std::printf("[ metric ] leaver drop_role (2 databases, 1 session): %.1f ms\n",
              applied.ms);
}

TEST(PostgresModule, DropIsPartialWhereTheServiceRoleLacksCreate) {
  // appdb3: the service role has no CREATE there, so REASSIGN OWNED of a
  // schema fails; in appdb it succeeds.
  Admin("CREATE ROLE part_leaver LOGIN PASSWORD 'pw-part'");
  Admin("CREATE DATABASE appdb3");
  Admin("CREATE SCHEMA part_work AUTHORIZATION part_leaver", "appdb3");
  Admin("CREATE TABLE public.part_notes (id int)", "appdb");
  Admin("ALTER TABLE public.part_notes OWNER TO part_leaver", "appdb");
  auto drop =
      Act("drop_role", "part_leaver", "", json{{"successor", "app_archive"}});

  Outcome o = RunModule(Op::kApply, drop);
  ASSERT_EQ(ErrorKind(o), "partial") << o.raw;
  const json& remaining = o.response["error"]["remaining"];
  std::string all = remaining.dump();
  EXPECT_NE(all.find("database appdb3"), std::string::npos) << all;
  EXPECT_NE(all.find("schema part_work"), std::string::npos) << all;
  EXPECT_NE(all.find("still exists (NOLOGIN)"), std::string::npos) << all;
  EXPECT_EQ(all.find("database appdb:"), std::string::npos) << all;
  // The role stays, unable to log in; what could move, moved.
  EXPECT_TRUE(RoleExists("part_leaver"));
  EXPECT_FALSE(CanLoginFlag("part_leaver"));
  EXPECT_FALSE(CanLogin("part_leaver", "pw-part"));
  EXPECT_EQ(Owner("appdb", "public.part_notes"), "app_archive");
  EXPECT_EQ(AdminValue("SELECT pg_get_userbyid(nspowner) FROM pg_namespace "
                       "WHERE nspname = 'part_work'",
                       "appdb3"),
            "part_leaver");
  EXPECT_EQ(ServiceMemberships(), (std::set<std::string>{"pg_signal_backend"}));
  json v = VerifyOk(drop);
  EXPECT_FALSE(v["satisfied"].get<bool>());
  EXPECT_FALSE(Checks(v)["role_absent"]);

  // Once the DBA grants what is missing, the same action completes.
  Admin("GRANT CREATE ON DATABASE appdb3 TO deputy_svc");
  EXPECT_TRUE(ApplyOk(drop)["changed"].get<bool>());
  EXPECT_TRUE(VerifyOk(drop)["satisfied"].get<bool>());
  EXPECT_EQ(AdminValue("SELECT pg_get_userbyid(nspowner) FROM pg_namespace "
                       "WHERE nspname = 'part_work'",
                       "appdb3"),
            "app_archive");
}

TEST(PostgresModule, DropTakesBackGrantsLeftByAnInterruptedRun) {
  // A run killed between its GRANTs to itself and its REVOKEs leaves the
  // service role holding the leaver and the successor; the next drop
  // takes back whatever the service role granted itself, and keeps what a
  // DBA granted it.
  Admin("CREATE ROLE crash_leaver LOGIN");
  Admin("CREATE ROLE crash_heir NOLOGIN");
  Admin("CREATE TABLE public.crash_notes (id int)", "appdb");
  Admin("ALTER TABLE public.crash_notes OWNER TO crash_leaver", "appdb");
  Admin("GRANT crash_leaver TO deputy_svc GRANTED BY deputy_svc");
  Admin("GRANT app_archive TO deputy_svc GRANTED BY deputy_svc");
  Admin("GRANT crash_heir TO deputy_svc");  // The DBA's own grant.
  ASSERT_EQ(ServiceMemberships(),
            (std::set<std::string>{"pg_signal_backend", "crash_leaver",
                                   "app_archive", "crash_heir"}));
  auto drop =
      Act("drop_role", "crash_leaver", "", json{{"successor", "app_archive"}});
  EXPECT_TRUE(ApplyOk(drop)["changed"].get<bool>());
  EXPECT_EQ(Owner("appdb", "public.crash_notes"), "app_archive");
  EXPECT_EQ(ServiceMemberships(),
            (std::set<std::string>{"pg_signal_backend", "crash_heir"}));
  EXPECT_TRUE(VerifyOk(drop)["satisfied"].get<bool>());
  Admin("REVOKE crash_heir FROM deputy_svc");
}

TEST(PostgresModule, DropRevokesPrivilegesOtherRolesGranted) {
  // The agent's leaver plan revokes memberships before it drops: the
  // leaver no longer reaches the owner that granted it a privilege, and
  // DROP OWNED (which revokes only as a possible grantor) must still
  // remove that grant. The module takes the grantor's privileges for the
  // duration and gives them back.
  Admin("CREATE ROLE grant_owner NOLOGIN");
  Admin("CREATE ROLE grant_leaver LOGIN");
  Admin("CREATE TABLE public.grant_ledger (id int)", "appdb");
  Admin("ALTER TABLE public.grant_ledger OWNER TO grant_owner", "appdb");
  Admin("GRANT SELECT ON public.grant_ledger TO grant_leaver", "appdb");
  auto drop =
      Act("drop_role", "grant_leaver", "", json{{"successor", "app_archive"}});
  Outcome applied = RunModule(Op::kApply, drop);
  EXPECT_TRUE(Ok(applied)["changed"].get<bool>()) << applied.raw;
  EXPECT_FALSE(RoleExists("grant_leaver"));
  EXPECT_EQ(ServiceMemberships(), (std::set<std::string>{"pg_signal_backend"}));
  EXPECT_TRUE(VerifyOk(drop)["satisfied"].get<bool>());
  // A privilege granted by a superuser-owned object's owner stays: the
  // module never takes a superuser's privileges, and the drop is partial.
  Admin("CREATE ROLE grant_leaver2 LOGIN");
  Admin("CREATE TABLE public.grant_root (id int)", "appdb");
  Admin("GRANT SELECT ON public.grant_root TO grant_leaver2", "appdb");
  auto drop2 =
      Act("drop_role", "grant_leaver2", "", json{{"successor", "app_archive"}});
  EXPECT_EQ(ErrorKind(RunModule(Op::kApply, drop2)), "partial");
  EXPECT_TRUE(RoleExists("grant_leaver2"));
  EXPECT_FALSE(CanLoginFlag("grant_leaver2"));
  EXPECT_EQ(ServiceMemberships(), (std::set<std::string>{"pg_signal_backend"}));
  Admin("DROP TABLE public.grant_root", "appdb");
  Admin("DROP ROLE grant_leaver2");
}

TEST(PostgresModule, ConcurrentDropsDoNotUndoEachOther) {
  // The agent runs two workers: two drops at once share the service
  // role's temporary memberships (the successor's, at least). Without
  // taking turns, one drop's clean-up took back what the other was still
  // using ("permission denied to reassign objects").
  std::vector<std::string> roles;
  for (int i = 0; i < 6; ++i) {
    std::string r = "race_leaver_" + std::to_string(i);
    roles.push_back(r);
    Admin("CREATE ROLE " + r + " LOGIN");
    Admin("CREATE TABLE public." + r + "_notes (id int)", "appdb");
    Admin("ALTER TABLE public." + r + "_notes OWNER TO " + r, "appdb");
  }
  std::vector<Outcome> outcomes(roles.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < roles.size(); ++i) {
    threads.emplace_back([&, i] {
      outcomes[i] = RunModule(
          Op::kApply,
          Act("drop_role", roles[i], "", json{{"successor", "app_archive"}}));
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < roles.size(); ++i) {
    EXPECT_TRUE(Ok(outcomes[i])["changed"].get<bool>()) << outcomes[i].raw;
    EXPECT_FALSE(RoleExists(roles[i]));
    EXPECT_EQ(Owner("appdb", "public." + roles[i] + "_notes"), "app_archive");
  }
  EXPECT_EQ(ServiceMemberships(), (std::set<std::string>{"pg_signal_backend"}));
}

TEST(PostgresModule, DropNeedsAnExistingOrdinarySuccessor) {
  Admin("CREATE ROLE succ_leaver LOGIN");
  EXPECT_EQ(
      ErrorKind(RunModule(Op::kApply, Act("drop_role", "succ_leaver", "",
                                          json{{"successor", "nosuch_role"}}))),
      "not_found");
  EXPECT_EQ(
      ErrorKind(RunModule(Op::kApply, Act("drop_role", "succ_leaver", "",
                                          json{{"successor", "postgres"}}))),
      "denied");
  EXPECT_TRUE(RoleExists("succ_leaver"));
  EXPECT_TRUE(CanLoginFlag("succ_leaver"));
}

// ---- rotate_password -----------------------------------------------------

TEST(PostgresModule, RotateDeliversOnlyASealedSecretThatLogsIn) {
  unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(pk, sk);
  auto rotate = Act("rotate_password", "liam_ford", "liam_ford",
                    json{{"recipient", Base64Encode(ByteSpan(pk, sizeof pk))}});
  ASSERT_TRUE(CanLogin("liam_ford", "pw-liam.ford"));
  EXPECT_FALSE(ReadOk(rotate)["satisfied"].get<bool>());

  Outcome o = RunModule(Op::kApply, rotate);
  json r = Ok(o);
  EXPECT_TRUE(r["changed"].get<bool>());
  EXPECT_TRUE(r["state"]["login_proven"].get<bool>());
  auto sealed = Base64Decode(r["state"]["sealed_password"].get<std::string>());
  ASSERT_TRUE(sealed.ok());
  ASSERT_GT(sealed->size(), crypto_box_SEALBYTES);
  std::string secret(sealed->size() - crypto_box_SEALBYTES, '\0');
  ASSERT_EQ(
      crypto_box_seal_open(reinterpret_cast<unsigned char*>(secret.data()),
                           sealed->data(), sealed->size(), pk, sk),
      0);
  EXPECT_EQ(secret.size(), 40u);
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest,
                     reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size());
  EXPECT_EQ(r["state"]["password_fingerprint"],
            "sha256:" + HexEncode(ByteSpan(digest, sizeof digest)));

  // The new secret logs in; the old one does not.
  EXPECT_TRUE(CanLogin("liam_ford", secret));
  EXPECT_FALSE(CanLogin("liam_ford", "pw-liam.ford"));
  EXPECT_EQ(AdminValue("SELECT left(rolpassword, 14) FROM pg_authid "
                       "WHERE rolname = 'liam_ford'"),
            "SCRAM-SHA-256$");

  // Nowhere else: not in the response outside the sealed box, not on
  // stderr, not in the server log (neither the secret nor its verifier).
  EXPECT_EQ(o.raw.find(secret), std::string::npos);
  EXPECT_EQ(o.err.find(secret), std::string::npos);
  std::string log = ReadFile(g_cluster->dir + "/server.log");
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.find(secret), std::string::npos);
  EXPECT_EQ(log.find("SCRAM-SHA-256$"), std::string::npos);
  EXPECT_EQ(log.find("ALTER ROLE \"liam_ford\""), std::string::npos);

  json v = VerifyOk(rotate);
  EXPECT_TRUE(v["satisfied"].get<bool>()) << v.dump();
  EXPECT_EQ(Checks(v), (std::map<std::string, bool>{{"role_exists", true},
                                                    {"can_login", true},
                                                    {"not_expired", true}}));

  // Every rotation is a new secret.
  json again = ApplyOk(rotate);
  EXPECT_NE(again["state"]["password_fingerprint"],
            r["state"]["password_fingerprint"]);
  EXPECT_FALSE(CanLogin("liam_ford", secret));
  std::printf("[ metric ] rotate_password (seal + login proof): %.1f ms\n",
              o.ms);
}

TEST(PostgresModule, RotateStatementIsNotLoggedEvenWithLogStatementAll) {
  Admin("ALTER SYSTEM SET log_statement = 'all'");
  Admin("SELECT pg_reload_conf()");
  // The reload is asynchronous: wait until new sessions see it.
  for (int i = 0; i < 100 && AdminValue("SHOW log_statement") != "all"; ++i) {
    ::usleep(20000);
  }
  ASSERT_EQ(AdminValue("SHOW log_statement"), "all");
  unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(pk, sk);
  // The probe: with log_statement = 'all' in force, an ordinary statement
  // is logged, so the absence below is not an accident of settings.
  Admin("SELECT 'rotate-log-probe'");
  json r =
      ApplyOk(Act("rotate_password", "rosa_king", "",
                  json{{"recipient", Base64Encode(ByteSpan(pk, sizeof pk))}}));
  Admin("ALTER SYSTEM RESET log_statement");
  Admin("SELECT pg_reload_conf()");
  std::string log = ReadFile(g_cluster->dir + "/server.log");
  EXPECT_NE(log.find("rotate-log-probe"), std::string::npos);
  EXPECT_EQ(log.find("ALTER ROLE \"rosa_king\""), std::string::npos);
  EXPECT_EQ(log.find("SCRAM-SHA-256$"), std::string::npos);
  EXPECT_TRUE(r["state"]["login_proven"].get<bool>());
}

TEST(PostgresModule, RotateRefusesARoleThatCannotLogInAndChangesNothing) {
  unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(pk, sk);
  Outcome o = RunModule(
      Op::kApply,
      Act("rotate_password", "app_hr", "",
          json{{"recipient", Base64Encode(ByteSpan(pk, sizeof pk))}}));
  EXPECT_EQ(ErrorKind(o), "conflict") << o.raw;
  EXPECT_EQ(AdminValue("SELECT rolpassword IS NULL FROM pg_authid "
                       "WHERE rolname = 'app_hr'"),
            "t");
  // Nor one whose login the server would refuse for another reason: its
  // old password keeps working.
  Admin("CREATE ROLE rot_limited LOGIN CONNECTION LIMIT 0 PASSWORD 'pw-1'");
  Admin(
      "CREATE ROLE rot_expired LOGIN VALID UNTIL '2001-01-01' "
      "PASSWORD 'pw-2'");
  for (const char* role : {"rot_limited", "rot_expired"}) {
    const std::string before = AdminValue(
        std::string("SELECT rolpassword FROM pg_authid WHERE rolname = '") +
        role + "'");
    Outcome r = RunModule(
        Op::kApply,
        Act("rotate_password", role, "",
            json{{"recipient", Base64Encode(ByteSpan(pk, sizeof pk))}}));
    EXPECT_EQ(ErrorKind(r), "conflict") << role << ": " << r.raw;
    EXPECT_EQ(AdminValue(std::string("SELECT rolpassword FROM pg_authid "
                                     "WHERE rolname = '") +
                         role + "'"),
              before);
  }
}

TEST(PostgresModule, RotateWhoseLoginProofFailsIsPartialAndDeliversNothing) {
  // pg_hba.conf rejects the role on this route: invisible from SQL, so the
  // module sets the password and then cannot prove it.
  Admin("CREATE ROLE rot_hba LOGIN PASSWORD 'pw-hba'");
  const std::string before =
      AdminValue("SELECT rolpassword FROM pg_authid WHERE rolname = 'rot_hba'");
  const std::string hba = g_cluster->dir + "/data/pg_hba.conf";
  const std::string original = ReadFile(hba);
  ASSERT_FALSE(original.empty());
  std::ofstream(hba, std::ios::trunc)
      << "host all rot_hba 127.0.0.1/32 reject\n"
      << original;
  Admin("SELECT pg_reload_conf()");
  for (int i = 0; i < 100 && CanLogin("rot_hba", "pw-hba"); ++i) {
    ::usleep(20000);
  }
  ASSERT_FALSE(CanLogin("rot_hba", "pw-hba"));

  unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(pk, sk);
  Outcome o = RunModule(
      Op::kApply,
      Act("rotate_password", "rot_hba", "",
          json{{"recipient", Base64Encode(ByteSpan(pk, sizeof pk))}}));
  std::ofstream(hba, std::ios::trunc) << original;
  Admin("SELECT pg_reload_conf()");

  EXPECT_EQ(ErrorKind(o), "partial") << o.raw;
  EXPECT_NE(o.raw.find("rotate again"), std::string::npos) << o.raw;
  EXPECT_EQ(o.raw.find("sealed"), std::string::npos) << o.raw;
  EXPECT_NE(AdminValue("SELECT rolpassword FROM pg_authid "
                       "WHERE rolname = 'rot_hba'"),
            before);
}

// ---- refusals and bad input -------------------------------------------------

TEST(PostgresModule, RefusesSuperusersBuiltinRolesAndItsOwnRole) {
  Admin("CREATE ROLE boss_super SUPERUSER LOGIN PASSWORD 'pw-boss'");
  const protocol::Action actions[] = {
      Act("disable", "postgres"),
      Act("disable", "boss_super"),
      Act("drop_role", "boss_super", "", json{{"successor", "app_archive"}}),
      Act("create_role", "boss_super"),
      Act("grant_role", "app_hr", "boss_super"),
      Act("revoke_role", "app_hr", "boss_super"),
      Act("disable", "pg_signal_backend"),
      Act("revoke_role", "pg_signal_backend", "deputy_svc"),
      Act("disable", "deputy_svc"),
      Act("drop_role", "deputy_svc", "", json{{"successor", "app_archive"}}),
      Act("drop_role", "ann_lee", "", json{{"successor", "deputy_svc"}}),
      Act("grant_role", "app_hr", "deputy_svc"),
  };
  for (const auto& a : actions) {
    for (Op op : {Op::kRead, Op::kApply, Op::kVerify}) {
      Outcome o = RunModule(op, a);
      EXPECT_EQ(ErrorKind(o), "denied")
          << protocol::OpName(op) << " " << a.operation << " " << a.resource
          << ": " << o.raw;
    }
  }
  EXPECT_TRUE(CanLoginFlag("boss_super"));
  EXPECT_TRUE(CanLoginFlag("postgres"));
  EXPECT_TRUE(CanLoginFlag("deputy_svc"));
  EXPECT_TRUE(RoleExists("ann_lee"));
  EXPECT_TRUE(CanLoginFlag("ann_lee"));
  EXPECT_EQ(ServiceMemberships(), (std::set<std::string>{"pg_signal_backend"}));
}

std::string RolesAndMemberships() {
  return AdminValue(
      "SELECT string_agg(rolname || rolcanlogin::text, ',' ORDER BY rolname) "
      "|| (SELECT count(*) FROM pg_auth_members)::text FROM pg_roles");
}

// Sends every operation with `name` in every role position, as apply,
// read and verify: each must be invalid, and the server unchanged.
void ExpectInvalidEverywhere(const std::vector<std::string>& names) {
  const std::string before = RolesAndMemberships();
  for (const auto& n : names) {
    const protocol::Action actions[] = {
        Act("disable", n),
        Act("create_role", n),
        Act("drop_role", n, "", json{{"successor", "app_archive"}}),
        Act("drop_role", "ann_lee", "", json{{"successor", n}}),
        Act("grant_role", "app_hr", n),
        Act("grant_role", n, "ann_lee"),
        Act("revoke_role", "app_engineering", n),
    };
    for (const auto& a : actions) {
      for (Op op : {Op::kApply, Op::kRead, Op::kVerify}) {
        Outcome o = RunModule(op, a);
        EXPECT_EQ(ErrorKind(o), "invalid")
            << protocol::OpName(op) << " " << a.operation << ": " << o.raw;
      }
    }
  }
  EXPECT_EQ(RolesAndMemberships(), before);
  EXPECT_TRUE(CanLoginFlag("ann_lee"));
  EXPECT_TRUE(IsDirectMember("app_engineering", "ann_lee"));
}

TEST(PostgresModule, QuotesInNamesAreInvalidAndChangeNothing) {
  ExpectInvalidEverywhere({"x'; DROP ROLE ann_lee; --",
                           "ann_lee\"; DROP ROLE ann_lee; --",
                           "ann_lee' OR '1'='1", "\"ann_lee\""});
}

TEST(PostgresModule, SemicolonsAndSpacesInNamesAreInvalid) {
  ExpectInvalidEverywhere({"ann_lee;DROP ROLE ann_lee", "ann_lee; --",
                           "ann_lee ", " ann_lee", "ann_lee NOLOGIN"});
}

TEST(PostgresModule, NulInANameIsInvalid) {
  ExpectInvalidEverywhere({std::string("ann_lee\0; DROP ROLE ann_lee", 27),
                           std::string("ann_lee\0", 8)});
}

TEST(PostgresModule, OverlongNamesAreInvalid) {
  // PostgreSQL would silently truncate a 64-byte name to 63 and act on
  // whatever role has the truncated name; the module never lets it.
  Admin("CREATE ROLE " + std::string(63, 'a') + " LOGIN");
  ExpectInvalidEverywhere({std::string(64, 'a'), std::string(5000, 'b')});
  EXPECT_TRUE(CanLoginFlag(std::string(63, 'a')));
}

TEST(PostgresModule, UpperCaseAndNonAsciiNamesAreInvalid) {
  ExpectInvalidEverywhere({"Ann_Lee", "ANN_LEE", "\xc3\xa1nn_lee"});
}

TEST(PostgresModule, NamesDifferingOnlyInCaseNeverAlias) {
  // A quoted mixed-case role exists; the module cannot name it, and its
  // lower-case namesake is a different role.
  Admin("CREATE ROLE \"Case_Twin\" LOGIN PASSWORD 'pw-twin'");
  EXPECT_EQ(ErrorKind(RunModule(Op::kApply, Act("disable", "Case_Twin"))),
            "invalid");
  auto lower = Act("disable", "case_twin");
  EXPECT_EQ(ErrorKind(RunModule(Op::kApply, lower)), "not_found");
  EXPECT_TRUE(ApplyOk(Act("create_role", "case_twin", "",
                          json{{"login", false}}))["changed"]
                  .get<bool>());
  EXPECT_TRUE(CanLoginFlag("Case_Twin"));
  EXPECT_TRUE(CanLogin("Case_Twin", "pw-twin"));
}

TEST(PostgresModule, BadOptionsAreInvalid) {
  const json bad[] = {
      json::object(),
      json{{"sslmode", "prefer"}},
      json{{"sslmode", "disable"}, {"user", "postgres"}},
      json{{"sslmode", "disable"}, {"ca_file", "/etc/ssl/x.pem"}},
      json{{"sslmode", "verify-full"}},
      json{{"sslmode", "disable"}, {"connect_timeout_s", -1}},
      json{{"sslmode", "disable"}, {"database", "app\ndb"}},
  };
  for (const auto& options : bad) {
    Outcome o = RunModule(Op::kRead, Act("disable", "ann_lee"), options);
    EXPECT_EQ(ErrorKind(o), "invalid") << options.dump() << ": " << o.raw;
  }
  // A database name is a name, never a connection string.
  Outcome o =
      RunModule(Op::kRead, Act("disable", "ann_lee"),
                json{{"sslmode", "disable"},
                     {"database", "dbname=appdb host=/tmp user=postgres"}});
  EXPECT_EQ(ErrorKind(o), "invalid") << o.raw;
  EXPECT_NE(o.raw.find("does not exist"), std::string::npos) << o.raw;
}

TEST(PostgresModule, MissingOrWrongCredentialIsRefused) {
  auto read = Act("disable", "ann_lee");
  EXPECT_EQ(ErrorKind(RunModule(Op::kRead, read, DefaultOptions(), "", false)),
            "denied");
  EXPECT_EQ(ErrorKind(RunModule(Op::kRead, read, DefaultOptions(),
                                R"({"user":"deputy_svc"})")),
            "invalid");
  EXPECT_EQ(ErrorKind(RunModule(Op::kRead, read, DefaultOptions(), "not json")),
            "invalid");
  Outcome wrong = RunModule(Op::kRead, read, DefaultOptions(),
                            R"({"user":"deputy_svc","password":"wrong"})");
  EXPECT_EQ(ErrorKind(wrong), "denied") << wrong.raw;
  EXPECT_EQ(wrong.raw.find("wrong"), std::string::npos);
  EXPECT_EQ(ErrorKind(RunModule(Op::kList, std::nullopt, DefaultOptions(), "",
                                false)),
            "denied");
}

TEST(PostgresModule, IgnoresLibpqEnvironmentVariables) {
  // In-process, with a hostile libpq environment: a service file that
  // does not exist, another host, SSL demanded, other options.
  ::setenv("PGSERVICE", "nosuch_service", 1);
  ::setenv("PGHOST", "/nonexistent", 1);
  ::setenv("PGSSLMODE", "verify-full", 1);
  ::setenv("PGOPTIONS", "-c search_path=evil", 1);
  ::setenv("PGPASSFILE", "/nonexistent/pgpass", 1);
  protocol::Request req;
  req.op = Op::kRead;
  req.id = "env";
  req.target = {"postgres", "127.0.0.1", g_cluster->port, DefaultOptions()};
  req.action = Act("disable", "ann_lee");
  auto cred = protocol::Credential::FromBytes(g_cluster->credential);
  PostgresModule m;
  json r = json::parse(protocol::HandleRequest(m, req.Encode(), &cred));
  EXPECT_TRUE(r["ok"].get<bool>()) << r.dump();
  EXPECT_EQ(::getenv("PGSERVICE"), nullptr);
}

// ---- TLS ---------------------------------------------------------------

// Runs openssl; fails the test on an error.
void OpenSsl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out;
  ASSERT_EQ(RunCommand(argv, &out), 0) << out;
}

// A CA and, when `server` is set, a server certificate for DNS:localhost
// (no IP address) signed by it, in `dir`.
void MakeCertificates(const std::string& dir, const std::string& ca,
                      bool server) {
  OpenSsl({"req", "-x509", "-newkey", "ec", "-pkeyopt",
           "ec_paramgen_curve:P-256", "-nodes", "-keyout",
           dir + "/" + ca + ".key", "-out", dir + "/" + ca + ".crt", "-days",
           "2", "-subj", "/CN=deputy test " + ca});
  if (!server) return;
  OpenSsl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-keyout", dir + "/server.key", "-out",
           dir + "/server.csr", "-subj", "/CN=localhost"});
  std::ofstream(dir + "/ext.cnf")
      << "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n";
  OpenSsl({"x509", "-req", "-in", dir + "/server.csr", "-CA",
           dir + "/" + ca + ".crt", "-CAkey", dir + "/" + ca + ".key",
           "-CAcreateserial", "-out", dir + "/server.crt", "-days", "2",
           "-extfile", dir + "/ext.cnf"});
}

void ReloadAndWait(const std::string& setting, const std::string& value) {
  Admin("SELECT pg_reload_conf()");
  for (int i = 0; i < 100 && AdminValue("SHOW " + setting) != value; ++i) {
    ::usleep(20000);
  }
  ASSERT_EQ(AdminValue("SHOW " + setting), value);
}

TEST(PostgresModule, TlsModesNeverFallBackAndVerifyTheServer) {
  const std::string certs = g_cluster->dir + "/tls";
  fs::create_directories(certs);
  ASSERT_NO_FATAL_FAILURE(MakeCertificates(certs, "ca", true));
  ASSERT_NO_FATAL_FAILURE(MakeCertificates(certs, "other_ca", false));
  auto read = Act("disable", "ann_lee");
  auto tls = [&](const std::string& mode, const std::string& ca = "") {
    json o = {{"sslmode", mode}};
    if (!ca.empty()) o["ca_file"] = certs + "/" + ca + ".crt";
    return o;
  };

  // The server speaks no TLS yet: both modes refuse to go on in clear.
  for (const json& options : {tls("require"), tls("verify-full", "ca")}) {
    Outcome o =
        RunModule(Op::kRead, read, options, std::nullopt, true, "localhost");
    EXPECT_EQ(ErrorKind(o), "denied") << o.raw;
    EXPECT_NE(o.raw.find("SSL"), std::string::npos) << o.raw;
  }

  // Turn TLS on (PostgreSQL reloads it without a restart).
  const std::string data = g_cluster->dir + "/data";
  for (const char* f : {"server.crt", "server.key"}) {
    fs::copy_file(certs + "/" + f, data + "/" + f,
                  fs::copy_options::overwrite_existing);
    struct passwd* pg = ::getpwnam("postgres");
    if (::getuid() == 0 && pg != nullptr) {
      ASSERT_EQ(::chown((data + "/" + f).c_str(), pg->pw_uid, pg->pw_gid), 0);
    }
    ASSERT_EQ(::chmod((data + "/" + f).c_str(), 0600), 0);
  }
  Admin("ALTER SYSTEM SET ssl = on");
  ASSERT_NO_FATAL_FAILURE(ReloadAndWait("ssl", "on"));

  // require: encrypted, SCRAM with channel binding.
  Outcome req = RunModule(Op::kRead, read, tls("require"), std::nullopt, true,
                          "localhost");
  EXPECT_TRUE(req.response.value("ok", false)) << req.raw;
  // verify-full: the right CA and the name in the certificate.
  Outcome full = RunModule(Op::kRead, read, tls("verify-full", "ca"),
                           std::nullopt, true, "localhost");
  EXPECT_TRUE(full.response.value("ok", false)) << full.raw;
  // Another CA, or a name the certificate does not carry: refused.
  Outcome wrong_ca = RunModule(Op::kRead, read, tls("verify-full", "other_ca"),
                               std::nullopt, true, "localhost");
  EXPECT_EQ(ErrorKind(wrong_ca), "denied") << wrong_ca.raw;
  EXPECT_NE(wrong_ca.raw.find("certificate verify failed"), std::string::npos)
      << wrong_ca.raw;
  Outcome wrong_name = RunModule(Op::kRead, read, tls("verify-full", "ca"),
                                 std::nullopt, true, "127.0.0.1");
  EXPECT_EQ(ErrorKind(wrong_name), "denied") << wrong_name.raw;
  EXPECT_NE(wrong_name.raw.find("does not match host name"), std::string::npos)
      << wrong_name.raw;

  Admin("ALTER SYSTEM RESET ssl");
  ASSERT_NO_FATAL_FAILURE(ReloadAndWait("ssl", "off"));
}

// ---- list ------------------------------------------------------------

TEST(PostgresModule, ListStreamsEveryRoleAndMembership) {
  Outcome o = RunModule(Op::kList, std::nullopt);
  ASSERT_TRUE(o.response.value("ok", false)) << o.raw;
  EXPECT_EQ(o.response["result"]["count"].get<std::size_t>(), o.records.size());
  std::set<std::string> accounts, entitlements;
  for (const auto& r : o.records) {
    if (r["type"] == "account") {
      EXPECT_TRUE(accounts.insert(r["account"]).second) << r.dump();
      EXPECT_TRUE(r["attributes"].contains("login"));
      EXPECT_TRUE(r["attributes"].contains("superuser"));
    } else {
      entitlements.insert(r["account"].get<std::string>() + ">" +
                          r["entitlement"].get<std::string>());
    }
  }
  std::set<std::string> want_accounts, want_entitlements;
  for (const auto& row :
       Admin("SELECT rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%'")) {
    want_accounts.insert(row[0]);
  }
  for (const auto& row :
       Admin("SELECT m.rolname || '>' || g.rolname FROM pg_auth_members a "
             "JOIN pg_roles g ON g.oid = a.roleid "
             "JOIN pg_roles m ON m.oid = a.member "
             "WHERE m.rolname NOT LIKE 'pg\\_%'")) {
    want_entitlements.insert(row[0]);
  }
  EXPECT_EQ(accounts, want_accounts);
  EXPECT_EQ(entitlements, want_entitlements);
  EXPECT_TRUE(accounts.count("ann_lee"));
  EXPECT_TRUE(accounts.count("postgres"));
  EXPECT_FALSE(accounts.count("pg_monitor"));
  EXPECT_TRUE(entitlements.count("ann_lee>app_engineering"));
  EXPECT_TRUE(entitlements.count("deputy_svc>pg_signal_backend"));
  std::printf("[ metric ] list: %zu records in %.1f ms\n", o.records.size(),
              o.ms);
}

}  // namespace
}  // namespace deputy::postgres
