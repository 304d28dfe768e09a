// Catalog reads the PostgreSQL module needs: roles, memberships, live
// sessions, and what a role owns or holds in each database. Every lookup
// takes the role's name or oid as a bind parameter; nothing here builds
// SQL from request data. Functions borrow the connection; not thread-safe
// beyond that.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "capabilities/postgres/pg_conn.h"

namespace deputy::postgres {

struct RoleInfo {
  std::string oid;  // As text, to be passed back as a bind parameter.
  std::string name;
  bool login = false;
  bool superuser = false;
  bool createrole = false;
  bool createdb = false;
  bool replication = false;
  bool bypassrls = false;
  bool inherit = true;
  std::optional<std::string> valid_until;  // ISO 8601 UTC, or "infinity".
  bool expired = false;  // valid_until is in the past (server clock).

  // Attributes that give more than an ordinary account has.
  bool Privileged() const {
    return superuser || createrole || createdb || replication || bypassrls;
  }
  // The attributes as JSON (no name).
  nlohmann::json Attributes() const;
};

// The role named `name`, or nullopt when there is none.
Result<std::optional<RoleInfo>> LookupRole(PgConn& conn, std::string_view name);

// Every role but the built-in pg_* ones, by name.
Result<std::vector<RoleInfo>> AllRoles(PgConn& conn);

// The module's own login role (session_user).
Result<RoleInfo> SessionRole(PgConn& conn);

// The roles `member_oid` is a direct member of, by name.
Result<std::vector<std::string>> DirectMemberships(
    PgConn& conn, const std::string& member_oid);

// The direct grant of `group_oid` to `member_oid`, if any.
struct Membership {
  bool present = false;
  bool admin_option = false;
};
Result<Membership> DirectMembership(PgConn& conn, const std::string& group_oid,
                                    const std::string& member_oid);

// Whether `member_oid` reaches `group_oid` through any chain of grants.
Result<bool> ReachesRole(PgConn& conn, const std::string& member_oid,
                         const std::string& group_oid);

// The roles `group_oid` is, directly or through other grants, a member of,
// with itself: everything a member of `group_oid` could SET ROLE to.
Result<std::vector<RoleInfo>> RoleAndAncestors(PgConn& conn,
                                               const std::string& group_oid);

// pg_auth_members rows naming the role, as role or as member.
Result<std::int64_t> MembershipRows(PgConn& conn, const std::string& oid);
// pg_auth_members rows naming a role that no longer exists.
Result<std::int64_t> DanglingMembershipRows(PgConn& conn);

// Sessions of the role (by oid), other than this one.
Result<std::int64_t> SessionCount(PgConn& conn, const std::string& oid);
// Sessions whose role is `name` or no longer exists: after a DROP ROLE
// a surviving session has no name left to find it by.
Result<std::int64_t> SessionsOfNameOrOrphaned(PgConn& conn,
                                              std::string_view name);

// pg_shdepend rows on the role, per database (oid as text; "0" for shared
// objects such as databases): owned objects, privileges, other.
struct Dependencies {
  std::int64_t owned = 0;
  std::int64_t privileges = 0;
  std::int64_t other = 0;
  std::int64_t total() const { return owned + privileges + other; }
};
Result<std::vector<std::pair<std::string, Dependencies>>>
DependenciesByDatabase(PgConn& conn, const std::string& role_oid);

// Descriptions of what the role still owns or holds in the connection's
// database and in shared catalogs, at most `limit`
// ("schema dave_work (owner)").
Result<std::vector<std::string>> DescribeDependencies(
    PgConn& conn, const std::string& role_oid, int limit);

struct DatabaseInfo {
  std::string oid;
  std::string name;
  bool allow_connections = false;
};
Result<std::vector<DatabaseInfo>> Databases(PgConn& conn);

}  // namespace deputy::postgres
