// Revocations, approvals, and the policy state that must survive
// restarts.
//
// A revocation (payload type kRevocationType) is signed by any single
// owner: {"agent": "agent-1", "scope_version": 3} revokes that version,
// {"agent": "agent-1", "scope_version": "all"} every version up to and
// including the highest accepted so far, plus "reason" and "issued"
// (RFC 3339). An approval (kApprovalType) is an owner's signature over the
// SHA-256 digest of one exact action: {"action_digest": "<hex>",
// "approver": "alice", "ticket": "T-1", "expires": "..."}; it is valid
// once, before it expires, only if the approver is an owner and is not the
// ticket's requester.
//
// PolicyState persists the scope high-water mark (a rollback is refused
// across restarts), the revoked versions and the used approvals, in one
// JSON file written atomically. Not thread-safe: one owner (the agent's
// policy thread) mutates it.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "base/status.h"
#include "keys/dsse.h"
#include "policy/trust_root.h"

namespace deputy::policy {

inline constexpr std::string_view kRevocationType =
    "application/vnd.deputy.revocation+json";
inline constexpr std::string_view kApprovalType =
    "application/vnd.deputy.approval+json";

struct Revocation {
  std::string agent;
  bool all = false;
  std::int64_t scope_version = 0;  // When !all.
  std::string reason;
  std::int64_t issued = 0;
  std::string signed_by;  // Owner name.

  // Verifies one owner's signature (the revocation threshold, normally 1).
  static Result<Revocation> Verify(const keys::Envelope& envelope,
                                   const TrustRoot& trust);
};

struct Approval {
  std::string action_digest;  // Hex SHA-256 of the canonical action.
  std::string approver;       // Owner name (checked against the signer).
  std::string ticket;
  std::int64_t expires = 0;
  std::string envelope_digest;  // Hex SHA-256 of the payload: its identity.

  // Verifies the signature of an owner whose name is `approver`.
  static Result<Approval> Verify(const keys::Envelope& envelope,
                                 const TrustRoot& trust);
};

class PolicyState {
 public:
  // Loads the state file, or an empty state when it does not exist. A
  // file that exists but does not parse is DataLoss: the high-water mark
  // is never silently reset.
  static Result<PolicyState> Load(const std::string& path);

  std::int64_t highest_scope_version() const { return highest_; }
  bool IsRevoked(std::int64_t scope_version) const;
  bool ApprovalUsed(std::string_view envelope_digest) const;

  // Each mutation is written to disk (atomically, fsync'd) before it
  // returns; on error the in-memory state is unchanged.
  //
  // Refuses a version at or below the high-water mark (rollback) and a
  // revoked version.
  Status RecordScopeAccepted(std::int64_t version);
  // The caller has checked that the revocation names this agent.
  Status RecordRevocation(const Revocation& revocation);
  // AlreadyExists when the approval was used before.
  Status RecordApprovalUsed(std::string_view envelope_digest);

 private:
  explicit PolicyState(std::string path) : path_(std::move(path)) {}
  Status Save(std::int64_t highest, const std::set<std::int64_t>& revoked,
              std::int64_t revoked_all_upto,
              const std::set<std::string>& used) const;

  std::string path_;
  std::int64_t highest_ = 0;
  std::set<std::int64_t> revoked_;
  std::int64_t revoked_all_upto_ = 0;  // Versions <= this are revoked.
  std::set<std::string> used_approvals_;
};

}  // namespace deputy::policy
