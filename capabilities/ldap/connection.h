// One LDAP connection through libldap, with every client option set in
// code: protocol v3, no referral chasing, no alias dereferencing, network
// and operation timeouts, TLS settings (certificate required, TLS 1.2 at
// least, the configured CA file). libldap's configuration files and
// environment are ignored (LDAPNOINIT), so nothing in ldap.conf, ldaprc or
// the environment can change how the module talks to its target.
//
// Errors are Status values whose code follows the LDAP result code
// (LdapStatus). A Connection owns its libldap handle; it is not
// thread-safe (one per module run).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "capabilities/ldap/options.h"

// libldap's handle (LDAP) and modification (LDAPMod), kept out of this
// header.
struct ldap;
struct ldapmod;

namespace deputy::ldap {

// An entry as read: its DN as the server spells it and its attributes
// (types in lower case).
struct Entry {
  std::string dn;
  std::map<std::string, std::vector<std::string>> attrs;

  const std::vector<std::string>& Get(const std::string& lower_type) const;
  std::string First(const std::string& lower_type) const;
  bool HasClass(std::string_view lower_class) const;
};

// A list of modifications that owns the storage libldap's arrays point at.
class Mods {
 public:
  enum class Op { kAdd, kDelete, kReplace };
  Mods();
  Mods(Mods&&) noexcept;
  Mods& operator=(Mods&&) noexcept;
  ~Mods();
  // kDelete with no values deletes the attribute.
  void Add(Op op, std::string type, std::vector<std::string> values);
  bool empty() const { return mods_.empty(); }
  // Owned by this object; valid until it changes or dies.
  ::ldapmod** Array();

  // The modifications as added, for tests and messages.
  struct Change {
    Op op;
    std::string type;
    std::vector<std::string> values;
    friend bool operator==(const Change&, const Change&) = default;
  };
  std::vector<Change> changes() const;

 private:
  struct Mod;
  std::vector<std::unique_ptr<Mod>> mods_;  // Stable addresses.
  std::vector<::ldapmod*> array_;
};

struct ConnectSettings {
  std::string uri;  // ServerUri().
  Tls tls = Tls::kNone;
  std::string ca_file;
  int timeout_ms = 10000;
};

// What a simple bind said.
struct BindAttempt {
  int rc = -1;          // The LDAP result code; -1 when none arrived.
  bool locked = false;  // The password policy response said accountLocked.
  std::string detail;   // For a verify check's detail.
};

enum class Scope { kOneLevel, kSubtree };

// Maps an LDAP result code to a Status: no such object -> NotFound;
// insufficient access, invalid credentials, unwilling to perform and the
// other authentication refusals -> PermissionDenied (protocol: denied);
// server down, timeouts, busy, unavailable -> Unavailable (transient);
// entry exists, not a leaf, schema and value conflicts -> FailedPrecondition
// (conflict); everything else, including filter, syntax and protocol
// errors -> InvalidArgument. The message names `what`, the code and the
// server's diagnostic text (cut, control characters escaped).
Status LdapStatus(int rc, std::string_view what,
                  std::string_view diagnostic = {});

class Connection {
 public:
  // Connects, runs StartTLS if configured, and binds as `dn` (simple bind).
  static Result<std::unique_ptr<Connection>> Open(
      const ConnectSettings& settings, const std::string& dn,
      std::string_view password);
  // A simple bind as `dn` on a connection of its own, with the password
  // policy request control; never an error, only an outcome.
  static BindAttempt TryBind(const ConnectSettings& settings,
                             const std::string& dn, std::string_view password);

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // The entry at `dn` if it exists and matches `filter` (base scope), else
  // nullopt. Any other failure is an error, never "absent".
  Result<std::optional<Entry>> Read(const std::string& dn,
                                    const std::string& filter,
                                    const std::vector<std::string>& attrs);
  // Every entry at or below `base` (kSubtree) or directly below it
  // (kOneLevel) that matches `filter`, fetched page by page (RFC 2696) so
  // no server size limit can cut it short silently. A base that does not
  // exist is NotFound; a continuation reference (part of the tree held
  // elsewhere) is an error, since the result would be incomplete.
  Result<std::vector<Entry>> Search(const std::string& base, Scope scope,
                                    const std::string& filter,
                                    const std::vector<std::string>& attrs);
  Status Modify(const std::string& dn, Mods& mods);
  Status Add(const std::string& dn, Mods& mods);
  Status Delete(const std::string& dn);
  // The Password Modify extended operation (RFC 3062): the server hashes
  // and stores `secret` as the entry's new password.
  Status SetPassword(const std::string& dn, std::string_view secret);

 private:
  explicit Connection(::ldap* ld, int timeout_ms)
      : ld_(ld), timeout_ms_(timeout_ms) {}
  Status Failure(int rc, std::string_view what);

  ::ldap* ld_;
  int timeout_ms_;
};

}  // namespace deputy::ldap
