// Tickets: the work deputy is asked to do (docs/tickets.md).
//
//   {"id": "CHG-1001", "revision": 1, "type": "leaver",
//    "requester": "carol.hr",
//    "subject": {"uid": "dave.leaver", "given_name": "Dave",
//                "surname": "Leaver", "department": "finance"},
//    "entitlements": [{"target": "ldap",
//                      "group": "cn=vpn-users,ou=groups,dc=example,dc=org"},
//                     {"target": "postgres", "role": "app_reporting"}],
//    "justification": "last day 2026-11-30",
//    "recipient": "<base64 X25519 public key>"}
//
// Types: joiner (create the accounts, add the department's groups and
// roles and any listed entitlement), mover (subject.department is the new
// department: its groups and roles are added, other departments' removed),
// leaver (every account disabled, every membership removed, sessions
// ended, then deleted after the configured grace), grant and revoke (the
// listed entitlements), rotate (new credentials, sealed to `recipient`).
//
// Parsing is strict (duplicate keys, unknown fields, wrong types are
// errors naming the path) and checks names against deputy's own rules
// before any target sees them: a uid is 1-64 of [a-z0-9._-] starting with
// a letter. Ticket is an immutable value; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace deputy::agent {

inline constexpr std::size_t kMaxTicketBytes = 64 * 1024;

enum class TicketType { kJoiner, kMover, kLeaver, kGrant, kRevoke, kRotate };
std::string_view TicketTypeName(TicketType type);
Result<TicketType> ParseTicketType(std::string_view name);

struct Subject {
  std::string uid;
  std::string given_name;  // Required for joiners.
  std::string surname;     // Required for joiners.
  std::string department;  // Required for joiners and movers.
  std::string mail;        // Optional.
};

// One entitlement on one target: an LDAP group (a DN) or a PostgreSQL role.
struct Entitlement {
  std::string target;
  std::string kind;  // "group" or "role".
  std::string name;
};

struct Ticket {
  std::string id;  // 1-64 of [A-Za-z0-9._-].
  std::int64_t revision = 1;
  TicketType type = TicketType::kGrant;
  std::string requester;
  Subject subject;
  std::vector<Entitlement> entitlements;
  std::string justification;
  std::string recipient;  // Base64 X25519 public key (rotate).
  std::string sha256;     // Of the exact bytes received.

  // Strict parse of the bytes of one ticket file.
  static Result<Ticket> Parse(std::string_view bytes);
  // The ticket as recorded in the evidence log (no secrets in tickets).
  nlohmann::json ToJson() const;
  // "CHG-1001@1": the unit of deduplication.
  std::string Key() const { return id + "@" + std::to_string(revision); }
};

// deputy's own name rules, shared by the planner.
Status ValidateTicketId(std::string_view id);
Status ValidateUid(std::string_view uid);

}  // namespace deputy::agent
