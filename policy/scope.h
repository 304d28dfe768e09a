// Signed scope manifests: what one agent may do, signed by the
// scope_grant threshold of owners. A DSSE envelope (payload type
// kScopeType) whose payload is strict JSON (docs/scope-manifest.md):
//
//   {"agent": "agent-1", "version": 3,
//    "not_before": "2026-12-01T00:00:00Z", "expires": "2027-03-01T00:00:00Z",
//    "grants": [
//      {"id": "ldap-leavers", "target": "ldap",
//       "operations": ["disable", "remove_member", "delete"],
//       "resources": {"subtree": "ou=people,dc=example,dc=org"},
//       "limits": {"per_hour": 100},            // optional
//       "approval": "none"},                     // or "required"
//      {"id": "pg-app-roles", "target": "postgres",
//       "operations": ["grant_role", "revoke_role"],
//       "resources": {"names": ["app_*"]}, "approval": "required"}],
//    "forbid": [
//      {"id": "no-admins", "target": "*", "operations": ["*"],
//       "resources": {"list": ["uid=root,ou=people,dc=example,dc=org"]}}],
//    "limits": {"actions_per_hour": 500, "deletions_per_day": 50},
//    "windows": [{"days": ["mon","tue","wed","thu","fri"],
//                 "start": "06:00", "end": "20:00"}],   // optional, UTC
//    "successors": {"postgres": "app_archive"}}           // optional
//
// A resource pattern has exactly one of: "subtree" (an LDAP DN; matches
// that entry and everything below it, compared after normalisation; a
// grant may not name the root DN), "names" (globs with * and ?, matched
// case-insensitively; a DN resource is matched by its canonical form, so
// a glob that parses as a DN, or whose part after the first ',' does
// ("*,ou=people,dc=example,dc=org"), is stored canonically), "list" (exact
// values; DNs compared after normalisation, other names
// case-insensitively). Operation names are lower-case identifiers
// ([a-z_]+; a manifest with upper case is refused, not folded); "*" in a
// forbid, alone, means every operation. Targets are [a-z0-9_-]+, or "*" in
// a forbid. Grant and forbid ids share one namespace. "approval" is
// required in every grant. Unknown fields, duplicate keys and wrong types
// are errors naming the path.
//
// ScopeManifest is immutable once verified; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/dn.h"
#include "base/status.h"
#include "keys/dsse.h"
#include "policy/trust_root.h"

namespace deputy::policy {

inline constexpr std::string_view kScopeType =
    "application/vnd.deputy.scope+json";
inline constexpr std::size_t kMaxScopeBytes = 1 << 20;

struct ResourcePattern {
  enum class Kind { kSubtree, kNames, kList };
  Kind kind = Kind::kList;
  std::optional<Dn> subtree;        // kSubtree.
  std::vector<std::string> globs;   // kNames, lower-cased.
  std::vector<std::string> values;  // kList: canonical DN or lower-cased.
};

struct Grant {
  std::string id;
  std::string target;
  std::vector<std::string> operations;  // Lower-case.
  ResourcePattern resources;
  std::optional<std::int64_t> per_hour;
  bool needs_approval = false;
};

struct Forbid {
  std::string id;
  std::string target;                   // "*" for any.
  std::vector<std::string> operations;  // "*" for any.
  ResourcePattern resources;
};

// In the manifest: {"days": ["mon", ...], "start": "HH:MM", "end": "HH:MM"}
// with start and end in 00:00-23:59, "24:00" allowed as an end only, and
// start != end. An overnight window (end below start) opens on each
// listed day at `start` and closes at `end` on the following day.
struct TimeWindow {
  std::uint8_t days = 0;  // Bit 0 = Monday ... bit 6 = Sunday.
  int start_minute = 0;   // Minutes after 00:00 UTC, inclusive.
  int end_minute = 0;     // Exclusive (1440 for "24:00"); may be below
                          // start (overnight).

  // True when the instant `micros` (since the epoch, UTC) lies inside.
  bool Contains(std::int64_t micros) const;
};

class ScopeManifest {
 public:
  // Parses and checks the payload's schema (no signatures).
  static Result<ScopeManifest> ParsePayload(std::string_view payload);

  // Full acceptance: payload type, signed by the trust root's
  // scope_grant threshold of distinct owners, for `agent_id` (which the
  // trust root must list), version strictly above `highest_accepted` (the
  // persisted high-water mark, 0 when none), now within [not_before,
  // expires) and the trust root itself not expired at now. Revoked
  // versions are the caller's check (PolicyState::IsRevoked).
  static Result<ScopeManifest> Verify(const keys::Envelope& envelope,
                                      const TrustRoot& trust,
                                      std::string_view agent_id,
                                      std::int64_t highest_accepted,
                                      std::int64_t now_micros);

  const std::string& agent() const { return agent_; }
  std::int64_t version() const { return version_; }
  std::int64_t not_before() const { return not_before_; }
  std::int64_t expires() const { return expires_; }
  const std::vector<Grant>& grants() const { return grants_; }
  const std::vector<Forbid>& forbids() const { return forbids_; }
  std::optional<std::int64_t> actions_per_hour() const {
    return actions_per_hour_;
  }
  std::optional<std::int64_t> deletions_per_day() const {
    return deletions_per_day_;
  }
  const std::vector<TimeWindow>& windows() const { return windows_; }
  // Target -> the role that takes over a dropped role's objects (REASSIGN
  // OWNED): owners sign who inherits, not the operator.
  const std::map<std::string, std::string>& successors() const {
    return successors_;
  }
  const std::string& payload() const { return payload_; }
  const std::string& digest() const { return digest_; }  // Hex SHA-256.
  // Names of the owners whose signatures were counted (after Verify).
  const std::vector<std::string>& signed_by() const { return signed_by_; }

 private:
  ScopeManifest() = default;
  std::string agent_;
  std::int64_t version_ = 0;
  std::int64_t not_before_ = 0;
  std::int64_t expires_ = 0;
  std::vector<Grant> grants_;
  std::vector<Forbid> forbids_;
  std::optional<std::int64_t> actions_per_hour_;
  std::optional<std::int64_t> deletions_per_day_;
  std::vector<TimeWindow> windows_;
  std::map<std::string, std::string> successors_;
  std::string payload_;
  std::string digest_;
  std::vector<std::string> signed_by_;
};

// True when `resource` matches `pattern`. `resource` is a DN when it
// parses as one with at least one RDN; otherwise a plain name.
bool MatchesResource(const ResourcePattern& pattern, std::string_view resource);

}  // namespace deputy::policy
