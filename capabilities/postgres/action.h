// The PostgreSQL module's view of a request's action: which operation, on
// which roles, with which parameters (docs/module-postgres.md).
//
// Everything here is pure: the role-name rule, and the strict parsing of
// an Action's operation, resource, subject and params into a PgAction,
// done before the module connects to anything. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/encoding.h"
#include "base/status.h"
#include "capabilities/protocol/protocol.h"

namespace deputy::postgres {

// The role-name rule: ^[a-z_][a-z0-9_]{0,62}$ (at most 63 bytes, the
// server's NAMEDATALEN - 1). Lower case only, so that a name can never
// differ from another only in case and never needs quoting to mean what
// it says (it is quoted anyway). A name that breaks the rule is Invalid;
// `field` names where it came from ("resource", "params.successor").
Status CheckRoleName(std::string_view name, std::string_view field);

// True for the names PostgreSQL reserves for its built-in roles (pg_*).
bool IsReservedRoleName(std::string_view name);

// A printable, bounded rendering of untrusted text for error messages:
// at most 64 characters, every byte outside printable ASCII as \xNN.
std::string Printable(std::string_view text);

enum class PgOperation {
  kCreateRole,
  kGrantRole,
  kRevokeRole,
  kDisable,
  kRotatePassword,
  kDropRole,
};
std::string_view PgOperationName(PgOperation op);

// One parsed action. `role` is always the resource; the other fields are
// set for the operations that take them.
struct PgAction {
  PgOperation op = PgOperation::kCreateRole;
  std::string role;       // The resource: the role acted on (or the group).
  std::string member;     // grant_role/revoke_role: the subject.
  bool login = true;      // create_role: params.login.
  std::string successor;  // drop_role: params.successor.
  Bytes recipient;        // rotate_password: the 32-byte X25519 public key.

  // Every role name the action touches (role, member, successor).
  std::vector<std::string> Names() const;
};

// Parses and validates an action: known operation; names that pass the
// rule (Invalid) and are not pg_* (PermissionDenied); for grant_role and
// revoke_role a subject that is a different role; for the others a
// subject that is empty or the resource itself; params with exactly the
// operation's fields and types.
Result<PgAction> ParseAction(const protocol::Action& action);

}  // namespace deputy::postgres
