#include "capabilities/postgres/postgres_module.h"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "capabilities/postgres/action.h"
#include "capabilities/postgres/catalog.h"
#include "capabilities/postgres/options.h"
#include "capabilities/postgres/pg_conn.h"
#include "capabilities/postgres/secret.h"

namespace deputy::postgres {
namespace {

using nlohmann::json;
using protocol::Credential;
using protocol::ErrorKind;
using protocol::Reply;
using protocol::Request;
using protocol::WipedString;

// Handlers that return a Reply use these where a Status or Result fails.
#define PG_REPLY_IF_ERROR(expr)                                 \
  do {                                                          \
    ::deputy::Status pg_status_ = (expr);                       \
    if (!pg_status_.ok()) return Reply::FromStatus(pg_status_); \
  } while (false)
#define PG_ASSIGN_OR_REPLY(lhs, rexpr) \
  PG_ASSIGN_OR_REPLY_IMPL(DEPUTY_CONCAT(pg_result_, __LINE__), lhs, rexpr)
#define PG_ASSIGN_OR_REPLY_IMPL(tmp, lhs, rexpr)         \
  auto tmp = (rexpr);                                    \
  if (!tmp.ok()) return Reply::FromStatus(tmp.status()); \
  lhs = std::move(tmp).value()

// How long disable and drop_role wait for a role's sessions to end.
constexpr auto kSessionDeadline = std::chrono::seconds(10);
// How many leftover objects a partial drop names per database.
constexpr int kDescribeLimit = 20;

// One request's connection to the target, as the module's own role.
class Session {
 public:
  static Result<Session> Open(const Request& request, const Credential& cred,
                              const PgOptions& options) {
    ASSIGN_OR_RETURN(std::string user, cred.Field("user"));
    auto pw = cred.Field("password");
    if (!pw.ok()) return pw.status();
    // Copy, then wipe the original: no stray copy of the password.
    WipedString password{std::string(pw.value())};
    protocol::Wipe(pw.value());
    ASSIGN_OR_RETURN(ConnParams params,
                     ConnParams::Build(request.target, options, user,
                                       password.str(), options.database));
    ASSIGN_OR_RETURN(PgConn conn, PgConn::Connect(params));
    ASSIGN_OR_RETURN(RoleInfo self, SessionRole(conn));
    return Session(options, std::move(params), std::move(conn),
                   std::move(self));
  }

  PgConn& conn() { return conn_; }
  const PgOptions& options() const { return options_; }
  const ConnParams& params() const { return params_; }
  const RoleInfo& self() const { return self_; }

