// The LDAP capability module (docs/module-ldap.md): accounts and group
// memberships in an OpenLDAP (or compatible) directory through libldap,
// one request per process run.
//
// Operations: create_account, disable, delete, add_member, remove_member,
// reset_credential; for each, `read` (what an apply would change),
// `apply` (ensure semantics) and `verify` (named checks read back from the
// server); and `list` (every account and membership). Every request is
// checked before the module connects (options.h: DNs parsed, normalised
// and under the base; parameters typed); filter values are escaped
// (RFC 4515); a unique lookup that finds several entries aborts before
// any write; the module refuses to act on the identity it is bound as.
//
// Not thread-safe; one instance per process run.
#pragma once

#include <nlohmann/json.hpp>

#include "capabilities/protocol/module_main.h"

namespace deputy::ldap {

class LdapModule final : public protocol::Module {
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

}  // namespace deputy::ldap
