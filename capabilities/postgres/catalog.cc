#include "capabilities/postgres/catalog.h"

#include <utility>

namespace deputy::postgres {
namespace {

// The columns of a RoleInfo, in order, for every query that reads roles.
// valid_until is rendered in UTC whatever the session's DateStyle.
constexpr const char* kRoleColumns =
    "r.oid::text, r.rolname::text, r.rolcanlogin, r.rolsuper, "
    "r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls, "
    "r.rolinherit, "
    "CASE WHEN r.rolvaliduntil IS NULL THEN NULL "
    "WHEN r.rolvaliduntil = 'infinity' THEN 'infinity' "
    "ELSE pg_catalog.to_char(r.rolvaliduntil AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END, "
    "COALESCE(r.rolvaliduntil <= pg_catalog.now(), false)";

RoleInfo RoleFromRow(const PgResult& r, int row) {
  RoleInfo i;
  i.oid = r.Text(row, 0);
  i.name = r.Text(row, 1);
  i.login = r.Bool(row, 2);
  i.superuser = r.Bool(row, 3);
  i.createrole = r.Bool(row, 4);
  i.createdb = r.Bool(row, 5);
  i.replication = r.Bool(row, 6);
  i.bypassrls = r.Bool(row, 7);
  i.inherit = r.Bool(row, 8);
  if (!r.IsNull(row, 9)) i.valid_until = r.Text(row, 9);
  i.expired = r.Bool(row, 10);
  return i;
}

constexpr const char* kRoleDependency =
    "s.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass "
    "AND s.refobjid = $1::pg_catalog.oid";

}  // namespace

nlohmann::json RoleInfo::Attributes() const {
  return {{"login", login},
          {"disabled", !login},
          {"superuser", superuser},
          {"createrole", createrole},
          {"createdb", createdb},
          {"replication", replication},
          {"bypassrls", bypassrls},
          {"inherit", inherit},
          {"valid_until", valid_until ? nlohmann::json(*valid_until)
                                      : nlohmann::json(nullptr)},
          {"expired", expired}};
}

Result<std::optional<RoleInfo>> LookupRole(PgConn& conn,
                                           std::string_view name) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Query("look up role",
                              std::string("SELECT ") + kRoleColumns +
                                  " FROM pg_catalog.pg_roles r "
                                  "WHERE r.rolname = $1",
                              {std::string(name)}));
  if (r.rows() == 0) return std::optional<RoleInfo>();
  return std::optional<RoleInfo>(RoleFromRow(r, 0));
}

Result<std::vector<RoleInfo>> AllRoles(PgConn& conn) {
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Query("list roles", std::string("SELECT ") + kRoleColumns +
                                   " FROM pg_catalog.pg_roles r "
                                   "WHERE pg_catalog.left(r.rolname, 3) <> "
                                   "'pg_' ORDER BY 2"));
  std::vector<RoleInfo> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(RoleFromRow(r, i));
  return out;
}

Result<RoleInfo> SessionRole(PgConn& conn) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Query("look up the module's own role",
                              std::string("SELECT ") + kRoleColumns +
                                  " FROM pg_catalog.pg_roles r "
                                  "WHERE r.rolname = session_user"));
  if (r.rows() != 1) {
    return Status::Internal("the session's own role is not in pg_roles");
  }
  return RoleFromRow(r, 0);
}

Result<std::vector<std::string>> DirectMemberships(
    PgConn& conn, const std::string& member_oid) {
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Query("list memberships",
                 "SELECT g.rolname::text FROM pg_catalog.pg_auth_members m "
                 "JOIN pg_catalog.pg_roles g ON g.oid = m.roleid "
                 "WHERE m.member = $1::pg_catalog.oid ORDER BY 1",
                 {member_oid}));
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.Text(i, 0));
  return out;
}

Result<Membership> DirectMembership(PgConn& conn, const std::string& group_oid,
                                    const std::string& member_oid) {
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Query("look up membership",
                 "SELECT m.admin_option FROM pg_catalog.pg_auth_members m "
                 "WHERE m.roleid = $1::pg_catalog.oid "
                 "AND m.member = $2::pg_catalog.oid",
                 {group_oid, member_oid}));
  Membership m;
  if (r.rows() > 0) {
    m.present = true;
    m.admin_option = r.Bool(0, 0);
  }
  return m;
}

Result<bool> ReachesRole(PgConn& conn, const std::string& member_oid,
                         const std::string& group_oid) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Query("check indirect membership",
                              "SELECT pg_catalog.pg_has_role("
                              "$1::pg_catalog.oid, $2::pg_catalog.oid, "
                              "'MEMBER')",
                              {member_oid, group_oid}));
  return r.rows() == 1 && r.Bool(0, 0);
}

