// The LDAP capability module (docs/module-ldap.md): accounts and group
// memberships in an LDAP directory (OpenLDAP and compatible), through
// libldap, one request per process.
//
// Operations: create_account, disable, delete, add_member, remove_member,
// reset_credential; read, apply (ensure semantics), verify (read back with
// named checks) and list. Every DN is parsed and normalised (base/dn.h) and
// must lie under the configured base; every filter value is escaped
// (RFC 4515); a unique lookup that finds several entries aborts before any
// write. The module refuses to act on the identity it is bound as.
//
// Not thread-safe; one instance per process run.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/dn.h"
#include "base/status.h"
#include "capabilities/protocol/module_main.h"

namespace deputy::ldapmod {

// target.options, validated.
struct Options {
  Dn base;
  Dn people;
  Dn groups;
  std::string tls = "none";  // none, starttls, ldaps.
  std::string ca_file;
  int timeout_ms = 10000;

  static Result<Options> Parse(const nlohmann::json& options);
};

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

// Exposed for unit tests: the checks a request must pass before the module
// talks to the server (operation known, DNs valid and under the base, the
// parameters each operation needs).
struct Checked {
  std::string operation;
  Dn resource;
  std::optional<Dn> subject;
  nlohmann::json params;
};
Result<Checked> CheckAction(const Options& options,
                            const protocol::Action& action);

}  // namespace deputy::ldapmod
