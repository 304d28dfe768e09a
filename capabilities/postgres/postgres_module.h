// The PostgreSQL capability module (docs/module-postgres.md): role
// lifecycle on one PostgreSQL server through libpq, as the module
// protocol's read/apply/verify/list for the operations create_role,
// grant_role, revoke_role, disable, rotate_password and drop_role.
//
// One request per process: each handler opens its own connection(s) with
// the credential from fd 3 and closes them before returning. The module
// refuses (denied) to act on superusers, on pg_* roles and on its own
// login role, behind the gate that should already have refused. Not
// thread-safe (one request per process, like the protocol).
#pragma once

#include <nlohmann/json.hpp>

#include "capabilities/protocol/module_main.h"

namespace deputy::postgres {

class PostgresModule : public protocol::Module {
 public:
  nlohmann::json Describe() const override;
  protocol::Reply Read(const protocol::Request& request,
                       const protocol::Credential& cred) override;
  protocol::Reply Apply(const protocol::Request& request,
                        const protocol::Credential& cred) override;
  protocol::Reply Verify(const protocol::Request& request,
                         const protocol::Credential& cred) override;
  protocol::Reply List(const protocol::Request& request,
                       const protocol::Credential& cred,
                       protocol::RecordWriter& out) override;
};

}  // namespace deputy::postgres
