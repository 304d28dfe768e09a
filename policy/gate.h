// The policy gate: Decide(action, context) -> Decision, pure and
// deterministic. The time and the usage counters are inputs; nothing is
// read from a clock, a file or the network inside. Deny by default; a
// forbid beats any grant; built-in invariants that no manifest can lift
// keep the agent off its own identity and accounts, its owners' accounts,
// and the trust root and keys (target "deputy"). Operation names and DNs
// are normalised before matching. Any internal error is a deny.
//
// A Gate is built once per (trust root, scope manifest) pair and is
// immutable: it indexes the forbid and grant patterns so a decision costs
// a few hash lookups, not a scan. Decide() is const and thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "policy/revocation.h"
#include "policy/scope.h"
#include "policy/trust_root.h"

namespace deputy::policy {

// One action the executor proposes.
struct Action {
  std::string target;     // "ldap", "postgres".
  std::string operation;  // "remove_member"; any letter case.
  std::string resource;   // The object acted on: a DN or a name.
  std::string subject;    // The identity whose access changes (a member's
                          // DN, a role's grantee); may equal resource or be
                          // empty.
  std::string task;       // The ticket id.
  std::string requester;  // Who asked for it (never its approver).

  nlohmann::json ToJson() const;
  static Result<Action> FromJson(const nlohmann::json& json);
  // Lower-case hex SHA-256 of ToJson().dump(): what an approval signs.
  std::string Digest() const;
};

// Usage so far, rebuilt from the evidence log by the caller.
struct Counters {
  std::int64_t actions_last_hour = 0;
  std::int64_t deletions_last_day = 0;
  std::map<std::string, std::int64_t> grant_actions_last_hour;

  nlohmann::json ToJson() const;
  static Result<Counters> FromJson(const nlohmann::json& json);
};

struct DecisionContext {
  std::int64_t now_micros = 0;
  Counters counters;
  bool scope_revoked = false;          // From PolicyState.
  const Approval* approval = nullptr;  // Verified signature, if any.
  bool approval_used = false;          // From PolicyState.
};

enum class Effect { kAllow, kDeny, kNeedsApproval };
std::string_view EffectName(Effect effect);

struct Decision {
  Effect effect = Effect::kDeny;
  std::vector<std::string> reasons;  // Machine-readable codes.
  std::vector<std::string> grants;   // Ids of the grants that matched.
  std::string failed_clause;         // For a deny: the first that failed.
  std::string scope_digest;
  std::int64_t scope_version = 0;

  nlohmann::json ToJson() const;
  // A readable, multi-line explanation for `deputy gate explain`.
  std::string Explain(const Action& action) const;
};

// True for operations that remove an account or role (counted against the
// deletions-per-day blast radius): names starting with "delete" or "drop".
bool IsDeletion(std::string_view operation);

class Gate {
 public:
  // `scope` may be null (no manifest installed: everything is denied).
  // The gate keeps copies of what it needs; the arguments need not outlive
  // it.
  static Result<Gate> Create(const TrustRoot& trust, std::string agent_id,
                             const ScopeManifest* scope);

  Decision Decide(const Action& action, const DecisionContext& ctx) const;

  const std::string& agent_id() const { return agent_id_; }

 private:
  Gate() = default;
  struct PatternRef {
    std::size_t index;  // Into grants_ or forbids_.
  };
  struct ViewHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const {
      return std::hash<std::string_view>()(s);
    }
  };
  // Exact values and DN subtrees of every grant and forbid, by their
  // canonical key: one lookup per key serves both. A resource DN is looked
  // up once, and each of its ancestors once, per decision.
  struct KeyedPatterns {
    std::vector<std::size_t> forbid_exact, forbid_subtree;
    std::vector<std::size_t> grant_exact, grant_subtree;
  };
  using KeyIndex =
      std::unordered_map<std::string, KeyedPatterns, ViewHash, std::equal_to<>>;
  // Name globs, bucketed by their literal prefix (the text before the
  // first wildcard, at most kGlobPrefix bytes): a resource is tried only
  // against the globs whose prefix it starts with, and whose literal tail
  // it ends with. (DN globs all begin with an attribute type, so a
  // first-byte bucket tried every "uid=" glob against every "uid=" DN.)
  struct GlobIndex {
    static constexpr std::size_t kGlobPrefix = 16;
    struct IndexedGlob {
      std::string glob;
      std::string suffix;  // The literal text after the last wildcard.
      std::size_t index;
    };
    using GlobList = std::vector<IndexedGlob>;
    struct GlobBucket {
      std::size_t prefix_length;
      std::unordered_map<std::string, GlobList, ViewHash, std::equal_to<>>
          by_prefix;
    };
    std::vector<GlobBucket> buckets;  // By prefix length, shortest first.
    void Add(const std::string& glob, std::size_t index);
    template <typename Fn>
    void ForEachMatch(std::string_view canonical, Fn&& fn) const;
  };
  void AddPattern(const ResourcePattern& pattern, std::size_t index,
                  bool forbid);
  Decision DecideOrThrow(const Action& action,
                         const DecisionContext& ctx) const;

  std::string agent_id_;
  bool has_scope_ = false;
  std::string scope_agent_;
  std::int64_t not_before_ = 0;
  std::int64_t expires_ = 0;
  std::string scope_digest_;
  std::int64_t scope_version_ = 0;
  std::vector<Grant> grants_;
  std::vector<Forbid> forbids_;
  std::optional<std::int64_t> actions_per_hour_;
  std::optional<std::int64_t> deletions_per_day_;
  std::vector<TimeWindow> windows_;
  KeyIndex keys_;
  GlobIndex grant_globs_;
  GlobIndex forbid_globs_;
  // Protected identities, normalised: the agent's id and accounts, every
  // owner's name and accounts.
  std::unordered_set<std::string> agent_identities_;
  std::unordered_set<std::string> owner_identities_;
  std::unordered_set<std::string> owner_names_;
};

// Normalises a resource or subject: a canonical DN when the text parses as
// a DN with at least one RDN, else the lower-cased name. Also returns the
// canonical DNs of the ancestors (for subtree lookups), nearest first.
std::string NormaliseResource(std::string_view text,
                              std::vector<std::string>* ancestors = nullptr);

}  // namespace deputy::policy

namespace deputy::policy {

// Replayable decisions. The executor writes DecisionRecord(...) as the
// payload of a gate.decision log entry: the decision and every input the
// gate used (action, time, counters, revocation, approval). An auditor's
// verifier re-runs the gate on those inputs with the signed scope of the
// same digest and flags any decision that does not reproduce.
nlohmann::json DecisionRecord(const Action& action, const DecisionContext& ctx,
                              const Decision& decision);

// Re-decides a record with `gate` (built from the scope whose digest the
// record names) and compares effect, reasons, grants and failed clause.
// OK when it reproduces; DataLoss naming the difference otherwise;
// Invalid when the record is malformed.
Status ReplayDecision(const Gate& gate, const nlohmann::json& record);

}  // namespace deputy::policy
