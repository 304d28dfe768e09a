// A generated, deterministic workload for the policy gate's benchmarks
// (bench_gate) and its comparison with Cedar (gate_compare): a trust root
// with three owners, a scope manifest with 100 grants and 1,000 forbids of
// every pattern kind over the targets "ldap" and "postgres", signed by two
// of the three owners, and a stream of requests written the way agents
// send them (varied letter case and spacing in DNs, operations, targets).
//
// Every request also carries the canonical forms it was built from, so
// that a second engine can be fed the same request without deputy's
// normaliser. Built once, then read-only; not thread-safe to build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "keys/private_key.h"
#include "policy/gate.h"

namespace deputy::bench {

// 2026-12-03T18:00:00Z, a Thursday: inside the scope's validity and its
// Monday-to-Friday working-hours window.
inline constexpr std::int64_t kWorkloadNow = 1796320800000000;
inline constexpr std::string_view kWorkloadAgent = "agent-1";

// One resource or subject as generated: its canonical text (a canonical DN
// or a lower-case name) and, for a DN, the canonical DNs of its ancestors
// below the root, nearest first.
struct CanonicalName {
  std::string text;
  bool is_dn = false;
  std::vector<std::string> ancestors;
};

struct GateRequest {
  policy::Action action;  // As sent: case and spacing vary.
  std::string target;     // Lower case.
  std::string operation;  // Lower case.
  CanonicalName resource;
  CanonicalName subject;  // text is empty when the action has no subject.
};

// A grant or forbid as generated, with its patterns in canonical form:
// canonical DNs for subtrees and lists, lower-case globs (never '?') for
// names.
struct RuleSpec {
  enum class Kind { kSubtree, kNames, kList };
  std::string id;
  std::string target;                   // "*" for any (forbids only).
  std::vector<std::string> operations;  // {"*"} for any (forbids only).
  Kind kind = Kind::kList;
  std::vector<std::string> patterns;
  bool needs_approval = false;  // Grants only.
};

struct GateWorkload {
  std::vector<keys::PrivateKey> owner_keys;  // alice, bob, carol.
  std::string trust_payload;
  std::string scope_payload;
  // The scope's DSSE envelope, signed by alice and bob (scope_grant is 2).
  std::string signed_scope;
  std::vector<RuleSpec> grants;
  std::vector<RuleSpec> forbids;
  // What the gate's built-in invariants protect, normalised: the agent's
  // id and accounts, and every owner's name and accounts.
  std::vector<std::string> agent_identities;
  std::vector<std::string> owner_identities;
  std::vector<GateRequest> requests;
};

inline constexpr std::size_t kWorkloadGrants = 100;
inline constexpr std::size_t kWorkloadForbids = 1000;
inline constexpr std::size_t kWorkloadRequests = 4096;

// Deterministic for a given seed except for the owners' keys, which are
// fresh each time.
Result<GateWorkload> MakeGateWorkload(std::uint32_t seed = 20261203);

}  // namespace deputy::bench
