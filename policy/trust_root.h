// The trust root: who the owners, auditors and agents are, their keys, and
// how many owners must sign what. A DSSE envelope (payload type
// kTrustRootType) whose payload is strict JSON (docs/scope-manifest.md):
//
//   {"version": 1, "expires": "2027-12-03T00:00:00Z",
//    "owners":   [{"name": "alice", "contact": "alice@example.org",
//                  "keys": ["ed25519 <b64> alice"],
//                  "accounts": ["uid=alice,ou=people,dc=example,dc=org",
//                               "alice"]}],
//    "auditors": [{"name": ..., "contact": ..., "keys": [...]}],
//    "agents":   [{"id": "agent-1", "key": "ed25519 <b64> agent-1",
//                  "owner": "alice", "backup_owner": "bob",
//                  "accounts": ["cn=deputy,ou=services,dc=example,dc=org",
//                               "deputy_svc"]}],
//    "thresholds": {"trust_change": 2, "scope_grant": 2, "revocation": 1}}
//
// "contact" and "accounts" are optional, as are the "auditors" and
// "agents" lists; every other field is required. Names are unique across
// owners, auditors and agents, ignoring case.
//
// The first trust root is accepted only when the SHA-256 of its payload
// equals a digest the operator pinned (`deputy trust pin`), and it must
// carry `trust_change` owner signatures of its own. A new version must be
// strictly higher and carry the trust_change threshold of the old owners
// and of the new ones. Thresholds count distinct owners (a key belongs to
// exactly one principal; the same key twice counts once).
// TrustRoot is immutable after verification; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "keys/dsse.h"
#include "keys/public_key.h"

namespace deputy::policy {

inline constexpr std::string_view kTrustRootType =
    "application/vnd.deputy.trust-root+json";
inline constexpr std::size_t kMaxTrustRootBytes = 256 * 1024;

struct Principal {
  std::string name;
  std::string contact;
  std::vector<keys::PublicKey> keys;
  // Accounts of this person on target systems (DNs, role names): the gate
  // never lets the agent act on them.
  std::vector<std::string> accounts;
};

struct AgentIdentity {
  std::string id;
  keys::PublicKey key;
  std::string owner;                  // Must name an owner.
  std::string backup_owner;           // Must name another owner.
  std::vector<std::string> accounts;  // The agent's own accounts.
};

// Numbers of distinct owners. trust_change and scope_grant lie in
// [1, number of owners]. revocation must be 1: any single owner can stop
// the agent, so a revocation never waits for a quorum.
struct Thresholds {
  int trust_change = 0;
  int scope_grant = 0;
  int revocation = 1;
};

// Parses "2027-12-03T00:00:00Z" (UTC, whole seconds, years 1970-9999, no
// leap second) to microseconds since the Unix epoch. Nothing else is
// accepted: no fraction, no offset, no lower-case 't' or 'z'.
Result<std::int64_t> ParseRfc3339Seconds(std::string_view text);
// The inverse, truncating to whole seconds (towards the past).
std::string FormatRfc3339Seconds(std::int64_t micros);

// Names of owners, auditors and agents: 1-64 of [A-Za-z0-9._@-].
Status ValidatePrincipalName(std::string_view name);
// True for exactly 64 lower-case hex digits (a SHA-256 digest as text).
bool IsSha256Hex(std::string_view text);

class TrustRoot {
 public:
  // Parses and checks the payload (schema, names unique, every key
  // belongs to one principal, agent owners exist, 1 <= thresholds <=
  // number of owners). No signature check: for `trust init` and `show`.
  static Result<TrustRoot> ParsePayload(std::string_view payload);

  // The first root: payload digest must equal `pinned_sha256_hex`; the
  // threshold of its own owners must have signed; not expired at `now`.
  static Result<TrustRoot> VerifyPinned(const keys::Envelope& envelope,
                                        std::string_view pinned_sha256_hex,
                                        std::int64_t now_micros);
  // A rotation from `current`: higher version, trust_change threshold of
  // the current owners and of the new owners, the new root not expired at
  // `now` (an expired current root may still be rotated by its owners:
  // that is how a frozen deployment recovers).
  static Result<TrustRoot> VerifyUpdate(const TrustRoot& current,
                                        const keys::Envelope& envelope,
                                        std::int64_t now_micros);

  std::int64_t version() const { return version_; }
  std::int64_t expires() const { return expires_; }
  const std::vector<Principal>& owners() const { return owners_; }
  const std::vector<Principal>& auditors() const { return auditors_; }
  const std::vector<AgentIdentity>& agents() const { return agents_; }
  const Thresholds& thresholds() const { return thresholds_; }
  const std::string& payload() const { return payload_; }
  // Lower-case hex SHA-256 of the payload bytes (what `trust pin` pins).
  const std::string& digest() const { return digest_; }

  const AgentIdentity* FindAgent(std::string_view id) const;
  const Principal* FindOwner(std::string_view name) const;
  // The owner whose key this is, or nullptr.
  const Principal* OwnerOfKey(const keys::PublicKey& key) const;
  // Every owner key, for verifying owner-signed documents.
  keys::Keyring OwnerKeyring() const;
  // Number of distinct owners among `signers`.
  int CountOwners(const std::vector<keys::PublicKey>& signers) const;

 private:
  TrustRoot() = default;
  std::int64_t version_ = 0;
  std::int64_t expires_ = 0;
  std::vector<Principal> owners_;
  std::vector<Principal> auditors_;
  std::vector<AgentIdentity> agents_;
  Thresholds thresholds_;
  std::string payload_;
  std::string digest_;
};

}  // namespace deputy::policy
