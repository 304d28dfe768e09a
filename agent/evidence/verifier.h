// The offline verifier: streams an evidence log once and checks, in this
// order for every entry, that it is well formed, that seq continues, that
// prev links to the previous entry's hash, that time does not go back;
// at every checkpoint size, that the Merkle root matches the agent-signed
// checkpoint and every witnessed checkpoint given; at the end, that no
// checkpoint covers more entries than the log holds (truncation). The
// pluggable semantic rules see every entry in the same pass.
//
// Memory is bounded by the rules' state and O(log n) for the tree, never
// by the log's length. The first failure is reported with its location:
// seq, segment file, byte offset and the rule that failed.
// Thread-compatible: one VerifyLog call per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/evidence/entry.h"
#include "agent/evidence/merkle.h"
#include "agent/evidence/note.h"
#include "base/status.h"
#include "keys/public_key.h"

namespace deputy::evidence {

// A semantic rule over the entry stream. OnEntry returns non-OK to flag
// that entry; OnEnd to flag the log as a whole (e.g. an intent never
// resolved), setting `seq` to the entry at fault when there is one.
class Rule {
 public:
  virtual ~Rule() = default;
  virtual std::string_view name() const = 0;
  virtual Status OnEntry(const EntryView& entry) = 0;
  virtual Status OnEnd(std::optional<std::uint64_t>& seq) = 0;
};

// intent-needs-allow: every action.intent is preceded by a gate.decision
// with effect "allow" for the same task and action.
// intent-resolved: every action.intent is followed by an action.result or
// action.recovered for the same task and action.
std::vector<std::unique_ptr<Rule>> DefaultRules();

// A checkpoint given by a witness (cosigned); its root must match the log.
struct WitnessedCheckpoint {
  std::string source;  // File name, for messages.
  Checkpoint checkpoint;
};

struct VerifyOptions {
  const keys::PublicKey* agent_key = nullptr;  // Required.
  std::vector<WitnessedCheckpoint> witnessed;
  std::vector<std::unique_ptr<Rule>> rules;
  // For the writer's own recovery: a final line without '\n' in the last
  // segment is reported in `torn` instead of failing.
  bool allow_torn_tail = false;
};

struct VerifyFailure {
  std::string rule;  // "well-formed", "seq", "prev-link", "time",
                     // "checkpoint-signature", "checkpoint-root",
                     // "witness-root", "truncated", "torn-line", a rule name
  std::optional<std::uint64_t> seq;
  std::string file;
  std::uint64_t offset = 0;
  std::string message;
  std::string ToString() const;
};

struct TornTail {
  std::string segment;
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
};

struct VerifyResult {
  std::string origin;
  std::uint64_t entries = 0;
  std::uint64_t bytes = 0;
  Hash last_hash{};  // The origin hash for an empty log.
  std::int64_t last_time = 0;
  TreeBuilder tree;
  std::uint64_t checkpoints_verified = 0;
  std::uint64_t witnessed_verified = 0;
  std::uint64_t latest_checkpoint_size = 0;
  // Entries after the latest signed checkpoint: chained, but not yet
  // covered by any signature (a checkpoint is signed at least every
  // second while the agent runs).
  std::uint64_t unsigned_tail() const {
    return entries > latest_checkpoint_size ? entries - latest_checkpoint_size
                                            : 0;
  }
  std::string last_segment;  // Path of the last segment, if any.
  std::uint64_t last_segment_first_seq = 0;
  std::optional<TornTail> torn;
  std::optional<VerifyFailure> failure;
  bool ok() const { return !failure.has_value(); }
};

// Errors (a missing directory, an unreadable file) are a Status; a log
// that reads but does not verify is a result with `failure` set.
Result<VerifyResult> VerifyLog(const std::string& dir, VerifyOptions& options);

// Reads a signed checkpoint note file and checks the agent's signature
// under the log origin's key name.
Result<Checkpoint> ReadSignedCheckpoint(const std::string& path,
                                        std::string_view origin,
                                        const keys::PublicKey& agent_key,
                                        SignedNote* note_out = nullptr);

}  // namespace deputy::evidence
