// The LDAP module's inputs, checked before any byte goes to the server:
// target.options, the target address, and the action (operation, DNs,
// parameters). Everything a request names is parsed and normalised here
// (RFC 4514 DNs through base/dn.h) and must lie under the configured base;
// a request that fails a check never reaches the network.
//
// Pure functions over values; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/dn.h"
#include "base/encoding.h"
#include "base/status.h"
#include "capabilities/protocol/protocol.h"

namespace deputy::ldap {

enum class Tls { kNone, kStartTls, kLdaps };

// target.options (docs/module-ldap.md). Unknown options are invalid.
struct Options {
  Dn base;    // base_dn: required; every DN the module touches lies below.
  Dn people;  // Accounts: default ou=people,<base_dn>.
  Dn groups;  // Groups a member may be added to: default ou=groups,<base_dn>.
  Tls tls = Tls::kNone;  // tls: required, "none", "starttls" or "ldaps".
  std::string ca_file;   // ca_file: absolute path, only with TLS.
  int timeout_ms = 10000;

  static Result<Options> Parse(const nlohmann::json& options);
};

// "ldap://host:port" (or "ldaps://"): the host must be a DNS name or an
// IPv4 literal (an IPv6 literal is bracketed), never anything a URL parser
// could read as a path, a query or user information.
Result<std::string> ServerUri(const protocol::Target& target, Tls tls);

enum class Operation {
  kCreateAccount,
  kDisable,
  kDelete,
  kAddMember,
  kRemoveMember,
  kResetCredential,
};
inline constexpr Operation kOperations[] = {
    Operation::kCreateAccount, Operation::kDisable,
    Operation::kDelete,        Operation::kAddMember,
    Operation::kRemoveMember,  Operation::kResetCredential};
std::string_view OperationName(Operation op);
Result<Operation> ParseOperation(std::string_view name);
// Account operations act on the resource itself (an account); the others
// change a group's membership (resource = group, subject = account).
bool IsAccountOperation(Operation op);

// create_account's params.
struct NewAccount {
  std::string given_name;
  std::string surname;
  std::string mail;        // "" when not given.
  std::string department;  // "" when not given.
  std::optional<std::int64_t> uid_number;
  std::optional<std::int64_t> gid_number;
};

// reset_credential's params.
struct Rotation {
  Bytes recipient;  // The X25519 public key the new secret is sealed to.
  // params.not_before (RFC 3339), in Unix seconds: verify then also checks
  // that the password changed at or after it.
  std::optional<std::int64_t> not_before;
};

// An action that passed every check that needs no server.
struct CheckedAction {
  Operation op = Operation::kDisable;
  Dn resource;  // The account (account operations) or the group.
  Dn account;   // The account concerned: the resource, or the subject.
  NewAccount new_account;  // create_account only.
  Rotation rotation;       // reset_credential only.
};

// Checks `action` against the options and the identity the module binds as
// (`bound`): a known operation; resource and subject valid, plain-ASCII
// DNs (Dn::IsPlainAscii) strictly under base_dn; accounts under `people`
// (a new one directly under it, named uid=<portable user name>); groups to
// add to under `groups`; the parameters the operation takes and no
// others. Acting on the bound identity, or on an entry above it, is
// PermissionDenied; everything else that fails is InvalidArgument. Error
// messages never echo raw input bytes (control characters are escaped and
// long values cut).
Result<CheckedAction> CheckAction(const Options& options,
                                  const protocol::Action& action,
                                  const Dn& bound);

// `s` fit for an error message: at most `max` bytes, control bytes and
// bytes >= 0x7f written as \xNN.
std::string Printable(std::string_view s, std::size_t max = 96);

}  // namespace deputy::ldap