 private:
  Session(const PgOptions& options, ConnParams params, PgConn conn,
          RoleInfo self)
      : options_(options),
        params_(std::move(params)),
        conn_(std::move(conn)),
        self_(std::move(self)) {}
  PgOptions options_;
  ConnParams params_;
  PgConn conn_;
  RoleInfo self_;
};

// The defence in depth behind the gate: never a superuser, never the
// module's own login role (pg_* names are refused while parsing).
Status Refuse(const RoleInfo& role, const RoleInfo& self,
              std::string_view field) {
  if (role.oid == self.oid) {
    return Status::PermissionDenied(std::string(field) + ": \"" + role.name +
                                    "\" is the module's own login role; the "
                                    "module never acts on it");
  }
  if (role.superuser) {
    return Status::PermissionDenied(std::string(field) + ": \"" + role.name +
                                    "\" is a superuser; the module never acts "
                                    "on superusers");
  }
  return Status::Ok();
}

// Refuses names equal to the credential's user before connecting, so a
// request about the module's own role never even reaches the server.
Status RefuseOwnName(const PgAction& a, const Credential& cred) {
  auto user = cred.Field("user");
  if (!user.ok()) return user.status();
  for (const auto& n : a.Names()) {
    if (n == *user) {
      return Status::PermissionDenied(
          "\"" + n +
          "\" is the module's own login role; the module never "
          "acts on it");
    }
  }
  return Status::Ok();
}

// The state every read reports for a role that exists.
Result<json> RoleState(Session& s, const RoleInfo& role) {
  json state = role.Attributes();
  state["role"] = role.name;
  state["exists"] = true;
  ASSIGN_OR_RETURN(auto groups, DirectMemberships(s.conn(), role.oid));
  state["memberships"] = groups;
  ASSIGN_OR_RETURN(std::int64_t sessions, SessionCount(s.conn(), role.oid));
  state["sessions"] = sessions;
  return state;
}

json AbsentState(const std::string& name) {
  return {{"role", name}, {"exists", false}};
}

Result<RoleInfo> MustExist(Session& s, const std::string& name,
                           std::string_view field) {
  ASSIGN_OR_RETURN(auto role, LookupRole(s.conn(), name));
  if (!role) {
    return Status::NotFound(std::string(field) + ": role \"" + name +
                            "\" does not exist");
  }
  return *role;
}

json CheckJson(std::string_view name, bool ok, std::string detail = "") {
  json c = {{"check", name}, {"ok", ok}};
  if (!detail.empty()) c["detail"] = std::move(detail);
  return c;
}

json VerifyJson(json checks, json observed) {
  bool all = !checks.empty();
  for (const auto& c : checks) all = all && c["ok"].get<bool>();
  return {{"satisfied", all},
          {"checks", std::move(checks)},
          {"observed", std::move(observed)}};
}

// A login as `role` with a fresh random password: see docs, "login_fails".
Result<json> LoginFailsCheck(Session& s, const std::string& role) {
  WipedString guess = GeneratePassword();
  ASSIGN_OR_RETURN(ConnParams p,
                   s.params().With(role, guess.str(), s.options().database));
  LoginAttempt a = TryLogin(p);
  if (a.ok) {
    return CheckJson("login_fails", false,
                     "a session opened as " + role +
                         " with a password nobody knows: the server does not "
                         "check passwords on this route");
  }
  if (!a.refused) {
    return CheckJson("login_fails", false,
                     "the attempt did not reach the server: " + a.detail);
  }
  return CheckJson("login_fails", true, "refused: " + a.detail);
}

// Ends every session of the role (other than ours) and waits, bounded,
// until none is left. Returns how many were signalled.
Result<std::int64_t> TerminateSessions(Session& s, const RoleInfo& role) {
  const auto deadline = std::chrono::steady_clock::now() + kSessionDeadline;
  std::set<std::string> signalled;  // Backend pids.
  for (int round = 0;; ++round) {
    // Signal, then poll pg_stat_activity every 10 ms; signal again every
    // quarter second in case a session slipped in between.
    if (round % 25 == 0) {
      ASSIGN_OR_RETURN(
          PgResult r, s.conn().Query("terminate sessions",
                                     "SELECT a.pid::text, "
                                     "pg_catalog.pg_terminate_backend(a.pid) "
                                     "FROM pg_catalog.pg_stat_activity a "
                                     "WHERE a.usesysid = $1::pg_catalog.oid "
                                     "AND a.pid <> pg_catalog.pg_backend_pid()",
                                     {role.oid}));
      for (int i = 0; i < r.rows(); ++i) {
        if (r.Bool(i, 1)) signalled.insert(r.Text(i, 0));
      }
    }
    ASSIGN_OR_RETURN(std::int64_t left, SessionCount(s.conn(), role.oid));
    if (left == 0) return static_cast<std::int64_t>(signalled.size());
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable(std::to_string(left) + " session(s) of " +
                                 role.name + " still alive after " +
                                 std::to_string(kSessionDeadline.count()) +
                                 " s of pg_terminate_backend");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// ALTER ROLE ... NOLOGIN when the role can log in. Returns whether it
// changed anything.
Result<bool> EnsureNoLogin(Session& s, const RoleInfo& role) {
  if (!role.login) return false;
  ASSIGN_OR_RETURN(std::string id, s.conn().Ident(role.name));
  RETURN_IF_ERROR(
      s.conn().Exec("ALTER ROLE NOLOGIN", "ALTER ROLE " + id + " NOLOGIN"));
  return true;
}

// ---- create_role ----------------------------------------------------------

Result<json> ReadCreate(Session& s, const PgAction& a) {
  ASSIGN_OR_RETURN(auto role, LookupRole(s.conn(), a.role));
  if (!role) {
    return json{{"exists", false},
                {"satisfied", false},
                {"state", AbsentState(a.role)}};
  }
  RETURN_IF_ERROR(Refuse(*role, s.self(), "action.resource"));
  ASSIGN_OR_RETURN(json state, RoleState(s, *role));
  bool ok = role->login == a.login && !role->Privileged();
  return json{{"exists", true}, {"satisfied", ok}, {"state", state}};
}

Reply ApplyCreate(Session& s, const PgAction& a) {
  PG_ASSIGN_OR_REPLY(auto role, LookupRole(s.conn(), a.role));
  PG_ASSIGN_OR_REPLY(std::string id, s.conn().Ident(a.role));
  bool changed = false;
  if (role) {
    PG_REPLY_IF_ERROR(Refuse(*role, s.self(), "action.resource"));
    if (role->Privileged()) {
      return Reply::Fail(ErrorKind::kConflict,
                         "role \"" + a.role +
                             "\" exists with privileged attributes "
                             "(superuser, createrole, createdb, replication "
                             "or bypassrls); an account role has none");
    }
    if (role->login != a.login) {
      PG_REPLY_IF_ERROR(s.conn().Exec(
          "ALTER ROLE",
          "ALTER ROLE " + id + (a.login ? " LOGIN" : " NOLOGIN")));
      changed = true;
    }
  } else {
    // Every attribute spelled out: the new role has exactly these.
    PG_REPLY_IF_ERROR(s.conn().Exec(
        "CREATE ROLE",
        "CREATE ROLE " + id + (a.login ? " LOGIN" : " NOLOGIN") +
            " NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
            "INHERIT"));
    changed = true;
  }
  PG_ASSIGN_OR_REPLY(RoleInfo now, MustExist(s, a.role, "action.resource"));
  PG_ASSIGN_OR_REPLY(json state, RoleState(s, now));
  return Reply::Ok({{"changed", changed}, {"state", state}});
}

Result<json> VerifyCreate(Session& s, const PgAction& a) {
  ASSIGN_OR_RETURN(auto role, LookupRole(s.conn(), a.role));
  json checks = json::array();
  if (!role) {
    checks.push_back(CheckJson("role_exists", false, "not in pg_roles"));
    return VerifyJson(checks, AbsentState(a.role));
  }
  RETURN_IF_ERROR(Refuse(*role, s.self(), "action.resource"));
  checks.push_back(CheckJson("role_exists", true));
  checks.push_back(CheckJson(
      "login_matches", role->login == a.login,
      std::string("rolcanlogin is ") + (role->login ? "true" : "false")));
  checks.push_back(CheckJson("not_privileged", !role->Privileged()));
  ASSIGN_OR_RETURN(json state, RoleState(s, *role));
  return VerifyJson(checks, state);
}

// ---- grant_role / revoke_role ----------------------------------------------

struct MembershipView {
  std::optional<RoleInfo> group;
  std::optional<RoleInfo> member;
  Membership direct;
  json state;
};

Result<MembershipView> ReadMembership(Session& s, const PgAction& a) {
  MembershipView v;
  ASSIGN_OR_RETURN(v.group, LookupRole(s.conn(), a.role));
  ASSIGN_OR_RETURN(v.member, LookupRole(s.conn(), a.member));
  if (v.group) RETURN_IF_ERROR(Refuse(*v.group, s.self(), "action.resource"));
  if (v.member) RETURN_IF_ERROR(Refuse(*v.member, s.self(), "action.subject"));
  v.state = {{"role", a.role},
             {"member", a.member},
             {"role_exists", v.group.has_value()},
             {"member_exists", v.member.has_value()}};
  if (v.group && v.member) {
    ASSIGN_OR_RETURN(v.direct,
                     DirectMembership(s.conn(), v.group->oid, v.member->oid));
    ASSIGN_OR_RETURN(bool reaches,
                     ReachesRole(s.conn(), v.member->oid, v.group->oid));
    v.state["direct_member"] = v.direct.present;
    v.state["admin_option"] = v.direct.admin_option;
    // Membership through another group: not this action's business, but
    // shown so a reviewer sees access that survives a revoke.
    v.state["reaches_role"] = reaches;
    ASSIGN_OR_RETURN(auto groups, DirectMemberships(s.conn(), v.member->oid));
    v.state["memberships"] = groups;
  } else {
    v.state["direct_member"] = false;
  }
  return v;
}

// Granting `group` hands its holder every role `group` can SET ROLE to.
// Refuse when any of those is a superuser, a pg_* role, the module's own
// role, or a role with privileged attributes.
Status RefuseEscalation(Session& s, const RoleInfo& group) {
  ASSIGN_OR_RETURN(auto reach, RoleAndAncestors(s.conn(), group.oid));
  for (const RoleInfo& r : reach) {
    std::string why;
    if (r.oid == s.self().oid) {
      why = "is the module's own login role";
    } else if (r.superuser) {
      why = "is a superuser";
    } else if (IsReservedRoleName(r.name)) {
      why = "is a built-in pg_* role";
    } else if (r.Privileged()) {
      why = "has privileged attributes";
    }
    if (!why.empty()) {
      std::string via = r.oid == group.oid
                            ? ""
                            : " (\"" + group.name + "\" is a member of it)";
      return Status::PermissionDenied("granting \"" + group.name +
                                      "\" would hand over \"" + r.name +
                                      "\", which " + why + via);
    }
  }
  return Status::Ok();
}

Result<json> ReadGrant(Session& s, const PgAction& a, bool grant) {
  ASSIGN_OR_RETURN(MembershipView v, ReadMembership(s, a));
  bool satisfied = grant ? v.direct.present : !v.direct.present;
  return json{{"exists", v.group.has_value()},
              {"satisfied", satisfied},
              {"state", v.state}};
}

Reply ApplyGrant(Session& s, const PgAction& a) {
  PG_ASSIGN_OR_REPLY(MembershipView v, ReadMembership(s, a));
  if (!v.group) {
    return Reply::Fail(ErrorKind::kNotFound, "action.resource: role \"" +
                                                 a.role + "\" does not exist");
  }
  if (!v.member) {
    return Reply::Fail(
        ErrorKind::kNotFound,
        "action.subject: role \"" + a.member + "\" does not exist");
  }
  PG_REPLY_IF_ERROR(RefuseEscalation(s, *v.group));
  if (v.direct.present) {
    return Reply::Ok({{"changed", false}, {"state", v.state}});
  }
  PG_ASSIGN_OR_REPLY(std::string g, s.conn().Ident(a.role));
  PG_ASSIGN_OR_REPLY(std::string m, s.conn().Ident(a.member));
  PG_REPLY_IF_ERROR(s.conn().Exec("GRANT", "GRANT " + g + " TO " + m));
  PG_ASSIGN_OR_REPLY(MembershipView after, ReadMembership(s, a));
  return Reply::Ok({{"changed", true}, {"state", after.state}});
}

Reply ApplyRevoke(Session& s, const PgAction& a) {
  PG_ASSIGN_OR_REPLY(MembershipView v, ReadMembership(s, a));
  // Ensure absent: a missing role has no membership to revoke; verify
  // confirms there is no row.
  if (!v.group || !v.member || !v.direct.present) {
    return Reply::Ok({{"changed", false}, {"state", v.state}});
  }
  PG_ASSIGN_OR_REPLY(std::string g, s.conn().Ident(a.role));
  PG_ASSIGN_OR_REPLY(std::string m, s.conn().Ident(a.member));
  PG_REPLY_IF_ERROR(s.conn().Exec("REVOKE", "REVOKE " + g + " FROM " + m));
  PG_ASSIGN_OR_REPLY(MembershipView after, ReadMembership(s, a));
  return Reply::Ok({{"changed", true}, {"state", after.state}});
}

Result<json> VerifyGrant(Session& s, const PgAction& a, bool grant) {
  ASSIGN_OR_RETURN(MembershipView v, ReadMembership(s, a));
  json checks = json::array();
  if (grant) {
    checks.push_back(CheckJson("role_exists", v.group.has_value()));
    checks.push_back(CheckJson("member_exists", v.member.has_value()));
    checks.push_back(CheckJson("direct_membership", v.direct.present,
                               "pg_auth_members row"));
  } else {
    checks.push_back(CheckJson("no_direct_membership", !v.direct.present,
                               v.direct.present
                                   ? "pg_auth_members still has the row"
                                   : "no pg_auth_members row"));
  }
  return VerifyJson(checks, v.state);
}

// ---- disable -------------------------------------------------------------

Result<json> ReadDisable(Session& s, const PgAction& a) {
  ASSIGN_OR_RETURN(auto role, LookupRole(s.conn(), a.role));
  if (!role) {
    return json{{"exists", false},
                {"satisfied", false},
                {"state", AbsentState(a.role)}};
  }
  RETURN_IF_ERROR(Refuse(*role, s.self(), "action.resource"));
  ASSIGN_OR_RETURN(json state, RoleState(s, *role));
  bool ok = !role->login && state["sessions"].get<std::int64_t>() == 0;
  return json{{"exists", true}, {"satisfied", ok}, {"state", state}};
}

Reply ApplyDisable(Session& s, const PgAction& a) {
  PG_ASSIGN_OR_REPLY(RoleInfo role, MustExist(s, a.role, "action.resource"));
  PG_REPLY_IF_ERROR(Refuse(role, s.self(), "action.resource"));
  PG_ASSIGN_OR_REPLY(bool changed, EnsureNoLogin(s, role));
  PG_ASSIGN_OR_REPLY(std::int64_t ended, TerminateSessions(s, role));
  PG_ASSIGN_OR_REPLY(RoleInfo now, MustExist(s, a.role, "action.resource"));
  PG_ASSIGN_OR_REPLY(json state, RoleState(s, now));
  state["terminated"] = ended;
  return Reply::Ok({{"changed", changed || ended > 0}, {"state", state}});
}

Result<json> VerifyDisable(Session& s, const PgAction& a) {
  ASSIGN_OR_RETURN(auto role, LookupRole(s.conn(), a.role));
  json checks = json::array();
  json observed = AbsentState(a.role);
  if (!role) {
    checks.push_back(CheckJson("nologin", false, "role does not exist"));
  } else {
    RETURN_IF_ERROR(Refuse(*role, s.self(), "action.resource"));
    ASSIGN_OR_RETURN(observed, RoleState(s, *role));
    checks.push_back(CheckJson(
        "nologin", !role->login,
        std::string("rolcanlogin is ") + (role->login ? "true" : "false")));
    std::int64_t n = observed["sessions"].get<std::int64_t>();
    checks.push_back(CheckJson("no_sessions", n == 0,
                               std::to_string(n) + " in pg_stat_activity"));
  }
  ASSIGN_OR_RETURN(json login, LoginFailsCheck(s, a.role));
  checks.push_back(login);
  return VerifyJson(checks, observed);
}

// ---- rotate_password -----------------------------------------------------

Result<json> ReadRotate(Session& s, const PgAction& a) {
  ASSIGN_OR_RETURN(auto role, LookupRole(s.conn(), a.role));
  if (!role) {
    return json{{"exists", false},
                {"satisfied", false},
                {"state", AbsentState(a.role)}};
  }
  RETURN_IF_ERROR(Refuse(*role, s.self(), "action.resource"));
  ASSIGN_OR_RETURN(json state, RoleState(s, *role));
  // A rotation always changes something: never satisfied beforehand.
  return json{{"exists", true}, {"satisfied", false}, {"state", state}};
}

Reply ApplyRotate(Session& s, const PgAction& a) {
  PG_ASSIGN_OR_REPLY(RoleInfo role, MustExist(s, a.role, "action.resource"));
  PG_REPLY_IF_ERROR(Refuse(role, s.self(), "action.resource"));
  // Everything that would make the login proof fail for reasons other
  // than the password is refused before anything changes.
  PG_ASSIGN_OR_REPLY(PgResult can,
                     s.conn().Query("check that the role can log in",
                                    "SELECT r.rolconnlimit <> 0, "
                                    "pg_catalog.has_database_privilege(r.oid, "
                                    "pg_catalog.current_database(), 'CONNECT') "
                                    "FROM pg_catalog.pg_roles r "
                                    "WHERE r.oid = $1::pg_catalog.oid",
                                    {role.oid}));
  std::string why;
  if (!role.login) {
    why = "cannot log in (NOLOGIN)";
  } else if (role.expired) {
    why = "has a validity (VALID UNTIL) in the past";
  } else if (can.rows() != 1 || !can.Bool(0, 0)) {
    why = "has a connection limit of 0";
  } else if (!can.Bool(0, 1)) {
    why = "has no CONNECT privilege on database " + s.options().database;
  }
  if (!why.empty()) {
    return Reply::Fail(ErrorKind::kConflict,
                       "role \"" + a.role + "\" " + why +
                           ": a new password could not be proven by logging "
                           "in, so none was set");
  }
  // Keep the statement out of the server log, whatever the server's
  // logging settings; refusal here stops before anything changed.
  for (const char* setting :
       {"SET log_statement = 'none'", "SET log_min_duration_statement = -1",
        "SET log_min_error_statement = 'panic'"}) {
    PG_REPLY_IF_ERROR(s.conn().Exec("turn statement logging off", setting));
  }
  WipedString password = GeneratePassword();
  PG_ASSIGN_OR_REPLY(WipedString verifier,
                     s.conn().ScramVerifier(password.str(), a.role));
  PG_ASSIGN_OR_REPLY(std::string id, s.conn().Ident(a.role));
  PG_ASSIGN_OR_REPLY(std::string literal, s.conn().Literal(verifier.str()));
  WipedString statement{"ALTER ROLE " + id + " PASSWORD " + literal};
  protocol::Wipe(literal);
  PG_REPLY_IF_ERROR(s.conn().Exec("ALTER ROLE PASSWORD", statement.str()));
  // Prove it: a session as the role, with the new password.
  PG_ASSIGN_OR_REPLY(ConnParams login, s.params().With(a.role, password.str(),
                                                       s.options().database));
  auto proof = PgConn::Connect(login);
  Status proven = proof.status();
  if (proven.ok()) {
    auto who =
        proof->Query("check the session's role", "SELECT session_user::text");
    if (!who.ok()) {
      proven = who.status();
    } else if (who->rows() != 1 || who->Text(0, 0) != a.role) {
      proven = Status::Internal("the session is not " + a.role + "'s");
    }
  }
  if (!proven.ok()) {
    // The password changed but cannot be shown to work; nobody holds it,
    // so the account is effectively locked until the next rotation.
    return Reply::Partial(
        "rotate_password " + a.role +
            ": a new password was set, but the "
            "login proof failed: " +
            proven.message(),
        json::array({"deliver a working password for " + a.role +
                     ": rotate again (the password now set is known to "
                     "nobody)"}));
  }
  PG_ASSIGN_OR_REPLY(std::string sealed,
                     SealToRecipient(password.str(), a.recipient));
  std::string fingerprint = Fingerprint(password.str());
  json state = {{"role", a.role},
                {"login_proven", true},
                {"sealed_password", sealed},
                {"password_fingerprint", fingerprint},
                {"envelope", "crypto_box_seal (X25519, XSalsa20-Poly1305)"},
                {"recipient", Base64Encode(a.recipient)}};
  return Reply::Ok({{"changed", true}, {"state", state}});
}

Result<json> VerifyRotate(Session& s, const PgAction& a) {
  ASSIGN_OR_RETURN(auto role, LookupRole(s.conn(), a.role));
  json checks = json::array();
  if (!role) {
    checks.push_back(CheckJson("role_exists", false));
    return VerifyJson(checks, AbsentState(a.role));
  }
  RETURN_IF_ERROR(Refuse(*role, s.self(), "action.resource"));
  checks.push_back(CheckJson("role_exists", true));
  checks.push_back(CheckJson("can_login", role->login));
  checks.push_back(CheckJson(
      "not_expired", !role->expired,
      role->valid_until ? "valid until " + *role->valid_until : "no expiry"));
  ASSIGN_OR_RETURN(json observed, RoleState(s, *role));
  observed["limits"] =
      "the password itself cannot be read back (pg_authid is superuser-only "
      "and holds only a verifier); apply proved it by logging in";
  return VerifyJson(checks, observed);
}

// ---- drop_role -----------------------------------------------------------

Result<json> OwnedSummary(Session& s, const RoleInfo& role) {
  ASSIGN_OR_RETURN(auto deps, DependenciesByDatabase(s.conn(), role.oid));
  ASSIGN_OR_RETURN(auto dbs, Databases(s.conn()));
  std::map<std::string, std::string> names;
  for (const auto& d : dbs) names[d.oid] = d.name;
  json out = json::object();
  for (const auto& [oid, d] : deps) {
    std::string name = oid == "0"         ? "(shared)"
                       : names.count(oid) ? names[oid]
                                          : "(oid " + oid + ")";
    out[name] = {
        {"owned", d.owned}, {"privileges", d.privileges}, {"other", d.other}};
  }
  return out;
}

Result<json> ReadDrop(Session& s, const PgAction& a) {
  ASSIGN_OR_RETURN(auto role, LookupRole(s.conn(), a.role));
  if (!role) {
    return json{
        {"exists", false}, {"satisfied", true}, {"state", AbsentState(a.role)}};
  }
  RETURN_IF_ERROR(Refuse(*role, s.self(), "action.resource"));
  ASSIGN_OR_RETURN(json state, RoleState(s, *role));
  ASSIGN_OR_RETURN(state["owned"], OwnedSummary(s, *role));
  ASSIGN_OR_RETURN(auto successor, LookupRole(s.conn(), a.successor));
  state["successor"] = a.successor;
  state["successor_exists"] = successor.has_value();
  return json{{"exists", true}, {"satisfied", false}, {"state", state}};
}

// The advisory lock key drops take turns on ("deputy" in ASCII).
constexpr const char* kDropLockKey = "110386841220217";

// The work of drop_role once the role is NOLOGIN and has no sessions.
class Dropper {
 public:
  Dropper(Session& s, const RoleInfo& role, const RoleInfo& successor)
      : s_(s), role_(role), successor_(successor) {}

  // Runs every step; what could not be done is in remaining().
  Status Run(json& databases) {
    RETURN_IF_ERROR(Prepare());
    ASSIGN_OR_RETURN(auto deps, DependenciesByDatabase(s_.conn(), role_.oid));
    std::map<std::string, Dependencies> by_db(deps.begin(), deps.end());
    ASSIGN_OR_RETURN(auto dbs, Databases(s_.conn()));
    // pg_shdepend is what REASSIGN OWNED and DROP OWNED themselves work
    // from: a database with no row for the role has nothing for them to
    // do, so only those with rows are visited, plus the catalog database,
    // which also handles shared objects (databases, tablespaces). Idle
    // databases, template1 included, are never touched.
    for (const auto& db : dbs) {
      Dependencies d = by_db.count(db.oid) ? by_db[db.oid] : Dependencies();
      if (d.total() == 0 && db.name != s_.options().database) continue;
      ClearDatabase(db, d, databases);
    }
    if (remaining_.empty()) DropRole();
    return Status::Ok();
  }

  // Takes back every membership in the role or the successor that the
  // module's role granted itself: this run's, and any left by a run that
  // was killed before its cleanup (pg_auth_members records the grantor;
  // grants a DBA made are kept). Failures are added to remaining(): the
  // service role must not keep them.
  void Cleanup() {
    RevokeSelfGranted(successor_);
    if (!dropped_) RevokeSelfGranted(role_);
    for (const auto& g : grantors_) RevokeSelfGranted(g);
  }

  const json& remaining() const { return remaining_; }
  bool dropped() const { return dropped_; }

 private:
  // REASSIGN OWNED needs the module's role to hold the privileges of the
  // role being removed and to be a member of the successor (PostgreSQL
  // 15), which CREATEROLE lets it grant itself for the duration.
  Status Prepare() {
    RETURN_IF_ERROR(GrantToSelf(role_, "USAGE"));
    return GrantToSelf(successor_, "MEMBER");
  }

  Status GrantToSelf(const RoleInfo& r, const char* mode) {
    ASSIGN_OR_RETURN(
        PgResult has,
        s_.conn().Query("check the module's membership",
                        std::string("SELECT pg_catalog.pg_has_role("
                                    "session_user, "
                                    "$1::pg_catalog.oid, '") +
                            mode + "')",
                        {r.oid}));
    if (has.rows() == 1 && has.Bool(0, 0)) return Status::Ok();
    ASSIGN_OR_RETURN(std::string id, s_.conn().Ident(r.name));
    return s_.conn().Exec("GRANT " + r.name + " TO the module's role",
                          "GRANT " + id + " TO CURRENT_USER");
  }

  void RevokeSelfGranted(const RoleInfo& r) {
    auto row = s_.conn().Query(
        "look up the module's own grants",
        "SELECT 1 FROM pg_catalog.pg_auth_members m "
        "WHERE m.roleid = $1::pg_catalog.oid "
        "AND m.member = $2::pg_catalog.oid AND m.grantor = $2::pg_catalog.oid",
        {r.oid, s_.self().oid});
    Status st = row.status();
    if (st.ok() && row->rows() == 0) return;
    auto id = s_.conn().Ident(r.name);
    if (st.ok()) st = id.status();
    if (st.ok()) {
      st = s_.conn().Exec("REVOKE " + r.name + " FROM the module's role",
                          "REVOKE " + *id + " FROM CURRENT_USER");
    }
    if (!st.ok()) {
      remaining_.push_back("module role: may still be a member of " + r.name +
                           " (" + st.message() + ")");
    }
  }

  void ClearDatabase(const DatabaseInfo& db, const Dependencies& d,
                     json& databases) {
    if (!db.allow_connections) {
      if (d.total() > 0) {
        remaining_.push_back("database " + db.name + ": " +
                             std::to_string(d.total()) +
                             " dependencies, and the database does not allow "
                             "connections");
      }
      return;
    }
    std::optional<PgConn> other;
    PgConn* conn = &s_.conn();
    if (db.name != s_.options().database) {
      auto login = s_.params().ForDatabase(db.name);
      auto c =
          login.ok() ? PgConn::Connect(*login) : Result<PgConn>(login.status());
      if (!c.ok()) {
        if (d.total() > 0) {
          remaining_.push_back("database " + db.name + ": " +
                               std::to_string(d.total()) +
                               " dependencies, and " + c.status().message());
        }
        return;
      }
      other.emplace(std::move(c).value());
      conn = &*other;
    }
    Status st = TakeGrantors(*conn);
    if (st.ok()) st = Reassign(*conn);
    if (!st.ok()) {
      (void)conn->Exec("roll back", "ROLLBACK");
      std::string left;
      auto what = DescribeDependencies(*conn, role_.oid, kDescribeLimit);
      if (what.ok()) {
        for (const auto& w : *what) left += (left.empty() ? "" : ", ") + w;
      } else {
        left = "(cannot list: " + what.status().message() + ")";
      }
      remaining_.push_back("database " + db.name + ": " + st.message() +
                           (left.empty() ? "" : "; still there: " + left));
      return;
    }
    if (d.total() > 0) {
      databases[db.name] = {
          {"owned", d.owned}, {"privileges", d.privileges}, {"other", d.other}};
    }
  }

  // DROP OWNED revokes a privilege only as someone who could have granted
  // it: the role's privileges granted by other roles (an object's owner
  // granting SELECT to the leaver, say) stay, and block DROP ROLE, unless
  // the module holds the grantor's privileges. It takes them for the
  // duration, as it does the role's and the successor's, never a
  // superuser's or a privileged role's (those grants stay and the drop
  // ends partial, naming them).
  Status TakeGrantors(PgConn& conn) {
    ASSIGN_OR_RETURN(
        PgResult rows,
        conn.Query("look up who granted the role's privileges",
                   "SELECT DISTINCT g.rolname FROM ("
                   "SELECT (pg_catalog.aclexplode(relacl)).* FROM "
                   "pg_catalog.pg_class WHERE relacl IS NOT NULL "
                   "UNION ALL SELECT (pg_catalog.aclexplode(attacl)).* FROM "
                   "pg_catalog.pg_attribute WHERE attacl IS NOT NULL "
                   "UNION ALL SELECT (pg_catalog.aclexplode(nspacl)).* FROM "
                   "pg_catalog.pg_namespace WHERE nspacl IS NOT NULL "
                   "UNION ALL SELECT (pg_catalog.aclexplode(proacl)).* FROM "
                   "pg_catalog.pg_proc WHERE proacl IS NOT NULL "
                   "UNION ALL SELECT (pg_catalog.aclexplode(typacl)).* FROM "
                   "pg_catalog.pg_type WHERE typacl IS NOT NULL "
                   "UNION ALL SELECT (pg_catalog.aclexplode(defaclacl)).* "
                   "FROM pg_catalog.pg_default_acl) a "
                   "JOIN pg_catalog.pg_roles g ON g.oid = a.grantor "
                   "WHERE a.grantee = $1::pg_catalog.oid AND NOT g.rolsuper "
                   "AND NOT pg_catalog.pg_has_role(session_user, g.oid, "
                   "'USAGE') ORDER BY 1",
                   {role_.oid}));
    for (int i = 0; i < rows.rows(); ++i) {
      ASSIGN_OR_RETURN(auto grantor, LookupRole(conn, rows.Text(i, 0)));
      if (!grantor || grantor->Privileged() ||
          grantor->name.rfind("pg_", 0) == 0 ||
          !Refuse(*grantor, s_.self(), "grantor").ok()) {
        continue;  // Its grants stay; DROP ROLE will say so.
      }
      RETURN_IF_ERROR(GrantToSelf(*grantor, "USAGE"));
      grantors_.push_back(*grantor);
    }
    return Status::Ok();
  }

  Status Reassign(PgConn& conn) {
    ASSIGN_OR_RETURN(std::string r, conn.Ident(role_.name));
    ASSIGN_OR_RETURN(std::string to, conn.Ident(successor_.name));
    RETURN_IF_ERROR(conn.Exec("BEGIN", "BEGIN"));
    RETURN_IF_ERROR(
        conn.Exec("REASSIGN OWNED", "REASSIGN OWNED BY " + r + " TO " + to));
    RETURN_IF_ERROR(conn.Exec("DROP OWNED", "DROP OWNED BY " + r));
    return conn.Exec("COMMIT", "COMMIT");
  }

  void DropRole() {
    auto id = s_.conn().Ident(role_.name);
    Status st = id.status();
    if (st.ok()) st = s_.conn().Exec("DROP ROLE", "DROP ROLE " + *id);
    if (st.ok() || st.code() == ErrorCode::kNotFound) {
      dropped_ = true;
      return;
    }
    remaining_.push_back("role " + role_.name + ": " + st.message());
  }

  Session& s_;
  const RoleInfo& role_;
  const RoleInfo& successor_;
  std::vector<RoleInfo> grantors_;  // Memberships taken for DROP OWNED.
  bool dropped_ = false;
  json remaining_ = json::array();
};

Reply ApplyDrop(Session& s, const PgAction& a) {
  PG_ASSIGN_OR_REPLY(auto role, LookupRole(s.conn(), a.role));
  if (!role) {
    // Ensure absent: nothing to do; verify proves the absence.
    return Reply::Ok({{"changed", false}, {"state", AbsentState(a.role)}});
  }
  PG_REPLY_IF_ERROR(Refuse(*role, s.self(), "action.resource"));
  PG_ASSIGN_OR_REPLY(RoleInfo successor,
                     MustExist(s, a.successor, "params.successor"));
  PG_REPLY_IF_ERROR(Refuse(successor, s.self(), "params.successor"));
  // First, no one can use the role any more.
  PG_ASSIGN_OR_REPLY(bool nologin, EnsureNoLogin(s, *role));
  auto ended = TerminateSessions(s, *role);
  if (!ended.ok()) {
    return Reply::Partial(
        "drop_role " + a.role +
            ": the role can no longer log in, but its "
            "sessions did not end: " +
            ended.status().message(),
        json::array({"sessions of " + a.role + ": " + ended.status().message(),
                     "role " + a.role + ": still exists (NOLOGIN)"}));
  }
  json databases = json::object();
  // The memberships the service role gives itself for the drop are
  // cluster-wide state that concurrent drops share: one drop's clean-up
  // would take back a membership another is still using. Drops therefore
  // take turns, on a session-level advisory lock that the server releases
  // when this connection ends, however the module ends.
  PG_REPLY_IF_ERROR(s.conn().Exec(
      "wait for other drops",
      "SELECT pg_catalog.pg_advisory_lock(" + std::string(kDropLockKey) + ")"));
  Dropper d(s, *role, successor);
  Status run = d.Run(databases);
  d.Cleanup();
  (void)s.conn().Exec("let other drops go",
                      "SELECT pg_catalog.pg_advisory_unlock(" +
                          std::string(kDropLockKey) + ")");
  json remaining = d.remaining();
  if (!run.ok()) remaining.push_back("role " + a.role + ": " + run.message());
  if (!remaining.empty() || !d.dropped()) {
    if (!d.dropped()) {
      remaining.push_back("role " + a.role + ": still exists (NOLOGIN)");
    }
    return Reply::Partial("drop_role " + a.role +
                              ": not every step completed; the role can no "
                              "longer log in",
                          remaining);
  }
  json state = {{"role", a.role},           {"exists", false},
                {"successor", a.successor}, {"login_revoked", nologin},
                {"terminated", *ended},     {"reassigned", databases}};
  return Reply::Ok({{"changed", true}, {"state", state}});
}

Result<json> VerifyDrop(Session& s, const PgAction& a) {
  ASSIGN_OR_RETURN(auto role, LookupRole(s.conn(), a.role));
  json checks = json::array();
  json observed = AbsentState(a.role);
  checks.push_back(CheckJson("role_absent", !role.has_value(),
                             role ? "still in pg_roles" : "not in pg_roles"));
  std::int64_t rows = 0;
  if (role) {
    RETURN_IF_ERROR(Refuse(*role, s.self(), "action.resource"));
    ASSIGN_OR_RETURN(observed, RoleState(s, *role));
    ASSIGN_OR_RETURN(rows, MembershipRows(s.conn(), role->oid));
  } else {
    ASSIGN_OR_RETURN(rows, DanglingMembershipRows(s.conn()));
  }
  checks.push_back(CheckJson("no_memberships", rows == 0,
                             std::to_string(rows) + " pg_auth_members rows"));
  ASSIGN_OR_RETURN(std::int64_t sessions,
                   SessionsOfNameOrOrphaned(s.conn(), a.role));
  checks.push_back(CheckJson("no_sessions", sessions == 0,
                             std::to_string(sessions) +
                                 " in pg_stat_activity (by name, or of a "
                                 "dropped role)"));
  ASSIGN_OR_RETURN(json login, LoginFailsCheck(s, a.role));
  checks.push_back(login);
  return VerifyJson(checks, observed);
}

// ---- dispatch --------------------------------------------------------------

struct Prepared {
  PgOptions options;
  PgAction action;
};

Result<Prepared> Prepare(const Request& request, const Credential& cred) {
  ASSIGN_OR_RETURN(PgOptions options, PgOptions::Parse(request.target.options));
  RETURN_IF_ERROR(CheckTcpHost(request.target.host));
  if (!request.action) return Status::Invalid("action: required");
  ASSIGN_OR_RETURN(PgAction action, ParseAction(*request.action));
  RETURN_IF_ERROR(RefuseOwnName(action, cred));
  return Prepared{std::move(options), std::move(action)};
}

Reply FromResult(Result<json> r) {
  if (!r.ok()) return Reply::FromStatus(r.status());
  return Reply::Ok(std::move(r).value());
}

}  // namespace

json PostgresModule::Describe() const {
  const json role = {{"type", "role"}, {"rule", "^[a-z_][a-z0-9_]{0,62}$"}};
  json ops = json::array({
      {{"name", "create_role"},
       {"resource", "role"},
       {"params", {{"login", "bool, default true"}}},
       {"ensures",
        "the role exists, without privileged attributes, with "
        "that LOGIN flag"},
       {"checks", {"role_exists", "login_matches", "not_privileged"}}},
      {{"name", "grant_role"},
       {"resource", "role (the group)"},
       {"subject", "role (the member)"},
       {"params", json::object()},
       {"ensures", "a direct membership"},
       {"checks", {"role_exists", "member_exists", "direct_membership"}}},
      {{"name", "revoke_role"},
       {"resource", "role (the group)"},
       {"subject", "role (the member)"},
       {"params", json::object()},
       {"ensures", "no direct membership"},
       {"checks", {"no_direct_membership"}}},
      {{"name", "disable"},
       {"resource", "role"},
       {"params", json::object()},
       {"ensures", "NOLOGIN and no live session"},
       {"checks", {"nologin", "no_sessions", "login_fails"}}},
      {{"name", "rotate_password"},
       {"resource", "role"},
       {"params", {{"recipient", "base64 of a 32-byte X25519 public key"}}},
       {"ensures",
        "a new random password, proven by a login, delivered "
        "only sealed to the recipient"},
       {"checks", {"role_exists", "can_login", "not_expired"}}},
      {{"name", "drop_role"},
       {"resource", "role"},
       {"params", {{"successor", "role that receives the owned objects"}}},
       {"ensures",
        "the role is gone: NOLOGIN, sessions ended, objects "
        "reassigned and privileges dropped in every database, "
        "DROP ROLE"},
       {"checks",
        {"role_absent", "no_memberships", "no_sessions", "login_fails"}}},
  });
  return {{"kind", "postgres"},
          {"operations", ops},
          {"resources", {{"role", role}}},
          {"credential", {{"fields", {"user", "password"}}}},
          {"options",
           {{"database", "string, default \"postgres\""},
            {"sslmode", "required: disable, require or verify-full"},
            {"ca_file", "absolute path, required with verify-full"},
            {"connect_timeout_s", "1 to 300, default 10"}}}};
}

Reply PostgresModule::Read(const Request& request, const Credential& cred) {
  PG_ASSIGN_OR_REPLY(Prepared p, Prepare(request, cred));
  PG_ASSIGN_OR_REPLY(Session s, Session::Open(request, cred, p.options));
  switch (p.action.op) {
    case PgOperation::kCreateRole:
      return FromResult(ReadCreate(s, p.action));
    case PgOperation::kGrantRole:
      return FromResult(ReadGrant(s, p.action, true));
    case PgOperation::kRevokeRole:
      return FromResult(ReadGrant(s, p.action, false));
    case PgOperation::kDisable:
      return FromResult(ReadDisable(s, p.action));
    case PgOperation::kRotatePassword:
      return FromResult(ReadRotate(s, p.action));
    case PgOperation::kDropRole:
      return FromResult(ReadDrop(s, p.action));
  }
  return Reply::Fail(ErrorKind::kInvalid, "unknown operation");
}

Reply PostgresModule::Apply(const Request& request, const Credential& cred) {
  PG_ASSIGN_OR_REPLY(Prepared p, Prepare(request, cred));
  PG_ASSIGN_OR_REPLY(Session s, Session::Open(request, cred, p.options));
  switch (p.action.op) {
    case PgOperation::kCreateRole:
      return ApplyCreate(s, p.action);
    case PgOperation::kGrantRole:
      return ApplyGrant(s, p.action);
    case PgOperation::kRevokeRole:
      return ApplyRevoke(s, p.action);
    case PgOperation::kDisable:
      return ApplyDisable(s, p.action);
    case PgOperation::kRotatePassword:
      return ApplyRotate(s, p.action);
    case PgOperation::kDropRole:
      return ApplyDrop(s, p.action);
  }
  return Reply::Fail(ErrorKind::kInvalid, "unknown operation");
}

Reply PostgresModule::Verify(const Request& request, const Credential& cred) {
  PG_ASSIGN_OR_REPLY(Prepared p, Prepare(request, cred));
  PG_ASSIGN_OR_REPLY(Session s, Session::Open(request, cred, p.options));
  switch (p.action.op) {
    case PgOperation::kCreateRole:
      return FromResult(VerifyCreate(s, p.action));
    case PgOperation::kGrantRole:
      return FromResult(VerifyGrant(s, p.action, true));
    case PgOperation::kRevokeRole:
      return FromResult(VerifyGrant(s, p.action, false));
    case PgOperation::kDisable:
      return FromResult(VerifyDisable(s, p.action));
    case PgOperation::kRotatePassword:
      return FromResult(VerifyRotate(s, p.action));
    case PgOperation::kDropRole:
      return FromResult(VerifyDrop(s, p.action));
  }
  return Reply::Fail(ErrorKind::kInvalid, "unknown operation");
}

Reply PostgresModule::List(const Request& request, const Credential& cred,
                           protocol::RecordWriter& out) {
  PG_ASSIGN_OR_REPLY(PgOptions options,
                     PgOptions::Parse(request.target.options));
  PG_REPLY_IF_ERROR(CheckTcpHost(request.target.host));
  PG_ASSIGN_OR_REPLY(Session s, Session::Open(request, cred, options));
  // Built-in pg_* roles are not accounts: they are skipped as accounts,
  // and memberships in them are listed, marked "builtin".
  PG_ASSIGN_OR_REPLY(auto roles, AllRoles(s.conn()));
  for (const RoleInfo& info : roles) {
    protocol::Record rec;
    rec.type = protocol::Record::Type::kAccount;
    rec.account = info.name;
    rec.attributes = info.Attributes();
    rec.attributes["self"] = info.oid == s.self().oid;
    PG_REPLY_IF_ERROR(out.Write(rec));
  }
  PG_ASSIGN_OR_REPLY(
      PgResult members,
      s.conn().Query("list memberships",
                     "SELECT m.rolname::text, g.rolname::text, a.admin_option "
                     "FROM pg_catalog.pg_auth_members a "
                     "JOIN pg_catalog.pg_roles g ON g.oid = a.roleid "
                     "JOIN pg_catalog.pg_roles m ON m.oid = a.member "
                     "WHERE pg_catalog.left(m.rolname, 3) <> 'pg_' "
                     "ORDER BY 1, 2"));
  for (int i = 0; i < members.rows(); ++i) {
    protocol::Record rec;
    rec.type = protocol::Record::Type::kEntitlement;
    rec.account = members.Text(i, 0);
    rec.entitlement = members.Text(i, 1);
    rec.attributes = {{"admin_option", members.Bool(i, 2)},
                      {"builtin", IsReservedRoleName(rec.entitlement)}};
    PG_REPLY_IF_ERROR(out.Write(rec));
  }
  return Reply::Ok(json::object());
}

}  // namespace deputy::postgres