Result<std::vector<RoleInfo>> RoleAndAncestors(PgConn& conn,
                                               const std::string& group_oid) {
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Query("list the roles a membership reaches",
                 std::string("WITH RECURSIVE up(oid) AS ("
                             " SELECT $1::pg_catalog.oid"
                             " UNION"
                             " SELECT m.roleid FROM pg_catalog.pg_auth_members "
                             "m JOIN up ON m.member = up.oid) "
                             "SELECT ") +
                     kRoleColumns +
                     " FROM up JOIN pg_catalog.pg_roles r ON r.oid = up.oid "
                     "ORDER BY 2",
                 {group_oid}));
  std::vector<RoleInfo> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(RoleFromRow(r, i));
  return out;
}

Result<std::int64_t> MembershipRows(PgConn& conn, const std::string& oid) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Query("count memberships",
                              "SELECT count(*) FROM pg_catalog.pg_auth_members "
                              "m WHERE m.roleid = $1::pg_catalog.oid "
                              "OR m.member = $1::pg_catalog.oid",
                              {oid}));
  return r.Int(0, 0);
}

Result<std::int64_t> DanglingMembershipRows(PgConn& conn) {
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Query("count dangling memberships",
                 "SELECT count(*) FROM pg_catalog.pg_auth_members m "
                 "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r "
                 "WHERE r.oid = m.roleid) "
                 "OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r "
                 "WHERE r.oid = m.member)"));
  return r.Int(0, 0);
}

Result<std::int64_t> SessionCount(PgConn& conn, const std::string& oid) {
  ASSIGN_OR_RETURN(
      PgResult r, conn.Query("count sessions",
                             "SELECT count(*) FROM pg_catalog.pg_stat_activity "
                             "a WHERE a.usesysid = $1::pg_catalog.oid "
                             "AND a.pid <> pg_catalog.pg_backend_pid()",
                             {oid}));
  return r.Int(0, 0);
}

Result<std::int64_t> SessionsOfNameOrOrphaned(PgConn& conn,
                                              std::string_view name) {
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Query("count sessions",
                 "SELECT count(*) FROM pg_catalog.pg_stat_activity a "
                 "WHERE a.pid <> pg_catalog.pg_backend_pid() AND ("
                 "a.usename = $1 OR (a.usesysid IS NOT NULL AND NOT EXISTS ("
                 "SELECT 1 FROM pg_catalog.pg_roles r "
                 "WHERE r.oid = a.usesysid)))",
                 {std::string(name)}));
  return r.Int(0, 0);
}

Result<std::vector<std::pair<std::string, Dependencies>>>
DependenciesByDatabase(PgConn& conn, const std::string& role_oid) {
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Query("list what the role owns",
                 std::string("SELECT s.dbid::text, "
                             "count(*) FILTER (WHERE s.deptype = 'o'), "
                             "count(*) FILTER (WHERE s.deptype = 'a'), "
                             "count(*) FILTER (WHERE s.deptype NOT IN "
                             "('o', 'a')) "
                             "FROM pg_catalog.pg_shdepend s WHERE ") +
                     kRoleDependency + " GROUP BY s.dbid ORDER BY 1",
                 {role_oid}));
  std::vector<std::pair<std::string, Dependencies>> out;
  for (int i = 0; i < r.rows(); ++i) {
    Dependencies d;
    d.owned = r.Int(i, 1);
    d.privileges = r.Int(i, 2);
    d.other = r.Int(i, 3);
    out.emplace_back(r.Text(i, 0), d);
  }
  return out;
}

Result<std::vector<std::string>> DescribeDependencies(
    PgConn& conn, const std::string& role_oid, int limit) {
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Query(
          "describe what the role owns",
          std::string("SELECT pg_catalog.pg_describe_object(s.classid, "
                      "s.objid, s.objsubid) || CASE s.deptype "
                      "WHEN 'o' THEN ' (owner)' WHEN 'a' THEN ' (privileges)' "
                      "ELSE ' (' || s.deptype::text || ')' END "
                      "FROM pg_catalog.pg_shdepend s WHERE ") +
              kRoleDependency +
              " AND s.dbid IN (0, (SELECT d.oid FROM pg_catalog.pg_database d "
              "WHERE d.datname = pg_catalog.current_database())) "
              "ORDER BY 1 LIMIT $2::int",
          {role_oid, std::to_string(limit)}));
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.Text(i, 0));
  return out;
}

Result<std::vector<DatabaseInfo>> Databases(PgConn& conn) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Query("list databases",
                              "SELECT d.oid::text, d.datname::text, "
                              "d.datallowconn FROM pg_catalog.pg_database d "
                              "ORDER BY 2"));
  std::vector<DatabaseInfo> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({r.Text(i, 0), r.Text(i, 1), r.Bool(i, 2)});
  }
  return out;
}

}  // namespace deputy::postgres
